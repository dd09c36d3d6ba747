"""recode, extract, assign_ct's ignore_case, and the spec checks of patterns and CT map targets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdisc.errors import ProblemLog, Severity
from cdisc.sdtm.engine import build_sdtm
from cdisc.sdtm.matching import lookup_values, loose_key
from cdisc.sdtm.primitives import assign_ct, evaluate
from cdisc.sdtm.recode import extract, recode
from cdisc.sdtm.registry import MappingContext
from cdisc.sources import read_sources
from cdisc.spec import load_spec
from cdisc.spec.algorithms import pattern_problem

from helpers import MINI_FILES, MINI_SPEC, write_study


@pytest.fixture
def ctx(mini_study) -> MappingContext:
    spec = load_spec(mini_study)
    problems = ProblemLog()
    sources = read_sources(spec, problems)
    assert not problems.errors
    return MappingContext(spec, sources, problems).at("AE", "AETOXGR",
                                                      ("domains", "AE", "records", 0))


def frame(**columns) -> pd.DataFrame:
    data = pd.DataFrame(columns)
    data["__source__"] = "aes"
    data["__row__"] = range(2, 2 + len(data))
    return data


def located(ctx: MappingContext) -> list[tuple[str, int | None, str | None, object]]:
    return [(p.code, p.location.row, p.location.field, p.location.value)
            for p in ctx.problems]


# -- recode --------------------------------------------------------------------------------

def test_recode_maps_exactly_and_reports_what_the_map_lacks(ctx):
    src = frame(flag=["Yes", "No", "yes", None])
    out = recode(src, ctx, column="flag", map={"Yes": "Y", "No": "N"})
    assert out.tolist() == ["Y", "N", None, None]
    assert located(ctx) == [("MAP020", 4, "flag", "yes")]
    assert ctx.problems.errors[0].location.file.endswith("aes.csv")


def test_recode_ignoring_case_and_blanks(ctx):
    src = frame(flag=["Yes", " yes ", "NO", "n o", "y"])
    out = recode(src, ctx, column="flag", map={"Yes": "Y", "No": "N"}, ignore_case=True)
    assert out.tolist() == ["Y", "Y", "N", None, None]
    assert [(code, row) for code, row, _, _ in located(ctx)] == [("MAP020", 5), ("MAP020", 6)]


def test_recode_default_takes_every_unmatched_value_without_an_error(ctx):
    src = frame(flag=["Yes", "maybe", None])
    out = recode(src, ctx, column="flag", map={"Yes": "Y"}, default="U")
    assert out.tolist() == ["Y", "U", None]
    assert located(ctx) == []


def test_recode_numbers_are_looked_up_as_sas_prints_them(ctx):
    src = frame(grade=[1.0, 2.0, 9.0])
    out = recode(src, ctx, column="grade", map={"1": "MILD", "2": "MODERATE"})
    assert out.tolist() == ["MILD", "MODERATE", None]
    assert located(ctx) == [("MAP020", 4, "grade", "9")]


def test_keys_that_differ_only_in_case_but_map_differently_are_ambiguous(ctx):
    src = frame(flag=["A", "b"])
    out = recode(src, ctx, column="flag", map={"A": "1", "a": "2", "B": "3"}, ignore_case=True)
    assert out.tolist() == [None, "3"]
    (problem,) = ctx.problems
    assert (problem.code, problem.location.row) == ("MAP021", 2)
    assert "'A' / 'a'" in problem.message
    # keys that collide but agree are fine
    same, ambiguous, clashes = lookup_values(pd.Series(["x"]), {"X": "1", "x": "1"}, True)
    assert same.tolist() == ["1"] and not ambiguous.any() and clashes == {}


def test_loose_key_drops_surrounding_blanks_squeezes_runs_and_folds_case():
    assert loose_key(pd.Series([" Not  Done ", "NOT DONE", None])).tolist() == [
        "not done", "not done", None]


# -- extract -------------------------------------------------------------------------------

def test_extract_keeps_the_group_of_a_whole_value_match(ctx):
    src = frame(grade=["G2", "Grade 3", "G12", "grade 4", "G 5", None])
    out = extract(src, ctx, column="grade", pattern="(?:G|Grade )([1-5])")
    assert out.tolist() == ["2", "3", None, None, None, None]
    assert [(row, value) for _, row, _, value in located(ctx)] == [
        (4, "G12"), (5, "grade 4"), (6, "G 5")]
    assert {p.code for p in ctx.problems} == {"MAP020"}


def test_extract_ignoring_case_keeps_the_text_and_maps_it(ctx):
    src = frame(grade=["g2", "GRADE  3", "grade 1", "G4"])
    out = extract(src, ctx, column="grade", pattern="(?:G|Grade )([1-5])", ignore_case=True,
                  map={"1": "MILD", "2": "MODERATE", "3": "SEVERE"})
    assert out.tolist() == ["MODERATE", "SEVERE", "MILD", None]
    (problem,) = ctx.problems
    assert (problem.code, problem.location.row, problem.location.value) == ("MAP020", 5, "G4")
    assert "not in the map" in problem.message


def test_extract_default(ctx):
    src = frame(grade=["G2", "unknown"])
    assert extract(src, ctx, column="grade", pattern=r"G(\d)", default="").tolist() == ["2", ""]
    assert located(ctx) == []


def test_a_pattern_must_compile_and_have_one_group():
    assert pattern_problem(r"G(\d)") is None
    assert pattern_problem(r"(?P<g>\d)") is None
    assert "no capturing group" in pattern_problem(r"G\d")
    assert "2 capturing groups" in pattern_problem(r"(G)(\d)")
    assert "not a regular expression" in pattern_problem("G(")


# -- assign_ct ignore_case -----------------------------------------------------------------

def test_assign_ct_ignore_case_maps_every_spelling_of_the_issue(ctx):
    src = frame(sex=["female", "Female", "F", " F ", "f", "MALE", "x"])
    out = assign_ct(src, ctx, column="sex", codelist="SEX", ignore_case=True)
    assert out.tolist() == ["F", "F", "F", "F", "F", "M", None]
    assert located(ctx) == [("MAP001", 8, "sex", "x")]


def test_assign_ct_default_is_still_exact(ctx):
    src = frame(sex=["female", "Female", "F"])
    assert assign_ct(src, ctx, column="sex", codelist="SEX").tolist() == [None, "F", "F"]
    assert located(ctx) == [("MAP001", 2, "sex", "female")]


def test_assign_ct_ignore_case_with_a_cdisc_codelist_alone(ctx):
    src = frame(route=["oral", "Intravenous", "by mouth"])
    out = evaluate({"algorithm": "assign_ct", "column": "route", "codelist": "ROUTE",
                    "ignore_case": True}, src, ctx)
    assert out.tolist() == ["ORAL", "INTRAVENOUS", None]
    assert [p.code for p in ctx.problems] == ["MAP001"]


# -- spec check ----------------------------------------------------------------------------

def _problems(tmp_path: Path, old: str, new: str):
    from cdisc.errors import CdiscError

    assert old in MINI_SPEC
    path = write_study(tmp_path, MINI_SPEC.replace(old, new), MINI_FILES)
    try:
        spec = load_spec(path)
    except CdiscError as exc:
        return [(p.code, p.location.json_path, p.severity, p.location.line)
                for p in exc.problems]
    return [(p.code, p.location.json_path, p.severity, p.location.line)
            for p in spec.notices]


AE_TERM = "          AETERM: {algorithm: assign, column: term}\n"


def test_spec_check_refuses_a_pattern_without_a_group_at_its_line(tmp_path):
    found = _problems(tmp_path, AE_TERM, AE_TERM + "          AETOXGR: {algorithm: extract, "
                      "column: term, pattern: 'G\\d'}\n")
    assert [(c, j) for c, j, _, _ in found] == [
        ("SPEC060", "$.domains.AE.records[0].map.AETOXGR.pattern")]
    written = (tmp_path / "spec.yaml").read_text(encoding="utf-8").splitlines()
    assert "pattern: 'G\\d'" in written[found[0][3] - 1]  # the line of the pattern


def test_recode_and_extract_columns_are_checked_like_any_column(tmp_path):
    found = _problems(tmp_path, AE_TERM, AE_TERM + "          AETOXGR: {algorithm: recode, "
                      "column: grade, map: {G1: '1'}}\n")
    assert [(c, j) for c, j, _, _ in found] == [
        ("SPEC014", "$.domains.AE.records[0].map.AETOXGR.column")]


def test_a_map_target_outside_a_non_extensible_codelist_is_an_error_at_spec_check(tmp_path):
    found = _problems(tmp_path, "SEX: {codelist: C66731, map: {Female: F, Male: M}}",
                      "SEX: {codelist: C66731, map: {Female: FEMALE, Male: M}}")
    assert [(c, j, s) for c, j, s, _ in found] == [
        ("SPEC020", "$.study_ct.SEX.map.Female", Severity.ERROR)]


def test_a_map_target_outside_an_extensible_codelist_is_a_notice(tmp_path):
    found = _problems(tmp_path, "  SEX: {codelist: C66731, map: {Female: F, Male: M}}\n",
                      "  SEX: {codelist: C66731, map: {Female: F, Male: M}}\n"
                      "  ROUTE: {codelist: C66729, map: {Orally: ORALLY}}\n")
    assert [(c, j, s) for c, j, s, _ in found
            if c == "SPEC020"] == [("SPEC020", "$.study_ct.ROUTE.map.Orally", Severity.NOTICE)]


def test_a_run_with_recode_locates_errors_at_the_xlsx_sheet_and_source_column(tmp_path):
    spec_text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx\n    sheet: AEs").replace(
        AE_TERM, AE_TERM + "          AEREL: {algorithm: recode, column: term, "
        "map: {Nausea: RELATED}}\n")
    files = {k: v for k, v in MINI_FILES.items() if k != "aes.csv"}
    path = write_study(tmp_path, spec_text, files)
    pd.DataFrame({"id": ["1", "2"], "term": ["Nausea", "Rash"],
                  "onset": ["15-JAN-2012", "20-JAN-2012"]}).to_excel(
        tmp_path / "aes.xlsx", sheet_name="AEs", index=False)
    spec = load_spec(path)
    problems = ProblemLog()
    build_sdtm(spec, read_sources(spec, problems), problems)
    (problem,) = [p for p in problems if p.code == "MAP020"]
    where = problem.location
    assert (where.file.endswith("aes.xlsx"), where.sheet, where.row, where.field,
            where.value) == (True, "AEs", 3, "term", "Rash")


def test_recode_map_values_are_checked_against_the_target_variables_codelist(tmp_path):
    onset = "          AESTDTC: {algorithm: assign_datetime, column: onset}\n"
    found = _problems(tmp_path / "ny", onset, onset + "          AESER: {algorithm: recode, "
                      "column: term, map: {Rash: YES, Fatigue: N}, default: Y}\n")
    assert [(c, j, s) for c, j, s, _ in found if c == "SPEC020"] == [
        ("SPEC020", "$.domains.AE.records[0].map.AESER.map.Rash", Severity.ERROR)]
    found = _problems(tmp_path / "default", onset, onset + "          AESER: {algorithm: "
                      "recode, column: term, map: {Rash: Y}, default: UNKNOWN}\n")
    assert [(c, j) for c, j, _, _ in found if c == "SPEC020"] == [
        ("SPEC020", "$.domains.AE.records[0].map.AESER.default")]
    dose = "          EXDOSE: {algorithm: assign, column: dose}\n"
    found = _problems(tmp_path / "route", dose, dose + "          EXROUTE: {algorithm: recode, "
                      "column: id, map: {'1': ORALLY}}\n")
    assert [(c, j, s) for c, j, s, _ in found if c == "SPEC020"] == [
        ("SPEC020", "$.domains.EX.records[0].map.EXROUTE.map.1", Severity.NOTICE)]
