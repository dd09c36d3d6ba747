"""SAS XPORT version 5 writer and reader, with xportr-style transport checks.

XPT v5 (SAS TS-140) is the format FDA and PMDA accept for SDTM/ADaM datasets.
:func:`write_xpt` delegates the encoding to ``pyreadstat`` (ReadStat) with
``file_format_version=5`` -- its default, 8, writes ``LIBV8`` headers that
``pandas.read_sas`` and CDISC CORE cannot read -- and adds what ReadStat lacks:

* :func:`check_transport` reports *every* breach of the v5/CDISC transport
  rules, each with a location (dataset, variable, 1-based record, value);
* the header timestamps are set to the caller's ``created`` instead of the wall
  clock, so the same frame gives byte-identical files;
* the file is written next to the target, read back with an independent reader
  (``pandas.read_sas``) plus ReadStat's metadata, compared, and only then moved
  onto the target with :func:`os.replace`.

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

The four datetimes are ``ddMONyy:hh:mm:ss`` (16 bytes); ReadStat stamps the
local wall clock into all four, and :func:`write_xpt` overwrites exactly those
slots after checking that the records around them are what is listed above.

Differences between our (ReadStat) files and the SAS-written pilot files:

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
normalisation shift), and 1e5 random doubles from 1e-70 to 1e70 read back
bit-identical through both readers. So the read-back comparison has no relative
tolerance: numbers must be equal, except that magnitudes below ``16**-65``
(~5.4e-79, the smallest IBM value) are all one stored zero -- ReadStat writes
them as 0, and pandas 2.x decodes an IBM zero as ``16**-65`` instead of 0 (it
does so for SAS-written files too), so an absolute tolerance of ``16**-65``
applies there only. At the other end ReadStat saturates from ``2**249``
(~9.05e74, below the IBM maximum ~7.2e75), so larger values are refused.

Known limits: one member per file; SAS special missing values (.A-.Z) are not
written (NaN becomes ``.``); XPT v5 has no record count, so when a record is at
most 80 bytes long, trailing blank fields can be indistinguishable from the blank
fill of the last 80-byte record -- pandas then counts records wrongly and the
write is refused (``XPT_VERIFY_ROWS``) rather than shipping a file that reads
back differently.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from numbers import Number
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyreadstat
from pandas.api.types import infer_dtype

from ..errors import Location, OutputError, Problem, Severity
from ..model.numbers import EXACT_INTEGERS, IBM_TINY, WRITABLE_MAX
from ..model.text import CONTROL, MAX_CHAR, MAX_LABEL, MAX_NAME, NON_ASCII
from .atomic import fsync_dir

__all__ = ["XptMeta", "check_transport", "read_xpt", "write_xpt"]

# --- limits of the format and of the submission rules -------------------------
# Names, labels and the 200-byte value limit are shared rules (cdisc.model.text).
MAX_VARIABLES = 9999  # the NAMESTR header holds the count in 4 digits
# ReadStat's IEEE->IBM conversion saturates from 2**249 on (measured), so larger
# magnitudes would come back as the IBM maximum (or inf through pyreadstat); below
# IBM_TINY a value is stored as zero; integers beyond 2**53 are not exact in a double.
XPT_NUM_LIMIT = WRITABLE_MAX
_EXACT_INT = EXACT_INTEGERS
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
_REC = 80
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
_MEMBER_LABEL = slice(512, 552)
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
    name: str
    kind: Kind
    # What goes to the writer: object array of str ("" = missing, trailing
    # blanks removed) for character, float64 (NaN = missing) for numeric.
    values: np.ndarray


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
    return _plan(df, name=name, label=label, column_labels=column_labels)[0]


def _plan(
    df: pd.DataFrame, *, name: str, label: str, column_labels: Mapping[str, str]
) -> tuple[list[Problem], list[_Column]]:
    """Problems, and the columns as they would be written (only those without type problems)."""
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
        col, col_problems = _prepare_column(df.iloc[:, position], dataset=ds, field=field)
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
    mask: np.ndarray,
    original: pd.Series,
    code: str,
    describe: Callable[[Any], str],
    *,
    dataset: str,
    field: str,
) -> list[Problem]:
    """One problem per offending record (the only per-record Python loop), capped."""
    rows = np.flatnonzero(mask)
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
    s: pd.Series, *, dataset: str, field: str
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
            return _character(s, dataset=dataset, field=field)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return _numeric(s, dataset=dataset, field=field)
        if inferred in ("mixed", "mixed-integer"):
            return _mixed(s, dataset=dataset, field=field)
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


def _character(s: pd.Series, *, dataset: str, field: str) -> tuple[_Column | None, list[Problem]]:
    # Missing -> "" (SAS has no other character missing); trailing blanks are
    # padding in SAS, so they neither count toward the length nor survive a read.
    text = s.astype(object).where(s.notna(), "").astype(str).str.rstrip(" ")
    non_ascii = text.str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool)
    # Control characters: ReadStat truncates at NUL and readers strip trailing
    # tabs/newlines, so such values do not round-trip (and CDISC rules flag them).
    control = text.str.contains(CONTROL, regex=True).to_numpy(dtype=bool)
    nbytes = text.str.len().to_numpy(dtype=np.int64)
    if non_ascii.any():  # characters == bytes for ASCII; encode only the others
        nbytes[non_ascii] = text[non_ascii].str.encode("utf-8").str.len().to_numpy()
    too_long = nbytes > MAX_CHAR

    where = {"dataset": dataset, "field": field}
    problems = _record_problems(non_ascii, s, "XPT_VALUE_ASCII", _describe_non_ascii, **where)
    problems += _record_problems(control, s, "XPT_VALUE_CONTROL", _describe_control, **where)
    problems += _record_problems(
        too_long,
        s,
        "XPT_VALUE_LENGTH",
        lambda v: (
            f"value is {len(str(v).rstrip(' ').encode('utf-8'))} bytes; "
            f"XPT v5 holds at most {MAX_CHAR}"
        ),
        **where,
    )
    return _Column(field, "char", text.to_numpy(dtype=object)), problems


def _describe_non_ascii(value: object) -> str:
    text = str(value)
    pos, char = next((i, c) for i, c in enumerate(text) if ord(c) > 0x7F)
    return f"value is not ASCII: U+{ord(char):04X} {char!r} at character {pos + 1}"


def _describe_control(value: object) -> str:
    text = str(value)
    pos, char = next((i, c) for i, c in enumerate(text) if ord(c) < 0x20 or ord(c) == 0x7F)
    return f"value holds control character {char!r} at character {pos + 1}"


def _numeric(s: pd.Series, *, dataset: str, field: str) -> tuple[_Column | None, list[Problem]]:
    if pd.api.types.is_object_dtype(s.dtype):
        s = pd.to_numeric(s)  # object column of numbers (e.g. Decimal, None) -> float
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    where = {"dataset": dataset, "field": field}
    with np.errstate(invalid="ignore"):
        out_of_range = ~np.isnan(values) & ~(np.abs(values) < XPT_NUM_LIMIT)  # inf included
    problems = _record_problems(
        out_of_range,
        s,
        "XPT_NUM_RANGE",
        lambda v: f"{v!r} cannot be stored: XPT numbers must be finite and below 2**249 in size",
        **where,
    )
    if pd.api.types.is_integer_dtype(s.dtype):
        if pd.api.types.is_unsigned_integer_dtype(s.dtype):
            ints = s.to_numpy(dtype=np.uint64, na_value=0)
            inexact = ints > _EXACT_INT
        else:
            ints = s.to_numpy(dtype=np.int64, na_value=0)
            inexact = (ints > _EXACT_INT) | (ints < -_EXACT_INT)
        problems += _record_problems(
            inexact,
            s,
            "XPT_NUM_INEXACT",
            lambda v: f"integer {v} exceeds 2**53 and would be rounded when stored as a double",
            **where,
        )
    return _Column(field, "num", values), problems


def _value_kind(value: object) -> str:
    if isinstance(value, str):
        return "blank" if not value.strip() else "text"
    if isinstance(value, (bool, np.bool_)):
        return "other"
    if isinstance(value, (Number, Decimal)) and not isinstance(value, complex):
        return "number"
    return "other"


def _mixed(s: pd.Series, *, dataset: str, field: str) -> tuple[_Column | None, list[Problem]]:
    """An object column with more than one kind of value.

    Only reached for columns infer_dtype already found mixed, so classifying each
    value in Python here costs nothing on clean data. Blank strings count as
    missing; the minority of text vs numbers is reported (a stray number in a
    text column, or stray text in a numeric one); other objects always are.
    """
    present = s.notna().to_numpy()
    kinds = np.full(len(s), "missing", dtype=object)
    kinds[present] = s[present].map(_value_kind).to_numpy(dtype=object)
    text, number, other = (kinds == "text"), (kinds == "number"), (kinds == "other")
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
        return _character(s, dataset=dataset, field=field)
    # Numbers with blank strings: a numeric column whose blanks are missing.
    return _numeric(s.where(kinds == "number"), dataset=dataset, field=field)


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


def _stamp_headers(path: Path, stamp: bytes, *, target: Path, dataset: str) -> None:
    """Overwrite the four header datetimes in place, then flush the file to disk."""
    with path.open("r+b") as fh:
        head = fh.read(_HEADER_LEN)
        problem = _layout_problem(head)
        if problem is not None:
            raise OutputError.single(
                "XPT_LAYOUT",
                f"unexpected header from pyreadstat ({problem}); timestamps not set",
                file=str(target),
                dataset=dataset,
            )
        for offset in _STAMP_OFFSETS:
            fh.seek(offset)
            fh.write(stamp)
        fh.flush()
        os.fsync(fh.fileno())  # the rename must never publish a file not yet on disk


# ------------------------------------------------------------------ write ---


def write_xpt(
    df: pd.DataFrame,
    path: Path,
    *,
    name: str,
    label: str,
    column_labels: Mapping[str, str],
    created: datetime,
    display_formats: Mapping[str, str] | None = None,
) -> None:
    """Write ``df`` as a single-member SAS XPORT v5 file, atomically and reproducibly.

    Raises :class:`OutputError` with every problem (see :func:`check_transport`,
    plus bad ``display_formats`` or ``created``) before anything is written, and
    with the differences found if the file does not read back as ``df``. On any
    failure ``path`` is left as it was and no temporary file remains.
    """
    path = Path(path)
    problems, columns = _plan(df, name=name, label=label, column_labels=column_labels)
    kinds = {c.name: c.kind for c in columns}
    present = {str(c) for c in df.columns}
    formats, format_problems = _format_problems(display_formats or {}, kinds, present, name)
    problems += format_problems + _created_problems(created, name)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise OutputError(errors)

    frame = pd.DataFrame({c.name: c.values for c in columns})
    # Labels are blank-padded fields, so trailing blanks cannot survive a read.
    label = label.rstrip(" ")
    labels = [column_labels[c.name].rstrip(" ") for c in columns]
    stamp = _sas_stamp(created)

    tmp = _new_temp(path, dataset=name)
    try:
        pyreadstat.write_xport(
            frame,
            str(tmp),
            file_label=label,
            column_labels=labels,
            table_name=name,
            file_format_version=5,
            variable_format=formats or None,
        )
        _stamp_headers(tmp, stamp, target=path, dataset=name)
        _verify(
            tmp,
            columns,
            name=name,
            label=label,
            labels=labels,
            formats=formats,
            stamp=stamp,
            target=path,
        )
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
    fsync_dir(path.parent)


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


def _read_with_pandas(path: Path) -> pd.DataFrame:
    """The independent reader: pandas' own XPORT parser, not ReadStat.

    Through the iterator because ``read_sas`` raises StopIteration on a file
    with no records.
    """
    with pd.read_sas(path, format="xport", encoding="ascii", iterator=True) as reader:
        if reader.nobs == 0:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in reader.columns})
        return reader.read()


def _verify(
    tmp: Path,
    columns: list[_Column],
    *,
    name: str,
    label: str,
    labels: list[str],
    formats: Mapping[str, str],
    stamp: bytes,
    target: Path,
) -> None:
    where = {"file": str(target), "dataset": name}
    problems: list[Problem] = []

    def fail(code: str, message: str, **more: Any) -> None:
        problems.append(_problem(code, message, **{**where, **more}))

    # 1. The header bytes we set or rely on.
    with tmp.open("rb") as fh:
        head = fh.read(_HEADER_LEN)
    for offset in _STAMP_OFFSETS:
        if head[offset : offset + _STAMP_LEN] != stamp:
            fail("XPT_VERIFY_HEADER", f"datetime at byte {offset} is not {stamp.decode()}")
    if head[_MEMBER_NAME].rstrip(b" ") != name.encode("ascii"):
        fail("XPT_VERIFY_HEADER", f"member name reads {head[_MEMBER_NAME]!r}")
    if head[_MEMBER_LABEL].rstrip(b" ") != label.encode("ascii"):
        fail("XPT_VERIFY_HEADER", f"dataset label reads {head[_MEMBER_LABEL]!r}")

    # 2. ReadStat's view of the metadata (and of the records: it is what read_xpt returns).
    # A full read: with metadataonly=True ReadStat does not count XPT records.
    rs_df, meta = pyreadstat.read_xport(str(tmp), disable_datetime_conversion=True)
    if meta.table_name != name:
        fail("XPT_VERIFY_HEADER", f"dataset name reads {meta.table_name!r}")
    if (meta.file_label or "") != label:
        fail("XPT_VERIFY_HEADER", f"dataset label reads {meta.file_label!r}")
    if list(meta.column_names) != [c.name for c in columns]:
        fail("XPT_VERIFY_COLUMNS", f"pyreadstat reads variables {list(meta.column_names)}")
    else:
        widths = {c.name: _storage_width(c) for c in columns}
        for col, lab, read_label in zip(columns, labels, meta.column_labels, strict=True):
            if (read_label or "") != lab:
                fail("XPT_VERIFY_LABEL", f"label reads {read_label!r}, not {lab!r}", field=col.name)
            read_type = meta.readstat_variable_types[col.name]
            if read_type != ("string" if col.kind == "char" else "double"):
                fail("XPT_VERIFY_TYPE", f"stored as {read_type}", field=col.name)
            width = meta.variable_storage_width[col.name]
            if width != widths[col.name]:
                fail(
                    "XPT_VERIFY_LENGTH",
                    f"length {width}, expected {widths[col.name]}",
                    field=col.name,
                )
            read_format = meta.original_variable_types.get(col.name)
            expected = formats[col.name].removesuffix(".") if col.name in formats else None
            if read_format != expected:
                fail(
                    "XPT_VERIFY_FORMAT",
                    f"format reads {read_format!r}, not {expected!r}",
                    field=col.name,
                )

    # 3. pandas' view of the records: the independent reader.
    got = _read_with_pandas(tmp)
    n = len(columns[0].values)
    if list(got.columns) != [c.name for c in columns]:
        fail("XPT_VERIFY_COLUMNS", f"pandas reads variables {list(got.columns)}")
    elif len(got) != n or len(rs_df) != n:
        reclen = sum(_storage_width(c) if c.kind == "char" else 8 for c in columns)
        why = (
            f"; the record length is {reclen} bytes, and XPT v5 has no record count, so "
            "blank fields at the end of the last 80-byte record cannot be told from padding"
            if reclen <= _REC
            else ""
        )
        fail(
            "XPT_VERIFY_ROWS",
            f"{n} records written, pandas reads {len(got)}, pyreadstat {len(rs_df)}{why}",
        )
    else:
        for col in columns:
            problems += _compare_column(col, got[col.name], "pandas", where)
            if list(rs_df.columns) == list(got.columns):
                problems += _compare_column(col, rs_df[col.name], "pyreadstat", where)

    if problems:
        raise OutputError(problems)


def _storage_width(col: _Column) -> int:
    # Character length = longest value, at least 1 (a zero-length variable is invalid).
    if col.kind == "num":
        return 8
    longest = pd.Series(col.values, dtype=object).str.len().max()
    return max(1, int(longest)) if len(col.values) else 1


def _numbers_match(read: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Element-wise: the same number, or both missing, or both "zero" to XPT.

    IEEE -> IBM is exact for 16**-65 <= |x| < 2**249, so no relative tolerance.
    Below 16**-65 ReadStat stores 0, which pandas decodes as 16**-65: any two
    magnitudes up to that are the same stored zero.
    """
    with np.errstate(invalid="ignore"):
        same = read == expected
        zero = (np.abs(read) <= IBM_TINY) & (np.abs(expected) < IBM_TINY)
    return same | zero | (np.isnan(read) & np.isnan(expected))


def _compare_column(
    col: _Column, got: pd.Series, reader: str, where: Mapping[str, Any]
) -> list[Problem]:
    if col.kind == "char":
        if not pd.api.types.is_object_dtype(got.dtype):
            return [
                _problem(
                    "XPT_VERIFY_TYPE", f"{reader} reads it as {got.dtype}", field=col.name, **where
                )
            ]
        read = got.to_numpy(dtype=object)
        # pandas drops trailing blanks, as SAS does; col.values has none either.
        bad = read != col.values
    else:
        read = pd.to_numeric(got, errors="coerce").to_numpy(dtype="float64")
        bad = ~_numbers_match(read, col.values)
    rows = np.flatnonzero(bad)
    out = [
        _problem(
            "XPT_VERIFY_VALUE",
            f"{reader} reads back {read[i]!r}",
            field=col.name,
            record=int(i) + 1,
            value=col.values[i],
            **where,
        )
        for i in rows[:MAX_REPORTED_RECORDS]
    ]
    if len(rows) > MAX_REPORTED_RECORDS:
        out.append(
            _problem(
                "XPT_VERIFY_VALUE",
                f"and {len(rows) - MAX_REPORTED_RECORDS} more records differ ({reader})",
                field=col.name,
                **where,
            )
        )
    return out


# ------------------------------------------------------------------- read ---


def read_xpt(path: Path) -> tuple[pd.DataFrame, XptMeta]:
    """Read a single-member SAS XPORT v5 file.

    Character missing values come back as ""; numeric ones as NaN. Numbers with
    a date format stay SAS day counts (no conversion to datetime), so what
    :func:`write_xpt` takes is what this returns.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_LEN)
    except OSError as exc:
        raise OutputError.single(
            "XPT_READ_FAILED", f"cannot read: {exc.strerror or exc}", file=str(path)
        ) from exc
    problem = _layout_problem(head)
    if problem is not None:
        raise OutputError.single(
            "XPT_NOT_V5", f"not a SAS XPORT v5 file: {problem}", file=str(path)
        )
    try:
        df, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    except Exception as exc:  # ReadStat's own error types vary by version
        raise OutputError.single(
            "XPT_READ_FAILED", f"{type(exc).__name__}: {exc}", file=str(path)
        ) from exc

    created = _parse_stamp(head[_CREATED_LIBRARY : _CREATED_LIBRARY + _STAMP_LEN])
    modified = _parse_stamp(head[_MODIFIED_MEMBER : _MODIFIED_MEMBER + _STAMP_LEN])
    if created is None or modified is None:  # unreachable: _layout_problem parsed them
        raise OutputError.single("XPT_NOT_V5", "unreadable header datetime", file=str(path))
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


def read_xpt_created(path: Path) -> datetime:
    """The creation timestamp in the library header of an XPT v5 file, without reading data."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_LEN)
    except OSError as exc:
        raise OutputError.single(
            "XPT_READ_FAILED", f"cannot read: {exc.strerror or exc}", file=str(path)
        ) from exc
    problem = _layout_problem(head)
    created = None if problem else _parse_stamp(
        head[_CREATED_LIBRARY : _CREATED_LIBRARY + _STAMP_LEN])
    if created is None:
        raise OutputError.single("XPT_NOT_V5", f"not a SAS XPORT v5 file: {problem}",
                                 file=str(path))
    return created
