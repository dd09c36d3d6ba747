"""Collected dates in declared formats -> ISO 8601, vectorised.

Formats are written with tokens (the language is :mod:`cdisc.spec.dateformats`),
the way a data manager describes a CRF field:
``DD-MMM-YYYY``, ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``MM/DD/YYYY``, ``YYYY``,
``YYYY-MM-DDThh:mm``, ``DD-MMM-YYYY hh:mm:ss``, ``hh:mm``. ``MM`` is the month,
``mm`` the minute. A day, month or time part may be collected as unknown
(``UN``, ``UK``, ``UNK``, ``UNKN``, ``NK``, ``??``, ``????``): the ISO 8601 value
is then truncated on the right at the first unknown part, as SDTMIG 3.4 section
4.4.2 describes, so ``UN-JUL-2012`` becomes ``2012-07``. A date that does not
exist (``30-FEB-2012``, year ``0000``) or a time that does not (``10:00:99``) is
an error, never "corrected".

Dates are checked against the proleptic Gregorian calendar with a days-in-month
table, and study days, periods and EPOCH are computed on numpy day numbers, so
every year 0001-9999 works (``31-DEC-9999``, ``10-OCT-1582``): nothing here goes
through pandas Timestamps, whose nanosecond range ends at 1677 and 2262.

Example::

    >>> import pandas as pd
    >>> iso, problems = to_iso8601(pd.Series(["12-MAR-2011", "UN-JUL-2012", ""]), ["DD-MMM-YYYY"])
    >>> iso.tolist(), problems.empty
    (['2011-03-12', '2012-07', None], True)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

# The format language (tokens, compiling, SPEC021) is the spec's; check_format is
# re-exported here for the callers that import it from this module.
from ..spec.dateformats import PARTS, UNKNOWN_WORDS, compile_format
from ..spec.dateformats import check_format as check_format
from .distinct import distinct_text

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}

#: every spelling of an unknown part (the table is matched with ``isin``: no regex per value)
_UNKNOWN_SPELLINGS = sorted({
    "".join(c.upper() if bit else c.lower() for c, bit in zip(word, bits, strict=True))
    for word in UNKNOWN_WORDS
    for bits in itertools.product((0, 1), repeat=len(word))
})
#: month names in any case -> month number
_MONTH_SPELLINGS = {
    "".join(c.upper() if bit else c.lower() for c, bit in zip(name, bits, strict=True)): number
    for name, number in _MONTHS.items()
    for bits in itertools.product((0, 1), repeat=3)
}
_TWO_DIGITS = np.array([f"{i:02d}" for i in range(100)], dtype=object)
#: days of each month in a common year (index 1-12; index 0 for an invalid month)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def to_iso8601(values: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    """Convert collected date/time strings to ISO 8601.

    Returns the ISO strings (``None`` where the input was empty) and a frame of
    problems indexed like ``values`` with columns ``value`` and ``reason``; a
    row in the problems is an input that matched no format or is impossible.

    Each distinct value is converted once (a study of 10,000 subjects has
    600,000 dates but a few thousand distinct ones) and the results are taken
    back to every row by its code: one hash pass instead of a regex per row.
    """
    memo = distinct_text(values)
    if memo is None:
        return _to_iso8601(values, formats)  # numbers, say: their text decides, as written
    distinct, codes = memo
    iso_of, problems_of = _to_iso8601(distinct, formats)
    failed_of = np.zeros(len(distinct), dtype=bool)
    reason_of = np.full(len(distinct), None, dtype=object)
    where = problems_of.index.to_numpy(dtype=np.int64)
    failed_of[where] = True
    reason_of[where] = problems_of["reason"].to_numpy(dtype=object)
    failed = failed_of[codes]
    problems = pd.DataFrame({"value": values[failed],
                             "reason": pd.Series(reason_of[codes[failed]],
                                                 index=values.index[failed], dtype="string")})
    return pd.Series(iso_of.to_numpy(dtype=object)[codes], index=values.index,
                     dtype=object), problems


def _to_iso8601(values: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    """:func:`to_iso8601` on every value: one regex pass per format splits the values
    into parts; everything after that (unknown parts, ranges, the calendar, the ISO
    text) is numpy on whole columns."""
    n = len(values)
    text = values.astype("string").str.strip()
    present = (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)
    parts = {part: np.full(n, None, dtype=object) for part in PARTS}
    matched = np.zeros(n, dtype=bool)
    for fmt in formats:
        todo = present & ~matched
        if not todo.any():
            break
        found = text[todo].str.extract(compile_format(fmt))
        hit = found.notna().any(axis=1).to_numpy(dtype=bool)
        rows = np.flatnonzero(todo)[hit]
        for col in found.columns:
            parts[col][rows] = found[col].to_numpy(dtype=object, na_value=None)[hit]
        matched[rows] = True

    unknown = {part: _is_unknown(parts[part]) for part in PARTS}
    year = _digits_value(parts["year"], 4)
    month = pd.Series(parts["month"], dtype=object).map(_MONTH_SPELLINGS).to_numpy(
        dtype="float64", na_value=np.nan)
    month = np.where(np.isnan(month), _digits_value(parts["month"], 2), month)
    day = _digits_value(parts["day"], 2)
    hour = _digits_value(parts["hour"], 2)
    minute = _digits_value(parts["minute"], 2)
    second_text = np.where(unknown["second"], None, parts["second"])
    has_second_text = pd.notna(second_text)
    second = (pd.to_numeric(pd.Series(second_text), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan) if has_second_text.any() else np.full(n, np.nan))

    reason = np.full(n, None, dtype=object)
    reason[present & ~matched] = (
        f"does not match the declared format(s) {', '.join(formats)}")
    ok = present & matched
    with np.errstate(invalid="ignore"):
        # Four digits are 0000-9999; there is no year 0 (the year before 0001 is 1 BC).
        bad_year = ok & (year < 1)
        reason[bad_year] = "year 0000 does not exist (years are 0001-9999)"
        month_given = pd.notna(parts["month"]) & ~unknown["month"]
        bad_month = ok & month_given & ~((month >= 1) & (month <= 12))
        reason[bad_month] = "month is not 1-12 or a month name"
        bad_hour = ok & ~np.isnan(hour) & ~((hour >= 0) & (hour <= 23))
        reason[bad_hour] = "hour is not 0-23"
        bad_minute = ok & ~np.isnan(minute) & ~((minute >= 0) & (minute <= 59))
        reason[bad_minute] = "minute is not 0-59"
        bad_second = ok & ~np.isnan(second) & ~((second >= 0) & (second < 60))
        reason[bad_second] = "second is not 0-59"
    # Right truncation (SDTMIG 4.4.2): a known part after an unknown one cannot be kept.
    has_year = ok & ~np.isnan(year) & ~bad_year
    has_month = has_year & ~np.isnan(month) & ~bad_month
    has_day = has_month & ~np.isnan(day)
    impossible = has_day & ~_real_days(year, month, day)
    reason[impossible] = "is not a real calendar date"
    has_day &= ~impossible
    has_time = has_day & ~np.isnan(hour) & ~np.isnan(minute) & ~bad_hour & ~bad_minute
    has_seconds = has_time & has_second_text
    failed = pd.notna(reason)

    iso = np.full(n, None, dtype=object)
    iso[has_year] = parts["year"][has_year]
    iso[has_month] = iso[has_month] + "-" + _two(month, has_month)
    iso[has_day] = iso[has_day] + "-" + _two(day, has_day)
    iso[has_time] = iso[has_time] + "T" + _two(hour, has_time) + ":" + _two(minute, has_time)
    if has_seconds.any():
        ss = pd.Series(second_text[has_seconds], dtype=object)
        ss = ss.where(ss.str.find(".") != 1, "0" + ss).str.zfill(2)  # 5 -> 05, 5.5 -> 05.5
        iso[has_seconds] = iso[has_seconds] + ":" + ss.to_numpy(dtype=object)
    iso[failed] = None
    # A time-only column (hh:mm) has no date: keep it as an ISO time for joining later.
    time_only = ok & ~has_year & ~failed & ~np.isnan(hour) & ~np.isnan(minute)
    iso[time_only] = _two(hour, time_only) + ":" + _two(minute, time_only)
    problems = pd.DataFrame({"value": values[failed],
                             "reason": pd.Series(reason[failed], index=values.index[failed],
                                                 dtype="string")})
    return pd.Series(iso, index=values.index, dtype=object), problems


def _is_unknown(part: np.ndarray) -> np.ndarray:
    return pd.Series(part, dtype=object).isin(_UNKNOWN_SPELLINGS).to_numpy(dtype=bool)


def _digits_value(part: np.ndarray, width: int) -> np.ndarray:
    """``part``'s text of 1..width ASCII digits as a float, NaN for anything else (vectorised)."""
    n = len(part)
    text = np.where(pd.isna(part), "", part).astype(f"U{width + 1}")
    codes = text.view(np.uint32).reshape(n, width + 1).astype(np.int64)
    given = codes != 0
    digit = (codes >= 48) & (codes <= 57)
    valid = given[:, 0] & ~given[:, width] & (digit | ~given).all(axis=1)
    value = np.zeros(n, dtype=np.int64)
    for i in range(width):
        value = np.where(given[:, i], value * 10 + codes[:, i] - 48, value)
    return np.where(valid, value.astype("float64"), np.nan)


def _two(number: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Two-digit text of ``number`` (0-99) on ``rows``."""
    return _TWO_DIGITS[number[rows].astype(np.int64)]


def _real_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether (year, month, day) is a date of the proleptic Gregorian calendar, 0001-9999.

    Vectorised with a days-in-month table and the leap-year rule; missing
    parts (NaN) give False.
    """
    with np.errstate(invalid="ignore"):
        return ((year >= 1) & (year <= 9999) & (day >= 1) & (day <= _month_end(year, month))
                & (day == np.floor(day)))


def _month_end(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days in the month (leap years: Gregorian rule); 0 for a month that is not 1-12."""
    with np.errstate(invalid="ignore"):
        index = np.where((month >= 1) & (month <= 12), month, 0).astype(np.int64)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return _MONTH_DAYS[index] + ((index == 2) & leap)


def _day_numbers(year: np.ndarray, month: np.ndarray, day: np.ndarray,
                 real: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (float; NaN where not ``real``), from numpy's calendar."""
    y = np.where(real, year, 1970).astype(np.int64)
    m = np.where(real, month, 1).astype(np.int64)
    d = np.where(real, day, 1).astype(np.int64)
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    days = (months.astype("datetime64[D]") - np.datetime64(0, "D")).astype(np.int64) + (d - 1)
    return np.where(real, days.astype("float64"), np.nan)


def _leading_date(iso: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD...`` values, and the precision.

    The precision is 3 for a complete date (the first ten characters, anything
    may follow), 2 for exactly ``YYYY-MM``, 1 for exactly ``YYYY``, 0 otherwise.
    The first ten characters are read as fixed-width code points, so this is a
    handful of numpy operations, not a regex per value.
    """
    # missing values become "None", "nan" or "<NA>": no digits, precision 0
    text = iso.to_numpy(dtype=object).astype("U10")
    codes = text.view(np.uint32).reshape(len(text), 10).astype(np.int64)
    digit = (codes >= 48) & (codes <= 57)
    value = codes - 48
    dash, end = 45, 0
    year_ok = digit[:, 0:4].all(axis=1)
    month_ok = year_ok & (codes[:, 4] == dash) & digit[:, 5:7].all(axis=1)
    day_ok = month_ok & (codes[:, 7] == dash) & digit[:, 8:10].all(axis=1)
    precision = np.select([day_ok, month_ok & (codes[:, 7] == end),
                           year_ok & (codes[:, 4] == end)], [3, 2, 1], 0)
    year = (value[:, 0] * 1000 + value[:, 1] * 100 + value[:, 2] * 10 + value[:, 3]).astype(float)
    month = (value[:, 5] * 10 + value[:, 6]).astype(float)
    day = (value[:, 8] * 10 + value[:, 9]).astype(float)
    return year, month, day, precision


def _dates_from_days(days: np.ndarray, index: pd.Index) -> pd.Series:
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[s]")
    known = ~np.isnan(days)
    out[known] = (days[known].astype(np.int64) * 86_400).astype("datetime64[s]")
    return pd.Series(out, index=index)


def _complete_days(iso: pd.Series) -> np.ndarray:
    memo = distinct_text(iso)  # dates repeat: the calendar once per distinct value
    if memo is not None:
        distinct, codes = memo
        return _complete_days_of(distinct)[codes]
    return _complete_days_of(iso)


def _complete_days_of(iso: pd.Series) -> np.ndarray:
    year, month, day, precision = _leading_date(iso)
    real = (precision == 3) & _real_days(year, month, day)
    return _day_numbers(year, month, day, real)


def combine_date_time(date_iso: pd.Series, time_iso: pd.Series) -> pd.Series:
    """Attach an ``hh:mm`` time to complete ISO dates; partial dates keep no time."""
    complete = date_iso.str.len().eq(10).fillna(False) & time_iso.notna()
    out = date_iso.copy()
    out[complete] = date_iso[complete] + "T" + time_iso[complete]
    return out


def iso_to_date(iso: pd.Series) -> pd.Series:
    """Complete ISO dates (first 10 characters) -> ``datetime64[s]``; partial or unreal -> NaT.

    Seconds resolution spans every year 0001-9999 (nanoseconds end in 2262).
    """
    return _dates_from_days(_complete_days(iso), iso.index)


def iso_period(iso: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First and last day an ISO 8601 date can be: ``2012-07`` -> 2012-07-01 .. 2012-07-31.

    A complete date is its own period; ``2012`` is the whole year; anything
    else (missing, malformed, not a real date) gives NaT for both.
    """
    memo = distinct_text(iso)  # dates repeat: the calendar once per distinct value
    if memo is not None:
        distinct, codes = memo
        first, last = _period_days(distinct)
        first, last = first[codes], last[codes]
    else:
        first, last = _period_days(iso)
    return _dates_from_days(first, iso.index), _dates_from_days(last, iso.index)


def _period_days(iso: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (float, NaN if none) of the first and last day of each value's period."""
    year, month, day, precision = _leading_date(iso)
    first_month = np.where(precision == 1, 1, month)
    last_month = np.where(precision == 1, 12, month)
    first_day = np.where(precision == 3, day, 1)
    last_day = np.where(precision == 3, day, _month_end(year, last_month))
    real = (precision > 0) & _real_days(year, first_month, first_day) & _real_days(
        year, last_month, last_day)
    return (_day_numbers(year, first_month, first_day, real),
            _day_numbers(year, last_month, last_day, real))


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """SDTMIG 3.4 section 4.4.4: day 1 is the reference date; there is no day 0.

    Both arguments are ISO 8601 strings; the result is missing when either is
    not a complete date.
    """
    delta = (pd.Series(_complete_days(dates), index=dates.index)
             - pd.Series(_complete_days(reference), index=reference.index))
    return _days_from_delta(delta, dates.index)


def study_day_from(dates: pd.Series, reference: pd.Series, positions: np.ndarray) -> pd.Series:
    """:func:`study_day` of ``dates`` against ``reference.iloc[positions]`` (e.g. one
    reference date per subject and each record's subject), the reference's calendar
    worked out once per reference value."""
    delta = pd.Series(_complete_days(dates) - _complete_days(reference)[positions],
                      index=dates.index)
    return _days_from_delta(delta, dates.index)


def _days_from_delta(delta: pd.Series, index: pd.Index) -> pd.Series:
    """Day numbers of date - reference (float, NaN where either is missing) -> study days."""
    return pd.Series(np.where(delta >= 0, delta + 1, delta), index=index).where(
        delta.notna()
    ).astype("Float64")
