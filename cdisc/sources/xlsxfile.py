"""XLSX sources: the declared columns of one sheet as text, with exact sheet rows.

The header is row 1 of the sheet; every later row keeps its sheet row number
and blank rows are skipped (as blank CSV lines are). Columns are found by their
header text (``ColumnSpec.header``). Cells become text the way
``pandas.read_excel(dtype=str)`` always made them (``40``, ``2.5``,
``2009-04-19 00:00:00`` for a date cell), so a valid workbook reads as before.

Excel date cells. A cell Excel stores as a date (or time) in a column declared
``date``, ``datetime`` or ``time`` is written in one of the column's declared
formats, the one that holds exactly the parts the cell has (a date cell at
midnight is a date; ``DD/MM/YYYY`` makes ``04/03/2012``), so it converts like
the text cells around it and its day and month can never be swapped. A cell
whose parts no declared format holds (a time of day in a column of dates, a
full date in a ``YYYY`` column) is an error (SRC023): dropping the time or the
day would change what was collected.

Formula cells. A workbook stores a formula together with the value Excel
computed when it last saved the file (the cached value); we never compute a
formula ourselves. So:

* a formula with a cached value is read as that value, and each such cell is
  a notice (SRC012) so the report shows which values came from formulas;
* a formula without a cached value (a file written by a program and never
  opened in Excel) is an error at its cell (SRC013): its value is unknown, and
  reading it as empty would lose data silently;
* a formula whose value comes from outside the workbook or from the moment of
  calculation is an error even with a cached value (SRC014): an external
  workbook link (``[1]Sheet1!A1``, a path or URL in brackets), a DDE link
  (``cmd|' /C calc'!A0``), WEBSERVICE, FILTERXML, RTD, CALL, REGISTER.ID,
  SQL.REQUEST, STOCKHISTORY, IMAGE, and the volatile NOW, TODAY, RAND,
  RANDBETWEEN, RANDARRAY, INFO, CELL. The cached value cannot be checked or
  reproduced from the file, so the user must replace the formula by a value;
* a cell holding an Excel error (``#N/A``, ``#DIV/0!``, a date serial out of
  range) is an error at its cell (SRC015), never the text ``nan``.

Only declared columns are looked at; the cells of the other columns are not
read. A formula that returns an empty string (an empty cached value of a text
cell, ``t="str"``) counts as a cached empty value; an empty cached value of
any other cell (what openpyxl writes for a formula it never calculated) counts
as no cached value.

Bounds (:mod:`cdisc.limits`): the zip members' declared unpacked sizes must
fit ``file_bytes`` before openpyxl opens the file (a sharedStrings bomb stops
there); the header may have ``columns`` cells; reading stops at the record past
``rows`` and at a row number beyond Excel's last row (1,048,576), so a sheet
that declares millions of rows ends in seconds. Rows are read only as wide as
the header, so a cell far to the right does not widen every row.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Location, Problem, Severity, SourceError
from ..limits import Limits
from ..spec.dateformats import format_parts, render
from ..spec.model import ColumnSpec
from .guard import limit_problem

EXCEL_MAX_ROWS = 1_048_576
_CHUNK = 1 << 20

# a <f> element (with any namespace prefix) somewhere in the sheet XML
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_EXTERNAL = re.compile(r"\[\d+\][^!]*!|\[[^\]]*\.(?:xl\w*|csv|ods)\]|[A-Za-z0-9_]\|", re.I)
_OUTSIDE_FUNCTIONS = re.compile(
    r"(?<![\w.])(?:_xlfn\.|_xlws\.)?(WEBSERVICE|FILTERXML|RTD|CALL|REGISTER\.ID|SQL\.REQUEST|"
    r"STOCKHISTORY|IMAGE|NOW|TODAY|RAND|RANDBETWEEN|RANDARRAY|INFO|CELL)\s*\(", re.I)


@dataclass
class XlsxTable:
    frame: pd.DataFrame  # the declared columns found in the header, as text
    rows: list[int]  # sheet row of each record
    sheet: str
    #: located notices and errors found at cells (formulas, Excel error values)
    problems: list[Problem] = field(default_factory=list)
    #: per column, the records whose cell is already reported as an error
    reported: dict[str, np.ndarray] = field(default_factory=dict)
    #: the header row's names (empty cells left out), declared or not
    header: list[str] = field(default_factory=list)
    #: per column, the records whose cell the workbook stores as text (not a number)
    text_cells: dict[str, np.ndarray] = field(default_factory=dict)


def _cannot_read(file: str, what: str, **where: Any) -> SourceError:
    return SourceError(Problem("SRC003", f"cannot read the workbook: {what}",
                               Location(file=file, **where)))


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "..."


def check_archive(path: Path, limits: Limits) -> None:
    """A zip archive whose members unpack to at most ``file_bytes`` in all, else SourceError.

    The sizes are those the archive declares; zipfile never returns more bytes
    than a member declares (and fails its CRC check if the data has more), so
    they bound what openpyxl can unpack.
    """
    file = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise _cannot_read(file, "it is not an XLSX file (not a zip archive, or a truncated "
                           f"one: {_error_text(exc)})") from None
    if unpacked > limits.file_bytes:
        raise SourceError(limit_problem(
            "file_bytes", limits, f"the workbook unpacks to {unpacked:,} bytes",
            Location(file=file)))


def _header_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else str(value)


def _has_formulas(path: Path, member: str) -> bool:
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        tail = b""
        while chunk := stream.read(_CHUNK):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-32:]
    return False


def _formula_cells(path: Path, member: str, columns: set[int]
                   ) -> Iterator[tuple[int, int, str, bool]]:
    """(row, column, formula text, has a cached value) of formula cells in ``columns``."""
    from lxml import etree

    shared: dict[str | None, str] = {}
    row_number = 0
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        for _, row in etree.iterparse(stream, events=("end",), tag="{*}row",
                                      resolve_entities=False, no_network=True):
            r = row.get("r")
            row_number = int(r) if r and r.isdigit() else row_number + 1
            for formula in row.iterfind("{*}c/{*}f"):
                cell = formula.getparent()
                ref = cell.get("r")
                letters = re.match(r"[A-Z]+", ref or "")
                column = (_column_index(letters.group()) if letters
                          else row.index(cell) + 1)
                kind = formula.get("t")
                if kind == "shared" and formula.text:
                    shared[formula.get("si")] = formula.text
                text = formula.text or (shared.get(formula.get("si"), "") if kind == "shared"
                                        else "")
                if kind == "dataTable":
                    text = "TABLE(...) (a what-if data table)"
                if column in columns:
                    value = cell.find("{*}v")
                    # openpyxl writes an empty <v/> for a formula it never calculated; an
                    # empty text result is an empty <v/> of a cell typed t="str"
                    cached = value is not None and (bool(value.text) or cell.get("t") == "str")
                    yield row_number, column, text, cached
            row.clear()
            while row.getprevious() is not None:
                del row.getparent()[0]


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _outside_reason(formula: str) -> str | None:
    if _EXTERNAL.search(formula):
        return "a link to another workbook or program"
    found = _OUTSIDE_FUNCTIONS.search(formula)
    if found:
        return f"{found.group(1).upper()}()"
    return None


_DATE_PARTS = frozenset({"year", "month", "day"})
_TIME_PARTS = frozenset({"hour", "minute", "second"})
_DATE_TYPES = ("date", "datetime", "time")


def _date_cell_parts(value: datetime | date | time) -> tuple[frozenset[str], frozenset[str]]:
    """The parts a date cell holds (a midnight datetime is a date), and those it could give."""
    if isinstance(value, datetime):
        held = set(_DATE_PARTS)
        if value.time() != time(0):
            held |= {"hour", "minute"} | ({"second"} if value.second or value.microsecond
                                          else set())
        return frozenset(held), _DATE_PARTS | _TIME_PARTS
    if isinstance(value, date):
        return _DATE_PARTS, _DATE_PARTS
    held = {"hour", "minute"} | ({"second"} if value.second or value.microsecond else set())
    return frozenset(held), _TIME_PARTS


def date_cell_text(value: datetime | date | time, column: ColumnSpec) -> str | None:
    """An Excel date cell in the column's format that holds exactly its parts, else None.

    Among the formats holding every part the cell has (and none it lacks), the one
    with the fewest parts wins, so a date cell in ``[DD/MM/YYYY hh:mm, DD/MM/YYYY]``
    is written ``04/03/2012``, not ``04/03/2012 00:00``.
    """
    held, possible = _date_cell_parts(value)
    fits = [(len(parts), i, fmt) for i, fmt in enumerate(column.formats)
            if held <= (parts := format_parts(fmt)) <= possible]
    if not fits:
        return None
    return render(min(fits)[2], value)


def read_xlsx(path: Path, sheet: str | None, columns: list[str], limits: Limits,
              declared: Mapping[str, ColumnSpec] | None = None) -> XlsxTable:
    """The declared ``columns`` (header texts) of ``sheet`` (default: the first) as text.

    ``declared``: header -> column declaration, for the date columns (see the
    module doc). See the module doc for the rest.
    """
    import openpyxl

    file = str(path)
    check_archive(path, limits)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # a damaged package can fail in many ways inside openpyxl
        raise _cannot_read(file, _error_text(exc)) from None
    try:
        return _read_sheet(book, path, sheet, columns, limits, declared or {})
    finally:
        book.close()


def _read_sheet(book: Any, path: Path, sheet: str | None, columns: list[str],
                limits: Limits, declared: Mapping[str, ColumnSpec]) -> XlsxTable:
    file = str(path)
    sheets = [ws.title for ws in book.worksheets]
    if not sheets:
        raise _cannot_read(file, "it has no worksheet")
    if not sheet:
        ws = book.worksheets[0]
    elif sheet in sheets:
        ws = book[sheet]
    else:
        shown = ", ".join(repr(name[:40]) for name in sheets[:20])
        more = f" and {len(sheets) - 20} more" if len(sheets) > 20 else ""
        raise _cannot_read(file, f"it has no sheet {sheet[:40]!r}; its sheets are {shown}{more}",
                           sheet=sheet)
    title = ws.title
    row_number = 1
    try:
        ws.reset_dimensions()  # the declared dimension may be wrong (pandas does the same)
        top = ws.iter_rows(min_row=1, max_row=1)
        header = [_header_name(cell.value) for cell in next(top, ())]
        top.close()  # closes the sheet's stream now, not when collected
        while header and (header[-1] is None or header[-1] == ""):
            header.pop()
        if len(header) > limits.columns:
            raise SourceError(limit_problem("columns", limits,
                                            f"the header has {len(header):,} columns",
                                            Location(file=file, sheet=title, row=1)))
        duplicated = [n for n in columns if header.count(n) > 1]
        if duplicated:
            raise SourceError([Problem("SRC010", f"column {n!r} appears {header.count(n)} "
                                       "times in the header",
                                       Location(file=file, sheet=title, row=1, field=n))
                               for n in duplicated])
        found = [(name, header.index(name)) for name in columns if name in header]
        values: dict[str, list[Any]] = {name: [] for name, _ in found}
        is_text: dict[str, list[bool]] = {name: [] for name, _ in found}
        dated = {name: column for name, column in declared.items()
                 if column.type in _DATE_TYPES and column.formats}
        rows: list[int] = []
        errors: list[tuple[str, int, str]] = []  # column, record, Excel error text
        undated: list[tuple[str, int, Any]] = []  # date cells no declared format holds
        if found:
            for row in ws.iter_rows(min_row=2, max_col=len(header)):
                row_number += 1
                if row_number > EXCEL_MAX_ROWS:
                    raise _cannot_read(file, f"row {row_number:,} is beyond the last row of a "
                                       f"sheet ({EXCEL_MAX_ROWS:,}); the file is damaged",
                                       sheet=title)
                if not any(c.value is not None and (not isinstance(c.value, str)
                                                    or c.value.strip()) for c in row):
                    continue
                if len(rows) >= limits.rows:
                    raise SourceError(limit_problem(
                        "rows", limits, f"the sheet has more than {limits.rows:,} records",
                        Location(file=file, sheet=title, row=row_number)))
                for name, pos in found:
                    cell = row[pos]
                    value = cell.value
                    if value is None:
                        value = ""
                    elif cell.data_type == "e":
                        errors.append((name, len(rows), str(value)))
                        value = ""
                    elif cell.data_type == "n" and isinstance(value, float) and value.is_integer():
                        value = int(value)
                    elif name in dated and isinstance(value, (date, time)):
                        text = date_cell_text(value, dated[name])
                        if text is None:
                            undated.append((name, len(rows), value))
                        value = "" if text is None else text
                    values[name].append(value)
                    is_text[name].append(isinstance(cell.value, str))
                rows.append(row_number)
        member = getattr(ws, "_worksheet_path", None)
        formulas = (list(_formula_cells(path, member, {pos + 1 for _, pos in found}))
                    if found and member and _has_formulas(path, member) else [])
    except SourceError:
        raise
    except Exception as exc:  # damaged sheet XML, a bad cell reference, ...
        raise _cannot_read(file, _error_text(exc), sheet=title, row=row_number) from None

    frame = _as_text(values, len(rows))
    table = XlsxTable(frame, rows, title,
                      reported={name: np.zeros(len(rows), dtype=bool) for name in values},
                      header=[name for name in header if name is not None and name != ""],
                      text_cells={name: np.asarray(flags, dtype=bool)
                                  for name, flags in is_text.items()})
    for name, record, text in errors:
        table.reported[name][record] = True
        table.problems.append(Problem(
            "SRC015", f"the cell holds the Excel error {text} instead of a value",
            Location(file=file, sheet=title, row=rows[record], field=name, value=text)))
    for name, record, value in undated:
        table.reported[name][record] = True
        column = dated[name]
        table.problems.append(Problem("SRC023", (
            f"the cell is an Excel {'time' if isinstance(value, time) else 'date'} "
            f"({value.isoformat()}) but no declared format of this {column.type} column "
            f"({', '.join(column.formats)}) holds exactly its parts; declare one that does "
            f"(e.g. {_suggested_format(value)})"),
            Location(file=file, sheet=title, row=rows[record], field=name,
                     value=value.isoformat())))
    _formula_problems(table, formulas, header, file, limits)
    return table


def _suggested_format(value: datetime | date | time) -> str:
    held, _ = _date_cell_parts(value)
    time_part = "hh:mm:ss" if "second" in held else "hh:mm" if "hour" in held else ""
    if isinstance(value, time):
        return time_part
    return f"type datetime, format DD/MM/YYYY {time_part}" if time_part else "DD/MM/YYYY"


def _as_text(values: dict[str, list[Any]], count: int) -> pd.DataFrame:
    """Cell values as text exactly as ``read_excel(dtype=str)`` converted them."""
    from pandas.io.parsers import TextParser

    names = list(values)
    if not names or not count:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    data = [list(cells) for cells in zip(*(values[n] for n in names), strict=True)]
    frame = TextParser(data, header=None, dtype=str, keep_default_na=False,
                       skip_blank_lines=False).read()
    frame.columns = names
    return frame.reset_index(drop=True)


def _formula_problems(table: XlsxTable, formulas: list[tuple[int, int, str, bool]],
                      header: list[str | None], file: str, limits: Limits) -> None:
    record_of = {row: i for i, row in enumerate(table.rows)}
    notices: dict[str, int] = {}
    width = limits.message_value_chars
    for row, column, text, cached in formulas:
        name = header[column - 1]
        if name is None:
            continue
        ref = f"{_column_letter(column)}{row}"
        shown = "=" + (text if len(text) <= width else text[:width] + "...")
        where = Location(file=file, sheet=table.sheet, row=row, field=name, value=shown)
        record = record_of.get(row)
        reason = _outside_reason(text)
        if reason:
            code, message = "SRC014", (
                f"cell {ref} holds a formula whose value comes from outside the workbook or "
                f"changes at each calculation ({reason}); its saved value cannot be checked. "
                "Replace the formula by the value")
        elif not cached:
            code, message = "SRC013", (
                f"cell {ref} holds a formula but the file has no saved value for it (it was "
                "never calculated, e.g. written by a program); open and save it in Excel, or "
                "replace the formula by its value")
        else:
            if record is None or table.reported[name][record]:
                continue  # a blank row, or an Excel error value already reported
            count = notices[name] = notices.get(name, 0) + 1
            if count <= limits.problems_per_code:
                table.problems.append(Problem(
                    "SRC012", f"cell {ref} holds a formula; the value Excel saved with it is "
                    "used", where, Severity.NOTICE))
            continue
        if record is not None:
            table.reported[name][record] = True
        table.problems.append(Problem(code, message, where))
    for name, count in notices.items():
        if count > limits.problems_per_code:
            table.problems.append(Problem(
                "SRC012", f"{count - limits.problems_per_code:,} more cells of this column "
                "hold formulas whose saved values are used",
                Location(file=file, sheet=table.sheet, field=name), Severity.NOTICE))
