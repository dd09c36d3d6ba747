"""AGE and date differences; records ongoing at the cut-off (--ENRTPT/--ENTPT) and the RF
dates and EPOCH that follow from them. The clinic study (tests/clinic_study.py) is a
six-patient spreadsheet as a hospital keeps it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from clinic_study import CLINIC_FILES, CLINIC_SPEC

from cdisc import standards
from cdisc.errors import CdiscError, ProblemLog, Severity
from cdisc.sdtm.date_arithmetic import age, completed_years, date_diff
from cdisc.sdtm.derivations import subject_date
from cdisc.sdtm.engine import build_sdtm
from cdisc.sdtm.registry import MappingContext
from cdisc.sdtm.timing import end_datetime, end_reference, end_relative, ongoing_rows
from cdisc.sources import read_sources
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, write_study


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clinic")
    spec = load_spec(write_study(folder, CLINIC_SPEC, CLINIC_FILES))
    problems = ProblemLog()
    result = build_sdtm(spec, read_sources(spec, problems), problems)
    return spec, result, problems


@pytest.fixture
def ctx(mini_study) -> MappingContext:
    spec = load_spec(mini_study)
    problems = ProblemLog()
    sources = read_sources(spec, problems)
    return MappingContext(spec, sources, problems).at("DM", "AGE", ("domains", "DM", "derive",
                                                                    "AGE"))


def frame(**columns) -> pd.DataFrame:
    data = pd.DataFrame(columns)
    data["__source__"] = "pts"
    data["__row__"] = range(2, 2 + len(data))
    return data


# -- AGE -----------------------------------------------------------------------------------

def test_completed_years_count_the_birthday_itself_and_29_february():
    def dates(*text):
        return pd.Series(pd.to_datetime(list(text)))
    out = completed_years(dates("1960-05-10", "1960-05-10", "1960-05-10", "2000-02-29",
                                "2000-02-29"),
                          dates("2010-05-09", "2010-05-10", "2010-12-31", "2001-02-28",
                                "2001-03-01"))
    assert out.tolist() == [49.0, 50.0, 50.0, 0.0, 1.0]


def test_age_from_complete_and_partial_birth_dates(ctx):
    tgt = frame(BRTHDTC=["1960-05-10", "1960-05", "1960", "1960", "1960-05-10", None,
                         "1960-05-10T08:30"],
                RFSTDTC=["2010-05-09", "2010-06-01", "2010-12-31", "2010-05-09", None,
                         "2010-01-01", "2010-05-10"])
    out = age(tgt, ctx)
    assert out.tolist()[:3] == [49.0, 50.0, 50.0]  # 1960 on 31 Dec 2010: 50 whatever the day
    assert pd.isna(out[3]) and pd.isna(out[4]) and pd.isna(out[5])
    assert out[6] == 50.0
    found = [(p.code, p.severity, p.location.row) for p in ctx.problems]
    assert found == [("MAP024", Severity.NOTICE, 5),  # 1960 on 9 May 2010: 49 or 50
                     ("MAP024", Severity.NOTICE, 6)]  # no RFSTDTC
    assert "more than one age" in list(ctx.problems)[0].message


@pytest.mark.parametrize(("rule", "expected"), [("lowest", 49.0), ("highest", 50.0)])
def test_age_when_the_spec_picks_one_of_two_possible_ages(ctx, rule, expected):
    tgt = frame(BRTHDTC=["1960"], RFSTDTC=["2010-05-09"])
    assert age(tgt, ctx, ambiguous=rule).tolist() == [expected]
    assert len(ctx.problems) == 0


def test_age_at_another_reference_and_a_birth_after_it(ctx):
    tgt = frame(BRTHDTC=["1960-05-10", "2011-01-01"], RFICDTC=["2012-05-10", "2010-01-01"])
    assert age(tgt, ctx, reference="RFICDTC").tolist()[0] == 52.0
    ((code, severity, row),) = [(p.code, p.severity, p.location.row) for p in ctx.problems]
    assert (code, severity, row) == ("MAP024", Severity.ERROR, 3)


def test_age_without_its_variable_is_a_located_error(ctx):
    out = age(frame(BRTHDTC=["1960"]), ctx)
    assert out.isna().all()
    (problem,) = ctx.problems
    assert problem.code == "MAP023" and "RFSTDTC" in problem.message
    assert problem.location.json_path == "$.domains.DM.derive.AGE"


def test_date_diff_counts_days_and_leaves_partial_dates_empty(ctx):
    tgt = frame(EXSTDTC=["2012-01-10", "2012-01-10", "2012-01", "2012-03-01"],
                EXENDTC=["2012-02-29", "2012-01-10", "2012-02-01", "2012-02-28T10:00"])
    assert date_diff(tgt, ctx, start="EXSTDTC", end="EXENDTC").tolist()[:2] == [50.0, 0.0]
    out = date_diff(tgt, ctx, start="EXSTDTC", end="EXENDTC", inclusive=True)
    assert out.tolist()[:2] == [51.0, 1.0] and pd.isna(out[2]) and out[3] == -1.0


# -- ongoing at the cut-off: the algorithms --------------------------------------------------

def test_ongoing_rows_ignore_case_and_blanks_and_take_other_markers():
    cells = pd.Series(["ongoing", "Ongoing ", "ONGOING", "continuing", "01/02/2012", None])
    assert ongoing_rows(cells, None).tolist() == [True, True, True, False, False, False]
    assert ongoing_rows(cells, ["Continuing", "ongoing"]).tolist()[3] is True


def test_end_algorithms_on_one_stop_date_column(mini_study):
    spec = load_spec(mini_study)
    problems = ProblemLog()
    ctx = MappingContext(spec, read_sources(spec, problems), problems).at(
        "EX", "EXENDTC", ("domains", "EX", "records", 0))
    src = frame(stop=["31-JAN-2012", "ongoing", "Ongoing", None, "31-FEB-2012"])
    assert end_datetime(src, ctx, column="stop").tolist() == [
        "2012-01-31", None, None, None, None]
    assert [(p.code, p.location.row, p.location.field) for p in problems] == [
        ("MAP002", 6, "stop")]  # the impossible date, never the ongoing cells
    assert end_relative(src, ctx, column="stop").tolist() == [
        None, "ONGOING", "ONGOING", None, None]
    assert end_reference(src, ctx, column="stop").tolist() == [
        None, "2013-01-31", "2013-01-31", None, None]
    both = {"column": "stop", "otherwise": "BEFORE", "reference": "END OF STUDY"}
    assert end_relative(src, ctx, **both).tolist() == [
        "BEFORE", "ONGOING", "ONGOING", None, "BEFORE"]
    assert end_reference(src, ctx, **both).tolist() == [
        "END OF STUDY", "END OF STUDY", "END OF STUDY", None, "END OF STUDY"]


def test_a_flag_column_can_say_ongoing(mini_study):
    spec = load_spec(mini_study)
    ctx = MappingContext(spec, {}, ProblemLog()).at("EX", "EXENRTPT", ())
    src = frame(ongoing_at_cutoff=["Yes", "No", None, "yes"])
    assert end_relative(src, ctx, column="ongoing_at_cutoff", markers=["Yes"]).tolist() == [
        "ONGOING", None, None, "ONGOING"]


def test_subject_date_max_ends_an_ongoing_record_at_its_reference_point(mini_study):
    spec = load_spec(mini_study)
    ex = pd.DataFrame({
        "USUBJID": ["A", "A", "B", "C", "D"],
        "EXENDTC": ["2012-01-28", None, "2012-03-01", "2012-02-10", None],
        "EXENRTPT": [None, "ONGOING", None, "ONGOING", "ONGOING"],
        "EXENTPT": [None, "2012-12-31", None, "END OF STUDY", None]})
    ctx = MappingContext(spec, {}, ProblemLog(), domains={"EX": ex})
    dm = pd.DataFrame({"USUBJID": ["A", "B", "C", "D", "E"]})
    out = subject_date(dm, ctx, agg="max", from_=[{"domain": "EX", "variable": "EXENDTC"}])
    # A: its EXENTPT date; C, D: EXENTPT is no date, so the study's cut-off
    assert out.tolist() == ["2012-12-31", "2012-03-01", "2013-01-31", "2013-01-31", None]
    # the earliest end is not moved by ongoing records
    first = subject_date(dm, ctx, agg="min", from_=[{"domain": "EX", "variable": "EXENDTC"}])
    assert first.tolist() == ["2012-01-28", "2012-03-01", "2012-02-10", None, None]


# -- ongoing at the cut-off: a whole study -------------------------------------------------

def test_clinic_rf_dates_use_the_cut_off_for_ongoing_treatment(clinic):
    _, result, _ = clinic
    dm = result.datasets["DM"].set_index("USUBJID")
    assert dm["RFXENDTC"].to_dict() == {"CLINIC-001": "2013-01-31", "CLINIC-002": "2013-01-31",
                                        "CLINIC-003": "2012-02-20", "CLINIC-004": "2012-01-31"}
    assert dm["RFENDTC"].to_dict() == dm["RFXENDTC"].to_dict()
    assert dm["RFXSTDTC"].tolist() == ["2012-01-02", "2012-01-05", "2012-01-10", "2012-01-15"]


def test_clinic_ex_says_ongoing_with_the_cut_off(clinic):
    _, result, _ = clinic
    ex = result.datasets["EX"]
    rows = ex[["USUBJID", "EXENDTC", "EXENRTPT", "EXENTPT"]].astype(object).where(
        ex.notna(), None).values.tolist()
    assert rows == [["CLINIC-001", "2012-01-28", None, None],
                    ["CLINIC-001", None, "ONGOING", "2013-01-31"],
                    ["CLINIC-002", None, "ONGOING", "2013-01-31"],
                    ["CLINIC-003", "2012-02-20", None, None],
                    ["CLINIC-004", "2012-01-31", None, None]]
    assert list(ex.columns[-5:]) == ["EPOCH", "EXSTDTC", "EXENDTC", "EXENRTPT", "EXENTPT"]
    assert ex["EXDOSRGM"].tolist() == ["CYCLE 1 DAY 1", "CYCLE 2 DAY 1", "CYCLE 1 DAY 1",
                                       "CYCLE 1 DAY 8", "CYCLE 1 DAY 1"]


def test_clinic_adverse_events_on_ongoing_treatment_are_in_the_treatment_epoch(clinic):
    _, result, _ = clinic
    ae = result.datasets["AE"].set_index("AETERM")
    assert ae["EPOCH"].to_dict() == {"Nausea": "TREATMENT", "Rash": "TREATMENT",
                                     "Fatigue": "FOLLOW-UP", "Headache": "TREATMENT"}
    assert ae["AETOXGR"].to_dict() == {"Nausea": "2", "Rash": "3", "Fatigue": "1",
                                       "Headache": "2"}
    assert ae.loc["Nausea", ["AEENDTC", "AEENRTPT", "AEENTPT"]].tolist() == [
        None, "ONGOING", "2013-01-31"]
    assert ae.loc["Rash", ["AEENDTC", "AEENRTPT", "AEENTPT"]].tolist() == [
        "2012-03-15", "BEFORE", "2013-01-31"]
    assert ae.loc["Headache", ["AEENDTC", "AEENRTPT", "AEENTPT"]].isna().all()


def test_clinic_demographics_sex_and_age(clinic):
    _, result, problems = clinic
    dm = result.datasets["DM"].set_index("USUBJID")
    assert dm["SEX"].tolist() == ["F", "F", "F", "M"]
    assert dm["BRTHDTC"].tolist() == ["1960-05-10", "1972", "1950-03", None]
    assert dm["AGE"].tolist()[0] == 51.0 and dm["AGE"].tolist()[2] == 61.0
    assert dm["AGE"].isna().tolist() == [False, True, False, True]
    assert dm["AGEU"].tolist() == ["YEARS", None, "YEARS", None]
    assert "YEARS" in standards.codelist("AGEU").terms
    assert [(p.code, p.severity, p.location.file.rsplit("/", 1)[-1], p.location.row)
            for p in problems] == [("MAP024", Severity.NOTICE, "pts.csv", 3)]


def test_exenrtpt_is_accepted_by_the_spec_and_a_wrong_relation_is_not(tmp_path: Path):
    ok = MINI_SPEC.replace(
        "          EXENDTC: {algorithm: assign_datetime, column: stop}\n",
        "          EXENDTC: {algorithm: end_datetime, column: stop}\n"
        "          EXENRTPT: {algorithm: end_relative, column: stop}\n"
        "          EXENTPT: {algorithm: end_reference, column: stop}\n")
    load_spec(write_study(tmp_path / "ok", ok, MINI_FILES))
    bad = ok.replace("{algorithm: end_relative, column: stop}",
                     "{algorithm: end_relative, column: stop, otherwise: PRIOR}")
    with pytest.raises(CdiscError) as caught:
        load_spec(write_study(tmp_path / "bad", bad, MINI_FILES))
    assert [(p.code, p.location.json_path) for p in caught.value.problems] == [
        ("SPEC002", "$.domains.EX.records[0].map.EXENRTPT.otherwise")]
