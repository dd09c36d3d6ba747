"""The whole-column paths of ADaM, the RECIST review, the summary and the dataset codecs give
what the per-value rules give (issue 15).

Each fast path (work once per distinct value, one C call for many values, plain
lists instead of a frame per subject) is compared with a plain reference on
random columns mixing text, blanks, missing values of every kind and numbers.
The references are the code the fast paths replaced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdisc.adam import common, recist
from cdisc.adam.recist import RecistOptions
from cdisc.formats import compare, dataset_json
from cdisc.model.missing import is_missing

FAST = settings(max_examples=150, deadline=None)

missing = st.sampled_from([None, np.nan, pd.NA])
words = st.sampled_from(["", " ", "  ", "a", " a", "a ", "Yes", "x y", "é", "tab\there",
                         "],[", "2012-07-15", " 2012-07 "])
iso_texts = st.sampled_from(["2012-07", "2012", "2012-07-15", " 2012-07-15 ", "2012-07-15T10:00",
                             "2012-02-30", "x", "", "  ", "9999-12-31", "0001-01-01", "2012-13",
                             "2000-02-29", "1900-02-29", "2011-00-10"])
others = st.sampled_from([3, 3.0, 2.5, True, b"b"])


def column(values: list) -> pd.Series:
    return pd.Series(values, dtype=object, index=pd.RangeIndex(5, 5 + 2 * len(values), 2))


# -- what "missing" means ------------------------------------------------------------------
def missing_reference(values: Iterable) -> list[bool]:
    return [v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))
            or (isinstance(v, str) and not v.rstrip(" ")) for v in values]


@FAST
@given(st.lists(st.one_of(words, missing, others), max_size=30))
def test_is_missing_once_per_distinct_value_equals_every_value(values):
    assert is_missing(column(values)).tolist() == missing_reference(values)


def test_is_missing_of_typed_columns():
    assert is_missing(pd.Series([1.0, np.nan])).tolist() == [False, True]
    assert is_missing(pd.Series(["a", " ", None], dtype="category")).tolist() == [
        False, True, True]
    assert is_missing(pd.Series([], dtype=object)).tolist() == []


# -- ADaM dates and text ---------------------------------------------------------------------
@FAST
@given(st.lists(st.one_of(iso_texts, missing), max_size=40),
       st.sampled_from([("none", "M"), ("first", "D"), ("first", "M"), ("last", "D"),
                        ("last", "M")]))
def test_iso_dates_once_per_distinct_value_equals_every_value(values, rule):
    impute, highest = rule
    fast = common.iso_dates(column(values), impute, highest)
    raw = column(values).astype(object).where(~is_missing(column(values)), "").astype(str)
    days, flags, bad = common._iso_distinct(raw.str.strip(), impute, highest)  # every value
    assert np.array_equal(fast[0].to_numpy(), days, equal_nan=True)
    assert fast[1].tolist() == flags.tolist()
    assert fast[2].tolist() == bad.tolist()
    assert list(fast[0].index) == list(column(values).index)


@FAST
@given(st.lists(st.one_of(words, missing, others), max_size=30))
def test_adam_text_once_per_distinct_value_equals_every_value(values):
    s = column(values)
    expected = [None if m else str(v).strip() for v, m in
                zip(s.astype(str), is_missing(s), strict=True)]
    assert common.text(s).tolist() == expected
    up = s.astype(object).where(s.notna(), "").astype(str)
    assert recist._up(s).tolist() == [t.strip().upper() for t in up]
    assert recist._raw(s).tolist() == [t.strip() for t in up]


@FAST
@given(st.lists(st.one_of(iso_texts, missing), max_size=30))
def test_recist_dates_once_per_distinct_value_equals_every_value(values):
    s = recist._raw(column(values)).str[:10]
    full = s.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    month = s.str.fullmatch(r"\d{4}-\d{2}")
    text = s.where(full, (s + "-01").where(month, ""))
    expected = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    dates, imputed = recist._dates(column(values))
    assert dates.equals(expected)
    assert imputed.tolist() == (month & ~full).tolist()


# -- best overall response: a list per subject instead of a frame per subject ----------------
def bor_reference(tp: pd.DataFrame, o: RecistOptions) -> pd.DataFrame:
    """The per-subject frame implementation the list version replaced."""
    tp = tp.assign(_REF=pd.to_datetime(tp["BASEDT"]))
    tp["_DAYS"] = (pd.to_datetime(tp["ADT"]) - tp["_REF"]).dt.days
    tp = tp.sort_values(["USUBJID", "VISITNUM"], kind="stable")
    rows = []
    for subj, g in tp.groupby("USUBJID", sort=True):
        resp = g["OVRLRESP"].tolist()
        if "PD" in resp:
            g = g.iloc[: resp.index("PD") + 1]
            resp = resp[: resp.index("PD") + 1]
        days = g["_DAYS"].to_numpy(dtype=float)
        bor, i, why = _reference_one(resp, days, g["VISIT"].tolist(),
                                     g["TRGRESP"].ne(recist.NA).any(), o)
        rows.append([subj, bor, g["ADT"].tolist()[i] if i is not None else pd.NaT, why])
    return pd.DataFrame(rows, columns=recist.BOR_COLUMNS)


def _reference_one(resp, days, visits, has_target, o):
    stable = "SD" if has_target else recist.NON_CR_NON_PD
    long_enough = recist._ge(days, o.sd_min_days)
    notes: list[str] = []
    label = recist._label

    def first(mask):
        return next((i for i, m in enumerate(mask) if m), None)

    def result(bor, i, why):
        return bor, i, "; ".join([why, *notes])

    if o.confirm:
        for anchor, ok in ((("CR",), ("CR", "NE")), (("PR",), ("CR", "PR", "NE"))):
            i, j = recist._confirmed(resp, days, o, anchor=anchor, ok=ok)
            if i is not None:
                what = "CR" if anchor == ("CR",) else resp[j]
                return result(anchor[0], i, f"{anchor[0]} at {label(visits[i], days[i])} "
                              f"confirmed by {what} at {visits[j]} "
                              f"(+{int(days[j] - days[i])} days)")
        unconf = [f"{r} at {visits[i]}" for i, r in enumerate(resp) if r in ("CR", "PR")]
        if unconf:
            notes.append(f"not confirmed >= {o.confirm_min_days} days: {', '.join(unconf)}")
        sd_i = first(r in ("CR", "PR", "SD", recist.NON_CR_NON_PD) and ok
                     for r, ok in zip(resp, long_enough, strict=True))
    else:
        for best in ("CR", "PR"):
            i = first(r == best for r in resp)
            if i is not None:
                return result(best, i, f"{best} at {label(visits[i], days[i])} (unconfirmed)")
        sd_i = first(r in ("SD", recist.NON_CR_NON_PD) and ok
                     for r, ok in zip(resp, long_enough, strict=True))
    if sd_i is not None:
        return result(stable, sd_i, f"{resp[sd_i]} at {label(visits[sd_i], days[sd_i])} >= "
                      f"{o.sd_min_days} days after the baseline assessment -> {stable}")
    early = [label(visits[i], days[i]) for i, r in enumerate(resp)
             if r in ("CR", "PR", "SD", recist.NON_CR_NON_PD)]
    if early:
        notes.append(f"stable disease only before day {o.sd_min_days}: {', '.join(early)}")
    if "PD" in resp:
        i = resp.index("PD")
        return result("PD", i, f"PD at {label(visits[i], days[i])}")
    return result("NE", None, "no evaluable response")


timepoint = st.tuples(st.sampled_from(["S2", "S10", "S1"]),
                      st.sampled_from(["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]),
                      st.one_of(st.none(), st.integers(-5, 200)),
                      st.sampled_from(["SD", recist.NA]))


@FAST
@given(st.lists(timepoint, max_size=25), st.booleans(), st.integers(0, 2))
def test_best_overall_response_by_lists_equals_by_frames(points, confirm, max_ne):
    base = pd.Timestamp("2012-01-01")
    tp = pd.DataFrame({
        "USUBJID": [p[0] for p in points],
        "VISITNUM": np.arange(len(points), dtype=float)[::-1] % 7,
        "VISIT": [f"WEEK {k}" for k in range(len(points))],
        "ADT": pd.to_datetime([None if p[2] is None else base + pd.Timedelta(days=p[2])
                               for p in points]),
        "OVRLRESP": [p[1] for p in points],
        "TRGRESP": [p[3] for p in points],
        "BASEDT": base,
    })
    options = RecistOptions(confirm=confirm, confirm_max_ne=max_ne)
    got = recist.best_overall_response(tp, options)
    want = bor_reference(tp, options)
    assert got.astype(object).equals(want.astype(object)) or (got.empty and want.empty)
    # without REASON (ADRS), the unconfirmed BOR is picked on whole columns: the same
    quick = recist.best_overall_response(tp, options, reasons=False)
    same = ["USUBJID", "BOR", "BOR_DATE"]
    assert quick[same].astype(object).equals(got[same].astype(object)) or (
        quick.empty and got.empty)
    assert quick["REASON"].isna().all() or confirm


# -- the dataset codecs ------------------------------------------------------------------------
@FAST
@given(st.lists(st.tuples(words, st.one_of(st.none(), st.integers(), st.floats(
    allow_nan=False, allow_infinity=False))), max_size=20), st.sampled_from([",\n", "\n"]))
def test_rows_from_token_tables_equal_rows_encoded_one_by_one(rows, separator):
    """The rows a chunk's records take from each column's table of distinct values (and,
    for a column without codes, from a table of its records) are the rows the JSON
    encoder writes one by one."""
    encode = dataset_json._ENCODER.encode
    want = b"".join((encode(row) + separator).encode() for row in rows)
    end = (b"]" + separator.encode())
    affixes = [(b"[", b","), (b"", end)]
    columns = [np.array([row[i] for row in rows], dtype=object) for i in range(2)]
    by_record = [(dataset_json._token_table(c, *a), None)
                 for c, a in zip(columns, affixes, strict=True)]
    assert dataset_json._rows_bytes(by_record, len(rows)) == want
    coded = []
    for column, affix in zip(columns, affixes, strict=True):
        first = {}  # each distinct JSON text's first value, in order
        for value in column:
            first.setdefault(encode(value), value)
        position = {text: i for i, text in enumerate(first)}
        codes = np.array([position[encode(v)] for v in column], dtype=np.intp)
        coded.append((dataset_json._token_table(np.array(list(first.values()), dtype=object),
                                                *affix), codes))
    assert dataset_json._rows_bytes(coded, len(rows)) == want


@FAST
@given(st.lists(st.lists(st.one_of(words, st.none(), st.integers(), st.just([1, 2])),
                         min_size=3, max_size=3), max_size=15))
def test_columns_in_one_pass_equal_columns_by_zip(rows):
    got = dataset_json._columns_of(rows, 3)
    want = [list(values) for values in zip(*rows, strict=True)] if rows else [[], [], []]
    assert [list(c) for c in got] == want


@FAST
@given(st.lists(st.tuples(st.one_of(words, missing, others), st.one_of(words, missing, others)),
                max_size=25))
def test_text_compared_where_it_differs_equals_text_compared_everywhere(pairs):
    want = column([p[0] for p in pairs])
    have = column([p[1] for p in pairs])

    def text(values: pd.Series) -> np.ndarray:  # the per-value rule
        return np.array([v.rstrip(" ") if isinstance(v, str) else v for v in
                         values.astype(object).where(values.notna(), "")] + [None])[:-1]

    same, shown_want, shown_have = compare._same_text(want, have)
    reference = text(want) == text(have)
    assert same.tolist() == np.asarray(reference, dtype=bool).tolist()
    for i in np.flatnonzero(~same):
        assert (shown_want[i], shown_have[i]) == (text(want)[i], text(have)[i])
