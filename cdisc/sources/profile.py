"""A profile of the user's files for ``cdisc init``: every table, every column, what it holds.

``profile_sources(path)`` reads a CSV or XLSX file, or every CSV and XLSX file
of a folder (every sheet of a workbook), and describes each column in a
:class:`cdisc.spec.starter.ColumnProfile`: its type (text, integer, number,
date), its date format(s), the distinct values. :mod:`cdisc.spec.starter`
turns the profile into a spec.

Dates written as text are matched against the formats of
``mappings/init/column-roles.yaml``; unknown parts (``UN``, ``UNK``, ``??``)
count as the part they stand for. Whether ``03/04/2012`` is the 3rd of April
or the 4th of March is decided per file, as a clinic writes all its dates one
way: a first field over 12 (``14/02/1956``) makes the file day-first, a
second field over 12 month-first; a file where neither happens is
*ambiguous*, and the starter asks the user (a TODO) rather than guessing. A
date column may hold a few texts that are not dates (``ongoing``): they are
listed, not a reason to call the column text.

CSV files: the text encoding is UTF-8 or what a byte order mark says; a file
that is not UTF-8 is read as cp1252 and says so (the starter declares it, for
the user to check). The separator is the one of ``,`` ``;`` tab ``|`` that
splits the header line into the most cells. A profile reads at most
``Limits.rows`` records of a table and refuses files over ``Limits.file_bytes``.
"""

from __future__ import annotations

import csv
import io
import re
import stat
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from ..errors import Location, Problem, SourceError
from ..limits import DEFAULT_LIMITS, Limits
from ..spec.dateformats import UNKNOWN_WORDS, compile_format
from ..spec.starter import (
    MAX_DISTINCT,
    ColumnProfile,
    SourcesProfile,
    TableProfile,
    date_roles,
    roles_data,
    roles_of,
)
from . import dialect
from .xlsxfile import check_archive

#: files a folder is searched for
SUFFIXES = (".csv", ".xlsx", ".xlsm")
_INTEGER = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_MONTHS = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
_UNKNOWN = {w.upper() for w in UNKNOWN_WORDS}
#: a format that starts with the day and the month in either order (DD/MM/YYYY, MM-DD-YYYY)
_DAY_MONTH = re.compile(r"(DD|MM)([^A-Za-z])(DD|MM)(?![A-Za-z])")


class ProfileError(SourceError):
    """A file ``cdisc init`` cannot read, with where."""


# --- reading -----------------------------------------------------------------------------------


def _cannot(file: Path, message: str, **where: Any) -> ProfileError:
    return ProfileError(Problem("SRC003", message, Location(file=str(file), **where)))


def _check_size(path: Path, limits: Limits) -> None:
    """A regular file (a FIFO or a device would block or never end) within ``file_bytes``."""
    try:
        info = path.stat()
    except OSError as exc:
        raise _cannot(path, f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _cannot(path, "not a regular file: only files are read")
    size = info.st_size
    if size > limits.file_bytes:
        raise _cannot(path, f"the file has {size:,} bytes, more than the limit file_bytes "
                      f"({limits.file_bytes:,})")


def _header_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else str(value)


def _read_workbook(path: Path, limits: Limits) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Every sheet with a header: (title, header, records as the cells' values)."""
    import openpyxl

    check_archive(path, limits)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # a damaged package fails in many ways inside openpyxl
        raise _cannot(path, f"cannot read the workbook: {type(exc).__name__}: {exc}") from None
    sheets = []
    try:
        for ws in book.worksheets:
            ws.reset_dimensions()
            rows = ws.iter_rows()
            first = next(rows, ())
            header = [_header_text(c.value) if c.value is not None else "" for c in first]
            while header and not header[-1].strip():
                header.pop()
            if not any(h.strip() for h in header):
                continue
            records: list[list[Any]] = []
            for row in rows:
                values = [None if c.data_type == "e" else c.value for c in row[:len(header)]]
                if not any(v is not None and (not isinstance(v, str) or v.strip())
                           for v in values):
                    continue
                if len(records) >= limits.rows:
                    break
                records.append(values + [None] * (len(header) - len(values)))
            sheets.append((ws.title, header, records))
    finally:
        book.close()
    return sheets


def _read_csv(path: Path, limits: Limits) -> tuple[list[str], list[list[Any]], str, str | None]:
    """(header, records, delimiter, encoding other than UTF-8 or None)."""
    data = path.read_bytes()
    encoding = None
    try:
        text, _ = dialect.decode(data, None, str(path))
    except SourceError:
        text, encoding = data.decode("cp1252", errors="replace"), "cp1252"
    delimiter = dialect.sniff_delimiter(dialect.header_line(text), [])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, [])
        records = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(records) >= limits.rows:
                break
            records.append((record + [""] * len(header))[:len(header)])
    except csv.Error as exc:
        raise _cannot(path, f"cannot read the file as CSV: {exc}") from None
    return header, records, delimiter, encoding


# --- columns -------------------------------------------------------------------------------------


def _valid(match: re.Match[str]) -> bool:
    """The parts of a matched date are a date's (month 1-12, day 1-31, ...)."""
    def part(name: str) -> str | None:
        try:
            return match.group(name)
        except IndexError:
            return None

    for name, low, high in (("day", 1, 31), ("hour", 0, 23), ("minute", 0, 59)):
        text = part(name)
        if text and text.upper() not in _UNKNOWN and not low <= int(text) <= high:
            return False
    month = part("month")
    if month and month.upper() not in _UNKNOWN:
        if month.isdigit():
            if not 1 <= int(month) <= 12:
                return False
        elif month.upper() not in _MONTHS:
            return False
    return True


def _date_formats(texts: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Which candidate formats each text fits, and the texts no format fits."""
    fits: dict[str, list[str]] = {}
    others = []
    for text in texts:
        found = [fmt for fmt in roles_data()["date_formats"]
                 if (m := compile_format(fmt).match(text)) is not None and _valid(m)]
        if found:
            fits[text] = found
        else:
            others.append(text)
    return fits, others


def _pair(fmt: str) -> str | None:
    """``DD/MM/YYYY`` <-> ``MM/DD/YYYY``; None for a format whose order is not in question
    (``YYYY-MM-DD``, ``DD-MMM-YYYY``)."""
    match = _DAY_MONTH.match(fmt)
    if match is None:
        return None
    first, separator, second = match.groups()
    return f"{second}{separator}{first}{fmt[match.end():]}"


def _day_first(fmt: str) -> bool:
    return fmt.startswith("DD")


def _choose_formats(fits: dict[str, list[str]]) -> list[str]:
    """Fewest formats that cover every date text, most used first (candidates' order on ties)."""
    left = set(fits)
    chosen: list[str] = []
    order = roles_data()["date_formats"]
    while left:
        counts = Counter(fmt for text in left for fmt in fits[text])
        best = max(order, key=lambda fmt: (counts.get(fmt, 0), -order.index(fmt)))
        chosen.append(best)
        left = {t for t in left if best not in fits[t]}
    return chosen


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    return str(value)


def profile_column(header: str, cells: list[Any], *, decimal_comma_allowed: bool = True
                   ) -> tuple[ColumnProfile, dict[str, list[str]]]:
    """One column's profile (order still open) and the date formats each date text fits."""
    present = [c for c in cells if c is not None and not (isinstance(c, str) and not c.strip())]
    excel_dates = [c for c in present if isinstance(c, (datetime, date, time))]
    texts = [_text(c) for c in present]
    distinct = list(dict.fromkeys(texts))
    base = dict(header=header, values=len(present), distinct=tuple(distinct[:MAX_DISTINCT]),
                distinct_count=len(distinct), unique=len(distinct) == len(present) > 0)
    if not present:
        return ColumnProfile(**base), {}
    roles = set(roles_of(header))
    date_like = bool(roles & date_roles())
    native_numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool)
                         for c in present)
    text_cells = list(dict.fromkeys(_text(c) for c in present if isinstance(c, str)))
    if excel_dates or text_cells:
        fits, others = _date_formats(text_cells)
        year_only = all(f == ["YYYY"] for f in fits.values())
        # a few texts among dates ("ongoing") are noted, not a reason to call the column text
        looks_dated = bool(fits) and (len(others) <= 3 or len(others) * 2 < len(text_cells)) \
            and (not year_only or date_like)
        if excel_dates and not text_cells:
            has_time = any(isinstance(c, datetime) and c.time() != time() for c in excel_dates)
            fmt = "YYYY-MM-DDThh:mm" if has_time else "YYYY-MM-DD"
            return ColumnProfile(**base, type="datetime" if has_time else "date",
                                 formats=(fmt,), excel_dates=len(excel_dates)), {}
        if looks_dated:
            formats = _choose_formats(fits)
            unknown = sorted({part for text in fits for part in re.findall(
                r"(?i)UNKN|UNK|UN|UK|NK|\?\?\?\?|\?\?", text)}, key=str.upper)
            kind = "datetime" if any("hh" in f for f in formats) else "date"
            return ColumnProfile(**base, type=kind, formats=tuple(formats),
                                 unknown_parts=tuple(dict.fromkeys(u.upper() for u in unknown)),
                                 other_texts=tuple(dict.fromkeys(others)),
                                 excel_dates=len(excel_dates)), fits
    if native_numbers or all(_INTEGER.fullmatch(t) or _DECIMAL.fullmatch(t) for t in texts):
        integral = all(_INTEGER.fullmatch(t) for t in texts)
        # leading zeros ("007") are an identifier's, not a number's
        return ColumnProfile(**base, type="integer" if integral else "number"), {}
    if decimal_comma_allowed and all(_INTEGER.fullmatch(t) or _DECIMAL_COMMA.fullmatch(t)
                                     for t in texts):
        return ColumnProfile(**base, type="number", decimal_comma=True), {}
    return ColumnProfile(**base), {}


def _decide_order(columns: list[tuple[ColumnProfile, dict[str, list[str]]]]
                  ) -> list[ColumnProfile]:
    """Day-first or month-first for every NN/NN date column of one file (module doc)."""
    def votes(profile: ColumnProfile, fits: dict[str, list[str]]) -> tuple[str | None, ...]:
        day = month = None
        for text, formats in fits.items():
            for fmt in formats:
                other = _pair(fmt)
                if other is None or other in formats:
                    continue
                if _day_first(fmt) and day is None:
                    day = text
                elif not _day_first(fmt) and month is None:
                    month = text
        return day, month

    evidence = [(p, *votes(p, f)) for p, f in columns]
    day_text = next(((p.header, d) for p, d, _ in evidence if d), None)
    month_text = next(((p.header, m) for p, _, m in evidence if m), None)
    out = []
    for profile, _fits in columns:
        pairs = [f for f in profile.formats if _pair(f) is not None]
        if not pairs:
            out.append(profile)
            continue
        own_day, own_month = next((d, m) for p, d, m in evidence if p is profile)
        if own_day and own_month:
            out.append(_replace(profile, order="mixed", order_evidence=(
                f"day-first ({own_day}) and month-first ({own_month}) dates in one column")))
            continue
        if own_day or own_month:
            day_first, where, text = bool(own_day), profile.header, own_day or own_month
        elif (day_text is None) != (month_text is None):
            day_first = day_text is not None
            where, text = day_text or month_text  # type: ignore[misc]
        else:
            out.append(_replace(profile, order="ambiguous", order_evidence=(
                "day/month order not decided: every day and month in this file is 12 or less"
                if day_text is None else "the file has day-first and month-first dates")))
            continue
        formats = tuple(f if _pair(f) is None or _day_first(f) == day_first else _pair(f)
                        for f in profile.formats)
        out.append(_replace(profile, formats=tuple(dict.fromkeys(formats)),  # type: ignore
                            order="DD/MM" if day_first else "MM/DD",
                            order_evidence=f"{'day' if day_first else 'month'} first: "
                            f"{text!r} in {where!r}"))
    return out


def _replace(profile: ColumnProfile, **changes: Any) -> ColumnProfile:
    from dataclasses import replace

    return replace(profile, **changes)


def _profile_table(file: Path, sheet: str | None, header: list[str], records: list[list[Any]],
                   *, delimiter: str | None = None, encoding: str | None = None
                   ) -> tuple[TableProfile, list[tuple[ColumnProfile, dict[str, list[str]]]]]:
    columns = []
    for index, name in enumerate(header):
        if not name.strip():
            continue
        cells = [record[index] if index < len(record) else None for record in records]
        columns.append(profile_column(name, cells, decimal_comma_allowed=delimiter != ","))
    notes = []
    if encoding:
        notes.append(f"not UTF-8: read as {encoding}")
    blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
    if blank:
        notes.append(f"column(s) {', '.join(map(str, blank))} have no header and are left out")
    table = TableProfile(file=file, sheet=sheet, rows=len(records),
                         columns=tuple(p for p, _ in columns),
                         delimiter=delimiter if delimiter not in (None, ",") else None,
                         encoding=encoding, notes=tuple(notes))
    return table, columns


def profile_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[TableProfile]:
    """The tables of one CSV or XLSX file (every sheet with a header)."""
    _check_size(path, limits)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        found = [_profile_table(path, title, header, records)
                 for title, header, records in _read_workbook(path, limits)]
    elif suffix == ".csv":
        header, records, delimiter, encoding = _read_csv(path, limits)
        found = [_profile_table(path, None, header, records, delimiter=delimiter,
                                encoding=encoding)]
    else:
        raise _cannot(path, f"not a CSV or XLSX file ({suffix or 'no suffix'})")
    # one file is written one way: its date columns share the day/month order
    everything = [column for _, columns in found for column in columns]
    decided = iter(_decide_order(everything))
    return [_replace(table, columns=tuple(next(decided) for _ in columns))
            for table, columns in found]


def profile_sources(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SourcesProfile:
    """The profile of a CSV/XLSX file, or of every CSV/XLSX file in a folder (not below it)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        tables: list[TableProfile] = []
        skipped: list[str] = []
        for file in files:
            if file.suffix.lower() not in SUFFIXES:
                skipped.append(f"{file.name}: not a CSV or XLSX file")
                continue
            if file.name.startswith("~$"):
                skipped.append(f"{file.name}: an Excel lock file")
                continue
            tables.extend(profile_file(file, limits))
        if not tables:
            raise _cannot(path, "the folder has no CSV or XLSX file with a header row")
        return SourcesProfile(path, tuple(tables), tuple(skipped))
    if not path.exists():
        raise _cannot(path, "no such file or folder")
    tables_of_file = profile_file(path, limits)
    if not tables_of_file:
        raise _cannot(path, "the file has no sheet with a header row")
    return SourcesProfile(path, tuple(tables_of_file))


__all__ = ["ProfileError", "profile_column", "profile_file", "profile_sources"]
