"""Source tables: read every declared column as text, type-check, keep row numbers.

Values are read as text so nothing is re-interpreted behind the user's back
(no "NA" turned into missing, no "01" into 1); declared numeric columns are then
converted and every value that is not a number is reported with its file, row
and column. Surrounding blanks are stripped (spreadsheet padding), and an empty
cell is missing. Each frame carries two bookkeeping columns, :data:`SOURCE` and
:data:`ROW`, that follow every record into the SDTM datasets so any problem or
exclusion can name the line it came from.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Location, Problem, ProblemLog, SourceError
from ..spec.model import SourceSpec, Spec

SOURCE = "__source__"
ROW = "__row__"


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


def _read_csv_fast(spec: SourceSpec) -> tuple[pd.DataFrame, list[int]] | None:
    """pandas' C parser when its records map one-to-one onto file lines, else None.

    The common file (no blank lines, no line breaks inside quoted cells, every
    record as wide as the header) has record i on line i + 2, which is checked
    by counting the file's lines; any other file goes to :func:`_read_csv`,
    which knows each record's line. The C parser is several times faster than
    the csv module loop.
    """
    data = spec.file.read_bytes()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    try:
        with warnings.catch_warnings():
            # "loss of data with index_col=False": a record wider than the header
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                                na_filter=False, encoding="utf-8-sig", index_col=False)
        header = next(csv.reader(io.StringIO(data.decode("utf-8-sig").split("\n", 1)[0])))
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError,
            UnicodeDecodeError, ValueError, StopIteration):
        return None
    # A short record's missing cells come back as NaN even with na_filter off, a
    # header name seen twice comes back renamed ("x.1"), and a record wider than
    # the header must not shift its cells: the exact reader reports those.
    if (lines != len(frame) + 1 or frame.isna().any().any() or list(frame.columns) != header
            or any(name not in frame.columns for name in spec.columns)
            or len(set(frame.columns)) != len(frame.columns)
            or any(f"{name}.1" in frame.columns for name in spec.columns)):
        return None
    return frame, list(range(2, 2 + len(frame)))


def _read_csv(spec: SourceSpec) -> tuple[pd.DataFrame, list[int]]:
    """CSV cells as text, and the file line each record starts on.

    Read with the csv module so each record's line is exact even after a blank
    line (skipped, as a spreadsheet export has them) or a quoted cell that spans
    lines. A record with more or fewer cells than the header (an unquoted comma,
    a lost one) is an error naming its line, never values shifted into the
    next column.
    """
    file = str(spec.file)
    with spec.file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError("the file is empty (no header line)")
        records: list[list[str]] = []
        rows: list[int] = []
        problems: list[Problem] = []
        start = reader.line_num + 1
        try:
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    extra = record[len(header):]
                    if len(record) < len(header) or any(cell.strip() for cell in extra):
                        problems.append(Problem("SRC009", (
                            f"the record has {len(record)} cells but the header has "
                            f"{len(header)}; a cell with a comma must be in double quotes"),
                            Location(file=file, row=start, value=",".join(record))))
                    records.append(record[:len(header)])
                    rows.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:  # a NUL byte, a cell over the csv field size limit
            problems.append(Problem("SRC003", f"cannot read the file: {exc}",
                                    Location(file=file, row=start)))
    if problems:
        raise SourceError(problems)
    first: dict[str, int] = {}
    for i, name in enumerate(header):
        first.setdefault(name, i)
    duplicated = [n for n in spec.columns if header.count(n) > 1]
    if duplicated:
        raise SourceError([Problem("SRC010", f"column {n!r} appears {header.count(n)} times in "
                                   "the header", Location(file=file, row=1, field=n))
                           for n in duplicated])
    frame = pd.DataFrame({name: [r[i] for r in records] for name, i in first.items()},
                         index=pd.RangeIndex(len(records)), dtype=object)
    return frame, rows


def _read_raw(spec: SourceSpec) -> tuple[pd.DataFrame, list[int]]:
    """The file as text cells, and the file line/row number of each record."""
    suffix = spec.file.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = pd.read_excel(
            spec.file, sheet_name=spec.sheet or 0, dtype=str, keep_default_na=False,
            engine="openpyxl",
        )
        # Header is row 1, so the first record is row 2. Blank rows are skipped,
        # as blank CSV lines are, but keep counting for the rows after them.
        rows = pd.RangeIndex(2, 2 + len(frame))
        filled = frame.apply(lambda c: c.astype(str).str.strip().ne("")).any(axis=1).to_numpy()
        return frame[filled].reset_index(drop=True), rows[filled].tolist()
    if suffix in (".csv", ".txt"):
        return _read_csv_fast(spec) or _read_csv(spec)
    raise SourceError.single(
        "SRC001", f"unsupported source file type {suffix!r} (use .csv or .xlsx)",
        file=str(spec.file),
    )


def _read_one(spec: SourceSpec, problems: ProblemLog) -> SourceTable | None:
    file = str(spec.file)
    try:
        raw, row_numbers = _read_raw(spec)
    except SourceError as exc:
        problems.extend(exc.problems)
        return None
    except FileNotFoundError:
        problems.add("SRC002", "source file not found", Location(file=file))
        return None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        problems.add("SRC003", f"cannot read the file: {exc}", Location(file=file))
        return None

    missing = [c for c in spec.columns if c not in raw.columns]
    for col in missing:
        problems.add("SRC004", f"declared column {col!r} is not in the file header",
                     Location(file=file, row=1, field=col))
    if missing:
        return None

    rows = pd.Index(row_numbers, dtype=int)
    frame = pd.DataFrame(index=raw.index)
    for name, col in spec.columns.items():
        text = raw[name].astype(str).str.strip()
        values: pd.Series = text.where(text != "", None)
        if col.type in ("integer", "number"):
            numbers = pd.to_numeric(values, errors="coerce")
            # "inf"/"nan" parse as floats but are no collected number (nor storable in XPT)
            numbers = numbers.where(np.isfinite(numbers.astype("float64")))
            bad = values.notna() & numbers.isna()
            if col.type == "integer":
                bad |= numbers.notna() & (numbers % 1 != 0)
            for idx in bad[bad].index:
                problems.add(
                    "SRC005", f"expected {'an integer' if col.type == 'integer' else 'a number'}",
                    Location(file=file, row=int(rows[idx]), field=name, value=values[idx]),
                )
            values = numbers.astype("Float64")
        if col.required:
            for idx in values[values.isna()].index:
                problems.add("SRC006", "required value is missing",
                             Location(file=file, row=int(rows[idx]), field=name))
        frame[name] = values
    frame[SOURCE] = spec.name
    frame[ROW] = rows.to_numpy()

    if spec.key:
        key = list(spec.key)
        dup = frame.duplicated(key, keep=False) & frame[key].notna().all(axis=1)
        for idx in dup[dup].index:
            problems.add(
                "SRC007", f"duplicate key ({', '.join(spec.key)}) in the source",
                Location(file=file, row=int(frame.at[idx, ROW]), field=",".join(spec.key),
                         value="/".join(str(frame.at[idx, k]) for k in spec.key)),
            )
    missing_subject = frame[spec.subject].isna()
    for idx in missing_subject[missing_subject].index:
        problems.add("SRC008", "subject identifier is missing",
                     Location(file=file, row=int(frame.at[idx, ROW]), field=spec.subject))
    return SourceTable(spec, frame.reset_index(drop=True))


def read_sources(spec: Spec, problems: ProblemLog) -> dict[str, SourceTable]:
    """Read every source the spec declares; problems go to ``problems``."""
    tables: dict[str, SourceTable] = {}
    for name, source in spec.sources.items():
        table = _read_one(source, problems)
        if table is not None:
            tables[name] = table
    return tables


def resolve_source_path(spec_dir: Path, file: str) -> Path:
    path = Path(file)
    return path if path.is_absolute() else (spec_dir / path)
