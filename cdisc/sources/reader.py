"""Source tables: read every declared column as text, type-check, keep row numbers.

Values are read as text so nothing is re-interpreted behind the user's back
(no "NA" turned into missing, no "01" into 1); declared numeric columns are then
converted and every value that is not a number is reported with its file, row
and column. Surrounding blanks are stripped (spreadsheet padding), and an empty
cell is missing. Each frame carries two bookkeeping columns, :data:`SOURCE` and
:data:`ROW`, that follow every record into the SDTM datasets so any problem or
exclusion can name the line it came from.

A column is found by its header text (``header:`` in the spec, default the
column's name) and named in the frame by the spec's name for it; messages name
the header, as the user sees it in the file. A declared column the file lacks
is an error that lists the headers read (and the separator the header line
seems to use when it was read as one cell); columns of the file the spec does
not declare are one notice per source (SRC021). A file several sources read
(sheets of one workbook) that cannot be opened is one problem, not one per
source. CSV dialects (encoding, separator, decimal comma, thousands) are in
:mod:`cdisc.sources.dialect`.

Nothing is changed silently; each of these is an error at its file, sheet (for
XLSX), row and source column, before anything is written:

* a control character in a declared cell (SRC011): C0 (``\\x00``-``\\x1f``,
  so a tab, and a line break inside a quoted multi-line cell too) or DEL --
  SAS transport text cannot hold them, and a NUL used to cut the value short;
* a number that a SAS transport file cannot store exactly as written
  (SRC016: more digits than a double keeps, an integer beyond 2**53) or at all
  (SRC017: too large, or so small it would become 0); see :mod:`cdisc.model.numbers`;
* formula cells and Excel error values in XLSX (SRC012-SRC015), see
  :mod:`cdisc.sources.xlsxfile`;
* a limit of :mod:`cdisc.limits` reached (SRC018, reading stops), a source that
  is not a regular file (SRC019) or lies outside the source folder (SRC020),
  see :mod:`cdisc.sources.guard`.

A cell is reported once: one found wrong here (a control character, a
number that is not one, an Excel error) is then missing in the frame, so the
mapping stage, which runs on the tables read even when some cells were wrong
(so that one run reports every problem), does not report it again.

Every check is a column operation on the declared columns; Python loops only
over the cells already found wrong (and, for CSV files the C parser cannot map
to lines, over the records, for their exact line numbers).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Location, Problem, ProblemLog, Severity, SourceError
from ..limits import DEFAULT_LIMITS, Limits
from ..model.numbers import IBM_TINY, SAFE_DIGITS, WRITABLE_MAX, storage_problem
from ..model.text import CodesMemo, TextCodes
from ..spec.model import SourceSpec, Spec
from .csvfile import check_header, load_csv, read_csv, read_csv_coded, read_csv_fast
from .datasetfile import SUFFIXES as DATASET_SUFFIXES
from .datasetfile import read_dataset_file
from .dialect import delimiter_name, normalise_numbers, suggested_delimiter
from .guard import check_file, limit_problem, outside_problem
from .xlsxfile import read_xlsx

SOURCE = "__source__"
ROW = "__row__"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# XLSX text can also hold a control character escaped as _xHHHH_ (OOXML ST_Xstring),
# which Excel shows as the character and openpyxl leaves as it is
_CONTROL_XLSX = re.compile(r"[\x00-\x1f\x7f]|_x(?:00[01][0-9A-Fa-f]|007[Ff])_")
# text pandas would parse as a number if it were not too large for a double (1e400)
_NUMBER_LIKE = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_EXPONENT = re.compile("[eE]")


@dataclass
class SourceTable:
    spec: SourceSpec
    frame: pd.DataFrame  # declared columns (by their spec names) + SOURCE + ROW
    #: the worksheet read (XLSX), also when the spec names none (the first)
    sheet: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return str(self.spec.file)


@dataclass
class _Raw:
    """A source file's cells as text, before the declared types are applied."""

    frame: pd.DataFrame
    rows: list[int]
    sheet: str | None = None
    #: per column, cells already reported (formula without a value, Excel error)
    reported: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: every name of the header row, declared or not
    header: list[str] = field(default_factory=list)
    #: per column, the cells stored as text (XLSX); None: every cell is text (CSV)
    text_cells: dict[str, np.ndarray] | None = None
    #: the CSV cell separator read with
    delimiter: str | None = None
    #: per column, its codes when the reader made them (Arrow's dictionary encoding)
    codes: dict[str, TextCodes] = field(default_factory=dict)


def _read_csv_fast(spec: SourceSpec, limits: Limits = DEFAULT_LIMITS
                   ) -> tuple[pd.DataFrame, list[int]] | None:
    """See :func:`cdisc.sources.csvfile.read_csv_fast`."""
    return read_csv_fast(spec, limits)


def _read_csv(spec: SourceSpec, limits: Limits = DEFAULT_LIMITS
              ) -> tuple[pd.DataFrame, list[int]]:
    """See :func:`cdisc.sources.csvfile.read_csv`."""
    return read_csv(spec, limits)


def _read_raw(spec: SourceSpec, limits: Limits) -> _Raw:
    """The file as text cells, and the file line/row number of each record."""
    suffix = spec.file.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", *DATASET_SUFFIXES):
        raise SourceError.single(
            "SRC001", f"unsupported source file type {suffix!r} (use .csv, .xlsx, .xpt, "
            ".sas7bdat or Dataset-JSON .json/.ndjson)", file=str(spec.file),
        )
    check_file(spec, limits)
    if suffix in DATASET_SUFFIXES:
        frame, rows = read_dataset_file(spec.file, limits)
        # a dataset's numbers are numbers: no decimal comma to read
        return _Raw(frame, rows, header=list(frame.columns), text_cells={})
    if suffix in (".xlsx", ".xlsm"):
        declared = {column.header: column for column in spec.columns.values()}
        table = read_xlsx(spec.file, spec.sheet, list(declared), limits, declared)
        return _Raw(table.frame, table.rows, table.sheet, table.reported, table.problems,
                    table.header, table.text_cells)
    check_header(spec.file, limits)
    text = load_csv(spec)
    coded = read_csv_coded(spec, limits, text)
    if coded is not None:
        frame, rows, codes = coded
        return _Raw(frame, rows, header=list(frame.columns), delimiter=text.delimiter,
                    codes=codes)
    frame, rows = read_csv(spec, limits, text)
    return _Raw(frame, rows, header=list(frame.columns), delimiter=text.delimiter)


def _has(text: pd.Series, char_class: re.Pattern) -> np.ndarray:
    """Cells of a text column in which ``char_class`` finds something.

    The column is first searched as one joined string, in C; only when that finds
    something (which for a pattern wider than one character may also be a match
    across two cells) is each cell looked at.
    """
    if not len(text) or not char_class.search("".join(text)):
        return np.zeros(len(text), dtype=bool)
    return text.str.contains(char_class, regex=True).to_numpy(dtype=bool)


@dataclass(frozen=True)
class _Cells:
    """A column's cells as text (``astype(str)``), that text stripped of blanks with None
    for an empty one (``values``) and, when the column was coded, each distinct cell's
    text (a present cell is ``distinct[codes]``): a check of the text is made once per
    distinct cell."""

    cells: pd.Series
    values: pd.Series
    codes: np.ndarray | None = None
    distinct: pd.Series | None = None
    #: where ``values`` is None (nothing but blanks), worked out per distinct cell
    absent: np.ndarray | None = None

    def missing(self) -> np.ndarray:
        """Where ``values`` is missing."""
        return self.values.isna().to_numpy() if self.absent is None else self.absent

    def each(self, check: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
        """``check`` (True/False per cell text) of every cell, on the distinct ones."""
        if self.codes is None or self.distinct is None:
            return check(self.cells)
        decided = check(self.distinct)
        missing = self.codes < 0  # None, NaN: their text (e.g. "nan") checked as it is
        out = np.append(decided, False)[self.codes]
        if missing.any():
            out[missing] = check(self.cells[missing])
        return out


def _cells_of(column: pd.Series, memo: CodesMemo) -> _Cells:
    """:class:`_Cells` of a column; a column of objects repeats its values, so each
    distinct one is converted once (coded through ``memo``, which the source's other
    checks share)."""
    array = column.to_numpy(dtype=object) if _all_text(column, memo) else None
    coded = memo.codes(array) if array is not None else None
    if coded is None or not coded.holds or not len(coded.distinct):
        cells = column.astype(str)
        return _Cells(cells, _present_text(cells))
    codes = coded.codes
    as_text = pd.Series(coded.distinct, dtype=object).astype(str)
    missing = codes < 0  # None, NaN: each written as astype(str) writes it
    anything_missing = bool(missing.any())
    # text cells with nothing missing are their own text (the same objects): not copied
    same = not anything_missing and _same_objects(as_text, coded.distinct)
    cells = array if same else np.append(as_text.to_numpy(dtype=object), None)[codes]
    present = _present_text(as_text)
    absent_each = present.isna().to_numpy()
    values = (cells if same and not absent_each.any() and _same_objects(present, as_text)
              else np.append(present.to_numpy(dtype=object), None)[codes])
    absent = np.append(absent_each, True)[codes]
    if anything_missing:
        own = pd.Series(array[missing], dtype=object).astype(str)
        cells[missing] = own.to_numpy(dtype=object)
        values[missing] = _present_text(own).to_numpy(dtype=object)
        absent[missing] = pd.isna(values[missing])
    index = column.index
    return _Cells(pd.Series(cells, index=index), pd.Series(values, index=index, dtype=object),
                  codes, as_text, absent)


def _same_objects(a: pd.Series, b: pd.Series | np.ndarray) -> bool:
    """Whether two arrays of distinct values hold the very same objects (a string
    operation that changes nothing returns its input)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a.to_numpy(dtype=object), b,
                                                            strict=True))


def _all_text(column: pd.Series, memo: CodesMemo) -> bool:
    """Whether a column holds text (or nothing) only: the cells coded once per distinct
    value must be, as a hash takes 1 and 1.0 for one value while their text differs."""
    return column.dtype == object and memo.all_text(column.to_numpy(dtype=object))


def _present_text(cells: pd.Series) -> pd.Series:
    """Cells stripped of blanks, None where nothing is left."""
    text = cells.str.strip()
    return text.where(text != "", None)


def _lengths(text: pd.Series) -> np.ndarray:
    return np.fromiter(map(len, text), dtype=np.int64, count=len(text))


def _cell_lengths(column: pd.Series, memo: CodesMemo) -> np.ndarray:
    """Characters of each cell's text (``astype(str)``), each distinct cell measured once."""
    if not _all_text(column, memo):
        return _lengths(column.astype(str))
    array = column.to_numpy(dtype=object)
    coded = memo.codes(array)
    if not coded.holds:
        return _lengths(column.astype(str))
    codes = coded.codes
    lengths = np.append(_lengths(pd.Series(coded.distinct, dtype=object).astype(str)),
                        0)[codes]
    missing = codes < 0  # None, NaN: measured as astype(str) writes them
    if missing.any():
        lengths[missing] = _lengths(pd.Series(array[missing], dtype=object).astype(str))
    return lengths


def _too_long(raw: _Raw, spec: SourceSpec, limits: Limits, problems: ProblemLog,
              memo: CodesMemo) -> bool:
    """SRC018 for every declared cell longer than ``cell_chars``; True if there was one."""
    found = False
    for name in (column.header for column in spec.columns.values()):
        lengths = _cell_lengths(raw.frame[name], memo)
        for pos in np.flatnonzero(lengths > limits.cell_chars):
            found = True
            problems.extend([limit_problem(
                "cell_chars", limits, f"the cell has {int(lengths[pos]):,} characters",
                Location(file=str(spec.file), sheet=raw.sheet, row=int(raw.rows[pos]),
                         field=name))])
    return found


def _control_characters(cells: _Cells, rows: np.ndarray, where: dict, name: str,
                        problems: ProblemLog) -> np.ndarray:
    """SRC011 for cells holding a control character; the mask of those cells."""
    pattern = _CONTROL if where["sheet"] is None else _CONTROL_XLSX
    text = cells.cells
    hit = cells.each(lambda values: _has(values, pattern))
    for pos in np.flatnonzero(hit):
        value = text.iat[pos]
        found = pattern.search(value)
        char, written = found.group(), ""
        if len(char) > 1:
            char, written = chr(int(char[2:6], 16)), f" (written {char} in the workbook)"
        problems.add("SRC011", (
            f"the cell holds the control character {char!r}{written} at character "
            f"{found.start() + 1}; a source cell can hold no tab, line break or other control "
            "character (SAS transport text cannot): remove it from the file"),
            Location(**where, row=int(rows[pos]), field=name, value=value))
    return hit


def _numbers(values: pd.Series, shown: pd.Series, integer: bool, rows: np.ndarray,
             skip: np.ndarray, where: dict, name: str, problems: ProblemLog,
             notation: str = "") -> pd.Series:
    """The column as Float64; SRC005/SRC016/SRC017 for the cells that are no storable number.

    ``values``: the cells as Python writes numbers (a decimal comma already read,
    see :func:`~cdisc.sources.dialect.normalise_numbers`; missing where the cell
    does not fit the declared notation); ``shown``: the cells as written, for
    the messages. A cell reported here is missing in the result.
    """
    numbers = pd.to_numeric(values, errors="coerce")
    # "inf"/"nan" parse as floats but are no collected number (nor storable in XPT)
    numbers = numbers.where(np.isfinite(numbers.astype("float64")))
    present = shown.notna().to_numpy() & ~skip
    bad = present & numbers.isna().to_numpy()
    if integer:
        bad |= present & (numbers.notna() & (numbers % 1 != 0)).to_numpy()
    stored = numbers.to_numpy(dtype="float64", na_value=np.nan)
    text = values.fillna("")
    # Only a number written with many digits, an exponent or an extreme magnitude can
    # fail to be stored as written; the others are never looked at one by one.
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(stored)
        extreme = (magnitude >= WRITABLE_MAX) | ((magnitude < IBM_TINY) & (magnitude > 0))
    odd = (_lengths(text) > SAFE_DIGITS) | _has(text, _EXPONENT) | extreme
    huge = bad.copy()  # number-like text with no double at all (1e400)
    huge[bad] = text[bad].str.fullmatch(_NUMBER_LIKE).to_numpy(dtype=bool)
    result = numbers.astype("Float64")
    for pos in np.flatnonzero(present & ((odd & ~bad) | huge)):
        # pandas' fast parser is not correctly rounded for long or scaled numbers
        # (0.000000000000000001 comes back as 0): Python's float() is
        try:
            exact = float(text.iat[pos])
        except ValueError:
            continue
        found = storage_problem(text.iat[pos], exact, integer=integer)
        if found is None:
            if exact != stored[pos] and np.isfinite(exact):
                result.iat[pos] = exact
            continue
        kind, reason = found
        bad[pos] = False
        result.iat[pos] = pd.NA
        problems.add("SRC017" if kind == "range" else "SRC016",
                     f"the number cannot be stored in a SAS transport file as written: {reason}",
                     Location(**where, row=int(rows[pos]), field=name, value=shown.iat[pos]))
    for pos in np.flatnonzero(bad):
        result.iat[pos] = pd.NA
        problems.add(
            "SRC005", f"expected {'an integer' if integer else 'a number'}{notation}",
            Location(**where, row=int(rows[pos]), field=name, value=shown.iat[pos]),
        )
    return result


def _listed(names: list[str], most: int = 30) -> str:
    shown = ", ".join(repr(name) for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _missing_column(name: str, source: SourceSpec, raw: _Raw) -> str:
    """SRC004's message: the header as declared, the headers read, what may be wrong."""
    header = source.header_of(name)
    declared = f" (declared as {name!r})" if header != name else ""
    message = (f"declared column {header!r}{declared} is not in the file header; the header "
               f"read has {_listed(raw.header) if raw.header else 'no names'}")
    other = suggested_delimiter(raw.header, raw.delimiter or "")
    if other is not None and raw.delimiter is not None:
        return (f"{message}. The header was read as one cell, separated by "
                f"{delimiter_name(raw.delimiter)}, but it holds {delimiter_name(other)}: "
                f"declare delimiter: {other!r} for this source")
    if other is not None and raw.sheet is not None:
        return (f"{message}. The header is one cell holding {delimiter_name(other)}: the sheet "
                "holds CSV lines in its first column; read the CSV file itself, or split the "
                "column (Excel: Data > Text to Columns)")
    folded = {h.strip().casefold(): h for h in raw.header}
    near = folded.get(header.strip().casefold())
    if near is None:
        close = difflib.get_close_matches(header, raw.header, n=1, cutoff=0.75)
        near = close[0] if close else None
    if near is not None:
        message += (f". The file has {near!r}: a header is matched exactly; write it as in the "
                    f"file, or keep the name and add header: {near!r}")
    return message


def _text_cells(raw: _Raw, header: str, count: int) -> np.ndarray | None:
    if raw.text_cells is None:
        return None
    return raw.text_cells.get(header, np.zeros(count, dtype=bool))


def _notation(source: SourceSpec) -> str:
    """How the source writes numbers, for SRC005, when not the default."""
    if source.decimal == "." and source.thousands is None:
        return ""
    thousands = (f", thousands separator {source.thousands!r}" if source.thousands is not None
                 else ", no thousands separator")
    return f" written with the decimal mark {source.decimal!r}{thousands}"


def _read_one(spec: Spec, source: SourceSpec, problems: ProblemLog) -> SourceTable | None:
    file = str(source.file)
    outside = outside_problem(spec, source)
    if outside is not None:
        problems.extend([outside])
        return None
    limits = spec.limits
    try:
        raw = _read_raw(source, limits)
    except SourceError as exc:
        problems.extend(exc.problems)
        return None
    except FileNotFoundError:
        problems.add("SRC002", _not_found(spec, source), Location(file=file))
        return None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        problems.add("SRC003", f"cannot read the file: {exc}", Location(file=file))
        return None
    problems.extend(raw.problems)

    where = {"file": file, "sheet": raw.sheet}
    headers = {name: column.header for name, column in source.columns.items()}
    missing = [name for name, header in headers.items() if header not in raw.frame.columns]
    for name in missing:
        problems.add("SRC004", _missing_column(name, source, raw),
                     Location(**where, row=1, field=headers[name]))
    memo = CodesMemo()  # each column coded once for the length, text and control checks
    for header, coded in raw.codes.items():
        memo.remember(raw.frame[header].to_numpy(), coded)
    if missing or _too_long(raw, source, limits, problems, memo):
        return None
    declared = set(headers.values())
    undeclared = [h for h in raw.header if h not in declared]
    if undeclared:
        problems.add("SRC021", (
            f"{len(undeclared)} column{'s' if len(undeclared) > 1 else ''} of the file "
            f"{'are' if len(undeclared) > 1 else 'is'} not declared in the spec and not read: "
            f"{_listed(undeclared)}"), Location(**where, row=1), Severity.NOTICE)

    rows = np.asarray(raw.rows, dtype=int)
    frame = pd.DataFrame(index=raw.frame.index)
    skipped: dict[str, np.ndarray] = {}
    for name, col in source.columns.items():
        header = col.header
        coded = _cells_of(raw.frame[header], memo)
        skip = raw.reported.get(header, np.zeros(len(coded.values), dtype=bool)).copy()
        skip |= _control_characters(coded, rows, where, header, problems)
        values: pd.Series = coded.values
        absent = coded.missing() & ~skip
        if col.type in ("integer", "number"):
            normal = normalise_numbers(values, source.decimal, source.thousands,
                                       _text_cells(raw, header, len(values)))
            values = _numbers(normal, values, col.type == "integer", rows, skip, where, header,
                              problems, _notation(source))
        if col.required and name != source.subject:  # a missing subject is SRC008
            for pos in np.flatnonzero(absent):
                problems.add("SRC006", "required value is missing",
                             Location(**where, row=int(rows[pos]), field=header))
        if skip.any():  # reported here: missing for the mapping stage, never reported twice
            values = values.mask(pd.Series(skip, index=values.index))
        frame[name] = values
        skipped[name] = skip
    frame[SOURCE] = source.name
    frame[ROW] = rows

    if source.key:
        key = list(source.key)
        dup = frame.duplicated(key, keep=False) & frame[key].notna().all(axis=1)
        for idx in dup[dup].index:
            problems.add(
                "SRC007", f"duplicate key ({', '.join(map(source.header_of, key))}) in the "
                "source",
                Location(**where, row=int(frame.at[idx, ROW]),
                         field=",".join(map(source.header_of, key)),
                         value="/".join(str(frame.at[idx, k]) for k in source.key)),
            )
    missing_subject = frame[source.subject].isna().to_numpy() & ~skipped[source.subject]
    for pos in np.flatnonzero(missing_subject):
        problems.add("SRC008", "subject identifier is missing",
                     Location(**where, row=int(rows[pos]), field=headers[source.subject]))
    # renumbered in place: reset_index would copy every column of the source once more
    frame.index = pd.RangeIndex(len(frame))
    return SourceTable(source, frame, raw.sheet)


def _not_found(spec: Spec, source: SourceSpec) -> str:
    """SRC002's message: the sources that name the file, and files of a similar name."""
    readers = [name for name, other in spec.sources.items() if other.file == source.file]
    message = "source file not found"
    if len(readers) > 1:
        message += f" (read by sources {', '.join(readers)})"
    folder = source.file.parent
    try:
        names = [entry.name for entry in itertools.islice(folder.iterdir(), 10_000)
                 if entry.is_file()]
    except OSError:
        return f"{message}; its folder does not exist either"
    close = difflib.get_close_matches(source.file.name, names, n=3, cutoff=0.6)
    if close:
        message += f"; its folder has {_listed(close)}"
    return message


def read_sources(spec: Spec, problems: ProblemLog) -> dict[str, SourceTable]:
    """Read every source the spec declares; problems (and notices) go to ``problems``.

    Every source is read, whatever the others gave, so one run reports the
    problems of all of them. A file that cannot be opened at all (missing, not
    a workbook, too large) is reported once, for the first source that reads it.
    """
    tables: dict[str, SourceTable] = {}
    unreadable: set[Path] = set()
    for name, source in spec.sources.items():
        if source.file in unreadable:
            continue
        found = ProblemLog()
        table = _read_one(spec, source, found)
        problems.extend(found)
        if table is not None:
            tables[name] = table
        elif found.errors and all(_about_the_file(p, source) for p in found.errors):
            unreadable.add(source.file)
    return tables


def _about_the_file(problem: Problem, source: SourceSpec) -> bool:
    """A problem with the whole file (not a sheet, row, or spec line of this source)."""
    where = problem.location
    return (where.file == str(source.file) and where.sheet is None and where.row is None
            and where.line is None)


def resolve_source_path(spec_dir: Path, file: str) -> Path:
    path = Path(file)
    return path if path.is_absolute() else (spec_dir / path)
