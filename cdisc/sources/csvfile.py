"""CSV sources: every cell as text, and the exact file line each record starts on.

The file is decoded and its cell separator found first (:func:`load_csv`, the
rules in :mod:`cdisc.sources.dialect`: encoding from a byte order mark or the
spec, separator from the spec or the header line). Then two readers give the
same cells: Arrow's CSV reader when records map one-to-one onto file lines
(:func:`read_csv_fast`), the csv module otherwise (:func:`read_csv`), which
knows each record's line after a blank line, a quoted cell over several lines
(a line break inside quotes is part of the cell), or old Mac (CR-only) line ends.

Columns are found by their header text (``ColumnSpec.header``); the frame's
columns are still named by the header, the reader renames them.

Bounds (:mod:`cdisc.limits`): :func:`check_header` reads the header line in
chunks before any parser sees the file, so a million-column header stops after
a few kilobytes; the exact reader stops at the record past ``rows`` and at a
cell longer than ``cell_chars``; a file with more lines than ``rows`` allows
never goes to the Arrow reader, which has no way to stop early.
"""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ..errors import Location, Problem, SourceError
from ..limits import DEFAULT_LIMITS, Limits
from ..model.text import TextCodes, code_type
from ..spec.model import SourceSpec
from .dialect import (
    DELIMITERS,
    CsvText,
    decode,
    delimiter_name,
    header_line,
    sniff_delimiter,
    split_header,
)
from .guard import limit_problem

_CHUNK = 1 << 16
_SEPARATORS = tuple(d.encode() for d in DELIMITERS)


def declared_headers(spec: SourceSpec) -> list[str]:
    """The header text of every declared column, in declaration order."""
    return [column.header for column in spec.columns.values()]


def load_csv(spec: SourceSpec) -> CsvText:
    """The file decoded, with its separator (declared, else recognised from the header)."""
    data = spec.file.read_bytes()
    text, encoding = decode(data, spec.encoding, str(spec.file))
    delimiter = spec.delimiter or sniff_delimiter(header_line(text), declared_headers(spec))
    utf8 = data if encoding in ("utf-8", "utf-8-sig") else None
    return CsvText(text, encoding, delimiter, utf8)


def check_header(path: Path, limits: Limits) -> None:
    """Refuse a header line with more than ``columns`` cells, reading it in chunks.

    Counts the separators (any of , ; tab |) of the first line without parsing
    it (one inside a quoted header name counts too, so the bound here is twice
    the limit; the exact count is checked once the header is parsed). A header
    cell longer than ``cell_chars`` (4 bytes a character at most in UTF-8 and
    UTF-16) stops it too. Nothing is kept in memory but the counts.
    """
    file = str(path)
    max_commas = 2 * limits.columns + 16
    max_cell = 4 * limits.cell_chars + 2
    commas = 0
    cell = 0  # bytes since the last separator
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return
            ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
            line = chunk[:min(ends)] if ends else chunk
            found = sum(line.count(sep) for sep in _SEPARATORS)
            commas += found
            last = max(line.rfind(sep) for sep in _SEPARATORS)
            cell = len(line) - last - 1 if found else cell + len(line)
            where = Location(file=file, row=1)
            if commas > max_commas:
                raise SourceError(limit_problem(
                    "columns", limits, f"the header line has more than {commas:,} cells", where))
            if cell > max_cell:
                raise SourceError(limit_problem(
                    "cell_chars", limits, f"a header cell is longer than {cell:,} bytes", where))
            if ends:
                return


def check_width(header: list[str], file: str, limits: Limits) -> None:
    if len(header) > limits.columns:
        raise SourceError(limit_problem(
            "columns", limits, f"the header has {len(header):,} columns",
            Location(file=file, row=1)))


def read_csv_fast(spec: SourceSpec, limits: Limits = DEFAULT_LIMITS,
                  source: CsvText | None = None) -> tuple[pd.DataFrame, list[int]] | None:
    """:func:`read_csv_coded` without the codes."""
    read = read_csv_coded(spec, limits, source)
    return None if read is None else (read[0], read[1])


def read_csv_coded(spec: SourceSpec, limits: Limits = DEFAULT_LIMITS,
                   source: CsvText | None = None
                   ) -> tuple[pd.DataFrame, list[int], dict[str, TextCodes]] | None:
    """Arrow's CSV reader when its records map one-to-one onto file lines, else None;
    with the cells, each column's :class:`~cdisc.model.text.TextCodes` (the checks that
    follow look at each distinct cell once, and need not hash the column again).

    The common file (no blank lines, no line breaks inside quoted cells, every
    record as wide as the header) has record i on line i + 2, which is checked
    by counting the file's lines; any other file goes to :func:`read_csv`,
    which knows each record's line. Arrow's reader is several times faster than
    the csv module loop (and 1.5x pandas' C parser). Other files go to the exact
    reader too: a NUL byte, a CR that does not end a CRLF line (old Mac line
    ends), more lines than ``rows`` allows.
    """
    source = source or load_csv(spec)
    text = source.text
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    returns = text.count("\r")  # (a file with LF line ends is not counted again)
    if "\x00" in text or lines > limits.rows + 1 or (returns and returns != text.count("\r\n")):
        return None
    wanted = declared_headers(spec)
    try:
        header = split_header(header_line(text), source.delimiter)
        if len(header) < 2:
            # one column: a blank line is a record of one blank cell to Arrow, and
            # skipped by the exact reader (as a spreadsheet export has them)
            return None
        frame, codes = _arrow_cells(source, header)
    except (pa.ArrowException, UnicodeError, ValueError, csv.Error):
        return None
    # A record narrower or wider than the header (Arrow refuses it), a header name
    # seen twice, a header the reader split otherwise: the exact reader reports those.
    # (No cell is null: Arrow reads an empty one as "".)
    if (lines != len(frame) + 1 or list(frame.columns) != header
            or any(name not in frame.columns for name in wanted)
            or len(set(frame.columns)) != len(frame.columns)
            or any(f"{name}.1" in frame.columns for name in wanted)):
        return None
    check_width(header, str(spec.file), limits)
    return frame, list(range(2, 2 + len(frame))), codes


def _arrow_cells(source: CsvText, header: list[str]
                 ) -> tuple[pd.DataFrame, dict[str, TextCodes]]:
    """Every cell as text ("" for an empty one), parsed by Arrow's CSV reader, and each
    column's codes.

    It reads quotes as the csv module does where records map one-to-one onto lines (a
    quote opens a quoted cell only at the start of a cell, a doubled quote inside one
    is a quote; the caller checks the rest) and is faster than pandas' C parser. Each
    column is dictionary-encoded by Arrow: one Python string per distinct cell, numbered
    in order of first appearance as :func:`~cdisc.model.text.factorize` numbers them, and
    exact (Arrow compares the bytes), so the codes hold. One thread: the run forks
    workers later, which needs a process without threads. A record wider or narrower
    than the header raises ArrowInvalid; a header Arrow reads otherwise, ValueError.
    """
    # UTF-8 bytes go to the parser as they are (a byte order mark is skipped)
    data = source.utf8 if source.utf8 is not None else source.text.encode("utf-8")
    table = pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False,
            quoted_strings_can_be_null=False))
    if table.column_names != header:  # e.g. a header cell over two lines
        raise ValueError("Arrow read another header")
    # A line break in a cell: a quoted cell over several lines (then the file has more
    # lines than records, which the caller sees), or a quote never closed, which Arrow
    # reads to the end of the file: only the last record can hold that one.
    last = table.slice(max(0, table.num_rows - 1))
    if '"' in source.text and any(pc.any(pc.match_substring_regex(column, r"[\r\n]")).as_py()
                                  for column in last.columns):
        raise ValueError("a line break inside a cell")
    if any(column.null_count for column in table.columns):
        raise ValueError("a null cell")  # not for text columns, with strings_can_be_null off
    cells: dict[str, np.ndarray] = {}
    codes: dict[str, TextCodes] = {}
    for name, column in zip(header, table.columns, strict=True):
        encoded = pc.dictionary_encode(column.combine_chunks())
        distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
        coded = encoded.indices.to_numpy().astype(code_type(len(distinct)))
        coded.flags.writeable = False
        distinct.flags.writeable = False
        cells[name] = distinct[coded]
        codes[name] = TextCodes(coded, distinct, True)
    return pd.DataFrame(cells, index=pd.RangeIndex(table.num_rows), copy=False), codes


@contextmanager
def _field_limit(chars: int):
    """The csv module's cell size limit (process-wide) set to ``chars`` while reading."""
    before = csv.field_size_limit()
    csv.field_size_limit(min(chars, 2**31 - 1))  # a C long
    try:
        yield
    finally:
        csv.field_size_limit(before)


def read_csv(spec: SourceSpec, limits: Limits = DEFAULT_LIMITS, source: CsvText | None = None
             ) -> tuple[pd.DataFrame, list[int]]:
    """CSV cells as text, and the file line each record starts on.

    Read with the csv module so each record's line is exact even after a blank
    line (skipped, as a spreadsheet export has them), a quoted cell that spans
    lines, or CR-only line ends. A record with more or fewer cells than the
    header (an unquoted comma, a lost one) is an error naming its line, never
    values shifted into the next column. Reading stops at the record past the
    ``rows`` limit and at a cell longer than ``cell_chars``.
    """
    file = str(spec.file)
    source = source or load_csv(spec)
    problems: list[Problem] = []
    with _field_limit(limits.cell_chars):
        reader = csv.reader(io.StringIO(source.text, newline=""), delimiter=source.delimiter)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                raise ValueError("the file is empty (no header line)")
            check_width(header, file, limits)
            if any(name not in header for name in declared_headers(spec)):
                # the source cannot be read; SRC004 says why (a wrong separator, a
                # misspelt header) better than the records' cell counts would
                return pd.DataFrame({name: [] for name in header}, dtype=object), []
            records: list[list[str]] = []
            rows: list[int] = []
            start = reader.line_num + 1
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    if len(records) >= limits.rows:
                        raise SourceError(limit_problem(
                            "rows", limits, f"the table has more than {limits.rows:,} records",
                            Location(file=file, row=start)))
                    extra = record[len(header):]
                    if len(record) < len(header) or any(cell.strip() for cell in extra):
                        problems.append(Problem("SRC009", (
                            f"the record has {len(record)} cells but the header has "
                            f"{len(header)}; a cell holding the separator "
                            f"{delimiter_name(source.delimiter)} must be in double quotes"),
                            Location(file=file, row=start,
                                     value=source.delimiter.join(record))))
                    records.append(record[:len(header)])
                    rows.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise SourceError(limit_problem(
                    "cell_chars", limits, f"a cell is longer than {limits.cell_chars:,} "
                    "characters", Location(file=file, row=start))) from None
            problems.append(Problem("SRC003", f"cannot read the file: {exc}",
                                    Location(file=file, row=start)))
    if problems:
        raise SourceError(problems)
    first: dict[str, int] = {}
    for i, name in enumerate(header):
        first.setdefault(name, i)
    duplicated = [n for n in declared_headers(spec) if header.count(n) > 1]
    if duplicated:
        raise SourceError([Problem("SRC010", f"column {n!r} appears {header.count(n)} times in "
                                   "the header", Location(file=file, row=1, field=n))
                           for n in duplicated])
    frame = pd.DataFrame({name: [r[i] for r in records] for name, i in first.items()},
                         index=pd.RangeIndex(len(records)), dtype=object)
    return frame, rows
