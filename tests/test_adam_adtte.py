"""ADTTE (cdisc.adam.adtte): admiral's derive_param_tte rules pinned on tiny inline tables,
the spec section, and the paper's survival figures from the example's ADTTE read back
by an independent reader (pandas.read_sas) and fitted with lifelines."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from cdisc import standards
from cdisc.adam import derive_adam, derive_adtte
from cdisc.errors import DerivationError, SpecError
from cdisc.formats.xpt import read_xpt, write_xpt
from cdisc.resources import example_spec_path
from cdisc.spec import load_adam_spec, load_spec
from cdisc.spec.adam import build_adam

SAS0 = dt.date(1960, 1, 1)


def sas(iso: str) -> float:
    return float((dt.date.fromisoformat(iso) - SAS0).days)


def round1(x: float) -> str:
    """Half-up to one decimal, as the paper rounds (2.409 -> 2.4, 78.75 -> 78.8)."""
    return str(Decimal(repr(float(x))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def adsl(*rows: dict) -> pd.DataFrame:
    base = {"STUDYID": "S", "SUBJID": "", "SITEID": "01", "AGE": 60.0, "SEX": "F",
            "ARM": "A", "TRT01P": "A", "TRT01A": "A", "SAFFL": "Y", "DTHFL": "",
            "DTHDT": np.nan, "LSTALVDT": np.nan}
    out = pd.DataFrame([{**base, "SUBJID": r["USUBJID"][-2:], **r} for r in rows])
    for col in ("TRTSDT", "DTHDT", "LSTALVDT"):
        if col in out.columns:
            out[col] = [sas(v) if isinstance(v, str) else v for v in out[col]]
    return out


def adrs(*rows: tuple) -> pd.DataFrame:
    """(USUBJID, PARAMCD, AVALC, ADT, ASEQ)"""
    return pd.DataFrame([{"STUDYID": "S", "USUBJID": u, "PARAMCD": p, "AVALC": a,
                          "ADT": sas(d) if d else np.nan, "ASEQ": float(q)}
                         for u, p, a, d, q in rows])


PD_EVENT = {"dataset": "ADRS", "where": {"all": [{"column": "PARAMCD", "equals": "PD"},
                                                 {"column": "AVALC", "equals": "Y"}]},
            "date": "ADT", "evntdesc": "DISEASE PROGRESSION", "srcseq": "ASEQ"}
DEATH = {"dataset": "ADSL", "where": {"column": "DTHFL", "equals": "Y"}, "date": "DTHDT",
         "evntdesc": "DEATH"}
LAST_ASSESSMENT = {"dataset": "ADRS", "where": {"column": "PARAMCD", "equals": "LSTA"},
                   "date": "ADT", "evntdesc": "LAST TUMOR ASSESSMENT",
                   "cnsdtdsc": "LAST TUMOR ASSESSMENT", "srcseq": "ASEQ"}
START = {"dataset": "ADSL", "date": "TRTSDT", "evntdesc": "NO ASSESSMENT",
         "cnsdtdsc": "TREATMENT START"}


def pfs(events=(PD_EVENT, DEATH), censors=(LAST_ASSESSMENT, START), **more) -> dict:
    return {"paramcd": "PFS", "param": "Progression Free Survival",
            "start": {"dataset": "ADSL", "date": "TRTSDT"}, "events": list(events),
            "censors": list(censors), **more}


def tte(datasets: dict, *params: dict, **adtte) -> pd.DataFrame:
    spec = build_adam({"adtte": {"parameters": list(params), **adtte}})
    return derive_adtte(datasets, spec).frame.set_index(["USUBJID", "PARAMCD"])


# --------------------------------------------------------------------------- the rules


def test_event_and_censoring_on_one_day_count_as_the_event():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01"}),
            "ADRS": adrs(("S-01", "PD", "Y", "2012-03-01", 7),
                         ("S-01", "LSTA", "PD", "2012-03-01", 9))}
    r = tte(data, pfs()).loc[("S-01", "PFS")]
    assert (r["CNSR"], r["ADT"], r["AVAL"]) == (0, sas("2012-03-01"), 61)
    assert (r["EVNTDESC"], r["SRCDOM"], r["SRCVAR"], r["SRCSEQ"]) == (
        "DISEASE PROGRESSION", "ADRS", "ADT", 7)
    assert r["CNSDTDSC"] is None


def test_an_event_wins_even_over_a_later_censoring():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01"}),
            "ADRS": adrs(("S-01", "PD", "Y", "2012-03-01", 7),
                         ("S-01", "LSTA", "SD", "2012-06-01", 9))}
    assert tte(data, pfs()).loc[("S-01", "PFS"), "ADT"] == sas("2012-03-01")


def test_event_before_the_start_date_is_moved_to_it():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-10", "TRTSDTF": "D"}),
            "ADRS": adrs(("S-01", "PD", "Y", "2012-01-02", 3))}
    r = tte(data, pfs()).loc[("S-01", "PFS")]
    assert (r["CNSR"], r["ADT"], r["STARTDT"], r["AVAL"]) == (0, sas("2012-01-10"),
                                                             sas("2012-01-10"), 1)
    assert r["STARTDTF"] == "D" and r["ADTF"] == "D"  # the start date's own flag


def test_several_event_sources_earliest_wins_first_listed_on_a_tie():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01", "DTHFL": "Y",
                          "DTHDT": "2012-02-01"},
                         {"USUBJID": "S-02", "TRTSDT": "2012-01-01", "DTHFL": "Y",
                          "DTHDT": "2012-05-01"},
                         {"USUBJID": "S-03", "TRTSDT": "2012-01-01", "DTHFL": "Y",
                          "DTHDT": "2012-04-01"}),
            "ADRS": adrs(("S-01", "PD", "Y", "2012-03-01", 1),
                         ("S-02", "PD", "Y", "2012-03-01", 1),
                         ("S-03", "PD", "Y", "2012-04-01", 1))}
    out = tte(data, pfs())
    assert out.loc[("S-01", "PFS"), "EVNTDESC"] == "DEATH"  # death before progression
    assert out.loc[("S-02", "PFS"), "EVNTDESC"] == "DISEASE PROGRESSION"
    assert out.loc[("S-03", "PFS"), "EVNTDESC"] == "DISEASE PROGRESSION"  # tie: listed first
    swapped = tte(data, pfs(events=(DEATH, PD_EVENT)))
    assert swapped.loc[("S-03", "PFS"), "EVNTDESC"] == "DEATH"


def test_censorings_latest_wins_last_listed_on_a_tie():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01", "LSTALVDT": "2012-09-01"},
                         {"USUBJID": "S-02", "TRTSDT": "2012-01-01", "LSTALVDT": "2012-03-01"}),
            "ADRS": adrs(("S-01", "LSTA", "SD", "2012-06-01", 4),
                         ("S-02", "LSTA", "SD", "2012-03-01", 4))}
    alive = {"dataset": "ADSL", "date": "LSTALVDT", "evntdesc": "ALIVE",
             "cnsdtdsc": "LAST DATE KNOWN ALIVE"}
    out = tte(data, pfs(censors=(LAST_ASSESSMENT, alive)))
    assert out.loc[("S-01", "PFS"), "EVNTDESC"] == "ALIVE"  # the later date
    assert out.loc[("S-02", "PFS"), "EVNTDESC"] == "ALIVE"  # same date: the one listed last
    out = tte(data, pfs(censors=(alive, LAST_ASSESSMENT)))
    assert out.loc[("S-02", "PFS"), "EVNTDESC"] == "LAST TUMOR ASSESSMENT"
    assert out["CNSR"].eq(1).all()


def test_no_assessment_at_all_is_censored_at_the_start():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01"}),
            "ADRS": adrs(("S-02", "LSTA", "SD", "2012-06-01", 4))[0:0]}
    r = tte(data, pfs()).loc[("S-01", "PFS")]
    assert (r["CNSR"], r["AVAL"], r["EVNTDESC"], r["CNSDTDSC"], r["SRCVAR"]) == (
        1, 1, "NO ASSESSMENT", "TREATMENT START", "TRTSDT")


def test_partial_dates_in_a_source_are_imputed_and_flagged():
    ds = pd.DataFrame({"USUBJID": ["S-01", "S-02"], "DSSEQ": [1.0, 1.0],
                       "DSDECOD": "DEATH", "DSSTDTC": ["2012-03", "2012"]})
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-10"},
                         {"USUBJID": "S-02", "TRTSDT": "2012-01-10"}),
            "DS": ds}
    death = {"dataset": "DS", "where": {"column": "DSDECOD", "equals": "DEATH"},
             "date": "DSSTDTC", "evntdesc": "DEATH", "srcseq": "DSSEQ"}
    start = {**START, "evntdesc": "START"}
    out = tte(data, pfs(events=(death,), censors=(start,), paramcd="OS"))
    s1, s2 = out.loc[("S-01", "OS")], out.loc[("S-02", "OS")]
    assert (s1["ADT"], s1["ADTF"], s1["CNSR"]) == (sas("2012-03-01"), "D", 0)
    # 2012 -> 2012-01-01, before the start: moved to STARTDT, flag from the start date
    assert (s2["ADT"], s2["AVAL"], s2["CNSR"]) == (sas("2012-01-10"), 1, 0)
    no = tte(data, pfs(events=({**death, "impute": "none"},), censors=(start,)))
    assert no["CNSR"].eq(1).all()  # a partial date without imputation is no date


def test_partial_death_date_through_adsl_keeps_its_flag():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-10", "DTHFL": "Y",
                          "DTHDT": "2012-03-01", "DTHDTF": "D"})}
    os_ = pfs(events=(DEATH,), censors=(START,), paramcd="OS", param="Overall Survival")
    r = tte(data, os_).loc[("S-01", "OS")]
    assert (r["ADT"], r["ADTF"], r["SRCVAR"]) == (sas("2012-03-01"), "D", "DTHDT")


def test_a_subject_missing_from_adsl_is_a_located_error():
    data = {"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01"}),
            "ADRS": adrs(("S-01", "PD", "Y", "2012-03-01", 1),
                         ("S-09", "PD", "Y", "2012-03-01", 1))}
    with pytest.raises(DerivationError) as err:
        tte(data, pfs())
    (p,) = err.value.problems
    assert (p.code, p.location.dataset, p.location.usubjid, p.location.record) == (
        "ADTTE004", "ADRS", "S-09", 2)


def test_population_and_start_date_select_the_subjects():
    data = {"ADSL": adsl(*({"USUBJID": f"S-0{i}", "TRTSDT": "2012-01-01"} for i in (1, 3, 4)),
                         {"USUBJID": "S-02", "TRTSDT": "2012-01-01", "SAFFL": "N"}),
            "ADRS": adrs(("S-01", "RSP", "Y", "2012-02-01", 5),
                         ("S-01", "PD", "Y", "2012-04-01", 6),
                         ("S-02", "RSP", "Y", "2012-02-01", 5),
                         ("S-03", "RSP", "N", "", 5),
                         ("S-03", "PD", "Y", "2012-04-01", 6),
                         ("S-04", "RSP", "Y", "2012-02-01", 5),
                         ("S-04", "LSTA", "PR", "2012-03-01", 7))}
    dor = {"paramcd": "DOR", "param": "Duration of Response",
           "start": {"dataset": "ADRS", "where": {"all": [
               {"column": "PARAMCD", "equals": "RSP"}, {"column": "AVALC", "equals": "Y"}]},
                     "date": "ADT"},
           "population": {"column": "SAFFL", "equals": "Y"},
           "events": [PD_EVENT], "censors": [LAST_ASSESSMENT]}
    out = tte(data, dor)
    # S-02 is not in the population, S-03 has no response (no STARTDT)
    assert list(out.index) == [("S-01", "DOR"), ("S-04", "DOR")]
    assert out.loc[("S-01", "DOR"), "AVAL"] == 61  # 1 Feb to 1 Apr 2012 (leap), +1
    assert (out.loc[("S-04", "DOR"), "CNSR"], out.loc[("S-04", "DOR"), "AVAL"]) == (1, 30)
    # a subject with a start date but neither an event nor a censoring gets no record
    data["ADRS"] = data["ADRS"][data["ADRS"]["PARAMCD"] != "LSTA"]
    assert list(tte(data, dor).index) == [("S-01", "DOR")]


def test_records_metadata_sequence_and_adsl_copies(tmp_path):
    data = {"ADSL": adsl({"USUBJID": "S-02", "TRTSDT": "2012-01-01", "LSTALVDT": "2012-12-31",
                          "ARMCD": "A"},
                         {"USUBJID": "S-01", "TRTSDT": "2012-01-01", "LSTALVDT": "2012-06-30",
                          "DTHFL": "Y", "DTHDT": "2012-06-30", "ARMCD": "A"}),
            "ADRS": adrs(("S-01", "LSTA", "SD", "2012-05-01", 2))}
    alive = {"dataset": "ADSL", "date": "LSTALVDT", "evntdesc": "ALIVE",
             "cnsdtdsc": "LAST DATE KNOWN ALIVE"}
    os_ = {"paramcd": "OS", "param": "Overall Survival", "paramn": 1,
           "start": {"dataset": "ADSL", "date": "TRTSDT"}, "events": [DEATH],
           "censors": [alive]}
    spec = build_adam({"adtte": {"parameters": [os_, pfs(paramn=2)]}})
    ds = derive_adtte(data, spec)
    f = ds.frame
    assert f[["USUBJID", "PARAMCD", "ASEQ"]].values.tolist() == [
        ["S-01", "OS", 1], ["S-01", "PFS", 2], ["S-02", "OS", 1], ["S-02", "PFS", 2]]
    assert set(f["AVALU"]) == {"DAYS"} and set(f["STUDYID"]) == {"S"}
    assert (f["AVAL"] == f["ADT"] - f["STARTDT"] + 1).all()
    assert f["TRTP"].tolist() == ["A"] * 4 and f["ARMCD"].tolist() == ["A"] * 4
    meta = standards.dataset("ADTTE")
    order = [meta.variable(c).order for c in f.columns]
    assert order == sorted(order)
    assert ds.meta.variable("ADT").display_format == "DATE9."
    assert all(v.label for v in ds.meta.variables)
    # S-01 died (ADSL), S-02 has no assessment (censored at ADSL TRTSDT); ADSL records 2, 1
    assert ds.lineage["__source__"].tolist() == ["ADSL"] * 4
    assert ds.lineage["__row__"].tolist() == [2, 2, 1, 1]
    # value-level provenance: each parameter and each of its sources
    adt = [p for p in ds.provenance if p.variable == "ADT"]
    assert {(p.where["equals"], p.arguments["kind"], p.source) for p in adt} >= {
        ("OS", "event", "ADSL"), ("PFS", "event", "ADRS"), ("PFS", "censor", "ADRS")}
    write_xpt(f, tmp_path / "adtte.xpt", name="ADTTE", label=ds.label,
              column_labels=ds.meta.labels, created=dt.datetime(2013, 2, 1),
              display_formats=ds.meta.display_formats)
    back = pd.read_sas(tmp_path / "adtte.xpt", format="xport", encoding="ascii")
    assert back["AVAL"].tolist() == f["AVAL"].tolist()


def test_missing_adsl_or_source_dataset():
    with pytest.raises(DerivationError) as err:
        derive_adtte({"ADRS": adrs()})
    assert err.value.problems[0].code == "ADTTE001"
    with pytest.raises(DerivationError) as err:
        tte({"ADSL": adsl({"USUBJID": "S-01", "TRTSDT": "2012-01-01"})}, pfs())
    problems = err.value.problems
    assert {p.code for p in problems} == {"ADTTE001"}
    assert problems[0].location.json_path == "$.adam.adtte.parameters[0].events[0]"


def test_default_parameters_without_an_adtte_section():
    sdtm = {"DM": pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-01"], "SUBJID": ["01"],
                                "SITEID": "01", "AGE": 50.0, "AGEU": "YEARS", "SEX": "F",
                                "RACE": "WHITE", "ARM": "A", "ACTARM": "A",
                                "DTHFL": "Y", "DTHDTC": "2012-05-01"}),
            "EX": pd.DataFrame({"USUBJID": ["S-01"], "EXSEQ": [1.0], "EXTRT": "A",
                                "EXDOSE": [1.0], "EXSTDTC": ["2012-01-01"],
                                "EXENDTC": ["2012-02-01"]})}
    out = derive_adam(sdtm)
    assert set(out) == {"ADSL", "ADTTE"}
    r = out["ADTTE"].frame.iloc[0]
    assert (r["PARAMCD"], r["CNSR"], r["AVAL"], r["EVNTDESC"]) == ("OS", 0, 122, "DEATH")
    assert out["ADSL"].frame.at[0, "SAFFL"] == "Y"
    # without EX the default rules give an ADSL without exposure and no ADTTE
    out = derive_adam({"DM": sdtm["DM"]})
    assert set(out) == {"ADSL"} and "TRTSDT" not in out["ADSL"].frame.columns


# --------------------------------------------------------------------------- spec section


def _load(tmp_path, text: str):
    path = tmp_path / "adam.yaml"
    path.write_text("spec_version: 1\nadam:\n" + textwrap.indent(textwrap.dedent(text), "  "))
    return load_adam_spec(path)


def test_a_file_of_adam_rules_alone(tmp_path):
    spec = _load(tmp_path, """\
        data_cutoff: "2013-01-31"
        adtte:
          parameters:
            - paramcd: OS
              param: Overall Survival
              start: {dataset: ADSL, date: TRTSDT}
              events: [{dataset: ADSL, date: DTHDT, evntdesc: DEATH}]
              censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: ALIVE, cnsdtdsc: ALIVE}]
        """)
    (p,) = spec.adtte.parameters
    assert (p.paramcd, p.events[0].cnsr, p.censors[0].cnsr) == ("OS", 0, 1)
    assert p.events[0].source.impute == "first"  # admiral's filter_date_sources
    assert spec.data_cutoff == "2013-01-31"
    loc = spec.locate(p.censors[0].json_path)
    assert (loc.line, loc.json_path) == (10, "$.adam.adtte.parameters[0].censors[0]")


@pytest.mark.parametrize(("text", "code", "path"), [
    # a censoring needs CNSDTDSC (CV0908 would warn of every record)
    ("""adtte: {parameters: [{paramcd: OS, param: OS, start: {dataset: ADSL, date: TRTSDT},
        events: [{dataset: ADSL, date: DTHDT, evntdesc: D}],
        censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A}]}]}""",
     "SPEC002", "$.adam.adtte.parameters[0].censors[0]"),
    ("""adtte: {parameters: [{paramcd: OS, param: OS, start: {dataset: ADSL, date: RANDDT},
        events: [{dataset: ADSL, date: DTHDT, evntdesc: D}],
        censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]}]}""",
     "SPEC041", "$.adam.adtte.parameters[0].start.date"),
    ("""adtte: {parameters: [{paramcd: OS, param: OS, start: {dataset: ADSL, date: TRTSDT},
        events: [{dataset: ADTTE, date: ADT, evntdesc: D}],
        censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]}]}""",
     "SPEC040", "$.adam.adtte.parameters[0].events[0].dataset"),
    ("""adtte: {parameters: [
        {paramcd: OS, param: OS, start: {dataset: ADSL, date: TRTSDT},
         events: [{dataset: ADSL, date: DTHDT, evntdesc: D}],
         censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]},
        {paramcd: OS, param: OS2, start: {dataset: ADSL, date: TRTSDT},
         events: [{dataset: ADSL, date: DTHDT, evntdesc: D}],
         censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]}]}""",
     "SPEC044", "$.adam.adtte.parameters[1].paramcd"),
    ("""adtte: {adsl_variables: [EOSSTT], parameters: [
        {paramcd: OS, param: OS, start: {dataset: ADSL, date: TRTSDT},
         events: [{dataset: ADSL, date: DTHDT, evntdesc: D}],
         censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]}]}""",
     "SPEC042", "$.adam.adtte.adsl_variables"),
    ("""adtte: {parameters: [{paramcd: OS, param: OS, start: {dataset: ADSL, date: TRTSDT},
        events: [{dataset: ADRS, date: ADT, evntdesc: D, srcseq: RSSEQ}],
        censors: [{dataset: ADSL, date: LSTALVDT, evntdesc: A, cnsdtdsc: A}]}]}""",
     "SPEC041", "$.adam.adtte.parameters[0].events[0].srcseq"),
])
def test_adtte_rules_are_checked_with_locations(tmp_path, text, code, path):
    with pytest.raises(SpecError) as err:
        _load(tmp_path, text)
    found = {(p.code, p.location.json_path) for p in err.value.problems}
    assert (code, path) in found, found


def test_the_example_spec_declares_four_parameters():
    spec = load_spec(example_spec_path()).adam
    params = {p.paramcd: p for p in spec.adtte.parameters}
    assert list(params) == ["OS", "PFS", "DOR", "TOT"]
    assert [s.source.dataset for s in params["PFS"].events] == ["ADRS", "ADSL"]
    assert [s.cnsdtdsc for s in params["PFS"].censors] == ["LAST ADEQUATE TUMOR ASSESSMENT",
                                                           "TREATMENT START"]
    assert params["DOR"].start.dataset == "ADRS"
    # the same rules through the loader of ADaM rules (a whole mapping spec is accepted)
    assert load_adam_spec(example_spec_path()).adtte == spec.adtte


# --------------------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def example_adtte(example_output, tmp_path_factory) -> pd.DataFrame:
    """The example's ADTTE derived from its SDTM XPT files, written as XPT and read back
    by pandas (an independent reader)."""
    sdtm = {p.stem.upper(): read_xpt(p)[0] for p in (example_output.out / "sdtm").glob("*.xpt")}
    adam = derive_adam(sdtm, load_spec(example_spec_path()).adam)
    ds = adam["ADTTE"]
    path = tmp_path_factory.mktemp("adam") / "adtte.xpt"
    write_xpt(ds.frame, path, name="ADTTE", label=ds.label, column_labels=ds.meta.labels,
              created=dt.datetime(2013, 2, 1), display_formats=ds.meta.display_formats)
    back = pd.read_sas(path, format="xport", encoding="ascii")
    # pandas 2.x decodes an IBM zero as 16**-65 (see cdisc/formats/xpt.py): CNSR 0 reads
    # back as 5.4e-79, so whole numbers are rounded before use
    numbers = back.select_dtypes("number").columns
    back[numbers] = back[numbers].round(6)
    return back


def _fit(adtte: pd.DataFrame, paramcd: str, reverse: bool = False):
    lifelines = pytest.importorskip("lifelines")
    rows = adtte[adtte["PARAMCD"].str.strip() == paramcd]
    event = rows["CNSR"].eq(1) if reverse else rows["CNSR"].eq(0)
    return lifelines.KaplanMeierFitter().fit(rows["AVAL"], event), rows


def test_example_overall_survival_reproduces_the_paper(example_adtte):
    km, rows = _fit(example_adtte, "OS")
    assert len(rows) == 10 and rows["CNSR"].eq(0).sum() == 5
    assert round1(float(km.survival_function_at_times(365).iloc[0]) * 100) == "78.8"
    assert round1(km.median_survival_time_ / 365.25) == "2.4"
    follow_up, _ = _fit(example_adtte, "OS", reverse=True)
    assert round1(follow_up.median_survival_time_ / 365.25) == "1.9"
    by_subject = rows.set_index(rows["USUBJID"].str[-3:])["AVAL"].astype(int).to_dict()
    assert by_subject == {"001": 1046, "002": 1638, "003": 637, "004": 30, "005": 471,
                          "006": 690, "007": 880, "008": 121, "009": 311, "010": 98}


def test_example_pfs_dor_and_time_on_treatment(example_adtte):
    km, rows = _fit(example_adtte, "PFS")
    events = rows[rows["CNSR"].eq(0)]
    assert sorted(events["USUBJID"].str[-3:]) == ["001", "003", "004", "005", "007", "008"]
    assert km.median_survival_time_ == 152  # README: KM median 152 days
    p3 = rows[rows["USUBJID"].str.endswith("003")].iloc[0]
    assert p3["AVAL"] == 630  # the investigator's PD (README inconsistency 9)
    p6 = rows[rows["USUBJID"].str.endswith("006")].iloc[0]
    assert (p6["CNSR"], p6["AVAL"], p6["CNSDTDSC"]) == (1, 1, "TREATMENT START")
    dor = example_adtte[example_adtte["PARAMCD"] == "DOR"]
    assert sorted(dor["USUBJID"].str[-3:]) == ["002", "003", "007", "009", "010"]  # 5 PR
    tot = example_adtte[example_adtte["PARAMCD"] == "TOT"]
    assert sorted(tot["AVAL"].astype(int)) == sorted([94, 1366, 637, 7, 56, 217, 158, 16,
                                                      311, 98])
    assert sorted(tot.loc[tot["CNSR"].eq(1), "USUBJID"].str[-3:]) == ["003", "009", "010"]
    assert (example_adtte["AVAL"] == example_adtte["ADT"] - example_adtte["STARTDT"] + 1).all()
