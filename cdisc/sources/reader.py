"""Source tables: read every declared column as text, type-check, keep row numbers.

Values are read as text so nothing is re-interpreted behind the user's back
(no "NA" turned into missing, no "01" into 1); declared numeric columns are then
converted and every value that is not a number is reported with its file, row
and column. Surrounding blanks are stripped (spreadsheet padding), and an empty
cell is missing. Each frame carries two bookkeeping columns, :data:`SOURCE` and
:data:`ROW`, that follow every record into the SDTM datasets so any problem or
exclusion can name the line it came from.

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

Every check is a column operation on the declared columns; Python loops only
over the cells already found wrong (and, for CSV files the C parser cannot map
to lines, over the records, for their exact line numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Location, Problem, ProblemLog, SourceError
from ..limits import DEFAULT_LIMITS, Limits
from ..model.numbers import IBM_TINY, SAFE_DIGITS, WRITABLE_MAX, storage_problem
from ..spec.model import SourceSpec, Spec
from .csvfile import check_header, read_csv, read_csv_fast
from .datasetfile import SUFFIXES as DATASET_SUFFIXES
from .datasetfile import read_dataset_file
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
    frame: pd.DataFrame  # declared columns + SOURCE + ROW

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
        return _Raw(frame, rows)
    if suffix in (".xlsx", ".xlsm"):
        table = read_xlsx(spec.file, spec.sheet, list(spec.columns), limits)
        return _Raw(table.frame, table.rows, table.sheet, table.reported, table.problems)
    check_header(spec.file, limits)
    frame, rows = read_csv_fast(spec, limits) or read_csv(spec, limits)
    return _Raw(frame, rows)


def _has(text: pd.Series, char_class: re.Pattern) -> np.ndarray:
    """Cells of a text column in which ``char_class`` finds something.

    The column is first searched as one joined string, in C; only when that finds
    something (which for a pattern wider than one character may also be a match
    across two cells) is each cell looked at.
    """
    if not len(text) or not char_class.search("".join(text)):
        return np.zeros(len(text), dtype=bool)
    return text.str.contains(char_class, regex=True).to_numpy(dtype=bool)


def _lengths(text: pd.Series) -> np.ndarray:
    return np.fromiter(map(len, text), dtype=np.int64, count=len(text))


def _too_long(raw: _Raw, spec: SourceSpec, limits: Limits, problems: ProblemLog) -> bool:
    """SRC018 for every declared cell longer than ``cell_chars``; True if there was one."""
    found = False
    for name in spec.columns:
        lengths = _lengths(raw.frame[name].astype(str))
        for pos in np.flatnonzero(lengths > limits.cell_chars):
            found = True
            problems.extend([limit_problem(
                "cell_chars", limits, f"the cell has {int(lengths[pos]):,} characters",
                Location(file=str(spec.file), sheet=raw.sheet, row=int(raw.rows[pos]),
                         field=name))])
    return found


def _control_characters(text: pd.Series, rows: np.ndarray, where: dict, name: str,
                        problems: ProblemLog) -> np.ndarray:
    """SRC011 for cells holding a control character; the mask of those cells."""
    pattern = _CONTROL if where["sheet"] is None else _CONTROL_XLSX
    hit = _has(text, pattern)
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


def _numbers(values: pd.Series, integer: bool, rows: np.ndarray, skip: np.ndarray,
             where: dict, name: str, problems: ProblemLog) -> pd.Series:
    """The column as Float64; SRC005/SRC016/SRC017 for the cells that are no storable number."""
    numbers = pd.to_numeric(values, errors="coerce")
    # "inf"/"nan" parse as floats but are no collected number (nor storable in XPT)
    numbers = numbers.where(np.isfinite(numbers.astype("float64")))
    present = values.notna().to_numpy() & ~skip
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
        problems.add("SRC017" if kind == "range" else "SRC016",
                     f"the number cannot be stored in a SAS transport file as written: {reason}",
                     Location(**where, row=int(rows[pos]), field=name, value=text.iat[pos]))
    for pos in np.flatnonzero(bad):
        problems.add(
            "SRC005", f"expected {'an integer' if integer else 'a number'}",
            Location(**where, row=int(rows[pos]), field=name, value=text.iat[pos]),
        )
    return result


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
        problems.add("SRC002", "source file not found", Location(file=file))
        return None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        problems.add("SRC003", f"cannot read the file: {exc}", Location(file=file))
        return None
    problems.extend(raw.problems)

    where = {"file": file, "sheet": raw.sheet}
    missing = [c for c in source.columns if c not in raw.frame.columns]
    for col in missing:
        problems.add("SRC004", f"declared column {col!r} is not in the file header",
                     Location(**where, row=1, field=col))
    if missing or _too_long(raw, source, limits, problems):
        return None

    rows = np.asarray(raw.rows, dtype=int)
    frame = pd.DataFrame(index=raw.frame.index)
    skipped: dict[str, np.ndarray] = {}
    for name, col in source.columns.items():
        cells = raw.frame[name].astype(str)
        skip = raw.reported.get(name, np.zeros(len(cells), dtype=bool)).copy()
        skip |= _control_characters(cells, rows, where, name, problems)
        text = cells.str.strip()
        values: pd.Series = text.where(text != "", None)
        absent = values.isna().to_numpy() & ~skip
        if col.type in ("integer", "number"):
            values = _numbers(values, col.type == "integer", rows, skip, where, name, problems)
        if col.required:
            for pos in np.flatnonzero(absent):
                problems.add("SRC006", "required value is missing",
                             Location(**where, row=int(rows[pos]), field=name))
        frame[name] = values
        skipped[name] = skip
    frame[SOURCE] = source.name
    frame[ROW] = rows

    if source.key:
        key = list(source.key)
        dup = frame.duplicated(key, keep=False) & frame[key].notna().all(axis=1)
        for idx in dup[dup].index:
            problems.add(
                "SRC007", f"duplicate key ({', '.join(source.key)}) in the source",
                Location(**where, row=int(frame.at[idx, ROW]), field=",".join(source.key),
                         value="/".join(str(frame.at[idx, k]) for k in source.key)),
            )
    missing_subject = frame[source.subject].isna().to_numpy() & ~skipped[source.subject]
    for pos in np.flatnonzero(missing_subject):
        problems.add("SRC008", "subject identifier is missing",
                     Location(**where, row=int(rows[pos]), field=source.subject))
    return SourceTable(source, frame.reset_index(drop=True))


def read_sources(spec: Spec, problems: ProblemLog) -> dict[str, SourceTable]:
    """Read every source the spec declares; problems (and notices) go to ``problems``."""
    tables: dict[str, SourceTable] = {}
    for name, source in spec.sources.items():
        table = _read_one(spec, source, problems)
        if table is not None:
            tables[name] = table
    return tables


def resolve_source_path(spec_dir: Path, file: str) -> Path:
    path = Path(file)
    return path if path.is_absolute() else (spec_dir / path)
