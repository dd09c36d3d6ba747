"""The embedded PEComa example end to end: XPT files read back by pandas reproduce the paper.

The tests read the session's one conversion of the example (conftest ``example_output``);
only the reproducibility tests run conversions of their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc.pipeline import convert
from cdisc.resources import example_spec_path

from helpers import tree_digest as digest

pytestmark = pytest.mark.e2e

# Table III rows by CTCAE v4.0 term (the paper's own grouping)
TABLE3_ROW = {
    "Mucositis oral": "Mucositis", "Rash maculo-papular": "Rash", "Rash acneiform": "Rash",
    "Fatigue": "Fatigue", "Lung infection": "Infection", "Urinary tract infection": "Infection",
    "Pain": "Pain", "Cough": "Cough", "Edema limbs": "Oedema",
    "Cholesterol high": "Raised cholesterol", "Hyperglycemia": "Raised glucose",
    "Hypertriglyceridemia": "Raised triglycerides", "Anemia": "Anaemia",
    "Platelet count decreased": "Thrombocytopenia",
}
# (patients with worst grade 1/2, with grade 3/4, any) as Table III prints them
TABLE3 = {
    "Mucositis": (5, 0, 5), "Rash": (3, 0, 3), "Fatigue": (1, 1, 2), "Infection": (2, 0, 2),
    "Pain": (2, 0, 2), "Cough": (0, 1, 1), "Oedema": (0, 1, 1), "Raised cholesterol": (0, 1, 1),
    "Raised glucose": (0, 1, 1), "Raised triglycerides": (0, 1, 1), "Anaemia": (1, 0, 1),
    "Thrombocytopenia": (0, 1, 1),
}


@pytest.fixture(scope="module")
def out(example_output) -> Path:
    """The example's output folder (shared: read only)."""
    return example_output.out


def read(out: Path, name: str) -> pd.DataFrame:
    frame = pd.read_sas(out / "sdtm" / f"{name}.xpt", format="xport", encoding="ascii")
    return frame


SDTM_NAMES = ["ae", "dm", "ds", "ex", "rs", "suppae", "suppdm", "suppds", "suppex", "supptu",
              "tr", "tu",
              # trial design and subject visits/elements (tests/test_trial_design.py)
              "se", "sv", "ta", "te", "ti", "ts", "tv"]


def test_files_written(out):
    # each dataset as XPT v5 and as Dataset-JSON, with define.xml (+ stylesheet and HTML)
    assert sorted(p.name for p in (out / "sdtm").iterdir()) == sorted(
        [f"{n}.{ext}" for n in SDTM_NAMES for ext in ("xpt", "json")]
        + ["define.xml", "define2-1.xsl", "define.html"])
    assert sorted(p.name for p in (out / "adam").glob("*.xpt")) == [
        "adrs.xpt", "adsl.xpt", "adtte.xpt"]
    assert {p.name for p in (out / "summary").iterdir()} >= {
        "summary.html", "summary.md", "summary.json", "km-os.png", "swimmer.png"}


def test_dm_reproduces_table_1(out):
    dm = read(out, "dm")
    assert len(dm) == 10 and dm["USUBJID"].is_unique
    assert dm["SEX"].value_counts().to_dict() == {"F": 8, "M": 2}
    assert dm["AGE"].median() == 53 and (dm["AGE"].min(), dm["AGE"].max()) == (26, 63)
    assert set(dm["AGEU"]) == {"YEARS"}
    assert list(dm.columns[:6]) == ["STUDYID", "DOMAIN", "USUBJID", "SUBJID", "RFSTDTC",
                                    "RFENDTC"]
    male = dm.set_index("SUBJID").loc["007"]
    assert male["SEX"] == "M" and male["ARMCD"] == "TEMSIRO"
    assert dm["DTHFL"].eq("Y").sum() == 5
    assert (dm["DTHFL"] == "Y").eq(dm["DTHDTC"] != "").all()


def test_suppdm_carries_performance_status_and_split_comment(out):
    supp = read(out, "suppdm")
    ps = supp[supp["QNAM"] == "WHOPS"]["QVAL"].value_counts().to_dict()
    assert ps == {"1": 5, "0": 4, "2": 1}
    assert set(supp["IDVAR"]) == {""} and set(supp["RDOMAIN"]) == {"DM"}
    pieces = supp[supp["QNAM"].str.startswith("COMMENT")].groupby("USUBJID")["QNAM"].apply(list)
    assert pieces["PECOMA-MTOR-003"] == ["COMMENT", "COMMENT1"]
    comment = supp[(supp["USUBJID"] == "PECOMA-MTOR-003")
                   & supp["QNAM"].str.startswith("COMMENT")].sort_values("QNAM")["QVAL"]
    source = pd.read_csv(example_spec_path().parent / "data" / "patients.csv",
                         dtype=str).set_index("patient_id")
    # split at a word boundary: pieces join back exactly with the one agreed separator
    assert " ".join(comment) == source.loc["3", "comment"]
    assert [len(p) for p in comment] == [196, 61]
    assert not comment.str.startswith(" ").any() and not comment.str.endswith(" ").any()
    assert supp["QVAL"].str.len().max() <= 200
    # QLABEL unique per QNAM within the dataset (one label each)
    labels = supp.groupby("QNAM")["QLABEL"].unique().map(list)
    assert (labels.map(len) == 1).all() and labels.map(lambda x: x[0]).is_unique
    assert labels["COMMENT"] == ["Clinical Comment"]
    assert labels["COMMENT1"] == ["Clinical Comment 1"]


def test_ex_has_the_published_treatments_and_doses(out):
    ex = read(out, "ex")
    by_drug = ex.groupby("EXTRT")["USUBJID"].nunique().to_dict()
    assert by_drug == {"Sirolimus": 9, "Temsirolimus": 1}
    siro = ex[ex["EXTRT"] == "Sirolimus"]
    first = siro.sort_values("EXSTDTC").groupby("USUBJID")["EXDOSE"].first()
    assert set(first) == {3.0}  # started at 3 mg daily
    assert siro["EXDOSE"].max() == 5.0 and set(siro["EXDOSFRQ"]) == {"QD"}
    tem = ex[ex["EXTRT"] == "Temsirolimus"]
    assert set(tem["EXDOSE"]) == {25.0} and set(tem["EXROUTE"]) == {"INTRAVENOUS"}
    # treatment duration per patient (Table II): last dose - first dose + 1
    dates = ex.assign(start=pd.to_datetime(ex["EXSTDTC"]), end=pd.to_datetime(ex["EXENDTC"]))
    span = dates.groupby("USUBJID").agg(start=("start", "min"), end=("end", "max"))
    days = ((span["end"] - span["start"]).dt.days + 1).tolist()
    assert days == [94, 1366, 637, 7, 56, 217, 158, 16, 311, 98]
    assert (ex["EXSTDY"] >= 1).all()
    assert ex.groupby("USUBJID")["EXSEQ"].apply(lambda s: list(s) == list(range(1, len(s) + 1))
                                                ).all()


def test_ae_reproduces_table_3(out):
    ae = read(out, "ae")
    related = ae[ae["AEREL"] == "Related"]
    worst = (related.assign(row=related["AEDECOD"].map(TABLE3_ROW),
                            grade=related["AETOXGR"].astype(int))
             .groupby(["row", "USUBJID"])["grade"].max())
    got = {row: (int((g <= 2).sum()), int((g >= 3).sum()), len(g))
           for row, g in worst.groupby(level=0)}
    assert got == TABLE3
    assert ae["AESTDTC"].str.len().min() == 7  # partial onset dates kept partial
    assert ae.loc[ae["AESTDTC"].str.len() == 7, "AESTDY"].isna().all()
    assert 0 not in set(ae["AESTDY"].dropna())


def test_ds_has_end_of_treatment_and_deaths(out):
    ds = read(out, "ds")
    events = ds[ds["DSCAT"] == "DISPOSITION EVENT"]
    assert events["DSDECOD"].value_counts().to_dict() == {
        "PROGRESSIVE DISEASE": 6, "DEATH": 5, "ADVERSE EVENT": 1}
    # one DSTERM, one DSDECOD: the cause of death is a qualifier, not the term
    assert ds.groupby("DSTERM")["DSDECOD"].nunique().max() == 1
    # the end of treatment in TREATMENT, deaths after the last dose
    assert set(events.loc[events["DSDECOD"] != "DEATH", "EPOCH"]) == {"TREATMENT"}
    assert set(events.loc[events["DSDECOD"] == "DEATH", "EPOCH"]) == {"FOLLOW-UP"}
    assert len(ds) == 22
    supp = read(out, "suppds")
    assert supp["QNAM"].value_counts().to_dict() == {"DTHCAUS": 5, "SUBTHER": 3}
    ongoing = read(out, "suppex")
    on = ongoing[ongoing["QVAL"] == "Y"]
    assert sorted(on["USUBJID"]) == ["PECOMA-MTOR-003", "PECOMA-MTOR-009", "PECOMA-MTOR-010"]


def test_ds_informed_consent_milestone_for_every_subject(out):
    # "All patients gave their informed consent": a protocol milestone (PROTMLST C114118)
    # for each, so the three on treatment at the cut-off have a DS record too
    ds, dm = read(out, "ds"), read(out, "dm")
    milestones = ds[ds["DSCAT"] == "PROTOCOL MILESTONE"]
    assert len(milestones) == 10 and milestones["USUBJID"].is_unique
    assert set(milestones["DSDECOD"]) == set(milestones["DSTERM"]) == {
        "INFORMED CONSENT OBTAINED"}
    consent = dm.set_index("USUBJID")["RFICDTC"]
    assert (milestones.set_index("USUBJID")["DSSTDTC"] == consent).all()
    assert set(milestones["EPOCH"]) == {"SCREENING"} and (milestones["DSSTDY"] < 0).all()
    assert set(ds["USUBJID"]) == set(dm["USUBJID"])
    ongoing = ds[ds["USUBJID"].isin(["PECOMA-MTOR-003", "PECOMA-MTOR-009", "PECOMA-MTOR-010"])]
    assert set(ongoing["DSCAT"]) == {"PROTOCOL MILESTONE"}


def test_ae_serious_events_carry_their_criterion(out):
    ae = read(out, "ae")
    serious = ae[ae["AESER"] == "Y"]
    assert sorted(serious["USUBJID"]) == ["PECOMA-MTOR-004", "PECOMA-MTOR-008",
                                          "PECOMA-MTOR-009"]
    assert set(serious["AESHOSP"]) == {"Y"}
    assert set(ae.loc[ae["AESER"] == "N", "AESHOSP"]) == {""}
    # every record with a start date lies in an epoch
    for name in ("ae", "ex", "ds"):
        frame = read(out, name)
        dtc = frame[f"{name.upper()}STDTC"]
        assert (frame.loc[dtc != "", "EPOCH"] != "").all(), name


def test_rs_best_response_reproduces_table_2(out):
    rs = read(out, "rs")
    best = rs[rs["RSTESTCD"] == "BESTRESP"]
    assert best["RSSTRESC"].value_counts().to_dict() == {"PR": 5, "SD": 1, "PD": 1}
    assert best.set_index("USUBJID")["RSSTRESC"].to_dict() == {
        "PECOMA-MTOR-001": "SD", "PECOMA-MTOR-002": "PR", "PECOMA-MTOR-003": "PR",
        "PECOMA-MTOR-005": "PD", "PECOMA-MTOR-007": "PR", "PECOMA-MTOR-009": "PR",
        "PECOMA-MTOR-010": "PR"}
    overall = rs[rs["RSTESTCD"] == "OVRLRESP"]
    assert overall["USUBJID"].nunique() == 7
    assert set(rs["RSCAT"]) == {"RECIST 1.1"}


def test_tu_tr_links_and_figure_1_lesion(out):
    tu, tr = read(out, "tu"), read(out, "tr")
    links = set(zip(tu["USUBJID"], tu["TULNKID"], strict=True))
    measured = tr[tr["TRLNKID"] != ""]
    assert set(zip(measured["USUBJID"], measured["TRLNKID"], strict=True)) <= links
    assert len(tu) == len(links)  # one TU record per lesion
    p3 = tr[(tr["USUBJID"] == "PECOMA-MTOR-003") & (tr["TRLNKID"] == "T01")]
    assert p3.sort_values("TRDTC")["TRSTRESN"].tolist()[:2] == [20, 13]
    assert p3.set_index("TRDTC")["TRSTRESN"].to_dict()["2012-07-19"] == 10
    assert p3.set_index("TRDTC")["TRSTRESN"].to_dict()["2013-01-24"] == 7
    new = tu[(tu["USUBJID"] == "PECOMA-MTOR-003") & (tu["TUSTRESC"] == "NEW")]
    assert new[["TULNKID", "TUDTC", "TULOC"]].values.tolist() == [["NEW01", "2012-07-19",
                                                                   "LIVER"]]
    sums = tr[(tr["USUBJID"] == "PECOMA-MTOR-003") & (tr["TRTESTCD"] == "SUMDIAM")]
    assert sums.sort_values("TRDTC")["TRSTRESN"].tolist()[0] == 46
    supp = read(out, "supptu")
    assert "Segment VII" in set(supp["QVAL"])


def test_recist_review_shows_the_figure_1_discrepancy(out):
    review = json.loads((out / "recist-review.json").read_text())
    assert review["agreement"]["compared"] == 39 and review["agreement"]["agree"] == 38
    (finding,) = review["findings"]
    assert finding["location"]["usubjid"] == "PECOMA-MTOR-003"
    assert "new lesion NEW01 at WEEK 63 -> PD; investigator PR" in finding["message"]
    best = {b["USUBJID"]: b["BOR"] for b in review["best_overall_response"]}
    assert sorted(best.values()) == ["PD", "PR", "PR", "PR", "PR", "PR", "SD"]


def test_reconciliation_accounts_for_every_record(out):
    report = json.loads((out / "run-report.json").read_text())
    for line in report["reconciliation"]:
        assert line["read"] == line["mapped"] + line["excluded"]
    mapped = {r["source"]: r["mapped"] for r in report["reconciliation"]}
    assert mapped == {"patients": 10, "dosing": 30, "toxicities": 23, "disposition": 10,
                      "tumour_measurements": 185, "responses": 39}
    assert report["exclusions"] == []
    assert "/work/" not in (out / "run-report.json").read_text()


def test_same_input_gives_byte_identical_output(out, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # as for the shared run
    again = tmp_path / "again"
    convert(out_dir=again)
    assert digest(again) == digest(out)


def test_source_date_epoch_sets_the_header_timestamp(tmp_path, monkeypatch):
    import pyreadstat

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1362096000")  # 2013-03-01T00:00:00Z
    convert(out_dir=tmp_path / "o")
    _, meta = pyreadstat.read_xport(tmp_path / "o" / "sdtm" / "dm.xpt", metadataonly=True)
    assert meta.creation_time.date().isoformat() == "2013-03-01"


def test_cli_convert_default_and_failure_leaves_output_untouched(example_output, tmp_path,
                                                                monkeypatch):
    # the shared run is `cdisc convert` with no options: the example into ./out
    assert example_output.exit_code == 0, example_output.console
    assert example_output.out == example_output.cwd / "out"
    assert "patients: 10 read, 10 mapped, 0 excluded" in example_output.console

    # a failed run leaves an earlier output (a private copy of the shared one) as it was
    shutil.copytree(example_output.out, tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    before = digest(tmp_path / "out")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nstudy: {}\n")
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(bad)])
    assert result.exit_code == 2
    assert digest(tmp_path / "out") == before
    errors = json.loads((tmp_path / "out.errors.json").read_text())
    assert errors["counts"]["SPEC002"] >= 1


# -- the paper's figures from the ADaM that convert wrote, through an independent reader --
def read_adam(out: Path, name: str) -> pd.DataFrame:
    return pd.read_sas(out / "adam" / f"{name}.xpt", format="xport", encoding="ascii")


def test_adtte_os_reproduces_figure_2(out):
    from lifelines import KaplanMeierFitter

    adtte = read_adam(out, "adtte")
    os_ = adtte[adtte["PARAMCD"] == "OS"]
    assert len(os_) == 10 and set(os_["AVALU"]) == {"DAYS"}
    days, event = os_["AVAL"].round(), os_["CNSR"].round() == 0
    assert event.sum() == 5
    km = KaplanMeierFitter().fit(days, event)
    assert round(float(km.survival_function_at_times(365).iloc[0]) * 100, 1) == 78.8
    assert round(km.median_survival_time_ / 365.25, 1) == 2.4
    reverse = KaplanMeierFitter().fit(days, ~event)
    assert round(reverse.median_survival_time_ / 365.25, 1) == 1.9


def test_adsl_and_adrs_reproduce_table_2(out):
    adsl = read_adam(out, "adsl")
    duration = adsl["TRTDURD"].round()
    assert (duration.median(), duration.min(), duration.max()) == (128, 7, 1366)
    assert round(duration.mean()) == 296
    adrs = read_adam(out, "adrs")
    bor = adrs[adrs["PARAMCD"] == "BOR"]["AVALC"].value_counts().to_dict()
    assert bor == {"PR": 5, "NE": 3, "SD": 1, "PD": 1}


def test_summary_states_the_papers_survival_figures(out):
    import json

    summary = json.loads((out / "summary" / "summary.json").read_text())
    (os_,) = [p for p in summary["time_to_event"] if p["paramcd"] == "OS"]
    spss = os_["median"]["ci_spss"]
    assert (round(spss["lower_days"] / 365.25, 1), round(spss["upper_days"] / 365.25, 1)) == (
        0.3, 4.5)
    assert os_["landmarks"][0]["survival"] == pytest.approx(78.75)
    assert round(os_["follow_up"]["median_days"] / 365.25, 1) == 1.9
