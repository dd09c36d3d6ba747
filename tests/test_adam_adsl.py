"""ADSL from SDTM (cdisc.adam.adsl): each rule on tiny inline tables, the spec section, and
the example's treatment durations through an independent reader (pandas.read_sas)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdisc import standards
from cdisc.adam import derive_adam, derive_adsl
from cdisc.adam.common import iso_dates, with_supp
from cdisc.errors import DerivationError, SpecError
from cdisc.formats.xpt import read_xpt, write_xpt
from cdisc.resources import example_spec_path
from cdisc.spec import load_adam_spec, load_spec
from cdisc.spec.adam import build_adam

SAS0 = dt.date(1960, 1, 1)


def sas(iso: str) -> float:
    return float((dt.date.fromisoformat(iso) - SAS0).days)


def dm(*rows: dict) -> pd.DataFrame:
    base = {"STUDYID": "S", "DOMAIN": "DM", "SUBJID": "", "SITEID": "01", "AGE": 50.0,
            "AGEU": "YEARS", "SEX": "F", "RACE": "WHITE", "ARMCD": "A", "ARM": "Drug A",
            "ACTARMCD": "A", "ACTARM": "Drug A", "DTHDTC": "", "DTHFL": "", "RFPENDTC": ""}
    return pd.DataFrame([{**base, "SUBJID": r["USUBJID"][-2:], **r} for r in rows])


def ex(*rows: tuple) -> pd.DataFrame:
    """(USUBJID, EXSEQ, EXSTDTC, EXENDTC[, EXDOSE])"""
    out = []
    for r in rows:
        u, seq, start, end, *dose = r
        out.append({"STUDYID": "S", "DOMAIN": "EX", "USUBJID": u, "EXSEQ": float(seq),
                    "EXTRT": "DRUG A", "EXDOSE": dose[0] if dose else 3.0, "EXSTDTC": start,
                    "EXENDTC": end})
    return pd.DataFrame(out)


def spec_of(adsl: dict | None = None, **adam) -> object:
    return build_adam({"adsl": adsl or {}, **adam})


def adsl_of(sdtm: dict, adsl: dict | None = None, **adam) -> pd.DataFrame:
    return derive_adsl(sdtm, spec_of(adsl, **adam)).frame.set_index("USUBJID")


# --------------------------------------------------------------------------- dates


def test_iso_dates_impute_partial_dates_and_flag_them():
    values = pd.Series(["2011-12-21", "2011-12", "2011", "", "2012-02-30", "2012-02-29T10:00"])
    days, flags, bad = iso_dates(values, "first", "M")
    assert days.tolist()[:3] == [sas("2011-12-21"), sas("2011-12-01"), sas("2011-01-01")]
    assert flags.tolist()[:3] == [None, "D", "M"]
    assert np.isnan(days.iat[3]) and np.isnan(days.iat[4])
    assert days.iat[5] == sas("2012-02-29")
    assert bad.tolist() == [False, False, False, False, True, False]
    last, _, _ = iso_dates(values, "last", "D")
    assert last.iat[1] == sas("2011-12-31") and np.isnan(last.iat[2])  # D: no month imputed
    none, _, _ = iso_dates(values, "none")
    assert np.isnan(none.iat[1])


# --------------------------------------------------------------------------- exposure


def test_treatment_dates_duration_and_partial_exposure_dates():
    sdtm = {"DM": dm({"USUBJID": "S-01"}, {"USUBJID": "S-02"}, {"USUBJID": "S-03"}),
            "EX": ex(("S-01", 1, "2012-01-10", "2012-01-31"), ("S-01", 2, "2012-02-05",
                                                                 "2012-03-01"),
                     ("S-02", 1, "2012-05", "2012-05-20"), ("S-02", 2, "2012-06-11",
                                                            "2012-06-30"),
                     ("S-02", 3, "2012-07-01", "2012-07"))}
    a = adsl_of(sdtm)
    assert a.at["S-01", "TRTSDT"] == sas("2012-01-10")
    assert a.at["S-01", "TRTEDT"] == sas("2012-03-01")
    assert a.at["S-01", "TRTDURD"] == 52  # 22 + 30 days, the break included
    # a partial date is not used (admiral's default): the first complete start is the
    # second record's, the last complete end the second record's too
    assert a.at["S-02", "TRTSDT"] == sas("2012-06-11")
    assert a.at["S-02", "TRTEDT"] == sas("2012-06-30")
    assert np.isnan(a.at["S-03", "TRTSDT"]) and a.at["S-03", "SAFFL"] == "N"


def test_last_exposure_before_the_first_is_a_located_error():
    sdtm = {"DM": dm({"USUBJID": "S-01"}),
            "EX": ex(("S-01", 1, "2012-05-01", "2012-04-01"))}
    with pytest.raises(DerivationError) as err:
        derive_adsl(sdtm, spec_of())
    (p,) = err.value.problems
    assert (p.code, p.location.dataset, p.location.usubjid) == ("ADSL005", "EX", "S-01")


def _ongoing_sdtm() -> dict:
    supp = pd.DataFrame({"STUDYID": "S", "RDOMAIN": "EX", "USUBJID": ["S-01", "S-01", "S-02"],
                         "IDVAR": "EXSEQ", "IDVARVAL": ["1", "2", "1"], "QNAM": "EXONGO",
                         "QLABEL": "Ongoing", "QVAL": ["N", "Y", "Y"]})
    return {"DM": dm({"USUBJID": "S-01"}, {"USUBJID": "S-02"}),
            "EX": ex(("S-01", 1, "2012-01-01", "2012-01-31"), ("S-01", 2, "2012-02-10", ""),
                     ("S-02", 1, "2012-03-01", "2012-12-20")),
            "SUPPEX": supp}


def test_suppex_qualifiers_are_read_as_variables_of_ex():
    merged = with_supp(_ongoing_sdtm(), "EX")
    assert merged["EXONGO"].tolist() == ["N", "Y", "Y"]


@pytest.mark.parametrize(("end", "s01", "s02"), [
    ("last_dose", "2012-02-10", "2012-12-20"),  # no end date: the start is the last dose known
    ("cutoff", "2012-12-31", "2012-12-31"),
])
def test_treatment_ongoing_at_the_cutoff_ends_as_the_spec_says(end, s01, s02):
    adsl = {"treatment": {"ongoing": {"where": {"column": "EXONGO", "equals": "Y"},
                                      "end": end}}}
    a = adsl_of(_ongoing_sdtm(), adsl, data_cutoff="2012-12-31")
    assert a.at["S-01", "TRTEDT"] == sas(s01)
    assert a.at["S-02", "TRTEDT"] == sas(s02)


def test_without_an_ongoing_rule_exenrtpt_ongoing_ends_at_exentpt_or_the_cutoff():
    """SDTM's relative timing (EXENRTPT = ONGOING, no EXENDTC) ends the exposure where
    DM.RFXENDTC does: the EXENTPT date, else the data cut-off."""
    exposure = ex(("S-01", 1, "2012-01-01", "2012-01-31"), ("S-01", 2, "2012-02-10", ""),
                  ("S-02", 1, "2012-03-01", ""), ("S-03", 1, "2012-04-01", "2012-05-01"))
    exposure["EXENRTPT"] = ["", "ONGOING", "ONGOING", ""]
    exposure["EXENTPT"] = ["", "2012-11-30", "END OF STUDY", ""]
    sdtm = {"DM": dm({"USUBJID": "S-01"}, {"USUBJID": "S-02"}, {"USUBJID": "S-03"}),
            "EX": exposure}
    a = adsl_of(sdtm, data_cutoff="2012-12-31")
    assert a["TRTEDT"].tolist() == [sas("2012-11-30"), sas("2012-12-31"), sas("2012-05-01")]
    with pytest.raises(DerivationError) as err:  # a text reference point needs the cut-off
        derive_adsl(sdtm, spec_of())
    assert {p.code for p in err.value.problems} == {"ADSL006"}


def test_cutoff_end_without_a_cutoff_is_an_error():
    adsl = {"treatment": {"ongoing": {"where": {"column": "EXONGO", "equals": "Y"},
                                      "end": "cutoff"}}}
    with pytest.raises(DerivationError) as err:
        derive_adsl(_ongoing_sdtm(), spec_of(adsl))
    assert {p.code for p in err.value.problems} == {"ADSL006"}


# --------------------------------------------------------------------------- flags


def test_population_flags_with_a_date_on_or_after_the_first_dose():
    rs = pd.DataFrame({"USUBJID": ["S-01", "S-02", "S-02"], "RSTESTCD": "OVRLRESP",
                       "RSSTRESC": ["PR", "NE", "SD"],
                       "RSDTC": ["2012-03-01", "2012-03-01", "2011-12-01"]})
    sdtm = {"DM": dm({"USUBJID": "S-01"}, {"USUBJID": "S-02"}, {"USUBJID": "S-03"}),
            "EX": ex(("S-01", 1, "2012-01-01", "2012-02-01"),
                     ("S-02", 1, "2012-01-01", "2012-02-01"),
                     ("S-03", 1, "2012-01-01", "2012-01-01", 0.0)),
            "RS": rs}
    adsl = {"flags": {
        "SAFFL": {"dataset": "EX", "where": {"not": {"column": "EXDOSE", "equals": 0}}},
        "EFFFL": {"dataset": "RS", "where": {"column": "RSSTRESC", "not_in": ["NE"]},
                  "date": "RSDTC", "on_or_after": "TRTSDT"}}}
    a = adsl_of(sdtm, adsl)
    assert a["SAFFL"].tolist() == ["Y", "Y", "N"]  # S-03 had a zero dose only
    assert a["EFFFL"].tolist() == ["Y", "N", "N"]  # S-02: NE, and SD before the first dose


# --------------------------------------------------------------------------- disposition


def test_end_of_treatment_and_of_study_statuses():
    ds = pd.DataFrame({
        "USUBJID": ["S-01", "S-01", "S-02", "S-04"],
        "DSCAT": "DISPOSITION EVENT",
        "DSDECOD": ["ADVERSE EVENT", "DEATH", "COMPLETED", "COMPLETED"],
        "EPOCH": ["TREATMENT", "FOLLOW-UP", "TREATMENT", "FOLLOW-UP"],
        "DSSTDTC": ["2012-02-01", "2012-06-15", "2012-02-01", "2012-09"]})
    sdtm = {"DM": dm(*({"USUBJID": f"S-0{i}"} for i in range(1, 5))),
            "EX": ex(("S-01", 1, "2012-01-01", "2012-02-01"),
                     ("S-02", 1, "2012-01-01", "2012-02-01"),
                     ("S-03", 1, "2012-01-01", "2012-02-01")),
            "DS": ds}
    adsl = {"end_of_treatment": {"where": {"column": "EPOCH", "equals": "TREATMENT"}},
            "end_of_study": {"where": {"column": "EPOCH", "not_equals": "TREATMENT"}}}
    a = adsl_of(sdtm, adsl)
    assert a["EOTSTT"].tolist() == ["DISCONTINUED", "COMPLETED", "ONGOING", None]  # S-04 untreated
    assert a["DCTREAS"].tolist() == ["ADVERSE EVENT", None, None, None]
    assert a["EOSSTT"].tolist() == ["DISCONTINUED", "ONGOING", "ONGOING", "COMPLETED"]
    assert a["DCSREAS"].tolist() == ["DEATH", None, None, None]
    assert a.at["S-01", "EOSDT"] == sas("2012-06-15") and np.isnan(a.at["S-04", "EOSDT"])
    assert set(a["EOTSTT"].dropna()) <= set(standards.codelist("C124296").terms)


# --------------------------------------------------------------------------- death, alive


def _alive_sdtm(dthdtc: str, contact: str) -> dict:
    ae = pd.DataFrame({"USUBJID": ["S-01", "S-01"], "AESTDTC": ["2011-11-20", "2011"],
                       "AEENDTC": ["2011-11-25", ""]})
    return {"DM": dm({"USUBJID": "S-01", "DTHDTC": dthdtc, "DTHFL": "Y" if dthdtc else "",
                      "RFPENDTC": contact, "BRTHDTC": "2050-01-01"}),
            "EX": ex(("S-01", 1, "2011-01-01", "2011-03-01")), "AE": ae}


@pytest.mark.parametrize(("dthdtc", "contact", "dthdt", "flag"), [
    ("2011-12-21", "2011-12-21", "2011-12-21", None),  # complete: not imputed
    ("2011-12", "2011-11-30", "2011-12-01", "D"),      # day 1 of the month
    ("2011-11", "", "2011-11-25", "D"),                # never before the last date alive (AE)
    ("2011-12", "2012-01-05", "2011-12-01", "D"),      # a date alive after the period: ignored
    ("2011", "", "2011-11-25", "M"),                   # month and day imputed, then bounded
])
def test_partial_death_date_is_imputed_admiral_like(dthdtc, contact, dthdt, flag):
    a = adsl_of(_alive_sdtm(dthdtc, contact))
    assert a.at["S-01", "DTHDT"] == sas(dthdt)
    assert a.at["S-01", "DTHDTF"] == flag
    assert a.at["S-01", "DTHFL"] == "Y"


def test_death_imputation_limited_to_the_day_leaves_a_year_alone():
    death = {"highest_imputation": "D"}
    a = adsl_of(_alive_sdtm("2011", ""), {"death": death})
    assert np.isnan(a.at["S-01", "DTHDT"]) and a.at["S-01", "DTHDTF"] is None


def test_last_known_alive_default_rule_skips_birth_and_death_dates():
    sdtm = _alive_sdtm("", "")
    sdtm["DS"] = pd.DataFrame({"USUBJID": ["S-01", "S-01"], "DSDECOD": ["DEATH", "COMPLETED"],
                               "DSSTDTC": ["2013-05-05", "2011-12-01"]})
    a = adsl_of(sdtm)
    # BRTHDTC (2050) and the DS death record are no evidence of being alive
    assert a.at["S-01", "LSTALVDT"] == sas("2011-12-01")


def test_last_known_alive_from_declared_dates_and_the_death_date():
    adsl = {"last_alive": {"dates": [{"dataset": "EX", "date": "EXENDTC"}],
                           "include_death": True}}
    a = adsl_of(_alive_sdtm("2011-12-21", "2011-12-21"), adsl)
    assert a.at["S-01", "LSTALVDT"] == sas("2011-12-21")
    adsl["last_alive"]["include_death"] = False
    a = adsl_of(_alive_sdtm("2011-12-21", "2011-12-21"), adsl)
    assert a.at["S-01", "LSTALVDT"] == sas("2011-03-01")


def test_randomization_date_only_when_declared():
    sdtm = _alive_sdtm("", "")
    sdtm["DS"] = pd.DataFrame({"USUBJID": ["S-01"], "DSDECOD": ["RANDOMIZED"],
                               "DSSTDTC": ["2010-12-20"]})
    assert "RANDDT" not in adsl_of(sdtm).columns
    rand = {"dataset": "DS", "where": {"column": "DSDECOD", "equals": "RANDOMIZED"},
            "date": "DSSTDTC"}
    assert adsl_of(sdtm, {"randomization": rand}).at["S-01", "RANDDT"] == sas("2010-12-20")


# --------------------------------------------------------------------------- shape, errors


def test_one_record_per_subject_with_the_standards_metadata(tmp_path):
    sdtm = _alive_sdtm("2011-12", "")
    sdtm["DM"] = pd.concat([sdtm["DM"], dm({"USUBJID": "S-00"})], ignore_index=True)
    ds = derive_adsl(sdtm, spec_of())
    frame = ds.frame
    assert frame["USUBJID"].tolist() == ["S-00", "S-01"]  # sorted by the keys
    meta = standards.dataset("ADSL")
    order = [meta.variable(c).order for c in frame.columns]
    assert order == sorted(order)
    assert ds.meta.variable("TRTSDT").display_format == "DATE9."
    assert ds.meta.variable("DTHDTF").codelist == "C81223"
    assert all(v.label for v in ds.meta.variables)
    assert {p.variable for p in ds.provenance} >= {"TRTSDT", "TRTEDT", "TRTDURD", "SAFFL",
                                                     "LSTALVDT", "DTHDT", "TRT01P"}
    assert all(p.phase == "derived" for p in ds.provenance)
    assert ds.lineage["__source__"].eq("DM").all()
    # DM values copied unchanged
    assert frame["ARM"].tolist() == ["Drug A", "Drug A"]
    write_xpt(frame, tmp_path / "adsl.xpt", name="ADSL", label=ds.label,
              column_labels=ds.meta.labels, created=dt.datetime(2013, 2, 1),
              display_formats=ds.meta.display_formats)
    back = pd.read_sas(tmp_path / "adsl.xpt", format="xport", encoding="ascii")
    assert list(back.columns) == list(frame.columns)


def test_dm_problems_are_collected_and_located():
    sdtm = {"DM": dm({"USUBJID": "S-01"}, {"USUBJID": "S-01"}),
            "EX": ex(("S-01", 1, "2011-01-01", "2011-01-30"), ("S-01", 2, "2011-02-30", ""))}
    with pytest.raises(DerivationError) as err:
        derive_adsl(sdtm, spec_of())
    found = {(p.code, p.location.dataset, p.location.record) for p in err.value.problems}
    assert ("ADSL003", "DM", 2) in found


def test_missing_dataset_and_variable_point_at_the_spec(tmp_path):
    path = tmp_path / "adam.yaml"
    path.write_text(textwrap.dedent("""\
        spec_version: 1
        adam:
          adsl:
            flags:
              EFFFL: {dataset: RS, where: {column: RSSTRESC, equals: PR}}
            end_of_study: {dataset: DS, decod: DSTERMX}
        """))
    spec = load_adam_spec(path)  # DSTERMX is no DS variable: a notice for foreign SDTM
    with pytest.raises(DerivationError) as err:
        derive_adsl({"DM": dm({"USUBJID": "S-01"}), "EX": ex(), "DS": pd.DataFrame(
            {"USUBJID": ["S-01"], "DSSTDTC": [""]})}, spec)
    problems = {p.code: p for p in err.value.problems}
    assert problems["ADSL001"].location.json_path == "$.adam.adsl.flags.EFFFL"
    assert problems["ADSL001"].location.line == 5
    assert problems["ADSL002"].location.field == "DSTERMX"


def test_a_dataset_given_as_model_datasets_or_frames_alike():
    sdtm = _alive_sdtm("", "2011-06-01")
    frames = derive_adam(sdtm)["ADSL"].frame
    assert frames.at[0, "LSTALVDT"] == sas("2011-11-25")


# --------------------------------------------------------------------------- spec section


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "adam.yaml"
    path.write_text("spec_version: 1\nadam:\n" + textwrap.indent(textwrap.dedent(text), "  "))
    return path


def test_the_example_spec_declares_adsl_rules():
    spec = load_spec(example_spec_path())
    adsl = spec.adam.adsl
    assert adsl.treatment.ongoing == {"column": "EXONGO", "equals": "Y"}
    assert adsl.treatment.ongoing_end == "last_dose"
    assert [f.name for f in adsl.flags] == ["SAFFL", "EFFFL"]
    assert spec.adam.data_cutoff == "2013-01-31"
    assert adsl.death.impute == "first" and adsl.last_alive.include_death


@pytest.mark.parametrize(("text", "code", "path"), [
    ("adsl: {flags: {XXFL: {dataset: EX}}}", "SPEC042", "$.adam.adsl.flags.XXFL"),
    ("adsl: {flags: {SAFFL: {dataset: SUPPEX}}}", "SPEC040", "$.adam.adsl.flags.SAFFL.dataset"),
    ("adsl: {flags: {SAFFL: {dataset: EX, date: EXSTDTC, on_or_after: DTHDT}}}", "SPEC043",
     "$.adam.adsl.flags.SAFFL.on_or_after"),
    ("adsl: {treatment: {ongoing: {where: {column: EXONGO, equals: Y}, end: cutoff}}}",
     "SPEC045", "$.adam.adsl.treatment.ongoing.end"),
    ("adsl: {flags: {SAFFL: {dataset: EX, where: {column: EXDOSE, equals: true}}}}", "SPEC032",
     "$.adam.adsl.flags.SAFFL.where"),
    ("adsl: {carry: [TRTSDT, FOO]}", "SPEC042", "$.adam.adsl.carry"),
    ("adsl: {death: {impute: sometimes}}", "SPEC002", "$.adam.adsl.death"),
])
def test_adam_rules_are_checked_with_locations(tmp_path, text, code, path):
    with pytest.raises(SpecError) as err:
        load_adam_spec(_write(tmp_path, text))
    found = {(p.code, p.location.json_path) for p in err.value.problems}
    assert (code, path) in found, found


def test_in_a_mapping_spec_sdtm_variables_must_be_written_by_the_spec(tmp_path):
    text = example_spec_path().read_text(encoding="utf-8").replace(
        "ongoing: {where: {column: EXONGO, equals: \"Y\"}",
        "ongoing: {where: {column: EXONGOING, equals: \"Y\"}")
    path = tmp_path / "pecoma.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path, source_dir=example_spec_path().parent)
    (p,) = [p for p in err.value.problems if p.code == "SPEC041"]
    assert "EX.EXONGOING" in p.message
    assert p.location.json_path == "$.adam.adsl.treatment.ongoing.where"


# --------------------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def example_adam(example_output) -> dict:
    """The example's ADaM, derived from the SDTM XPT files the conversion wrote."""
    sdtm = {p.stem.upper(): read_xpt(p)[0] for p in (example_output.out / "sdtm").glob("*.xpt")}
    return derive_adam(sdtm, load_spec(example_spec_path()).adam)


def test_example_treatment_duration_through_an_independent_reader(example_adam, tmp_path):
    ds = example_adam["ADSL"]
    write_xpt(ds.frame, tmp_path / "adsl.xpt", name="ADSL", label=ds.label,
              column_labels=ds.meta.labels, created=dt.datetime(2013, 2, 1),
              display_formats=ds.meta.display_formats)
    adsl = pd.read_sas(tmp_path / "adsl.xpt", format="xport", encoding="ascii")
    dur = adsl["TRTDURD"]
    # the paper: median 128 days (range 7-1,366), mean 296
    assert (dur.median(), dur.min(), dur.max(), round(dur.mean())) == (128, 7, 1366, 296)
    assert sorted(dur.astype(int)) == sorted([94, 1366, 637, 7, 56, 217, 158, 16, 311, 98])


def test_example_adsl_populations_and_dispositions(example_adam):
    a = example_adam["ADSL"].frame.set_index("SUBJID")
    assert len(a) == 10 and a["SAFFL"].eq("Y").all()
    assert a.index[a["EFFFL"].eq("Y")].tolist() == ["001", "002", "003", "005", "007", "009",
                                                     "010"]  # evaluable by RECIST: 7
    ongoing = a.index[a["EOTSTT"].eq("ONGOING")].tolist()
    assert ongoing == ["003", "009", "010"]
    assert a["DCTREAS"].value_counts().to_dict() == {"PROGRESSIVE DISEASE": 6,
                                                     "ADVERSE EVENT": 1}
    assert a.index[a["DTHFL"].eq("Y")].tolist() == ["001", "004", "005", "007", "008"]
    assert (a["EOSSTT"].eq("DISCONTINUED") == a["DTHFL"].eq("Y")).all()
    # last contact of the survivors (README: patient timelines)
    alive = a[a["DTHFL"].ne("Y")]["LSTALVDT"].map(lambda d: (SAS0 + dt.timedelta(d)).isoformat())
    assert alive.to_dict() == {"002": "2013-01-28", "003": "2013-01-31", "006": "2012-05-10",
                               "009": "2013-01-31", "010": "2013-01-31"}
    dead = a[a["DTHFL"].eq("Y")]
    assert (dead["LSTALVDT"] == dead["DTHDT"]).all() and dead["DTHDTF"].isna().all()
