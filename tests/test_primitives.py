"""Each mapping algorithm on tiny inline tables, with exact expected values."""

from __future__ import annotations

import pandas as pd
import pytest

from cdisc.errors import ProblemLog
from cdisc.sdtm.derivations import epoch, seq, study_day, subject_date
from cdisc.sdtm.primitives import (
    as_text,
    assign,
    assign_ct,
    assign_datetime,
    coalesce,
    condition,
    evaluate,
    hardcode,
    hardcode_ct,
    lookup,
    usubjid,
)
from cdisc.sdtm.registry import MappingContext, known_algorithms
from cdisc.sources import read_sources
from cdisc.spec import load_spec


@pytest.fixture
def ctx(mini_study) -> MappingContext:
    spec = load_spec(mini_study)
    problems = ProblemLog()
    sources = read_sources(spec, problems)
    assert not problems.errors
    return MappingContext(spec, sources, problems).at("DM", "X", ("domains", "DM", "records", 0))


def frame(**columns) -> pd.DataFrame:
    data = pd.DataFrame(columns)
    data["__source__"] = "pts"
    data["__row__"] = range(2, 2 + len(data))
    return data


def test_every_spec_algorithm_is_registered():
    import json

    from cdisc.resources import schemas_dir

    schema = json.loads((schemas_dir() / "mapping-spec.schema.json").read_text())
    assert set(schema["$defs"]["mapping"]["properties"]["algorithm"]["enum"]) == set(
        known_algorithms())


def test_assign_copies_and_zero_pads(ctx):
    src = frame(id=["7", "12", None], age=[26.0, 63.0, None])
    assert assign(src, ctx, column="age").tolist()[:2] == [26.0, 63.0]
    assert assign(src, ctx, column="id", zfill=3).tolist() == ["007", "012", None]


def test_hardcode_and_hardcode_ct(ctx):
    src = frame(id=["1", "2"])
    assert hardcode(src, ctx, value="mg").tolist() == ["mg", "mg"]
    assert hardcode_ct(src, ctx, value="ORAL", codelist="ROUTE").tolist() == ["ORAL", "ORAL"]


def test_assign_ct_maps_passes_submission_values_and_reports_failures(ctx):
    src = frame(sex=["Female", "M", "female", None])
    out = assign_ct(src, ctx, column="sex", codelist="SEX")
    assert out.tolist() == ["F", "M", None, None]
    (problem,) = ctx.problems.errors
    assert problem.code == "MAP001"
    assert problem.location.row == 4 and problem.location.value == "female"
    assert problem.location.field == "sex"
    assert problem.location.file.endswith("pts.csv")


def test_assign_ct_with_a_cdisc_codelist_and_no_study_map(ctx):
    src = frame(route=["ORAL", "by mouth"])
    assert assign_ct(src, ctx, column="route", codelist="C66729").tolist() == ["ORAL", None]
    assert [p.location.value for p in ctx.problems.errors] == ["by mouth"]


def test_assign_datetime_partial_and_impossible(ctx):
    src = frame(consent=["12-MAR-2011", "UN-JUL-2012", "30-FEB-2012", ""])
    out = assign_datetime(src, ctx, column="consent")
    assert out.tolist() == ["2011-03-12", "2012-07", None, None]
    (problem,) = ctx.problems.errors
    assert problem.code == "MAP002" and problem.location.row == 4
    assert "not a real calendar date" in problem.message


def test_condition_runs_each_branch_on_its_own_rows(ctx):
    src = frame(sex=["Female", "Male", "x"], age=[30.0, 70.0, 50.0])
    out = condition(
        src, ctx,
        cases=[{"when": {"column": "age", "in": [70]}, "then": {"algorithm": "hardcode",
                                                              "value": "OLD"}},
               {"when": {"column": "sex", "equals": "Female"},
                "then": {"algorithm": "assign_ct", "column": "sex", "codelist": "SEX"}}],
        else_={"algorithm": "hardcode", "value": "OTHER"},
    )
    assert out.tolist() == ["F", "OLD", "OTHER"]
    assert not ctx.problems.errors  # "x" never reached the CT branch


def test_lookup_takes_a_column_from_another_source(ctx):
    src = frame(id=["1", "2", "9"])
    out = lookup(src, ctx, source="pts", column="age")
    assert out.tolist()[:2] == [40.0, 50.0]
    (problem,) = ctx.problems.errors
    assert problem.code == "MAP004" and problem.location.value == "9"


def test_coalesce_takes_the_first_present_value(ctx):
    src = frame(a=[None, "x", None], b=["y", "z", None])
    out = coalesce(src, ctx, of=[{"algorithm": "assign", "column": "a"},
                                 {"algorithm": "assign", "column": "b"}])
    assert out.tolist() == ["y", "x", None]


def test_usubjid(ctx):
    src = frame(id=["3", "10"])
    assert usubjid(src, ctx, column="id", zfill=3).tolist() == ["MINI-003", "MINI-010"]
    assert usubjid(src, ctx, column="id").tolist() == ["MINI-3", "MINI-10"]


def test_evaluate_dispatches_by_name(ctx):
    src = frame(id=["1"])
    assert evaluate({"algorithm": "hardcode", "value": 5, "label": "x"}, src, ctx).tolist() == [5]


def test_as_text_prints_numbers_like_sas():
    assert as_text(pd.Series([3.0, 2.5, None])).tolist() == ["3", "2.5", None]
    assert as_text(pd.Series(["a", 1.0, None], dtype=object)).tolist() == ["a", "1", None]


# -- derivations ----------------------------------------------------------------------------

def test_seq_numbers_per_subject_in_order(ctx):
    tgt = pd.DataFrame({"USUBJID": ["A", "A", "B", "A"]})
    assert seq(tgt, ctx).tolist() == [1, 2, 1, 3]


def test_study_day_uses_dm_rfstdtc_and_has_no_day_zero(ctx):
    ctx.domains["DM"] = pd.DataFrame({"USUBJID": ["A", "B"], "RFSTDTC": ["2012-01-10", None]})
    tgt = pd.DataFrame({"USUBJID": ["A", "A", "A", "A", "B"],
                        "AESTDTC": ["2012-01-10", "2012-01-09", "2012-02-01", "2012-02",
                                    "2012-01-10"]})
    assert study_day(tgt, ctx, dtc="AESTDTC").tolist() == [1, -1, 23, pd.NA, pd.NA]
    assert tgt["AESTDTC"].tolist()[3] == "2012-02"  # never rewritten


def test_epoch_from_first_and_last_dose(ctx):
    ctx.domains["DM"] = pd.DataFrame({"USUBJID": ["A"], "RFXSTDTC": ["2012-01-10"],
                                      "RFXENDTC": ["2012-03-01"]})
    tgt = pd.DataFrame({"USUBJID": ["A"] * 8,
                        "D": ["2012-01-09", "2012-01-10", "2012-03-01", "2012-03-02",
                              "2012-02", "2012-01", "2011-12", "2013"]})
    # a partial date gets the epoch its whole period lies in, none if it straddles two
    assert epoch(tgt, ctx, dtc="D").tolist() == ["SCREENING", "TREATMENT", "TREATMENT",
                                                 "FOLLOW-UP", "TREATMENT", None,
                                                 "SCREENING", "FOLLOW-UP"]


def test_subject_date_min_and_max(ctx):
    ctx.domains["EX"] = pd.DataFrame({
        "USUBJID": ["A", "A", "B"],
        "EXSTDTC": ["2012-02-01", "2012-01-10", "2012-05"],
        "EXENDTC": ["2012-03-01", "2012-03", None],
    })
    tgt = pd.DataFrame({"USUBJID": ["A", "B", "C"]})
    first = subject_date(tgt, ctx, agg="min", from_=[{"domain": "EX", "variable": "EXSTDTC"}])
    last = subject_date(tgt, ctx, agg="max", from_=[{"domain": "EX", "variable": "EXENDTC"}])
    assert first.tolist() == ["2012-01-10", "2012-05", None]
    assert last.tolist() == ["2012-03-01", None, None]


def test_subject_date_prefers_a_complete_date_inside_a_partial_one(ctx):
    ctx.domains["EX"] = pd.DataFrame({
        "USUBJID": ["A", "A", "B", "B"],
        "EXSTDTC": ["2012-07", "2012-07-15", "2012-08", "2012-07-15"],
    })
    tgt = pd.DataFrame({"USUBJID": ["A", "B"]})
    source = [{"domain": "EX", "variable": "EXSTDTC"}]
    assert subject_date(tgt, ctx, agg="min", from_=source).tolist() == ["2012-07-15",
                                                                         "2012-07-15"]
    assert subject_date(tgt, ctx, agg="max", from_=source).tolist() == ["2012-07-15", "2012-08"]
