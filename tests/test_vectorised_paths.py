"""The engine's whole-column paths give what the per-value rules give (issue 15).

Each fast path (work once per distinct value, integer ranks and one lexsort,
ASCII checks on joined text, one sort per SV/SE pick) is compared with a plain
reference on random columns that mix text, blanks, missing values of every
kind, numbers, non-ASCII and control characters.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdisc import standards
from cdisc.model import text as text_rules
from cdisc.sdtm import dates
from cdisc.sdtm.distinct import per_distinct
from cdisc.sdtm.engine import sort_domain
from cdisc.sdtm.primitives import as_text
from cdisc.sdtm.trial_design import _picked
from cdisc.sources.reader import ROW, SOURCE
from cdisc.spec.conditions import _evaluate_leaf, evaluate_condition

FAST = settings(max_examples=150, deadline=None)

missing = st.sampled_from([None, np.nan, pd.NA])
words = st.sampled_from(["", " ", "Yes", "yes", " Yes ", "No", "3", "3.0", "a b", "é", "tab\there",
                         "x" * 201, "UN"])
text_columns = st.lists(st.one_of(words, missing), max_size=30)
mixed_columns = st.lists(st.one_of(words, missing, st.sampled_from([3, 3.0, 2.5, True])),
                         max_size=30)
date_texts = st.sampled_from(["12-MAR-2011", "UN-JUL-2012", "30-FEB-2012", "2012-03-04", "",
                              "  ", "bogus", "12-mar-2011", "31-DEC-9999", "0000-01-01"])
iso_texts = st.sampled_from(["2012-07", "2012", "2012-07-15", "2012-07-15T10:00", "2012-02-30",
                             "x", "", "9999-12-31", "2012-13", "2000-02-29", "1900-02-29"])


def column(values: list) -> pd.Series:
    return pd.Series(values, dtype=object, index=pd.RangeIndex(7, 7 + 3 * len(values), 3))


@FAST
@given(st.lists(st.one_of(date_texts, missing), max_size=40))
def test_to_iso8601_once_per_distinct_value_equals_every_value(values):
    formats = ["DD-MMM-YYYY", "YYYY-MM-DD"]
    fast_iso, fast_problems = dates.to_iso8601(column(values), formats)
    slow_iso, slow_problems = dates._to_iso8601(column(values), formats)
    pd.testing.assert_series_equal(fast_iso, slow_iso)
    pd.testing.assert_frame_equal(fast_problems, slow_problems)


@FAST
@given(st.lists(st.one_of(iso_texts, missing), max_size=40),
       st.lists(st.one_of(iso_texts, missing), max_size=40))
def test_dates_once_per_distinct_value_equal_every_value(values, reference):
    size = min(len(values), len(reference))
    iso, ref = column(values[:size]), column(reference[:size])
    assert np.array_equal(dates._complete_days(iso), dates._complete_days_of(iso),
                          equal_nan=True)
    first, last = dates.iso_period(iso)
    slow_first, slow_last = dates._period_days(iso)
    pd.testing.assert_series_equal(first, dates._dates_from_days(slow_first, iso.index))
    pd.testing.assert_series_equal(last, dates._dates_from_days(slow_last, iso.index))
    days = dates.study_day(iso, ref)
    expected = [pd.NA if pd.isna(a) or pd.isna(b) else a - b + (a >= b) for a, b in zip(
        dates._complete_days_of(iso), dates._complete_days_of(ref), strict=True)]
    assert days.tolist() == expected


@FAST
@given(mixed_columns)
def test_text_rules_on_joined_text_equal_the_regex_on_each_value(values):
    series = column(values)
    shown = [("" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
              else str(v)) for v in values]
    assert text_rules.non_ascii(series).tolist() == [bool(re.search(r"[^\x00-\x7f]", v))
                                                     for v in shown]
    assert text_rules.control_characters(series).tolist() == [
        bool(re.search(r"[\x00-\x1f\x7f]", v)) for v in shown]
    assert text_rules.not_printable_ascii(series).tolist() == [
        bool(re.search(r"[^\x20-\x7e]", v)) for v in shown]
    assert text_rules.byte_lengths(series).tolist() == [len(v.rstrip(" ").encode("utf-8"))
                                                        for v in shown]


def reference_sort(frame: pd.DataFrame, meta: standards.Dataset) -> pd.DataFrame:
    """The engine's sort as pandas' sort_values gives it (the rule before issue 15)."""
    keys = [k for k in meta.keys if k in frame]
    order = keys + sorted(c for c in frame.columns if c not in keys and c not in (SOURCE, ROW))
    sortable = pd.DataFrame({c: frame[c] if pd.api.types.is_numeric_dtype(frame[c])
                             else as_text(frame[c]).astype("string").fillna("") for c in order})
    sortable[SOURCE] = frame[SOURCE].astype("string")
    sortable[ROW] = frame[ROW]
    ordered = sortable.sort_values([*order, SOURCE, ROW], kind="mergesort", na_position="first")
    return frame.loc[ordered.index].reset_index(drop=True)


@FAST
@given(st.data())
def test_sort_by_integer_ranks_equals_sort_values(data):
    size = data.draw(st.integers(0, 25))
    draw = lambda strategy: data.draw(st.lists(strategy, min_size=size, max_size=size))  # noqa: E731
    frame = pd.DataFrame({
        "USUBJID": draw(st.one_of(words, missing)),
        "TRTESTCD": draw(st.sampled_from(["LDIAM", "TUMSTATE", "", None])),
        "VISITNUM": pd.array(draw(st.one_of(st.sampled_from([0.0, 8.0, -0.0]), st.none())),
                             dtype="Float64"),
        "TRORRES": draw(st.one_of(words, missing, st.sampled_from([12.0, 3, 2.5]))),
        SOURCE: draw(st.sampled_from(["b", "a", None])),
        ROW: draw(st.integers(1, 5)),
    }, index=pd.Index(data.draw(st.permutations(range(size)))) + 100, dtype=object)
    frame["VISITNUM"] = frame["VISITNUM"].astype("Float64")
    frame[ROW] = frame[ROW].astype("int64")
    meta = standards.dataset("TR")
    pd.testing.assert_frame_equal(sort_domain(frame, meta), reference_sort(frame, meta))
    memo = text_rules.CodesMemo()
    coded = sort_domain(frame, meta, memo)  # the codes handed on
    expected = reference_sort(frame, meta)
    pd.testing.assert_frame_equal(coded.astype(object).where(coded.notna(), None),
                                  expected.astype(object).where(expected.notna(), None),
                                  check_dtype=False)
    for column in coded.columns:  # every text column comes with its codes, missing as None
        values = coded[column].to_numpy()
        if len(values) and coded[column].dtype == object and text_rules.all_text(values):
            assert memo.knows(values), column
            assert all(v is None or isinstance(v, str) for v in values), column


def test_only_the_records_whose_keys_tie_are_ordered_by_the_other_variables():
    """Keys that tell most records apart: the few that tie are ordered by the other
    variables, then the lineage, then their order in the frame (as sort_values)."""
    rng = np.random.default_rng(7)
    size = 400
    frame = pd.DataFrame({
        "USUBJID": [f"S-{i:04d}" for i in rng.permutation(size) // 2 * 2 % 380],
        "TRTESTCD": rng.choice(["LDIAM", "TUMSTATE"], size),
        "VISITNUM": rng.choice([1.0, 2.0, np.nan], size),
        "TRORRES": rng.choice(["12", "3", None, "PRESENT"], size),
        SOURCE: rng.choice(["b", "a"], size),
        ROW: rng.integers(1, 4, size),
    }, index=pd.Index(rng.permutation(size)) + 100)
    meta = standards.dataset("TR")
    expected = reference_sort(frame, meta)
    pd.testing.assert_frame_equal(sort_domain(frame, meta), expected)
    keys = [k for k in meta.keys if k in frame]
    ties = expected.duplicated(keys, keep=False)
    assert 0 < ties.sum() < size // 4  # the records ranked alone


@FAST
@given(st.lists(st.one_of(words, missing), max_size=30),
       st.sampled_from([{"equals": "Yes"}, {"not_equals": "Yes"}, {"in": ["Yes", 3]},
                        {"not_in": ["No", "3"]}, {"is_missing": True}, {"is_missing": False}]))
def test_condition_once_per_distinct_text_equals_every_row(values, test):
    frame = pd.DataFrame({"c": column(values)})
    leaf = {"column": "c", **test}
    pd.testing.assert_series_equal(evaluate_condition(leaf, frame),
                                   _evaluate_leaf(leaf, frame["c"]))


@FAST
@given(st.lists(st.tuples(st.sampled_from(["S1", "S2", "S3", None]),
                          st.one_of(iso_texts, missing)), max_size=30),
       st.booleans())
def test_pick_per_group_equals_a_loop_over_groups(rows, latest):
    frame = pd.DataFrame(rows, columns=["USUBJID", "DTC"], dtype=object)
    picked = _picked(frame["DTC"], frame[["USUBJID"]], latest)
    expected = {}
    for subject, group in frame.dropna(subset=["USUBJID"]).groupby("USUBJID", sort=True):
        candidates = [str(d) for d in group["DTC"] if not pd.isna(d) and str(d).strip()]
        if not candidates:
            continue
        first, last = dates.iso_period(pd.Series(candidates, dtype=object))
        never = pd.Timestamp.min if latest else pd.Timestamp.max
        ends = (last if latest else first).fillna(never).astype("int64").tolist()
        keys = [(-e if latest else e, -len(c), i) for i, (e, c) in enumerate(
            zip(ends, candidates, strict=True))]
        expected[subject] = candidates[min(keys)[2]]
    assert dict(zip(picked["USUBJID"], picked["DATE"], strict=True)) == expected
    assert list(picked["USUBJID"]) == sorted(expected)


def test_per_distinct_takes_the_result_back_to_every_row_and_leaves_mixed_columns():
    values = pd.Series(["b", None, "b", "a", np.nan], index=[5, 6, 7, 8, 9])
    assert per_distinct(values, lambda s: s.str.upper()).tolist() == ["B", None, "B", "A",
                                                                       None]
    # 1 and 1.0 are one value to a hash table but not as text: computed on the rows instead
    assert per_distinct(pd.Series([1, 1.0, "1"], dtype=object), lambda s: s) is None


def test_sdtm_hands_each_text_column_on_with_its_codes():
    """In a run, SDTM builds a text column in order from its distinct values and keeps the
    codes for the writers, define.xml and validation; the column is read-only, so a
    change to it fails instead of leaving its codes wrong. The result and its metadata
    are those of the column taken record by record."""
    from cdisc.model import resolve_metadata
    from cdisc.sdtm.engine import _coded_in_order

    values = pd.Series(["b  ", None, "a", "b  ", np.nan, "ccc"], dtype=object)
    order = np.array([5, 4, 3, 2, 1, 0])
    want = [None if pd.isna(v) else v for v in values.to_numpy()[order]]
    with text_rules.codes_shared():
        column = _coded_in_order(values, order)
        assert column.tolist() == want
        known = text_rules.known_codes(column)
        assert known is not None and known.holds
        assert known.distinct[known.codes[known.codes >= 0]].tolist() == [
            v for v in want if v is not None]
        assert text_rules.text_codes(column) is known  # nobody codes it again
        try:
            column[0] = "x"
        except ValueError:
            pass
        else:
            raise AssertionError("a column handed on with its codes must be read-only")
        frame = pd.DataFrame({"AETERM": column}, copy=False)
        assert text_rules.known_codes(frame["AETERM"].to_numpy(dtype=object)) is known
        assert resolve_metadata("AE", frame, None).variables[0].length == 3  # "ccc"; "b  " is 1
    assert text_rules.known_codes(column) is None  # outside the run: nothing kept
    assert not column.flags.writeable  # the values written, as ConversionResult says
    assert _coded_in_order(pd.Series(["a", 1.5], dtype=object), np.array([1, 0])) is None


def test_source_cells_mixing_numbers_are_read_one_by_one():
    """A hash takes 1 and 1.0 for one cell; each cell keeps its own text and length."""
    from cdisc.model.text import CodesMemo
    from cdisc.sources.reader import _cell_lengths, _cells_of

    column = pd.Series([1, 1.0, " a ", "a", ""], dtype=object)
    memo = CodesMemo()
    assert _cell_lengths(column, memo).tolist() == [1, 3, 3, 1, 0]
    cells = _cells_of(column, memo)
    assert cells.cells.tolist() == ["1", "1.0", " a ", "a", ""]
    assert cells.values.tolist() == ["1", "1.0", "a", "a", None]
    text = pd.Series(["b ", "b ", ""], dtype=object)  # all text: coded once per distinct cell
    coded = _cells_of(text, memo)
    assert coded.codes is not None and coded.values.tolist() == ["b", "b", None]


def reference_best_date(dates: pd.DataFrame, agg: str) -> pd.Series:
    """subject_date's pick as pandas' sort_values gave it (the rule before issue 15)."""
    dates = dates.assign(DTC=dates["DTC"].astype("string")).dropna()
    pad = " " if agg == "max" else "~"
    dates["KEY"] = dates["DTC"].str.pad(19, side="right", fillchar=pad)
    ordered = dates.sort_values(["USUBJID", "KEY", "DTC"]).groupby("USUBJID")["DTC"]
    best = ordered.last() if agg == "max" else ordered.first()
    return best.astype(object)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["S-1", "S-2", "S-3", None]),
                          st.sampled_from(["2012-07", "2012-07-15", "2012-08", "2012",
                                           "2012-07-15T10:30", "2011-12-31", "", None,
                                           float("nan")])), max_size=30),
       st.sampled_from(["min", "max"]))
def test_subject_date_picks_as_the_sort_did(records, agg):
    from cdisc.sdtm.derivations import _best_per_subject

    dates = pd.DataFrame(records, columns=["USUBJID", "DTC"], dtype=object)
    got = _best_per_subject(dates, agg)
    expected = reference_best_date(dates, agg)
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()


@FAST
@given(st.lists(st.tuples(st.one_of(words, missing), st.sampled_from(["a", "B", "", None]),
                          st.integers(0, 5)), min_size=1, max_size=30), st.integers(1, 2))
def test_aggregate_groups_are_groupbys(rows, keys):
    """An aggregate block's groups: the order and members groupby(by, sort=True,
    dropna=False) gives, each group's by-values read from its first row."""
    from cdisc.sdtm.blocks import _group_of

    frame = pd.DataFrame(rows, columns=["k1", "k2", "v"])
    by = ["k1", "k2"][:keys]
    group, first = _group_of(frame, by)
    grouped = frame.groupby(by, sort=True, dropna=False)
    assert group.tolist() == grouped.ngroup().tolist()
    expected = grouped["v"].first().reset_index()[by]
    got = frame[by].iloc[first].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.where(got.notna(), np.nan), expected,
                                  check_dtype=False)


@FAST
@given(st.lists(st.integers(-3, 6), max_size=40))
def test_dense_ranks_are_numpy_unique(keys):
    from cdisc.sdtm.distinct import dense_ranks

    array = np.array(keys, dtype=np.int64)
    rank, first = dense_ranks(array)
    _, unique_first, unique_rank = np.unique(array, return_index=True, return_inverse=True)
    assert rank.tolist() == unique_rank.reshape(-1).tolist()
    assert first.tolist() == unique_first.tolist()


def reference_adam_text(values: pd.Series) -> pd.Series:
    """adam.common.text record by record (the rule before issue 15)."""
    from cdisc.model.missing import is_missing

    out = np.full(len(values), None, dtype=object)
    present = ~is_missing(values)
    out[present] = [str(v).strip() for v in values[present]]
    return pd.Series(out, index=values.index, dtype=object)


@FAST
@given(st.lists(st.one_of(words, missing, st.sampled_from([3, 1.0, " 2012-07 ", "2012-02-30",
                                                           "2012-07-15", "\t"])), max_size=30))
def test_adam_text_and_dates_once_per_distinct_value(values):
    from cdisc.adam.common import iso_dates, text
    from cdisc.model.missing import is_missing

    series = pd.Series(values, dtype=object, index=pd.RangeIndex(len(values)) + 5)
    assert text(series).tolist() == reference_adam_text(series).tolist()
    # each value alone, as its text ("" when missing): what the record-by-record rule read
    blank = is_missing(series)
    alone = [iso_dates(pd.Series(["" if gone else str(v)], dtype=object))
             for v, gone in zip(values, blank, strict=True)]
    for part, got in enumerate(iso_dates(series)):
        want = [one[part].iloc[0] for one in alone]
        assert got.astype(object).where(got.notna(), None).tolist() == \
            pd.Series(want, dtype=object).where(pd.notna(pd.Series(want, dtype=object)),
                                                None).tolist()
