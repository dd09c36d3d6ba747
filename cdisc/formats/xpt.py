"""SAS XPORT version 5 writer and reader, with xportr-style transport checks.

XPT v5 (SAS TS-140) is the format FDA and PMDA accept for SDTM/ADaM datasets.
:func:`write_xpt` encodes with our own vectorised encoder
(:mod:`cdisc.formats.xpt_encode`: whole numpy columns, one record buffer per
chunk of rows, streamed), which writes the bytes ReadStat (pyreadstat
``write_xport(file_format_version=5)``) writes for the same frame -- the tests
compare the two byte for byte, pyreadstat staying the independent reference
there -- and around it:

* :func:`check_transport` reports *every* breach of the v5/CDISC transport
  rules, each with a location (dataset, variable, 1-based record, value); the
  checks run on whole columns (a joined string per slice of rows for ASCII and
  control characters, lengths with one ``len`` pass), with Python per value
  only for the records reported;
* the header timestamps are the caller's ``created`` instead of the wall clock,
  so the same frame gives byte-identical files;
* the file is written next to the target, fsynced, verified, and only then
  moved onto the target with :func:`os.replace` (inside a run's staged output
  folder the fsync waits for the folder's other files:
  :func:`cdisc.formats.atomic.synced_together`).

Verification (``verify=``):

* ``"fast"`` (default): the file is read back from disk and decoded by an
  independent decoder (:mod:`cdisc.formats.xpt_decode`: its own TS-140 header
  parser, arithmetic IBM decoding) on whole columns, block by block; the header
  (name, label, datetimes, every namestr), the length of the data area against
  the number of records *encoded* and every value are compared with the frame.
  It costs about as much as encoding;
* ``"full"``: the above, then ``pandas.read_sas`` and pyreadstat read the whole
  file and their data and metadata are compared too (the tests use it).

Layout, as measured on pyreadstat 1.3.7 output and on the SAS 9.3 files of the
CDISC pilot (cdiscpilot01). Both are single-member files of 80-byte records::

    offset   record
         0   HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000...
        80   'SAS' 'SAS' 'SASLIB' version os (8 bytes each), 24 blanks,
             created (16 bytes at 144)
       160   modified (16 bytes at 160), 64 blanks
       240   HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!...0140  (namestr = 140 bytes)
       320   HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000...
       400   'SAS' dataset-name 'SASDATA' version os, 24 blanks, created (at 464)
       480   modified (at 480), 16 blanks, dataset label (40 bytes at 512), type (8 at 552)
       560   HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!0000nnnn... (nnnn = variables)
       640   namestr records, 140 bytes each, then blank fill to 80; OBS header; data.

The four datetimes are ``ddMONyy:hh:mm:ss`` (16 bytes), all set to ``created``.

Differences between our (ReadStat's) files and the SAS-written pilot files:

* version/OS fields: ReadStat writes ``6.06``/``bsd4.2``, SAS ``9.3``/``X64_7HOM``;
* namestr ``nfj`` (justification): ReadStat sets 1 for numeric variables, SAS 0;
  all other namestr fields (type, length, varnum, name, label, format name,
  width, decimals, position, zero fill) are laid out identically;
* the pilot files carry no dataset label in the member header (it lives only in
  define.xml); we always write one;
* the pilot's character lengths are the allotted spec lengths (e.g. AETERM 200
  for a longest value of 46); we write the longest value, as current FDA
  guidance and xportr do.

Numbers are stored as 8-byte IBM hexadecimal floats. An IEEE double converts
exactly (53 significant bits fit in the 56-bit IBM fraction even after the hex
normalisation shift), so verification has no relative tolerance: numbers must
be equal, except that magnitudes below ``16**-65`` (~5.4e-79, the smallest IBM
value) are all one stored zero -- and pandas 2.x decodes an IBM zero as
``16**-65`` instead of 0 (it does so for SAS-written files too), so an absolute
tolerance of ``16**-65`` applies there only. At the other end ReadStat
saturates from ``2**249`` (~9.05e74, below the IBM maximum ~7.2e75); the
encoder does the same, and larger values are refused. SAS special missing
values ``.A``-``.Z`` and ``._`` are written where a numeric object column holds
:data:`cdisc.formats.xpt_encode.SPECIAL_MISSING` markers (pandas and
pyreadstat read them as NaN).

Record counts: XPT v5 stores none, so when a record is at most 80 bytes long,
trailing blank records cannot be told from the blank fill of the last 80-byte
record, and readers guess (pyreadstat drops trailing blank records, pandas
counts some of the fill as records). Such a file is valid: verification checks
the count against what was encoded, and the full read-back accepts a reader's
different count only where exactly that ambiguity explains it.

Known limits: one member per file; no splitting into numbered files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from numbers import Number
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..errors import Location, OutputError, Problem, Severity
from ..model.numbers import EXACT_INTEGERS, IBM_TINY, WRITABLE_MAX
from ..model.text import (
    CONTROL,
    MAX_CHAR,
    MAX_LABEL,
    MAX_NAME,
    NON_ASCII,
    known_codes,
    text_codes,
)
from . import xpt_decode as dec
from . import xpt_encode as enc
from .atomic import deferred, made_durable
from .xpt_encode import SPECIAL_MISSING, SpecialMissing

__all__ = ["SPECIAL_MISSING", "XptMeta", "XptPlan", "check_transport", "encode_xpt",
           "prepare_xpt", "read_xpt", "verify_xpt", "write_xpt"]

# --- limits of the format and of the submission rules -------------------------
# Names, labels and the 200-byte value limit are shared rules (cdisc.model.text).
MAX_VARIABLES = 9999  # the NAMESTR header holds the count in 4 digits
# ReadStat's IEEE->IBM conversion saturates from 2**249 on (measured), so larger
# magnitudes would come back as the IBM maximum (or inf through pyreadstat); below
# IBM_TINY a value is stored as zero; integers beyond 2**53 are not exact in a double.
XPT_NUM_LIMIT = WRITABLE_MAX
_EXACT_INT = EXACT_INTEGERS
#: bytes of coded text columns one plan may hold (:func:`_coded`)
CODED_BYTES = 48 * 1024 * 1024
# Offending records reported per variable and check before a summary problem:
# a column of 100k bad values needs one fix, not 100k lines.
MAX_REPORTED_RECORDS = 50

_NAME_RE = re.compile(r"[A-Z][A-Z0-9]*\Z")
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]*\Z")
# SAS format: optional $, a name that does not end in a digit, width, '.', decimals.
# ReadStat rejects '_' in format names, so it is not accepted here either.
_FORMAT_RE = re.compile(
    r"(?P<dollar>\$?)(?P<name>[A-Z](?:[A-Z0-9]*[A-Z])?)?(?P<w>\d*)\.(?P<d>\d*)\Z"
)

# --- v5 header layout (see module docstring) ----------------------------------
_HEADER_LEN = 640  # library (3 records) + member, descriptor (2), namestr header
_LIBRARY_HEADER = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_LIBV8_HEADER = b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!"
_MEMBER_HEADER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_DSCRPTR_HEADER = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!"
_NAMESTR_HEADER = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
# Fixed byte strings that must surround the timestamps we patch.
_FIXED_FIELDS: tuple[tuple[int, bytes], ...] = (
    (0, _LIBRARY_HEADER),
    (80, b"SAS     SAS     SASLIB  "),
    (240, _MEMBER_HEADER),
    (320, _DSCRPTR_HEADER),
    (400, b"SAS     "),
    (416, b"SASDATA "),
    (560, _NAMESTR_HEADER),
)
_CREATED_LIBRARY, _MODIFIED_LIBRARY, _CREATED_MEMBER, _MODIFIED_MEMBER = 144, 160, 464, 480
_STAMP_OFFSETS = (_CREATED_LIBRARY, _MODIFIED_LIBRARY, _CREATED_MEMBER, _MODIFIED_MEMBER)
_STAMP_LEN = 16
_MEMBER_NAME = slice(408, 416)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_STAMP_RE = re.compile(rb"(\d\d)([A-Z]{3})(\d\d):(\d\d):(\d\d):(\d\d)\Z")
# Two-digit years: 60-99 -> 19yy, 00-59 -> 20yy, the window ReadStat reads with.
_PIVOT = 60

Kind = Literal["char", "num"]


@dataclass(frozen=True)
class XptMeta:
    """What the header of a v5 file says about its one member."""

    name: str
    label: str
    column_labels: dict[str, str]
    char_lengths: dict[str, int]  # character variables only, in column order
    display_formats: dict[str, str]  # variables with a format, e.g. {"TRTSDT": "DATE9."}
    created: datetime  # library header "created", naive (no zone is stored)
    modified: datetime  # member header "modified"


@dataclass(frozen=True)
class _Column:
    """A variable as it will be written, holding the frame's data, converted per chunk.

    No full-length copy is made of a column that is already object (text) or
    float64 (numbers): memory beyond the frame stays near one chunk.
    """

    name: str
    kind: Kind
    #: text: object array of str and missing values; numbers: float64 array, or a Series
    #: (integers, nullable types) converted to float64 one chunk at a time
    data: Any
    width: int  # bytes per record: the longest value once trailing blanks are dropped (>= 1)
    #: text only: where the missing values are (written as blanks), as np.packbits of the mask
    missing: np.ndarray | None = None
    codes: np.ndarray | None = None  # numbers only: special missing codes (uint8; 0 = none)
    #: text only, optional (:func:`_coded`): the distinct values as fixed-width bytes, the
    #: last one blank, and each record's position in them (-1: the last)
    table: np.ndarray | None = None
    positions: np.ndarray | None = None
    distinct: np.ndarray | None = None  # the distinct values the table was made from

    def __len__(self) -> int:
        return len(self.data)

    def text(self, start: int, stop: int) -> np.ndarray:
        """Values of records ``start:stop`` as str ("" for missing; trailing blanks kept)."""
        part, mask = self.text_and_missing(start, stop)
        if mask is not None:
            part = part.copy()
            part[mask] = ""
        return part

    def text_and_missing(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The frame's values of records ``start:stop`` (no copy) and where the missing
        ones are (None when there are none)."""
        part = self.data[start:stop]
        if self.missing is None:
            return part, None
        first = start // 8
        bits = np.unpackbits(self.missing[first:(stop + 7) // 8])
        mask = bits[start - 8 * first:stop - 8 * first].view(bool)
        return part, (mask if mask.any() else None)

    def numbers(self, start: int, stop: int) -> np.ndarray:
        """Values of records ``start:stop`` as float64 (NaN for any missing value)."""
        if isinstance(self.data, np.ndarray):
            return self.data[start:stop]
        return self.data.iloc[start:stop].to_numpy(dtype="float64", na_value=np.nan)

    def chunk(self, start: int, stop: int) -> object:
        """What :func:`cdisc.formats.xpt_encode.encode_records` takes for these records."""
        if self.kind == "char":
            if self.table is not None and self.positions is not None:
                return self.table[self.positions[start:stop]]
            part, mask = self.text_and_missing(start, stop)
            return part if mask is None else (part, mask)
        values = self.numbers(start, stop)
        return values if self.codes is None else (values, self.codes[start:stop])

    @property
    def values(self) -> np.ndarray:
        """Every value as a reader returns it: str without trailing blanks, or float64."""
        if self.kind == "num":
            return self.numbers(0, len(self))
        text = self.text(0, len(self))
        return pd.Series(text, dtype=object).str.rstrip(" ").to_numpy(dtype=object)

    @property
    def variable_kind(self) -> str:
        return "string" if self.kind == "char" else "double"


# ------------------------------------------------------------------ checks ---


def check_transport(
    df: pd.DataFrame, *, name: str, label: str, column_labels: Mapping[str, str]
) -> list[Problem]:
    """Every breach of the XPT v5 / CDISC transport rules in ``df``, each with its location.

    Dataset name (1-8 upper-case alphanumerics starting with a letter) and label
    (1-40 printable ASCII); variable names (same rule as the dataset name,
    unique); variable labels (present, 1-40 printable ASCII; no label for a
    variable that is not there); character values (ASCII, no control characters,
    at most 200 bytes after trailing blanks are dropped); numeric values (finite,
    within the IBM range, integers exact in a double); types (object columns hold
    text or numbers, not both; all-missing object columns are character).
    """
    return _plan(df, name=name, label=label, column_labels=column_labels, coded=False)[0]


def _plan(
    df: pd.DataFrame, *, name: str, label: str, column_labels: Mapping[str, str],
    coded: bool = True,
) -> tuple[list[Problem], list[_Column]]:
    """Problems, and the columns as they would be written (only those without type problems;
    with ``coded``, text columns coded as :func:`_coded` says)."""
    budget = _TableBudget() if coded else None
    ds = name if isinstance(name, str) else repr(name)
    problems = _name_problems(name, "XPT_DATASET_NAME", "dataset name", dataset=ds)
    problems += _label_problems(label, "XPT_DATASET_LABEL", "dataset label", dataset=ds)

    if df.shape[1] == 0:
        problems.append(_problem("XPT_NO_VARIABLES", "the dataset has no variables", dataset=ds))
    if df.shape[1] > MAX_VARIABLES:
        problems.append(
            _problem(
                "XPT_TOO_MANY_VARIABLES",
                f"{df.shape[1]} variables; a v5 file holds at most {MAX_VARIABLES}",
                dataset=ds,
            )
        )

    columns = list(df.columns)
    duplicated = pd.Index(columns).duplicated()
    names = {str(c) for c in columns}
    for key in column_labels:
        if str(key) not in names:
            problems.append(
                _problem(
                    "XPT_VARIABLE_LABEL_UNKNOWN",
                    "a label is given for a variable the dataset does not have",
                    dataset=ds,
                    field=str(key),
                )
            )

    prepared: list[_Column] = []
    for position, column in enumerate(columns):
        field = str(column)
        problems += _name_problems(
            column, "XPT_VARIABLE_NAME", "variable name", dataset=ds, field=field
        )
        if duplicated[position]:
            problems.append(
                _problem(
                    "XPT_VARIABLE_NAME_DUPLICATE",
                    f"variable {field} appears more than once (column {position + 1})",
                    dataset=ds,
                    field=field,
                )
            )
            continue
        problems += _label_problems(
            column_labels.get(column),
            "XPT_VARIABLE_LABEL",
            "variable label",
            dataset=ds,
            field=field,
        )
        # By position: duplicate names would make df[column] a frame.
        col, col_problems = _prepare_column(df.iloc[:, position], dataset=ds, field=field,
                                            budget=budget)
        problems += col_problems
        if col is not None:
            prepared.append(col)
    return problems, prepared


def _problem(code: str, message: str, **where: Any) -> Problem:
    value = where.get("value")
    if isinstance(value, np.generic):  # numpy scalars -> plain Python for JSON reports
        where["value"] = value.item()
    return Problem(code, message, Location(**where))


def _name_problems(value: object, code: str, what: str, **where: Any) -> list[Problem]:
    if not isinstance(value, str):
        return [_problem(f"{code}_CHARS", f"{what} {value!r} is not text", value=value, **where)]
    out = []
    if len(value) > MAX_NAME:
        out.append(
            _problem(
                f"{code}_LENGTH",
                f"{what} {value!r} has {len(value)} characters; at most {MAX_NAME}",
                value=value,
                **where,
            )
        )
    if not _NAME_RE.match(value):
        out.append(
            _problem(
                f"{code}_CHARS",
                f"{what} {value!r} must be upper-case letters and digits, starting with a letter",
                value=value,
                **where,
            )
        )
    return out


def _label_problems(value: object, code: str, what: str, **where: Any) -> list[Problem]:
    if not isinstance(value, str) or not value.strip():
        return [_problem(f"{code}_MISSING", f"{what} is missing", **where)]
    out = []
    value = value.rstrip(" ")  # trailing blanks are padding in the 40-byte field
    size = len(value.encode("utf-8"))
    if size > MAX_LABEL:
        out.append(
            _problem(
                f"{code}_LENGTH",
                f"{what} is {size} bytes; at most {MAX_LABEL}",
                value=value,
                **where,
            )
        )
    if not _PRINTABLE_RE.match(value):
        out.append(
            _problem(f"{code}_ASCII", f"{what} must be printable ASCII", value=value, **where)
        )
    return out


def _record_problems(
    rows: np.ndarray,
    original: pd.Series,
    code: str,
    describe: Callable[[Any], str],
    *,
    dataset: str,
    field: str,
) -> list[Problem]:
    """One problem per offending record (the only per-record Python loop), capped.

    ``rows``: a boolean mask over the records, or the 0-based offending records.
    """
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    out = [
        _problem(
            code,
            describe(original.iat[i]),
            dataset=dataset,
            field=field,
            record=int(i) + 1,
            value=original.iat[i],
        )
        for i in rows[:MAX_REPORTED_RECORDS]
    ]
    if len(rows) > MAX_REPORTED_RECORDS:
        out.append(
            _problem(
                code,
                f"and {len(rows) - MAX_REPORTED_RECORDS} more records with the same problem",
                dataset=dataset,
                field=field,
            )
        )
    return out


def _prepare_column(
    s: pd.Series, *, dataset: str, field: str, budget: _TableBudget | None = None
) -> tuple[_Column | None, list[Problem]]:
    """Decide character or numeric from the dtype (and, for object columns, the values)."""
    where = {"dataset": dataset, "field": field}
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)  # the categories are what the user sees; codes mean nothing in SAS
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return None, [
            _problem(
                "XPT_VARIABLE_TYPE",
                "boolean column; XPT has only character and numeric variables "
                "(map it to 'Y'/'' or 1/0)",
                **where,
            )
        ]
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return _numeric(s, dataset=dataset, field=field)
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        inferred = infer_dtype(s, skipna=True)  # one C pass over the column
        if inferred in ("string", "empty"):
            # 'empty' = every value missing: character, width 1, as xportr does.
            return _character(s, dataset=dataset, field=field, budget=budget)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return _numeric(s, dataset=dataset, field=field)
        if inferred in ("mixed", "mixed-integer"):
            return _mixed(s, dataset=dataset, field=field, budget=budget)
        return None, [
            _problem(
                "XPT_VARIABLE_TYPE",
                f"holds {inferred} values; XPT stores only text and numbers",
                **where,
            )
        ]
    hint = (
        "; dates must be SAS date numbers (days since 1960-01-01) with a format such as DATE9."
        if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)
        else ""
    )
    return None, [
        _problem("XPT_VARIABLE_TYPE", f"dtype {dtype} is neither text nor numeric{hint}", **where)
    ]


#: rows checked at a time, so the temporary strings of a check stay small
_SLICE = 1 << 16
_NO_ROWS = np.zeros(0, dtype=np.int64)


class _TableBudget:
    """Bytes a plan may spend on coded text columns (see :func:`_coded`), whatever the
    number of rows: the encoder's memory stays bounded beyond the frame."""

    def __init__(self) -> None:
        self.left = CODED_BYTES

    def spend(self, cost: int) -> bool:
        if cost > self.left:
            return False
        self.left -= cost
        return True


def _character(s: pd.Series, *, dataset: str, field: str,
               budget: _TableBudget | None = None) -> tuple[_Column | None, list[Problem]]:
    """Check a text column's distinct values slice by slice; its width is the longest
    value without trailing blanks (SAS pads with blanks, so they neither count nor
    survive a read).

    A column repeats its values, so each distinct text is checked once and the
    offending ones are mapped back to their records."""
    values = s.to_numpy(dtype=object)  # the frame's own array when the column is object
    codes, distinct, holds = text_codes(values)  # missing values (None, NaN, pd.NA): -1
    if not holds:
        # a hash that took two values for one (pandas' own factorize does so past a NUL):
        # every record is then checked, coded and verified as its own value
        present = codes >= 0
        distinct = values[present]
        codes = np.full(len(values), -1, dtype=np.intp)
        codes[present] = np.arange(len(distinct))
    width = 0
    found: dict[str, list[np.ndarray]] = {"ascii": [], "control": [], "long": []}
    for start in range(0, len(distinct), _SLICE):
        part = distinct[start:start + _SLICE]
        joined = "".join(part)
        if joined.isascii():  # O(1) on a str: the common case, no per-value Python
            part_width, control, long_ = _ascii_slice(part, joined)
            non_ascii = _NO_ROWS
        else:
            part_width, non_ascii, control, long_ = _text_slice(part)
        width = max(width, part_width)
        for key, rows in (("ascii", non_ascii), ("control", control), ("long", long_)):
            if len(rows):
                found[key].append(rows + start)

    def rows_of(key: str) -> np.ndarray:
        if not found[key]:
            return _NO_ROWS
        flagged = np.zeros(len(distinct) + 1, dtype=bool)  # the last: missing (code -1)
        flagged[np.concatenate(found[key])] = True
        return np.flatnonzero(flagged[codes])

    where = {"dataset": dataset, "field": field}
    problems = _record_problems(rows_of("ascii"), s, "XPT_VALUE_ASCII", _describe_non_ascii,
                                **where)
    # Control characters: ReadStat truncates at NUL and readers strip trailing
    # tabs/newlines, so such values do not round-trip (and CDISC rules flag them).
    problems += _record_problems(rows_of("control"), s, "XPT_VALUE_CONTROL", _describe_control,
                                 **where)
    problems += _record_problems(
        rows_of("long"),
        s,
        "XPT_VALUE_LENGTH",
        lambda v: (
            f"value is {len(str(v).rstrip(' ').encode('utf-8'))} bytes; "
            f"XPT v5 holds at most {MAX_CHAR}"
        ),
        **where,
    )
    absent = codes < 0
    missing = np.packbits(absent) if absent.any() else None  # one bit per record
    width = max(1, width)
    table, positions = (None, None) if problems else _coded(
        codes, distinct, width, budget, held=holds and known_codes(values) is not None)
    return _Column(field, "char", values, width, missing, table=table, positions=positions,
                   distinct=distinct if table is not None else None), problems


def _coded(codes: np.ndarray, distinct: np.ndarray, width: int,
           budget: _TableBudget | None, *, held: bool = False
           ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The distinct texts as fixed-width bytes (the last one blank, for missing values)
    and each record's position in them, when the column repeats its values and the
    plan's budget allows: the encoder then copies bytes instead of converting a str
    object per record (five times faster).

    The positions are the codes themselves (code -1 picks the last, blank, entry). Codes
    the run holds anyway (``held``: shared in :func:`cdisc.model.text.codes_shared`) cost
    the plan nothing, so that a column of millions of records is coded whatever the
    number of its neighbours; others are held by the plan and charged to its budget."""
    rows = len(codes)
    if budget is None or not rows or 2 * len(distinct) > rows:
        return None, None
    size = len(distinct) + 1
    if not budget.spend((0 if held else codes.nbytes) + size * width):
        return None, None
    table = np.empty(size, dtype=f"S{width}")
    table[:-1] = distinct  # a value's blanks beyond the width are dropped, as SAS does
    table[-1] = b""
    return table, codes


def _ascii_slice(part: np.ndarray, joined: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Width, control-character rows and over-long rows of ASCII text (characters = bytes)."""
    raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    lengths = np.fromiter(map(len, part), dtype=np.int64, count=len(part))
    ends = np.cumsum(lengths)
    control = _NO_ROWS
    if len(raw) and (raw.min() < 0x20 or raw.max() == 0x7F):  # two reductions, no temporaries
        bad = np.flatnonzero((raw < 0x20) | (raw == 0x7F))
        control = np.unique(np.searchsorted(ends, bad, side="right"))
    filled = np.flatnonzero(lengths)
    trailing = filled[raw[ends[filled] - 1] == 0x20]  # values ending in a blank
    if len(trailing):
        lengths[trailing] = [len(v.rstrip(" ")) for v in part[trailing]]
    width = int(lengths.max()) if len(lengths) else 0
    return width, control, np.flatnonzero(lengths > MAX_CHAR)


def _text_slice(part: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Width, non-ASCII, control and over-long rows of text with non-ASCII in it (refused
    anyway, so per-value string methods are fine here)."""
    text = pd.Series(part, dtype=object).str.rstrip(" ")
    non_ascii = np.flatnonzero(text.str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool))
    control = np.flatnonzero(text.str.contains(CONTROL, regex=True).to_numpy(dtype=bool))
    nbytes = text.str.encode("utf-8").str.len().to_numpy(dtype=np.int64)
    width = int(nbytes.max()) if len(nbytes) else 0
    return width, non_ascii, control, np.flatnonzero(nbytes > MAX_CHAR)


def _describe_non_ascii(value: object) -> str:
    text = str(value)
    pos, char = next((i, c) for i, c in enumerate(text) if ord(c) > 0x7F)
    return f"value is not ASCII: U+{ord(char):04X} {char!r} at character {pos + 1}"


def _describe_control(value: object) -> str:
    text = str(value)
    pos, char = next((i, c) for i, c in enumerate(text) if ord(c) < 0x20 or ord(c) == 0x7F)
    return f"value holds control character {char!r} at character {pos + 1}"


def _numeric(s: pd.Series, *, dataset: str, field: str,
             codes: np.ndarray | None = None) -> tuple[_Column | None, list[Problem]]:
    if pd.api.types.is_object_dtype(s.dtype):
        s = pd.to_numeric(s)  # object column of numbers (e.g. Decimal, None) -> float
    if s.dtype == np.float64:
        data: Any = s.to_numpy()  # the frame's own array, no copy
    else:
        data = s.reset_index(drop=True)  # converted one chunk at a time
    column = _Column(field, "num", data, 8, codes=codes)
    integer = pd.api.types.is_integer_dtype(s.dtype)
    unsigned = pd.api.types.is_unsigned_integer_dtype(s.dtype)
    out_of_range, inexact = [], []
    for start in range(0, len(s), _SLICE):
        stop = min(len(s), start + _SLICE)
        values = column.numbers(start, stop)
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(values) & ~(np.abs(values) < XPT_NUM_LIMIT)  # inf included
        if bad.any():
            out_of_range.append(np.flatnonzero(bad) + start)
        if integer:
            part = s.iloc[start:stop]
            if unsigned:
                ints = part.to_numpy(dtype=np.uint64, na_value=0)
                wide = ints > _EXACT_INT
            else:
                ints = part.to_numpy(dtype=np.int64, na_value=0)
                wide = (ints > _EXACT_INT) | (ints < -_EXACT_INT)
            if wide.any():
                inexact.append(np.flatnonzero(wide) + start)
    where = {"dataset": dataset, "field": field}
    problems = _record_problems(
        np.concatenate(out_of_range) if out_of_range else _NO_ROWS,
        s,
        "XPT_NUM_RANGE",
        lambda v: f"{v!r} cannot be stored: XPT numbers must be finite and below 2**249 in size",
        **where,
    )
    problems += _record_problems(
        np.concatenate(inexact) if inexact else _NO_ROWS,
        s,
        "XPT_NUM_INEXACT",
        lambda v: f"integer {v} exceeds 2**53 and would be rounded when stored as a double",
        **where,
    )
    return column, problems


def _value_kind(value: object) -> str:
    if isinstance(value, str):
        return "blank" if not value.strip() else "text"
    if isinstance(value, SpecialMissing):
        return "special"
    if isinstance(value, (bool, np.bool_)):
        return "other"
    if isinstance(value, (Number, Decimal)) and not isinstance(value, complex):
        return "number"
    return "other"


def _mixed(s: pd.Series, *, dataset: str, field: str,
           budget: _TableBudget | None = None) -> tuple[_Column | None, list[Problem]]:
    """An object column with more than one kind of value.

    Only reached for columns infer_dtype already found mixed, so classifying each
    value in Python here costs nothing on clean data. Blank strings count as
    missing; the minority of text vs numbers is reported (a stray number in a
    text column, or stray text in a numeric one); other objects always are.
    SAS special missing values (:data:`SPECIAL_MISSING`) count as numbers.
    """
    present = s.notna().to_numpy()
    kinds = np.full(len(s), "missing", dtype=object)
    kinds[present] = s[present].map(_value_kind).to_numpy(dtype=object)
    text, other = (kinds == "text"), (kinds == "other")
    special = kinds == "special"
    number = (kinds == "number") | special
    where = {"dataset": dataset, "field": field}
    problems = _record_problems(
        other,
        s,
        "XPT_VARIABLE_TYPE",
        lambda v: f"{type(v).__name__} value; XPT stores only text and numbers",
        **where,
    )
    if text.any() and number.any():
        if number.sum() >= text.sum():
            problems += _record_problems(
                text,
                s,
                "XPT_VARIABLE_TYPE",
                lambda v: "text in a numeric variable (the column is mostly numbers)",
                **where,
            )
        else:
            problems += _record_problems(
                number,
                s,
                "XPT_VARIABLE_TYPE",
                lambda v: (
                    "number in a character variable (the column is mostly text); store it as text"
                ),
                **where,
            )
    if problems:
        return None, problems
    if text.any():  # text with missing values pandas infers as mixed (e.g. NaT)
        return _character(s, dataset=dataset, field=field, budget=budget)
    # Numbers with blank strings: a numeric column whose blanks are missing.
    codes = None
    if special.any():
        codes = np.zeros(len(s), dtype=np.uint8)
        codes[special] = [ord(v.code) for v in s[special]]
    return _numeric(s.where(kinds == "number"), dataset=dataset, field=field, codes=codes)


def _format_problems(
    formats: Mapping[str, str], kinds: Mapping[str, Kind], present: set[str], dataset: str
) -> tuple[dict[str, str], list[Problem]]:
    """Validate display formats; return them in the canonical form ReadStat parses.

    ``kinds`` holds the variables that passed the type checks, ``present`` all of them.
    """
    canonical: dict[str, str] = {}
    problems: list[Problem] = []
    for variable, fmt in formats.items():
        where = {"dataset": dataset, "field": str(variable), "value": fmt}
        if variable not in present:
            problems.append(
                _problem("XPT_FORMAT_VARIABLE", "format for a variable not in the dataset", **where)
            )
            continue
        if variable not in kinds:
            continue  # its type problem is already reported
        match = _FORMAT_RE.match(fmt.strip().upper()) if isinstance(fmt, str) else None
        if match is None or not (match["name"] or match["w"]):
            problems.append(
                _problem(
                    "XPT_FORMAT",
                    "not a SAS format such as DATE9., 8.2, BEST12. or $CHAR20.",
                    **where,
                )
            )
            continue
        prefix = match["dollar"] + (match["name"] or "")
        if len(prefix) > MAX_NAME:
            problems.append(
                _problem("XPT_FORMAT", f"format name longer than {MAX_NAME} characters", **where)
            )
            continue
        if bool(match["dollar"]) != (kinds[variable] == "char"):
            problems.append(
                _problem(
                    "XPT_FORMAT",
                    "character formats start with $ and go on character variables only",
                    **where,
                )
            )
            continue
        decimals = int(match["d"] or 0)
        canonical[variable] = f"{prefix}{match['w']}." + (str(decimals) if decimals else "")
    return canonical, problems


# ------------------------------------------------------------- timestamps ---


def _naive(moment: datetime) -> datetime:
    # SAS stores no zone; an aware time is written as UTC (SOURCE_DATE_EPOCH is UTC).
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _sas_stamp(moment: datetime) -> bytes:
    # Built by hand: strftime('%b') follows the locale, SAS wants English capitals.
    m = _naive(moment)
    text = (
        f"{m.day:02d}{_MONTHS[m.month - 1]}{m.year % 100:02d}:"
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    )
    return text.encode("ascii")


def _parse_stamp(raw: bytes) -> datetime | None:
    match = _STAMP_RE.match(raw)
    if match is None or match[2].decode() not in _MONTHS:
        return None
    day, month, yy, hh, mm, ss = match.groups()
    year = int(yy) + (1900 if int(yy) >= _PIVOT else 2000)
    try:
        return datetime(
            year, _MONTHS.index(month.decode()) + 1, int(day), int(hh), int(mm), int(ss)
        )
    except ValueError:
        return None


def _created_problems(created: object, dataset: str) -> list[Problem]:
    if not isinstance(created, datetime):
        return [
            _problem("XPT_CREATED", f"created must be a datetime, not {created!r}", dataset=dataset)
        ]
    year = _naive(created).year
    if not 1900 + _PIVOT <= year < 2000 + _PIVOT:
        # Two-digit years: anything outside the window would read back as another century.
        return [
            _problem(
                "XPT_CREATED",
                f"created year {year} is outside {1900 + _PIVOT}-{1999 + _PIVOT}, "
                "the range a two-digit XPT year reads back as",
                dataset=dataset,
                value=created.isoformat(),
            )
        ]
    return []


def _layout_problem(head: bytes) -> str | None:
    """Why ``head`` is not the single-member v5 header we patch, or None."""
    if len(head) < _HEADER_LEN:
        return f"file is {len(head)} bytes, shorter than a v5 header ({_HEADER_LEN})"
    if head.startswith(_LIBV8_HEADER):
        return "file is SAS XPORT version 8 (LIBV8), not version 5"
    for offset, expected in _FIXED_FIELDS:
        if head[offset : offset + len(expected)] != expected:
            return f"bytes {offset}-{offset + len(expected) - 1} are not {expected!r}"
    for offset in _STAMP_OFFSETS:
        if _parse_stamp(head[offset : offset + _STAMP_LEN]) is None:
            return f"bytes {offset}-{offset + _STAMP_LEN - 1} are not a ddMONyy:hh:mm:ss datetime"
    return None


# ------------------------------------------------------------------ write ---

#: what ``write_xpt(verify=...)`` accepts (see the module docstring)
VERIFY_MODES = ("fast", "full")
Verify = Literal["fast", "full"]


@dataclass(frozen=True)
class XptPlan:
    """A frame checked and laid out for writing: what :func:`encode_xpt` encodes and
    :func:`verify_xpt` compares the file with."""

    name: str
    label: str  # without trailing blanks (the field is blank-padded)
    columns: list[_Column]
    variables: list[enc.Variable]
    stamp: bytes  # the 16-byte header datetime

    @property
    def records(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @property
    def record_length(self) -> int:
        return sum(v.length for v in self.variables)

    @property
    def formats(self) -> dict[str, str]:
        return {v.name: v.format for v in self.variables if v.format}


def prepare_xpt(
    df: pd.DataFrame,
    *,
    name: str,
    label: str,
    column_labels: Mapping[str, str],
    created: datetime,
    display_formats: Mapping[str, str] | None = None,
) -> XptPlan:
    """Check ``df`` (every problem at once, as :class:`OutputError`) and lay it out."""
    problems, columns = _plan(df, name=name, label=label, column_labels=column_labels)
    kinds = {c.name: c.kind for c in columns}
    present = {str(c) for c in df.columns}
    formats, format_problems = _format_problems(display_formats or {}, kinds, present, name)
    problems += format_problems + _created_problems(created, name)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise OutputError(errors)
    # Labels are blank-padded fields, so trailing blanks cannot survive a read.
    variables = [
        enc.Variable(c.name, column_labels[c.name].rstrip(" "), c.kind, c.width,
                     formats.get(c.name, ""))
        for c in columns
    ]
    return XptPlan(name, label.rstrip(" "), columns, variables, _sas_stamp(created))


def encode_xpt(plan: XptPlan, fh: BinaryIO) -> int:
    """Write the file of ``plan`` to ``fh`` (not synced); the number of records encoded."""
    rows = enc.rows_per_chunk(plan.record_length)
    total = plan.records

    def chunks() -> Iterator[list[object]]:
        for start in range(0, total, rows):
            stop = min(total, start + rows)
            yield [c.chunk(start, stop) for c in plan.columns]

    records, _ = enc.write_members(fh, name=plan.name, label=plan.label,
                                   variables=plan.variables, stamp=plan.stamp, chunks=chunks())
    return records


def write_xpt(
    df: pd.DataFrame,
    path: Path,
    *,
    name: str,
    label: str,
    column_labels: Mapping[str, str],
    created: datetime,
    display_formats: Mapping[str, str] | None = None,
    verify: Verify = "fast",
) -> None:
    """Write ``df`` as a single-member SAS XPORT v5 file, atomically and reproducibly.

    Raises :class:`OutputError` with every problem (see :func:`check_transport`,
    plus bad ``display_formats`` or ``created``) before anything is written, and
    with the differences found if the file does not verify (``verify``: see the
    module docstring). On any failure ``path`` is left as it was and no
    temporary file remains.
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}, not {verify!r}")
    path = Path(path)
    plan = prepare_xpt(df, name=name, label=label, column_labels=column_labels,
                       created=created, display_formats=display_formats)
    tmp = _new_temp(path, dataset=name)
    try:
        with tmp.open("r+b") as fh:
            records = encode_xpt(plan, fh)
            fh.flush()
            if not deferred():  # else synced with the run's other files before publishing
                os.fsync(fh.fileno())  # the rename must never publish a file not yet on disk
        verify_xpt(tmp, plan, records, mode=verify, target=path)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OutputError) or not isinstance(exc, Exception):
            raise  # our own report, or KeyboardInterrupt & co.
        raise OutputError.single(
            "XPT_WRITE_FAILED",
            f"writing failed: {type(exc).__name__}: {exc}",
            file=str(path),
            dataset=name,
        ) from exc
    made_durable(path)


def _new_temp(path: Path, *, dataset: str) -> Path:
    """Create an empty, uniquely named file beside ``path``.

    Same folder so os.replace is an atomic rename on one file system; created
    with O_EXCL so no other writer shares it, and mode 0o666 so the umask --
    not a temp-file default of 0o600 -- decides the final permissions.
    """
    for _ in range(5):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError.single(
                "XPT_WRITE_FAILED",
                f"cannot create a file in {path.parent}: {exc.strerror or exc}",
                file=str(path),
                dataset=dataset,
            ) from exc
        os.close(fd)
        return tmp
    raise OutputError.single(
        "XPT_WRITE_FAILED", "no free temporary file name", file=str(path), dataset=dataset
    )


# ----------------------------------------------------------------- verify ---


def verify_xpt(path: Path, plan: XptPlan, records: int, *, mode: Verify = "fast",
               target: Path | None = None) -> None:
    """Raise :class:`OutputError` with every difference between the file at ``path`` and
    ``plan`` (``records``: how many the encoder wrote). ``target`` names the file in
    messages (default ``path``)."""
    where = {"file": str(target or path), "dataset": plan.name}
    problems = _verify_decoded(Path(path), plan, records, where)
    if not problems and mode == "full":
        problems = _verify_readers(Path(path), plan, where)
    if problems:
        raise OutputError(problems)


def _verify_decoded(path: Path, plan: XptPlan, records: int,
                    where: Mapping[str, Any]) -> list[Problem]:
    """The independent decoder's view: header, record count, every value."""
    problems: list[Problem] = []

    def fail(code: str, message: str, **more: Any) -> None:
        problems.append(_problem(code, message, **{**where, **more}))

    with path.open("rb") as fh:
        try:
            layout = dec.read_head(fh)
        except dec.LayoutError as exc:
            return [_problem("XPT_VERIFY_HEADER", f"unreadable header: {exc}", **where)]
        stamps = (layout.library_created, layout.library_modified, layout.member_created,
                  layout.member_modified)
        for offset, stamp in zip(_STAMP_OFFSETS, stamps, strict=True):
            if stamp != plan.stamp:
                fail("XPT_VERIFY_HEADER", f"datetime at byte {offset} is not {plan.stamp.decode()}")
        if layout.name != plan.name:
            fail("XPT_VERIFY_HEADER", f"dataset name reads {layout.name!r}")
        if layout.label != plan.label:
            fail("XPT_VERIFY_HEADER", f"dataset label reads {layout.label!r}")
        names = [f.name for f in layout.fields]
        if names != [v.name for v in plan.variables]:
            fail("XPT_VERIFY_COLUMNS", f"the file holds variables {names}")
            return problems
        position = 0
        for number, (field, variable) in enumerate(zip(layout.fields, plan.variables,
                                                       strict=True), start=1):
            at = {"field": variable.name}
            if field.label != variable.label:
                fail("XPT_VERIFY_LABEL", f"label reads {field.label!r}, not {variable.label!r}",
                     **at)
            if field.kind != variable.kind:
                fail("XPT_VERIFY_TYPE", f"stored as {field.kind}", **at)
            if field.length != variable.length:
                fail("XPT_VERIFY_LENGTH", f"length {field.length}, expected {variable.length}",
                     **at)
            if field.format != variable.format:
                fail("XPT_VERIFY_FORMAT",
                     f"format reads {field.format!r}, not {variable.format!r}", **at)
            if (field.position, field.number) != (position, number):
                fail("XPT_VERIFY_HEADER", f"variable {number} is at byte {field.position} "
                     f"as number {field.number}, expected byte {position}", **at)
            position += variable.length
        if problems:
            return problems

        expected = plan.records
        size = os.fstat(fh.fileno()).st_size
        fh.seek(layout.data_offset + expected * plan.record_length)
        tail = fh.read(dec.CARD)
        if records != expected:
            fail("XPT_VERIFY_ROWS", f"{records} records encoded, the frame has {expected}")
        elif (why := dec.data_problem(layout, size, expected, tail)) is not None:
            fail("XPT_VERIFY_ROWS", f"{expected} records written, but {why}")
        if problems:
            return problems

        bad: dict[int, list[np.ndarray]] = {}
        got: dict[int, list[object]] = {}
        # a coded column: each distinct value's bytes made once, from the frame's values
        # (not from the encoder's table), and each record compared with those of its value
        wanted = {index: _padded(np.append(column.distinct, ""), column.width)
                  for index, column in enumerate(plan.columns)
                  if column.distinct is not None and column.positions is not None}
        # a value wider than its column (a byte beyond the width not blank) is never stored
        # whole: each record holding it differs
        too_wide = {index: table[:, layout.fields[index].length] != 0x20
                    for index, table in wanted.items()}
        rows = enc.rows_per_chunk(plan.record_length)
        for start, block in dec.iter_records(fh, layout, expected, rows):
            stop = start + len(block)
            # the coded columns of a chunk at once: the records with each one's expected
            # bytes put in are the records read, byte for byte (one comparison, not one
            # per column); where they are not, each column is compared to find the records
            coded_same = bool(wanted) and _coded_columns_hold(block, wanted, plan, layout,
                                                              start, stop)
            for index, (column, field) in enumerate(zip(plan.columns, layout.fields,
                                                        strict=True)):
                raw = block[:, field.position:field.position + field.length]
                if column.kind == "num":
                    mismatch = _numbers_differ(raw, column, start, stop)
                elif index in wanted:
                    assert column.positions is not None
                    positions = column.positions[start:stop]
                    if coded_same:
                        mismatch = too_wide[index][positions]
                    else:
                        expected = wanted[index][positions]
                        mismatch = ((expected[:, :field.length] != raw).any(axis=1)
                                    | (expected[:, field.length] != 0x20))
                else:
                    mismatch = _text_differs(raw, *column.text_and_missing(start, stop),
                                             field.length)
                if mismatch.any():
                    rows_bad = np.flatnonzero(mismatch)
                    bad.setdefault(index, []).append(rows_bad + start)
                    if len(got.get(index, ())) < MAX_REPORTED_RECORDS:
                        got.setdefault(index, []).extend(
                            _decoded(raw[rows_bad[:MAX_REPORTED_RECORDS]], column.kind))
    for index, parts in bad.items():
        problems += _value_problems(plan.columns[index], np.concatenate(parts), got[index],
                                    "the decoder", where)
    return problems


def _coded_columns_hold(block: np.ndarray, wanted: Mapping[int, np.ndarray], plan: XptPlan,
                        layout: dec.Layout, start: int, stop: int) -> bool:
    """Whether records ``start:stop`` (``block``, as read) hold, in every coded text
    column, the bytes of their values (``wanted``: each column's distinct values'
    bytes, made from the frame)."""
    mirror = block.copy()
    for index, table in wanted.items():
        field, positions = layout.fields[index], plan.columns[index].positions
        assert positions is not None
        mirror[:, field.position:field.position + field.length] = table[
            positions[start:stop], :field.length]
    return mirror.tobytes() == block.tobytes()


def _numbers_differ(raw: np.ndarray, column: _Column, start: int, stop: int) -> np.ndarray:
    values, codes = dec.decode_numbers(raw)
    mismatch = ~_numbers_match(values, column.numbers(start, stop))
    expected_codes = column.codes[start:stop] if column.codes is not None else 0
    return mismatch | (codes != expected_codes)


def _text_differs(raw: np.ndarray, text: np.ndarray, missing: np.ndarray | None,
                  width: int) -> np.ndarray:
    """Records whose stored bytes are not the value blank-padded to ``width`` (blanks where
    ``missing``); one byte more is converted so that a value longer than the field shows up.
    """
    wanted = _padded(text, width, missing)
    return (wanted[:, :width] != raw).any(axis=1) | (wanted[:, width] != 0x20)


def _padded(text: np.ndarray, width: int, missing: np.ndarray | None = None) -> np.ndarray:
    """Each value's bytes blank-padded to ``width`` + 1 (blanks where ``missing``), as a
    (values, width + 1) uint8 matrix."""
    wanted = np.asarray(text, dtype=f"S{width + 1}").view(np.uint8).reshape(-1, width + 1)
    if missing is not None:
        wanted[missing] = 0
    # NUL padding -> blanks (text has no byte below a blank); a row of blanks, not a scalar:
    # numpy's uint8 maximum with a scalar is ten times slower
    np.maximum(wanted, np.full(width + 1, 0x20, dtype=np.uint8), out=wanted)
    return wanted


def _decoded(raw: np.ndarray, kind: Kind) -> list[object]:
    if kind == "num":
        values, codes = dec.decode_numbers(raw)
        return [f".{chr(c)}" if c else v for v, c in zip(values.tolist(), codes.tolist(),
                                                          strict=True)]
    return list(dec.decode_text(raw))


def _value_problems(column: _Column, rows: np.ndarray, read: list[object], reader: str,
                    where: Mapping[str, Any]) -> list[Problem]:
    out = [
        _problem(
            "XPT_VERIFY_VALUE",
            f"{reader} reads back {value!r}",
            field=column.name,
            record=int(i) + 1,
            value=_expected_value(column, int(i)),
            **where,
        )
        for i, value in zip(rows[:MAX_REPORTED_RECORDS], read, strict=False)
    ]
    if len(rows) > MAX_REPORTED_RECORDS:
        out.append(
            _problem(
                "XPT_VERIFY_VALUE",
                f"and {len(rows) - MAX_REPORTED_RECORDS} more records differ ({reader})",
                field=column.name,
                **where,
            )
        )
    return out


def _expected_value(column: _Column, row: int) -> object:
    if column.kind == "char":
        return str(column.text(row, row + 1)[0]).rstrip(" ")
    if column.codes is not None and column.codes[row]:
        return f".{chr(column.codes[row])}"
    return column.numbers(row, row + 1)[0]


def _read_with_pandas(path: Path) -> pd.DataFrame:
    """The independent reader: pandas' own XPORT parser, not ReadStat.

    Through the iterator because ``read_sas`` raises StopIteration on a file
    with no records.
    """
    with pd.read_sas(path, format="xport", encoding="ascii", iterator=True) as reader:
        if reader.nobs == 0:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in reader.columns})
        return reader.read()


def _verify_readers(path: Path, plan: XptPlan, where: Mapping[str, Any]) -> list[Problem]:
    """pyreadstat's and pandas' view of the whole file (``verify="full"``)."""
    problems: list[Problem] = []

    def fail(code: str, message: str, **more: Any) -> None:
        problems.append(_problem(code, message, **{**where, **more}))

    columns = plan.columns
    names = [c.name for c in columns]
    import pyreadstat  # only the full verification and reading need it (~50 ms to import)

    # A full read: with metadataonly=True ReadStat does not count XPT records.
    rs_df, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    if meta.table_name != plan.name:
        fail("XPT_VERIFY_HEADER", f"dataset name reads {meta.table_name!r}")
    if (meta.file_label or "") != plan.label:
        fail("XPT_VERIFY_HEADER", f"dataset label reads {meta.file_label!r}")
    if list(meta.column_names) != names:
        fail("XPT_VERIFY_COLUMNS", f"pyreadstat reads variables {list(meta.column_names)}")
    else:
        for col, variable, read_label in zip(columns, plan.variables, meta.column_labels,
                                             strict=True):
            if (read_label or "") != variable.label:
                fail("XPT_VERIFY_LABEL", f"label reads {read_label!r}, not {variable.label!r}",
                     field=col.name)
            read_type = meta.readstat_variable_types[col.name]
            if read_type != col.variable_kind:
                fail("XPT_VERIFY_TYPE", f"stored as {read_type}", field=col.name)
            width = meta.variable_storage_width[col.name]
            if width != variable.length:
                fail("XPT_VERIFY_LENGTH", f"length {width}, expected {variable.length}",
                     field=col.name)
            read_format = meta.original_variable_types.get(col.name)
            expected = variable.format.removesuffix(".") if variable.format else None
            if read_format != expected:
                fail("XPT_VERIFY_FORMAT", f"format reads {read_format!r}, not {expected!r}",
                     field=col.name)

    got = _read_with_pandas(path)
    if list(got.columns) != names:
        fail("XPT_VERIFY_COLUMNS", f"pandas reads variables {list(got.columns)}")
        return problems
    counts = _reader_counts(path, plan)
    for reader, frame in (("pandas", got), ("pyreadstat", rs_df)):
        if list(frame.columns) != names:
            continue
        count = len(frame)
        if count not in (plan.records, counts[reader]):
            fail("XPT_VERIFY_ROWS", f"{plan.records} records written, {reader} reads {count}")
            continue
        # A count explained by the reader's own rule (v5 stores none): compare what it read.
        shared = min(count, plan.records)
        for col in columns:
            problems += _compare_column(col, frame[col.name].iloc[:shared], reader, where,
                                        shared)
    return problems


_BLANK_WORD = np.frombuffer(b" " * 8, dtype=np.uint64)[0]


def _reader_counts(path: Path, plan: XptPlan) -> dict[str, int]:
    """The number of records each reader takes from this file by its own counting rule.

    v5 stores no record count. ReadStat reads every whole record and drops the
    trailing all-blank ones; pandas (records of at most 80 bytes) takes the data
    length less 8 bytes for every all-blank 8-byte word of the last 80 bytes,
    wherever in the card it is. Either differs from the count written when the
    last records are (partly) blank -- a valid file all the same.
    """
    length = plan.record_length
    with path.open("rb") as fh:
        layout = dec.read_head(fh)
        fh.seek(layout.data_offset)
        data = fh.read()
    whole = len(data) // length if length else 0
    readstat = whole
    while readstat and not data[(readstat - 1) * length:readstat * length].strip(b" "):
        readstat -= 1
    if length > dec.CARD or not data:
        pandas_count = whole
    else:
        words = np.frombuffer(data[-dec.CARD:], dtype=np.uint64)
        pandas_count = (len(data) - 8 * int((words == _BLANK_WORD).sum())) // length
    return {"pandas": pandas_count, "pyreadstat": readstat}


def _numbers_match(read: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Element-wise: the same number, or both missing, or both "zero" to XPT.

    IEEE -> IBM is exact for 16**-65 <= |x| < 2**249, so no relative tolerance.
    Below 16**-65 the stored value is 0, which pandas decodes as 16**-65: any two
    magnitudes up to that are the same stored zero.
    """
    with np.errstate(invalid="ignore"):
        same = read == expected
        zero = (np.abs(read) <= IBM_TINY) & (np.abs(expected) < IBM_TINY)
    return same | zero | (np.isnan(read) & np.isnan(expected))


def _compare_column(
    col: _Column, got: pd.Series, reader: str, where: Mapping[str, Any], count: int
) -> list[Problem]:
    expected = col.values[:count]
    if col.kind == "char":
        if not pd.api.types.is_object_dtype(got.dtype):
            return [
                _problem(
                    "XPT_VERIFY_TYPE", f"{reader} reads it as {got.dtype}", field=col.name, **where
                )
            ]
        read = got.to_numpy(dtype=object)
        # pandas drops trailing blanks, as SAS does; the expected values have none either.
        bad = read != expected
    else:
        read = pd.to_numeric(got, errors="coerce").to_numpy(dtype="float64")
        bad = ~_numbers_match(read, expected)
    rows = np.flatnonzero(bad)
    return _value_problems(col, rows, [read[i] for i in rows[:MAX_REPORTED_RECORDS]], reader,
                           where)


# ------------------------------------------------------------------- read ---


def read_xpt(path: Path) -> tuple[pd.DataFrame, XptMeta]:
    """Read a single-member SAS XPORT v5 file.

    Character missing values come back as ""; numeric ones as NaN. Numbers with
    a date format stay SAS day counts (no conversion to datetime), so what
    :func:`write_xpt` takes is what this returns.

    The frame is pyreadstat's: decoded here on whole columns
    (:func:`cdisc.formats.xpt_decode.read_as_readstat`, ~5x faster, each distinct
    text one str object) wherever that gives pyreadstat's frame exactly, else by
    pyreadstat itself (text other than printable ASCII, unusual IBM numbers, ...).
    """
    path = Path(path)
    head = _read_header(path)
    problem = _layout_problem(head)
    if problem is not None:
        raise OutputError.single(
            "XPT_NOT_V5", f"not a SAS XPORT v5 file: {problem}", file=str(path)
        )
    created = _parse_stamp(head[_CREATED_LIBRARY : _CREATED_LIBRARY + _STAMP_LEN])
    modified = _parse_stamp(head[_MODIFIED_MEMBER : _MODIFIED_MEMBER + _STAMP_LEN])
    if created is None or modified is None:  # unreachable: _layout_problem parsed them
        raise OutputError.single("XPT_NOT_V5", "unreadable header datetime", file=str(path))
    try:
        columns, layout = dec.read_as_readstat(path)
    except (dec.LayoutError, OSError, ValueError):
        return _read_with_pyreadstat(path, created, modified)
    return _columns_frame(columns), XptMeta(
        name=layout.name,
        label=layout.label,
        column_labels={f.name: f.label for f in layout.fields},
        char_lengths={f.name: f.length for f in layout.fields if f.kind == "char"},
        display_formats={f.name: f.format for f in layout.fields if f.format},
        created=created,
        modified=modified,
    )


def _columns_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The frame of decoded columns (object text, float64 numbers), in their order.

    The text columns are one 2-D block the frame takes as it is, and each number
    column goes in at its place: ``pd.DataFrame(columns)`` would copy every column
    into blocks of one type, twice the frame's memory while it does.
    """
    names = list(columns)
    rows = len(columns[names[0]]) if names else 0
    text = [name for name in names if columns[name].dtype == object]
    block = np.empty((len(text), rows), dtype=object)
    for row, name in enumerate(text):
        block[row] = columns.pop(name)
    frame = pd.DataFrame(block.T, columns=text, copy=False)
    for position, name in enumerate(names):
        if name in columns:
            frame.insert(position, name, columns.pop(name))
    return frame


def _read_with_pyreadstat(path: Path, created: datetime, modified: datetime
                          ) -> tuple[pd.DataFrame, XptMeta]:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    except Exception as exc:  # ReadStat's own error types vary by version
        raise OutputError.single(
            "XPT_READ_FAILED", f"{type(exc).__name__}: {exc}", file=str(path)
        ) from exc
    names = list(meta.column_names)
    formats = {
        c: (f if "." in f else f + ".")  # SAS writes formats with their period
        for c in names
        if (f := meta.original_variable_types.get(c))
    }
    return df, XptMeta(
        name=meta.table_name or "",
        label=meta.file_label or "",
        column_labels={c: lab or "" for c, lab in zip(names, meta.column_labels, strict=True)},
        char_lengths={
            c: int(meta.variable_storage_width[c])
            for c in names
            if meta.readstat_variable_types[c] == "string"
        },
        display_formats=formats,
        created=created,
        modified=modified,
    )


def _read_header(path: Path) -> bytes:
    """The library and member headers (the first _HEADER_LEN bytes): enough to tell XPT v5."""
    try:
        with path.open("rb") as fh:
            return fh.read(_HEADER_LEN)
    except OSError as exc:
        raise OutputError.single(
            "XPT_READ_FAILED", f"cannot read: {exc.strerror or exc}", file=str(path)
        ) from exc


def read_xpt_created(path: Path) -> datetime:
    """The creation timestamp in the library header of an XPT v5 file, without reading data."""
    path = Path(path)
    head = _read_header(path)
    problem = _layout_problem(head)
    created = None if problem else _parse_stamp(
        head[_CREATED_LIBRARY : _CREATED_LIBRARY + _STAMP_LEN])
    if created is None:
        raise OutputError.single("XPT_NOT_V5", f"not a SAS XPORT v5 file: {problem}",
                                 file=str(path))
    return created
