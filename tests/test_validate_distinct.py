"""Column checks on distinct values give what the value-by-value definitions give.

The validator normalises a column once (:func:`cdisc.validate.frames.text`), keeps
its distinct values and codes for the run, and runs each check once per distinct
value (or distinct pair of values). Each test compares such a path with the plain
definition it replaces, on random columns with missing values of every kind.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from cdisc.text import number_text
from cdisc.validate import frames
from cdisc.validate.calendar import _day_numbers, day_numbers
from cdisc.validate.frames import (
    Distinct,
    column_distinct,
    distinct,
    first_rows,
    first_rows_of,
    is_in,
    iso_compare,
    key_text,
    run_cache,
    strings,
    text,
    upper,
)

RNG = np.random.default_rng(2024)
WORDS = np.array(["A", "A ", "  ", "", "b", "B", " lead", "2012", "1.0", "1", "x" * 30],
                 dtype=object)
DATES = np.array(["2012", "2012-03", "2012-03-15", "2012-03-15T10", "2012-03-15T10:30",
                  "2012-03-15T10:30:15", "2012-03-15T10:30:15.25", "2012-02-30", "2013-01-01/"
                  "2013-02-01", "P3D", "garbage", "", None, "2012-03-16", "2011-12-31T23:59"],
                 dtype=object)


def strings_by_value(s: pd.Series) -> list[object]:
    """The definition of frames.strings, value by value."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return number_text(s).tolist()
    return [(v.rstrip(" ") or None) if isinstance(v, str) else None if pd.isna(v)
            else (str(v) or None) for v in s.to_numpy(dtype=object)]


def random_text(n: int) -> pd.Series:
    values = RNG.choice(WORDS, n).astype(object)
    values[RNG.random(n) < 0.1] = None
    values[RNG.random(n) < 0.05] = np.nan
    values[RNG.random(n) < 0.05] = pd.NA
    return pd.Series(values, dtype=object)


@pytest.mark.parametrize("column", [
    random_text(500),
    pd.Series(RNG.choice([1.0, 2.5, np.nan, -0.0, 0.0, 1e20, 2.0**53 + 2], 300)),
    pd.Series([1, None, "1", " x ", 2.5, True, "", "y"], dtype=object),  # mixed
    pd.Series([], dtype=object),
    pd.Series(["a", "b"], dtype="string"),
    pd.Series([1, None, 3], dtype="Int64"),
])
def test_strings_and_their_distinct_values(column: pd.Series) -> None:
    got = strings(column)
    assert got.tolist() == strings_by_value(column) and got.dtype == object
    with run_cache():
        frame = pd.DataFrame({"C": column})
        kept = text(frame, "C")
        assert kept.tolist() == got.tolist()
        found = distinct(kept)
        assert found is not None and found is column_distinct(frame, "C")
        assert found.rows().tolist() == got.tolist()
        assert len(set(found.values)) == len(found.values)  # "A" and "A " are one value
        assert found.codes.dtype == np.int8  # codes as narrow as the values allow


def test_run_keeps_codes_not_the_text() -> None:
    frame = pd.DataFrame({"C": random_text(1000)})
    with run_cache():
        first = text(frame, "C")
        assert frames.source_kind(first) == "string"
        assert frames._run_text(first)
        key = id(first)
        for name in ("D", "E", "F", "G", "H"):  # the recent text() Series are let go
            text(pd.DataFrame({name: [1]}), name)
        del first
        gc.collect()
        assert key not in frames._handed
        assert text(frame, "C").tolist() == strings(frame["C"]).tolist()
    assert not frames._handed and not frames._recent
    outside = text(frame, "C")
    assert frames.source_kind(outside) is None  # outside a run nothing is kept


def test_first_rows_by_codes_and_by_value() -> None:
    n = 2000
    columns = [strings(random_text(n)) for _ in range(4)]
    by_value = first_rows([c.to_numpy() for c in columns])  # the dict path
    found = [distinct(c) for c in columns]
    assert all(d is not None for d in found)
    np.testing.assert_array_equal(first_rows_of([d for d in found if d is not None]),
                                  by_value)
    with run_cache():
        frame = pd.DataFrame({f"C{i}": c for i, c in enumerate(columns)})
        np.testing.assert_array_equal(first_rows([text(frame, c) for c in frame]), by_value)


def test_first_rows_keys_are_renumbered_before_they_overflow() -> None:
    n = 3000
    values = [np.array([f"{i}-{j}" for i in RNG.integers(0, 40_000, n)], dtype=object)
              for j in range(6)]  # 40,000**6 keys do not fit in 64 bits
    values = [np.where(RNG.random(n) < 0.5, v, v[0]) for v in values]
    found = [frames._distinct_of(pd.Series(v)) for v in values]
    expected = first_rows(values)
    assert (expected != np.arange(n)).any()
    np.testing.assert_array_equal(first_rows_of([d for d in found if d is not None]), expected)


def test_iso_compare_by_distinct_pairs_and_as_text() -> None:
    n = 3000
    a = pd.Series(RNG.choice(DATES, n), dtype=object)
    b = pd.Series(RNG.choice(DATES, n), dtype=object)
    got = iso_compare(a, b)
    assert got.dtype == "Int64"
    pd.testing.assert_series_equal(got, frames._iso_compare_text(a, b))
    assert got.notna().any() and (got == -1).any() and (got == 1).any() and (got == 0).any()


def test_iso_compare_with_digits_of_other_scripts_compares_as_text() -> None:
    a = pd.Series(["\u0662\u0660\u0661\u0662-03-04", "2012-03-04", None])
    b = pd.Series(["2012-03-05", "2012-03", "2012"])
    pd.testing.assert_series_equal(iso_compare(a, b), frames._iso_compare_text(a, b))


def test_day_numbers_per_distinct_value() -> None:
    values = pd.Series(RNG.choice(DATES, 500), dtype=object)
    np.testing.assert_array_equal(day_numbers(values), _day_numbers(values))


def test_key_text_upper_and_membership_per_distinct_value() -> None:
    column = random_text(800)
    text_values = strings(column)
    as_num = pd.to_numeric(text_values, errors="coerce")
    expected = text_values.where(as_num.isna(), number_text(as_num))
    assert key_text(column).tolist() == expected.tolist()
    assert key_text(pd.Series([1.0, np.nan, 2.5])).tolist() == ["1", None, "2.5"]
    assert upper(text_values).tolist() == text_values.str.upper().tolist()
    members = {"A", "b", "1"}
    np.testing.assert_array_equal(is_in(text_values, members),
                                  text_values.isin(members).to_numpy())


def test_distinct_spreads_answers_to_rows() -> None:
    found = Distinct(np.array([0, -1, 1, 0], dtype=np.int8), np.array(["a", "bc"], dtype=object))
    assert found.rows().tolist() == ["a", None, "bc", "a"]
    assert found.per_row(np.array([1, 2]), 0).tolist() == [1, 0, 2, 1]
    empty = Distinct(np.array([-1, -1], dtype=np.int8), np.empty(0, dtype=object))
    assert empty.per_row(np.array([], dtype=bool), False).tolist() == [False, False]
    assert frames.regex_search(found, r"^b").tolist() == [False, False, True, False]


def test_text_differing_after_a_nul_is_checked_on_its_own() -> None:
    """Checks run once per distinct value; "M\x00" is not "M" (pandas.factorize, hashing
    C strings, would take it for "M", and neither the ASCII nor the CT check would see it)."""
    from cdisc.validate import validate_datasets

    dm = pd.DataFrame({"STUDYID": ["S", "S"], "DOMAIN": ["DM", "DM"],
                       "USUBJID": ["S-1", "S-2"], "SUBJID": ["1", "2"],
                       "SEX": ["M", "M\x00"]})
    found = validate_datasets({"DM": dm}, standard_hint={"DM": "SDTM"}).findings
    on_sex = sorted((f.code, f.location.record) for f in found if f.location.field == "SEX")
    assert on_sex == [("CV0005", 2), ("CV0103", 2)]


def test_validation_takes_the_codes_a_run_made_and_distrusts_codes_that_do_not_hold(
        monkeypatch) -> None:
    """In a run (codes_shared) the validator takes a column's codes made by the writers
    instead of coding it again; codes that take a record to another value (a merging
    hash) are not trusted: the column is read record by record and "M\\x00" is found."""
    from cdisc.model import text
    from cdisc.validate import validate_datasets

    dm = pd.DataFrame({"STUDYID": ["S", "S"], "DOMAIN": ["DM", "DM"],
                       "USUBJID": ["S-1", "S-2"], "SUBJID": ["1", "2"],
                       "SEX": ["M", "M\x00"]})
    calls = []
    real = text.factorize
    monkeypatch.setattr(text, "factorize", lambda values, **kw: calls.append(1)
                        or real(values, **kw))
    with text.codes_shared():
        for column in dm.columns:
            text.text_codes(dm[column].to_numpy(dtype=object))  # as the writers do
        coded = len(calls)
        found = validate_datasets({"DM": dm}, standard_hint={"DM": "SDTM"}).findings
    assert coded == 5 and len(calls) == coded  # not one column coded again

    def merging(values, **kw):
        codes, distinct = pd.factorize(np.asarray(values, dtype=object))
        return codes, np.asarray(distinct, dtype=object)

    monkeypatch.setattr(text, "factorize", merging)
    found = validate_datasets({"DM": dm}, standard_hint={"DM": "SDTM"}).findings
    on_sex = sorted((f.code, f.location.record) for f in found if f.location.field == "SEX")
    assert ("CV0005", 2) in on_sex


def test_text_of_a_converted_column_is_the_column_itself_and_otherwise_a_copy() -> None:
    """A column SDTM built from its codes in the run, whose text is itself, is handed out
    as it is; trailing blanks or "" make text() a normalised copy, and so does a column
    only coded (read-only or not), or one outside a run."""
    from cdisc.model import text as text_rules

    def built(values: list[object]) -> np.ndarray:
        codes, distinct = text_rules.factorize(np.array(values, dtype=object))
        column = np.append(distinct, None)[codes]
        text_rules.remember_codes(column, text_rules.TextCodes(
            codes.astype(np.int8), distinct, True), built=True)
        return column

    with text_rules.codes_shared():
        frame = pd.DataFrame({"SAME": built(["A", None, "B", "A"]),
                              "BLANKS": built(["A ", None, "B", "A"]),
                              "EMPTY": built(["A", "", "B", "A"]),
                              "CODED": np.array(["A", None, "B", "A"], dtype=object)},
                             copy=False)  # each column its own array, as SDTM builds them
        coded = frame["CODED"].to_numpy()
        text_rules.remember_codes(coded, text_rules.coded_text(coded))  # read-only, not built
        with run_cache():
            same = text(frame, "SAME")
            assert same.to_numpy() is frame["SAME"].to_numpy()
            assert same.tolist() == ["A", None, "B", "A"]
            for name in ("BLANKS", "EMPTY", "CODED"):
                got = text(frame, name)
                assert not np.shares_memory(got.to_numpy(), frame[name].to_numpy()), name
                assert got.tolist() == ["A", None, "B", "A"], name
    writable = pd.DataFrame({"SAME": ["A", None, "B", "A"]})  # outside a run
    with run_cache():
        copied = text(writable, "SAME")
        assert not np.shares_memory(copied.to_numpy(), writable["SAME"].to_numpy())
        assert copied.tolist() == ["A", None, "B", "A"]
