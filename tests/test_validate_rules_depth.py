"""The rules CORE found and we missed (issue 12): each plants its defect in a tiny frame.

Every test names the rule, the dataset, the record (1-based) and the variable of the
finding it expects, and checks that the clean version of the same record is not
reported. The last tests run the rules on the CDISC pilot (``../shared/``, skipped
when absent) and check the counts CORE 0.17 reports there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdisc import standards
from cdisc.errors import Severity, StandardsError
from cdisc.formats.xpt import read_xpt
from cdisc.validate import get_rule, validate_datasets
from cdisc.validate.registry import CATEGORIES, all_rules, rule

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
S = "STUDY1"


def dm(**changes) -> pd.DataFrame:
    """Two subjects: S-1 alive, S-2 died on 2020-03-01; both on arm A from January."""
    frame = pd.DataFrame({
        "STUDYID": S, "DOMAIN": "DM", "USUBJID": ["S-1", "S-2"], "SUBJID": ["1", "2"],
        "RFSTDTC": ["2020-01-10", "2020-01-20"], "RFENDTC": ["2020-06-01", "2020-03-01"],
        "RFXSTDTC": ["2020-01-10", "2020-01-20"], "RFXENDTC": ["2020-05-01", "2020-02-20"],
        "DTHDTC": ["", "2020-03-01"], "DTHFL": ["", "Y"], "SITEID": "01",
        "AGE": [50.0, 60.0], "AGEU": "YEARS", "SEX": "F", "ARMCD": "A", "ARM": "Drug A",
        "ACTARMCD": "A", "ACTARM": "Drug A", "ARMNRS": "", "ACTARMUD": "", "COUNTRY": "USA"})
    for column, values in changes.items():
        frame[column] = values
    return frame


def ae(**changes) -> pd.DataFrame:
    """Three adverse events of S-1, not serious, recovered, graded, coded with MedDRA."""
    frame = pd.DataFrame({
        "STUDYID": S, "DOMAIN": "AE", "USUBJID": "S-1", "AESEQ": [1.0, 2.0, 3.0],
        "AETERM": ["Headache", "Nausea", "Rash"], "AEDECOD": ["Headache", "Nausea", "Rash"],
        "AEPTCD": [10019211.0, 10028813.0, 10037844.0],
        "AEBODSYS": ["Nervous system disorders", "Gastrointestinal disorders",
                     "Skin and subcutaneous tissue disorders"],
        "AEBDSYCD": [10029205.0, 10017947.0, 10040785.0],
        "AESER": "N", "AESDTH": "N", "AESHOSP": "N", "AEOUT": "RECOVERED/RESOLVED",
        "AETOXGR": ["1", "2", "3"], "EPOCH": "TREATMENT",
        "AESTDTC": ["2020-02-01", "2020-02-05", "2020-02-10"],
        "AEENDTC": ["2020-02-03", "2020-02-06", "2020-02-20"],
        "AESTDY": [23.0, 27.0, 32.0], "AEENDY": [25.0, 28.0, 42.0]})
    for column, values in changes.items():
        frame[column] = values
    return frame


def found(datasets: dict[str, pd.DataFrame], rule_id: str) -> list[tuple]:
    """(dataset, record, variable) of each finding of ``rule_id``."""
    result = validate_datasets(datasets)
    assert not [p for p in result.findings if p.code == "CV0000"], "a rule crashed"
    return [(p.location.dataset, p.location.record, p.location.field)
            for p in result.findings if p.code == rule_id]


def test_clean_frames_raise_none_of_the_new_rules():
    ds = pd.DataFrame({"STUDYID": S, "DOMAIN": "DS", "USUBJID": ["S-1", "S-2"],
                       "DSSEQ": [1.0, 1.0], "DSTERM": ["COMPLETED", "DEATH"],
                       "DSDECOD": ["COMPLETED", "DEATH"], "DSCAT": "DISPOSITION EVENT",
                       "EPOCH": "TREATMENT", "DSSTDTC": ["2020-06-01", "2020-03-01"],
                       "DSSTDY": [144.0, 41.0]})
    result = validate_datasets({"DM": dm(), "AE": ae(), "DS": ds})
    new = {f"CV0{n}" for n in (205, 206, 207, 208, 209, 210, 211, 309, 310, 311, 401, 402, 403,
                               404, 405, 406, 504, 505, 506, 507, 607)} | {"CV0007"}
    assert not [str(p) for p in result.findings if p.code in new]


# --- AE: seriousness ----------------------------------------------------------------------


def test_cv0401_not_serious_with_a_criterion_in_ae():
    assert found({"DM": dm(), "AE": ae(AESHOSP=["N", "Y", "N"])}, "CV0401") == [
        ("AE", 2, "AESER")]
    # AESER null counts as not serious (CORE-000022: 'N' or empty)
    assert found({"DM": dm(), "AE": ae(AESDTH=["Y", "N", "N"], AESER=["", "N", "N"])},
                 "CV0401") == [("AE", 1, "AESER")]


def test_cv0401_criterion_in_suppae():
    supp = pd.DataFrame({"STUDYID": S, "RDOMAIN": "AE", "USUBJID": "S-1", "IDVAR": "AESEQ",
                         "IDVARVAL": ["3", "1"], "QNAM": ["AESMIE", "AESMIE"],
                         "QLABEL": "Other Medically Important Serious Event",
                         "QVAL": ["Y", "N"], "QORIG": "CRF", "QEVAL": ""})
    assert found({"DM": dm(), "AE": ae(), "SUPPAE": supp}, "CV0401") == [("AE", 3, "AESER")]


def test_cv0402_serious_without_criterion():
    frame = ae(AESER=["Y", "N", "Y"], AESLIFE=["N", "N", "Y"])
    assert found({"DM": dm(), "AE": frame}, "CV0402") == [("AE", 1, "AESER")]
    # no criterion variable at all (the example before its fix): still a finding
    bare = ae(AESER=["N", "Y", "N"]).drop(columns=["AESDTH", "AESHOSP"])
    assert found({"DM": dm(), "AE": bare}, "CV0402") == [("AE", 2, "AESER")]
    # ... and none once SUPPAE gives the criterion
    supp = pd.DataFrame({"STUDYID": S, "RDOMAIN": "AE", "USUBJID": ["S-1"], "IDVAR": "AESEQ",
                         "IDVARVAL": ["2"], "QNAM": ["AESHOSP"],
                         "QLABEL": "Requires or Prolongs Hospitalization", "QVAL": ["Y"],
                         "QORIG": "CRF", "QEVAL": ""})
    assert found({"DM": dm(), "AE": bare, "SUPPAE": supp}, "CV0402") == []


# --- AE: outcome and end date -------------------------------------------------------------


def test_cv0403_end_date_while_not_recovered_or_recovering():
    frame = ae(AEOUT=["NOT RECOVERED/NOT RESOLVED", "RECOVERING/RESOLVING",
                      "NOT RECOVERED/NOT RESOLVED"],
               AEENDTC=["2020-02-03", "2020-02-06", ""], AEENDY=[25.0, 28.0, None])
    assert found({"DM": dm(), "AE": frame}, "CV0403") == [("AE", 1, "AEENDTC"),
                                                          ("AE", 2, "AEENDTC")]


def test_cv0404_no_end_date_once_ended():
    frame = ae(AEOUT=["RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE", "FATAL"],
               AEENDTC=["", "", "2020-02-20"], AEENDY=[None, None, 42.0])
    assert found({"DM": dm(), "AE": frame}, "CV0404") == [("AE", 1, "AEENDTC"),
                                                          ("AE", 2, "AEENDTC")]


# --- AE: coding and grades ----------------------------------------------------------------


def test_cv0405_meddra_hierarchy_partially_populated():
    frame = ae(AEBDSYCD=[10029205.0, None, None], AEPTCD=[10019211.0, 10028813.0, None],
               AEBODSYS=["Nervous system disorders", "Gastrointestinal disorders", ""])
    # record 2: AEBODSYS given, AEBDSYCD null (CORE-000024); record 3 has no MedDRA coding
    # at all (its AEDECOD comes from another dictionary, e.g. CTCAE): not flagged
    assert found({"DM": dm(), "AE": frame}, "CV0405") == [("AE", 2, "AEBDSYCD")]
    (problem,) = [p for p in validate_datasets({"DM": dm(), "AE": frame}).findings
                  if p.code == "CV0405"]
    assert problem.message.startswith("AEPTCD, AEBODSYS populated but AEBDSYCD null")
    assert problem.severity is Severity.WARNING
    # a code without its name is partial too; the first null one names the finding
    codes_only = ae(AEBODSYS=["", "Gastrointestinal disorders", "Skin disorders"])
    assert found({"DM": dm(), "AE": codes_only}, "CV0405") == [("AE", 1, "AEBODSYS")]


def test_cv0406_toxicity_grade_is_a_number_of_the_scale():
    frame = ae(AETOXGR=["G2", "6", "3"])
    assert found({"DM": dm(), "AE": frame}, "CV0406") == [("AE", 1, "AETOXGR"),
                                                          ("AE", 2, "AETOXGR")]
    assert found({"DM": dm(), "AE": ae(AETOXGR=["0", "2.5", "5"])}, "CV0406") == [
        ("AE", 1, "AETOXGR"), ("AE", 2, "AETOXGR")]


# --- death ----------------------------------------------------------------------------------


def test_cv0504_fatal_event_ends_at_death():
    frame = ae(USUBJID="S-2", AEOUT=["FATAL", "RECOVERED/RESOLVED", "FATAL"],
               AEENDTC=["2020-02-28", "2020-02-06", "2020-03-01"],
               AESTDY=[13.0, 17.0, 22.0], AEENDY=[40.0, 18.0, 42.0])
    assert found({"DM": dm(), "AE": frame}, "CV0504") == [("AE", 1, "AEENDTC")]


def test_cv0505_record_dated_after_death():
    vs = pd.DataFrame({"STUDYID": S, "DOMAIN": "VS", "USUBJID": ["S-2", "S-2", "S-1"],
                       "VSSEQ": [1.0, 2.0, 1.0], "VSTESTCD": "SYSBP", "VSTEST": "Systolic",
                       "VSORRES": ["120", "118", "130"], "EPOCH": "TREATMENT",
                       "VSDTC": ["2020-02-01", "2020-03-05", "2020-03-05"]})
    assert found({"DM": dm(), "VS": vs}, "CV0505") == [("VS", 2, "VSDTC")]
    # an AE collected after death is worth a look; its start is CV0506's
    frame = ae(USUBJID="S-2", AEDTC=["2020-02-01", "2020-03-02", "2020-02-25"],
               AESTDY=[13.0, 17.0, 22.0], AEENDY=[15.0, 18.0, 32.0])
    assert found({"DM": dm(), "AE": frame}, "CV0505") == [("AE", 2, "AEDTC")]


def test_cv0506_dose_or_event_after_death():
    ex = pd.DataFrame({"STUDYID": S, "DOMAIN": "EX", "USUBJID": ["S-2", "S-2"],
                       "EXSEQ": [1.0, 2.0], "EXTRT": "DRUG", "EXDOSE": 10.0, "EXDOSU": "mg",
                       "EPOCH": "TREATMENT", "EXSTDTC": ["2020-01-20", "2020-03-08"],
                       "EXENDTC": ["2020-03-04", "2020-03-09"]})
    assert found({"DM": dm(RFXENDTC=["2020-05-01", "2020-03-09"]), "EX": ex}, "CV0506") == [
        ("EX", 1, "EXENDTC"), ("EX", 2, "EXSTDTC")]
    assert get_rule("CV0506").severity is Severity.ERROR
    frame = ae(USUBJID="S-2", AESTDTC=["2020-02-01", "2020-02-05", "2020-03-02"],
               AEENDTC=["2020-02-03", "2020-03-03", "2020-03-04"],
               AESTDY=[13.0, 17.0, 42.0], AEENDY=[15.0, 43.0, 44.0])
    assert found({"DM": dm(), "AE": frame}, "CV0506") == [("AE", 2, "AEENDTC"),
                                                          ("AE", 3, "AESTDTC")]


def test_cv0507_death_before_first_dose():
    frame = dm(DTHDTC=["", "2020-01-15"])
    assert found({"DM": frame}, "CV0507") == [("DM", 2, "DTHDTC")]


# --- EPOCH and study days ----------------------------------------------------------------


def test_cv0309_epoch_missing_on_dated_records():
    frame = ae(EPOCH=["TREATMENT", "", "TREATMENT"])
    assert found({"DM": dm(), "AE": frame}, "CV0309") == [("AE", 2, "EPOCH")]
    # the variable itself absent: every dated record of a subject with RFSTDTC
    undated = ae(AESTDTC=["2020-02-01", "", "2020-02-10"], AESTDY=[23.0, None, 32.0])
    assert found({"DM": dm(), "AE": undated.drop(columns=["EPOCH"])}, "CV0309") == [
        ("AE", 1, "EPOCH"), ("AE", 3, "EPOCH")]
    # a subject with no reference start and no SE records has no epochs to give
    assert found({"DM": dm(RFSTDTC=["", "2020-01-20"]), "AE": frame}, "CV0309") == []


def test_cv0310_study_day_null_although_computable():
    frame = ae(AESTDY=[23.0, None, 32.0], AESTDTC=["2020-02-01", "2020-02-05", "2020-02"],
               AEENDY=[25.0, 28.0, None])
    # record 2: AESTDY null with a complete date; record 3: partial date, so null is right,
    # but AEENDTC 2020-02-20 is complete and AEENDY is null
    assert found({"DM": dm(), "AE": frame}, "CV0310") == [("AE", 2, "AESTDY"),
                                                          ("AE", 3, "AEENDY")]


def test_cv0311_study_day_variable_absent():
    frame = ae(AEDTC=["2020-02-03", "2020-02-06", "2020-02-20"]).drop(columns=["AEENDY"])
    assert sorted(found({"DM": dm(), "AE": frame}, "CV0311")) == [("AE", None, "AEDY"),
                                                                  ("AE", None, "AEENDY")]


# --- DM: arms, age, disposition ------------------------------------------------------------


def test_cv0205_screen_failure_is_not_an_arm():
    frame = dm(ARM=["Drug A", "Screen Failure"], ARMCD=["A", "SCRNFAIL"],
               ACTARM=["Drug A", "Screen Failure"], ACTARMCD=["A", "SCRNFAIL"])
    assert found({"DM": frame}, "CV0205") == [("DM", 2, "ARM")]
    assert found({"DM": dm(ARMCD=["A", "Scrnfail"])}, "CV0205") == [("DM", 2, "ARMCD")]


def test_cv0206_null_arm_needs_armnrs():
    frame = dm(ARM=["Drug A", ""], ARMCD=["A", ""], ACTARM=["Drug A", ""],
               ACTARMCD=["A", ""])
    assert found({"DM": frame}, "CV0206") == [("DM", 2, "ARMNRS")]
    assert found({"DM": frame.assign(ARMNRS=["", "SCREEN FAILURE"])}, "CV0206") == []


def test_cv0211_no_subject_has_an_arm():
    frame = dm(ARM="", ARMCD="", ACTARM="", ACTARMCD="")
    # arms not mapped at all: one warning for DM, not an error per subject
    assert found({"DM": frame}, "CV0211") == [("DM", None, "ARMCD")]
    assert found({"DM": frame}, "CV0206") == []
    assert found({"DM": frame.assign(ARMNRS="NOT ASSIGNED")}, "CV0211") == []


def test_cv0207_actual_arm_differs_without_reason():
    frame = dm(ACTARMCD=["A", "B"], ACTARM=["Drug A", "Drug B"])
    assert found({"DM": frame}, "CV0207") == [("DM", 2, "ACTARMCD")]
    assert found({"DM": frame.assign(ACTARMUD=["", "took B by mistake"])}, "CV0207") == []


def test_cv0208_cv0209_age_out_of_range():
    assert found({"DM": dm(AGE=[-3.0, 60.0])}, "CV0208") == [("DM", 1, "AGE")]
    assert found({"DM": dm(AGE=[50.0, 130.0])}, "CV0209") == [("DM", 2, "AGE")]
    months = dm(AGE=[600.0, 1500.0], AGEU="MONTHS")
    assert found({"DM": months}, "CV0209") == [("DM", 2, "AGE")]


def test_cv0210_subject_with_an_arm_has_no_ds_record():
    ds = pd.DataFrame({"STUDYID": S, "DOMAIN": "DS", "USUBJID": ["S-1"], "DSSEQ": [1.0],
                       "DSTERM": "COMPLETED", "DSDECOD": "COMPLETED",
                       "DSCAT": "DISPOSITION EVENT", "EPOCH": "TREATMENT",
                       "DSSTDTC": ["2020-06-01"], "DSSTDY": [144.0]})
    assert found({"DM": dm(), "DS": ds}, "CV0210") == [("DM", 2, "USUBJID")]
    assert found({"DM": dm()}, "CV0210") == []  # no DS in the package: nothing to compare


# --- SUPPQUAL and text ----------------------------------------------------------------------


def test_cv0607_split_pieces_share_a_label():
    supp = pd.DataFrame({"STUDYID": S, "RDOMAIN": "DM", "USUBJID": ["S-1", "S-1", "S-2"],
                         "IDVAR": "", "IDVARVAL": "", "QNAM": ["COMMENT", "COMMENT1", "COMMENT"],
                         "QLABEL": "Comment", "QVAL": ["first part", "second part", "x"],
                         "QORIG": "CRF", "QEVAL": ""})
    assert found({"DM": dm(), "SUPPDM": supp}, "CV0607") == [("SUPPDM", 2, "QLABEL")]
    fixed = supp.assign(QLABEL=["Comment", "Comment 1", "Comment"])
    assert found({"DM": dm(), "SUPPDM": fixed}, "CV0607") == []


def test_cv0007_leading_blank():
    supp = pd.DataFrame({"STUDYID": S, "RDOMAIN": "DM", "USUBJID": ["S-1", "S-1"],
                         "IDVAR": "", "IDVARVAL": "", "QNAM": ["COMMENT", "COMMENT1"],
                         "QLABEL": ["Comment", "Comment 1"],
                         "QVAL": ["the first half of a", " sentence split badly"],
                         "QORIG": "CRF", "QEVAL": ""})
    assert found({"DM": dm(), "SUPPDM": supp}, "CV0007") == [("SUPPDM", 2, "QVAL")]


# --- the false positive, and a codelist per DSCAT -----------------------------------------


def test_timing_variables_of_the_model_are_not_non_standard():
    frame = ae(AEDTC="2020-02-21", VISITNUM=1.0, VISIT="WEEK 1", VISITDY=8.0, AEXTRA="x")
    assert found({"DM": dm(), "AE": frame}, "CV0106") == [("AE", None, "AEXTRA")]


def test_dsdecod_may_be_a_protocol_milestone():
    try:
        standards.codelist("C114118")
    except StandardsError:
        pytest.skip("the shipped CT has no protocol milestone codelist (C114118) yet")
    ds = pd.DataFrame({"STUDYID": S, "DOMAIN": "DS", "USUBJID": ["S-1", "S-2"],
                       "DSSEQ": [1.0, 1.0], "DSTERM": "INFORMED CONSENT OBTAINED",
                       "DSDECOD": ["INFORMED CONSENT OBTAINED", "NOT A TERM"],
                       "DSCAT": "PROTOCOL MILESTONE", "EPOCH": "SCREENING",
                       "DSSTDTC": ["2020-01-02", "2020-01-03"], "DSSTDY": [-8.0, -17.0]})
    assert found({"DM": dm(), "DS": ds}, "CV0110") == [("DS", 2, "DSDECOD")]


# --- the CDISC pilot --------------------------------------------------------------------------

pilot = pytest.mark.skipif(not (PILOT / "ae.xpt").is_file(),
                           reason="../shared/reference/cdiscpilot01 is not available")


@pytest.fixture(scope="module")
def pilot_findings():
    datasets = {name.upper(): read_xpt(PILOT / f"{name}.xpt")[0] for name in ("dm", "ex", "ae")}
    result = validate_datasets(datasets)
    assert not [p for p in result.findings if p.code == "CV0000"]
    return result.findings


def _count(findings, rule_id, dataset=None):
    return sum(1 for p in findings
               if p.code == rule_id and (dataset is None or p.location.dataset == dataset))


@pilot
def test_pilot_counts_match_core(pilot_findings):
    f = pilot_findings
    assert _count(f, "CV0401") == 36  # CORE-000022 (AESCAN counts: 33 without it)
    assert _count(f, "CV0403") == 250  # CORE-000657
    assert (_count(f, "CV0309", "AE"), _count(f, "CV0309", "EX")) == (1191, 591)  # 1,782
    assert _count(f, "CV0205") == 52  # CORE-000115: ARM = 'Screen Failure'
    assert _count(f, "CV0207") == 12  # CORE-000655/656: planned high dose, received low
    assert _count(f, "CV0405") == 1191  # CORE-000024: the MedDRA codes are empty
    assert _count(f, "CV0311") == 1  # CORE-000321/793: AEDTC without AEDY
    ((rec, subject, value),) = [(p.location.record, p.location.usubjid, p.location.value)
                                for p in f if p.code == "CV0504"]  # CORE-000841
    assert (subject, value) == ("01-704-1445", "2014-10-31")
    ((subject, variable, value),) = [(p.location.usubjid, p.location.field, p.location.value)
                                     for p in f if p.code == "CV0505"]
    assert (subject, variable, value) == ("01-710-1083", "AEDTC", "2013-08-03")


@pilot
def test_pilot_keeps_what_we_found_before(pilot_findings):
    f = pilot_findings
    # before issue 12: AESTDY wrong once, exposure after RFXENDTC 4 times, RFXENDTC not
    # the last dose 6 times, ARMNRS/ACTARMUD not in DM; the CV0106 notices on AEDTC and
    # EX VISIT/VISITNUM/VISITDY were the false positive
    assert [(p.location.record, p.location.field) for p in f if p.code == "CV0302"] == [
        (971, "AESTDY")]
    assert _count(f, "CV0306", "EX") == 4 and _count(f, "CV0308", "DM") == 6
    assert {p.location.field for p in f if p.code == "CV0109"} == {"ARMNRS", "ACTARMUD"}
    assert _count(f, "CV0106") == 0


# --- rule categories ----------------------------------------------------------------------


def test_every_rule_states_its_category_in_its_decorator():
    # the P21 category is an argument of @rule, stated next to the rule: no table elsewhere
    with pytest.raises(TypeError):
        rule("CV9998", Severity.NOTICE, "a rule without a category", "nowhere")
    with pytest.raises(ValueError, match="category"):
        rule("CV9999", Severity.NOTICE, "a rule", "nowhere", category="Other")
    assert {r.category for r in all_rules()} <= set(CATEGORIES)
    assert (get_rule("CV0405").category, get_rule("CV0110").category,
            get_rule("CV0000").category) == ("Presence", "Terminology", "System")


def test_cv0308_exposure_ongoing_at_the_cut_off_ends_there():
    """EXENRTPT ONGOING with EXENTPT the cut-off: RFXENDTC is that date, not the last start."""
    ex = pd.DataFrame({
        "STUDYID": S, "DOMAIN": "EX", "USUBJID": ["S-1", "S-2"], "EXSEQ": [1.0, 1.0],
        "EXTRT": "Drug A", "EXSTDTC": ["2020-01-10", "2020-01-20"],
        "EXENDTC": ["", "2020-02-20"], "EXENRTPT": ["ONGOING", ""],
        "EXENTPT": ["2020-05-01", ""]})
    assert found({"DM": dm(), "EX": ex}, "CV0308") == []
    # without the relative timing the same record's last exposure is its start
    assert found({"DM": dm(), "EX": ex.drop(columns=["EXENRTPT", "EXENTPT"])}, "CV0308") \
        == [("DM", 1, "RFXENDTC")]
    # a reference point that is not a date falls back to TS DCUTDTC
    ts = pd.DataFrame({"STUDYID": S, "DOMAIN": "TS", "TSSEQ": [1.0], "TSPARMCD": ["DCUTDTC"],
                       "TSPARM": ["Data Cutoff Date"], "TSVAL": ["2020-05-01"]})
    text_point = ex.assign(EXENTPT=["END OF STUDY", ""])
    assert found({"DM": dm(), "EX": text_point, "TS": ts}, "CV0308") == []
    assert found({"DM": dm(), "EX": text_point}, "CV0308") == [("DM", 1, "RFXENDTC")]
