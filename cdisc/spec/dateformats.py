"""The date format language of a spec: tokens, and what makes a format usable.

A source column of type date, datetime or time declares how its values are
written, with tokens the way a data manager describes a CRF field:
``DD-MMM-YYYY``, ``YYYY-MM-DD``, ``DD/MM/YYYY``, ``MM/DD/YYYY``, ``YYYY``,
``YYYY-MM-DDThh:mm``, ``DD-MMM-YYYY hh:mm:ss``, ``hh:mm``. ``MM`` is the month,
``mm`` the minute; any other character is literal. Every token also accepts an
unknown part written ``UN``, ``UK``, ``UNK``, ``UNKN``, ``NK`` (any case), ``??`` or
``????``.

This module is the language only: :func:`compile_format` turns a format into
an anchored regex with one named group per part (:data:`PARTS`),
:func:`check_format` says why a format cannot be used (SPEC021) and
:func:`render` writes a date the way a format describes it (an Excel date cell
becomes the text the column's format reads). Converting values with it is
:func:`cdisc.sdtm.dates.to_iso8601`.

>>> check_format("DD-MMM-YYYY") is None
True
>>> check_format("DD/MM").split(";")[0]
"format 'DD/MM': a month needs a year (YYYY)"
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cache

#: the words an unknown part may be written as (letters in any case); ``??`` is how many
#: CRFs and hospital systems mark an unknown day or month, ``????`` an unknown year
UNKNOWN_WORDS = ("UNKN", "UNK", "UN", "UK", "NK", "????", "??")
#: every spelling of an unknown part, as a regex alternative (longest first)
UNKNOWN = "|".join(re.escape(word) for word in UNKNOWN_WORDS)

#: the parts a format can hold, in ISO 8601 order (the named groups of a compiled format)
PARTS = ("year", "month", "day", "hour", "minute", "second")

TOKENS = {
    "YYYY": rf"(?P<year>\d{{4}}|{UNKNOWN})",
    "MMM": rf"(?P<month>[A-Za-z]{{3}}|{UNKNOWN})",
    "MM": rf"(?P<month>\d{{1,2}}|{UNKNOWN})",
    "DD": rf"(?P<day>\d{{1,2}}|{UNKNOWN})",
    "hh": rf"(?P<hour>\d{{1,2}}|{UNKNOWN})",
    "mm": rf"(?P<minute>\d{{1,2}}|{UNKNOWN})",
    "ss": rf"(?P<second>\d{{1,2}}(?:\.\d+)?|{UNKNOWN})",
}
#: the part each token stands for
TOKEN_PARTS = {token: re.search(r"\?P<(\w+)>", regex).group(1)  # type: ignore[union-attr]
               for token, regex in TOKENS.items()}
_TOKEN_RE = re.compile("|".join(sorted(TOKENS, key=len, reverse=True)))
#: a word of literal text made only of token letters (YYY, yyyy, dd, HH): a misspelt token
_TOKEN_LETTERS = re.compile(r"(?<![A-Za-z])[YyMmDdHhSs]+(?![A-Za-z])")
_TOKEN_HELP = ("the tokens are YYYY (year), MMM (month name), MM (month number), DD (day), "
               "hh (hour), mm (minute), ss (second); case matters: MM is the month, mm the minute")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                "DEC")


class DateFormatError(ValueError):
    """A format string that uses no known token, or repeats one."""


@cache
def compile_format(fmt: str) -> re.Pattern[str]:
    """Turn ``DD-MMM-YYYY`` into an anchored regex with named groups."""
    pattern, pos, seen = "", 0, set()
    for match in _TOKEN_RE.finditer(fmt):
        pattern += re.escape(fmt[pos : match.start()])
        token = match.group(0)
        group = TOKEN_PARTS[token]
        if group in seen:
            raise DateFormatError(f"format {fmt!r} uses the {group} twice")
        seen.add(group)
        pattern += TOKENS[token]
        pos = match.end()
    pattern += re.escape(fmt[pos:])
    if not seen:
        raise DateFormatError(f"format {fmt!r} has none of the tokens {', '.join(TOKENS)}")
    # ASCII: \d is 0-9 only (a digit of another script is not a date part we can read)
    return re.compile(rf"^\s*{pattern}\s*$", re.IGNORECASE | re.ASCII)


def check_format(fmt: str) -> str | None:
    """None if ``fmt`` is a usable format, else why not.

    Beyond compiling, a format must not leave token letters as literal text
    (``DD/MM/YYY``, ``dd-MMM-yyyy``, ``HH:mm``: every value would fail to
    match), and must describe a value that can be written as ISO 8601 without
    losing what was collected: a day needs a month and a month a year (``DD/MM``
    would give empty dates), minutes need the hour and seconds the minutes, an
    hour needs minutes, and a time needs a complete date (or no date at all).
    """
    try:
        compile_format(fmt)
    except DateFormatError as exc:
        return str(exc)
    literal = _TOKEN_RE.sub(" ", fmt)
    stray = _TOKEN_LETTERS.search(literal)
    if stray:
        return f"format {fmt!r} has {stray.group(0)!r}, which is not a token: {_TOKEN_HELP}"
    has = {TOKEN_PARTS[t] for t in _TOKEN_RE.findall(fmt)}
    needs = [("day", "month", "a day (DD) needs a month (MM or MMM)"),
             ("month", "year", "a month needs a year (YYYY)"),
             ("minute", "hour", "minutes (mm) need the hour (hh)"),
             ("second", "minute", "seconds (ss) need the minutes (mm)"),
             ("hour", "minute", "an hour (hh) needs the minutes (mm)")]
    for part, needed, why in needs:
        if part in has and needed not in has:
            return f"format {fmt!r}: {why}; {_TOKEN_HELP}"
    if "hour" in has and has & {"year", "month", "day"} and not {"year", "month", "day"} <= has:
        return (f"format {fmt!r}: a time needs a complete date (YYYY, MM or MMM, DD) or no date "
                "at all; with part of a date the time could not be written")
    return None


def format_parts(fmt: str) -> frozenset[str]:
    """The parts (:data:`PARTS`) a format holds: ``DD/MM/YYYY`` -> day, month, year."""
    return frozenset(TOKEN_PARTS[token] for token in _TOKEN_RE.findall(fmt))


def render(fmt: str, value: datetime | date | time) -> str:
    """``value`` written as ``fmt`` describes: ``render("DD-MMM-YYYY", date(2012, 3, 4))``
    is ``04-MAR-2012``.

    Seconds keep their fraction (``05.25``) when the value has one. The caller
    chooses a format that holds every part the value has (:func:`format_parts`).

    >>> render("MM/DD/YYYY hh:mm", datetime(2012, 3, 4, 9, 5))
    '03/04/2012 09:05'
    """
    parts: dict[str, int] = {}
    if isinstance(value, (date, datetime)):
        parts.update(year=value.year, month=value.month, day=value.day)
    if isinstance(value, (time, datetime)):
        parts.update(hour=value.hour, minute=value.minute, second=value.second)
    fraction = getattr(value, "microsecond", 0)

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        part = TOKEN_PARTS[text]
        number = parts[part]
        if text == "MMM":
            return _MONTH_NAMES[number - 1]
        if text == "YYYY":
            return f"{number:04d}"
        written = f"{number:02d}"
        if part == "second" and fraction:
            written += f"{fraction / 1e6:.6f}".rstrip("0")[1:]
        return written

    return _TOKEN_RE.sub(token, fmt)
