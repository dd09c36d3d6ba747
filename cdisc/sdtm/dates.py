"""Collected dates in declared formats -> ISO 8601, vectorised.

Formats are written with tokens, the way a data manager describes a CRF field:
``DD-MMM-YYYY``, ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``MM/DD/YYYY``, ``YYYY``,
``YYYY-MM-DDThh:mm``, ``DD-MMM-YYYY hh:mm:ss``, ``hh:mm``. ``MM`` is the month,
``mm`` the minute. A day, month or time part may be collected as unknown
(``UN``, ``UK``, ``UNK``, ``UNKN``): the ISO 8601 value is then truncated on the
right at the first unknown part, as SDTMIG 3.4 section 4.4.2 describes, so
``UN-JUL-2012`` becomes ``2012-07``. A date that does not exist (``30-FEB-2012``)
is an error, never "corrected".

Example::

    >>> import pandas as pd
    >>> iso, problems = to_iso8601(pd.Series(["12-MAR-2011", "UN-JUL-2012", ""]), ["DD-MMM-YYYY"])
    >>> iso.tolist(), problems.empty
    (['2011-03-12', '2012-07', None], True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd

UNKNOWN = r"UNKN|UNK|UN|UK|NK"
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}

_TOKENS = {
    "YYYY": rf"(?P<year>\d{{4}}|{UNKNOWN})",
    "MMM": rf"(?P<month>[A-Za-z]{{3}}|{UNKNOWN})",
    "MM": rf"(?P<month>\d{{1,2}}|{UNKNOWN})",
    "DD": rf"(?P<day>\d{{1,2}}|{UNKNOWN})",
    "hh": rf"(?P<hour>\d{{1,2}}|{UNKNOWN})",
    "mm": rf"(?P<minute>\d{{1,2}}|{UNKNOWN})",
    "ss": rf"(?P<second>\d{{1,2}}(?:\.\d+)?|{UNKNOWN})",
}
_TOKEN_RE = re.compile("|".join(sorted(_TOKENS, key=len, reverse=True)))
PARTS = ("year", "month", "day", "hour", "minute", "second")


class DateFormatError(ValueError):
    """A format string that uses no known token, or repeats one."""


@cache
def compile_format(fmt: str) -> re.Pattern[str]:
    """Turn ``DD-MMM-YYYY`` into an anchored regex with named groups."""
    pattern, pos, seen = "", 0, set()
    for match in _TOKEN_RE.finditer(fmt):
        pattern += re.escape(fmt[pos : match.start()])
        token = match.group(0)
        group = re.search(r"\?P<(\w+)>", _TOKENS[token]).group(1)  # type: ignore[union-attr]
        if group in seen:
            raise DateFormatError(f"format {fmt!r} uses the {group} twice")
        seen.add(group)
        pattern += _TOKENS[token]
        pos = match.end()
    pattern += re.escape(fmt[pos:])
    if not seen:
        raise DateFormatError(f"format {fmt!r} has none of the tokens {', '.join(_TOKENS)}")
    return re.compile(rf"^\s*{pattern}\s*$", re.IGNORECASE)


def check_format(fmt: str) -> str | None:
    """None if ``fmt`` is a usable format, else why not."""
    try:
        compile_format(fmt)
    except DateFormatError as exc:
        return str(exc)
    return None


def _numeric_part(values: pd.Series, unknown: pd.Series) -> pd.Series:
    return pd.to_numeric(values.where(~unknown), errors="coerce")


def to_iso8601(values: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    """Convert collected date/time strings to ISO 8601.

    Returns the ISO strings (``None`` where the input was empty) and a frame of
    problems indexed like ``values`` with columns ``value`` and ``reason``; a
    row in the problems is an input that matched no format or is impossible.
    """
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    parts = pd.DataFrame(index=values.index, columns=list(PARTS), dtype="string")
    matched = pd.Series(False, index=values.index)
    for fmt in formats:
        todo = present & ~matched
        if not todo.any():
            break
        found = text[todo].str.extract(compile_format(fmt))
        hit = found.notna().any(axis=1)
        hit_index = hit[hit].index
        for col in found.columns:
            parts.loc[hit_index, col] = found.loc[hit_index, col]
        matched.loc[hit_index] = True

    unknown = parts.apply(lambda c: c.str.fullmatch(UNKNOWN, case=False).fillna(False)).astype(bool)
    absent = parts.isna() | unknown
    year = _numeric_part(parts["year"], unknown["year"])
    month_text = parts["month"].str.upper()
    month = month_text.map(_MONTHS).astype("Float64")
    month = month.fillna(_numeric_part(parts["month"], unknown["month"]))
    day = _numeric_part(parts["day"], unknown["day"])
    hour = _numeric_part(parts["hour"], unknown["hour"])
    minute = _numeric_part(parts["minute"], unknown["minute"])
    second_text = parts["second"].where(~unknown["second"])

    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    reason[present & ~matched] = f"does not match the declared format(s) {', '.join(formats)}"
    ok = present & matched
    bad_month = ok & ~absent["month"] & ~month.between(1, 12).fillna(False)
    reason[bad_month] = "month is not 1-12 or a month name"
    bad_hour = ok & hour.notna() & ~hour.between(0, 23).fillna(False)
    reason[bad_hour] = "hour is not 0-23"
    bad_minute = ok & minute.notna() & ~minute.between(0, 59).fillna(False)
    reason[bad_minute] = "minute is not 0-59"
    # Right truncation (SDTMIG 4.4.2): a known part after an unknown one cannot be kept.
    has_year = ok & year.notna()
    has_month = has_year & month.notna() & ~bad_month
    has_day = has_month & day.notna()
    ymd = pd.DataFrame(
        {"year": year.where(has_day), "month": month.where(has_day), "day": day.where(has_day)}
    ).astype("float64")
    real = pd.to_datetime(ymd, errors="coerce")
    impossible = has_day & real.isna()
    reason[impossible] = "is not a real calendar date"
    has_day &= ~impossible
    has_time = has_day & hour.notna() & minute.notna() & ~bad_hour & ~bad_minute
    has_seconds = has_time & second_text.notna()

    iso = pd.Series(None, index=values.index, dtype="object")
    y = year.astype("Int64").astype("string").str.zfill(4)
    m = month.astype("Int64").astype("string").str.zfill(2)
    d = day.astype("Int64").astype("string").str.zfill(2)
    hh = hour.astype("Int64").astype("string").str.zfill(2)
    mi = minute.astype("Int64").astype("string").str.zfill(2)
    ss = second_text.str.zfill(2)
    iso[has_year] = y[has_year]
    iso[has_month] = (y + "-" + m)[has_month]
    iso[has_day] = (y + "-" + m + "-" + d)[has_day]
    iso[has_time] = (y + "-" + m + "-" + d + "T" + hh + ":" + mi)[has_time]
    iso[has_seconds] = (iso + ":" + ss)[has_seconds]
    failed = reason.notna()
    iso[failed] = None
    # A time-only column (hh:mm) has no date: keep it as an ISO time for joining later.
    time_only = ok & ~has_year & ~failed & hour.notna() & minute.notna()
    iso[time_only] = (hh + ":" + mi)[time_only]
    problems = pd.DataFrame({"value": values[failed], "reason": reason[failed]})
    iso = iso.where(pd.notna(iso), None).astype(object)
    return iso, problems


def combine_date_time(date_iso: pd.Series, time_iso: pd.Series) -> pd.Series:
    """Attach an ``hh:mm`` time to complete ISO dates; partial dates keep no time."""
    complete = date_iso.str.len().eq(10).fillna(False) & time_iso.notna()
    out = date_iso.copy()
    out[complete] = date_iso[complete] + "T" + time_iso[complete]
    return out


def iso_to_date(iso: pd.Series) -> pd.Series:
    """Complete ISO dates (first 10 characters) -> datetime64; partial -> NaT."""
    text = iso.astype("string")
    complete = text.str.len().ge(10).fillna(False)
    return pd.to_datetime(text.where(complete).str.slice(0, 10), format="%Y-%m-%d",
                          errors="coerce")


def iso_period(iso: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First and last day an ISO 8601 date can be: ``2012-07`` -> 2012-07-01 .. 2012-07-31.

    A complete date is its own period; ``2012`` is the whole year; anything
    else (missing, malformed) gives NaT for both.
    """
    text = iso.astype("string").str.slice(0, 10)
    year = text.str.fullmatch(r"\d{4}").fillna(False)
    month = text.str.fullmatch(r"\d{4}-\d{2}").fillna(False)
    start = iso_to_date(iso)
    end = start.copy()
    start[month] = pd.to_datetime(text[month] + "-01", format="%Y-%m-%d", errors="coerce")
    end[month] = start[month] + pd.offsets.MonthEnd(0)
    start[year] = pd.to_datetime(text[year] + "-01-01", format="%Y-%m-%d", errors="coerce")
    end[year] = pd.to_datetime(text[year] + "-12-31", format="%Y-%m-%d", errors="coerce")
    return start, end


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """SDTMIG 3.4 section 4.4.4: day 1 is the reference date; there is no day 0.

    Both arguments are ISO 8601 strings; the result is missing when either is
    not a complete date.
    """
    delta = (iso_to_date(dates) - iso_to_date(reference)).dt.days
    return pd.Series(np.where(delta >= 0, delta + 1, delta), index=dates.index).where(
        delta.notna()
    ).astype("Float64")
