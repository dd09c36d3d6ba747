"""CDISC Dataset-JSON 1.1: encode a dataset, decode a file; JSON and NDJSON.

Dataset-JSON 1.1 (CDISC, final 2024-12-05) holds one dataset per file: the
top-level attributes, ``columns`` (one metadata object per variable, in
dataset order) and ``rows`` (one array of values per record). The NDJSON
representation (``.ndjson``) has the same content: the first line is the
metadata object without ``rows``, then one row array per line.

What :func:`encode` writes, from a :class:`cdisc.model.Dataset`:

* attributes in the order the specification lists them (so streaming readers
  find the metadata first); ``datasetJSONCreationDateTime`` is the caller's
  ``created`` (the spec's ``study.created`` or SOURCE_DATE_EPOCH), never the
  clock, so the same dataset gives the same bytes; ``studyOID``,
  ``metaDataVersionOID``, ``itemGroupOID`` and every ``itemOID`` come from
  :mod:`cdisc.model.oids`, the functions define.xml uses too;
* per variable (:func:`column_types` decides the types):

  ===========================================  ==========  ==============  ===========
  variable                                     dataType    targetDataType  JSON value
  ===========================================  ==========  ==============  ===========
  Char                                         string                      string
  Char named ``*DTC``, every value an ISO      date /                      string
  8601 date (datetime when any has a time)     datetime
  Num with a SAS date format (DATE9.,          date        integer         "YYYY-MM-DD"
  E8601DA., ...), whole days 0001-9999
  Num with a datetime / time format            datetime /  integer         ISO string
  (DATETIME20., TIME8., ...), whole seconds    time
  Num, every value a whole number              integer                     number
  within 2**53 (or every value missing)
  other Num                                    double                      number
  ===========================================  ==========  ==============  ===========

  A Num variable with a date format whose values are not whole days (or
  seconds) in range is written as a number, keeping its ``displayFormat``:
  nothing is rounded to fit a type;
* ``length`` for string columns (the variable's length), none for numbers
  and dates (as Define-XML); ``displayFormat`` when the variable has one;
  ``keySequence`` from the dataset's keys;
* values: missing is ``null`` (a Char value None/NaN, a Num NaN); "" stays "";
  trailing blanks are dropped, as SAS and XPT do; numbers in the shortest text
  that reads back as the same double (``0.1``, ``1e-300``), whole numbers
  without ``.0``; negative zero is 0 (as XPT stores it); infinities are refused.

:func:`decode` reads both representations back to a frame with the XPT
reader's conventions, so a folder of Dataset-JSON validates exactly like a
folder of XPT: character missing is "", numbers (and SAS dates, datetimes and
times with ``targetDataType`` integer) are float64 with NaN for missing, date
strings without a ``targetDataType`` stay text. :func:`is_dataset_json` says
whether a ``.json`` file is Dataset-JSON at all (an output folder holds report
JSON files too) by reading its first top-level attributes only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import ne
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..errors import CdiscError, Location, OutputError, Problem
from ..model import Dataset, DatasetMeta, VariableMeta
from ..model.numbers import EXACT_INTEGERS
from ..model.oids import item_group_oid, item_oid, metadata_version_oid, study_oid
from ..model.text import all_text, byte_lengths, code_type, factorize, text_codes
from .atomic import write_atomic_parts
from .compare import column_differences

__all__ = ["DATASET_JSON_VERSION", "Column", "DatasetJsonMeta", "Header", "column_types",
           "decode", "encode", "holds_frame", "is_dataset_json", "read_dataset_json",
           "read_metadata", "write_dataset_json"]

DATASET_JSON_VERSION = "1.1.0"
_VERSION_RE = re.compile(r"1\.1(\.(0|[1-9][0-9]*))?\Z")  # the schema's pattern
#: the attributes before ``columns``, in the specification's order
_TOP_LEVEL = ("datasetJSONCreationDateTime", "datasetJSONVersion", "fileOID",
              "dbLastModifiedDateTime", "originator", "sourceSystem", "studyOID",
              "metaDataVersionOID", "metaDataRef", "itemGroupOID", "records", "name", "label")
_REQUIRED = ("datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID", "records",
             "name", "label", "columns")
DATA_TYPES = frozenset({"string", "integer", "decimal", "float", "double", "boolean",
                        "datetime", "date", "time", "URI"})
TARGET_DATA_TYPES = frozenset({"integer", "decimal"})
_NUMBER_TYPES = frozenset({"integer", "float", "double"})
_TEMPORAL = frozenset({"date", "datetime", "time"})

#: error codes
NOT_JSON, NOT_DATASET_JSON, BAD_METADATA, BAD_ROWS, BAD_VALUE = (
    "DSJ_NOT_JSON", "DSJ_NOT_DATASET_JSON", "DSJ_METADATA", "DSJ_ROWS", "DSJ_VALUE")
READ_FAILED, ENCODE, VERIFY = "DSJ_READ_FAILED", "DSJ_ENCODE", "DSJ_VERIFY"
#: offending records reported per column before a summary problem
MAX_REPORTED_RECORDS = 50

# --- SAS dates, datetimes and times --------------------------------------------------
_SAS_EPOCH_DAY = np.datetime64("1960-01-01", "D")
_SAS_EPOCH_US = np.datetime64("1960-01-01T00:00:00", "us")
_FIRST_DAY = int((np.datetime64("0001-01-01", "D") - _SAS_EPOCH_DAY).astype(int))
_LAST_DAY = int((np.datetime64("9999-12-31", "D") - _SAS_EPOCH_DAY).astype(int))
_DAY_SECONDS = 86400
_FORMAT_RE = re.compile(r"\$?(?P<name>[A-Z_](?:[A-Z0-9_]*[A-Z_])?)(?P<w>\d*)\.?(?P<d>\d*)\Z")
_DATE_FORMATS = re.compile(
    r"(DATE|DAY|DOWNAME|E8601DA|B8601DA|IS8601DA|JULDAY|JULIAN|MINGUO|MONNAME|MONTH|MONYY|"
    r"NENGO|QTR|QTRR|WEEKDATE|WEEKDATX|WEEKDAY|WORDDATE|WORDDATX|YEAR|YYMON|"
    r"(DDMMYY|MMDDYY|YYMMDD|MMYY|YYMM|YYQ|YYQR)[BCDNPS]?)\Z")
_DATETIME_FORMATS = re.compile(
    r"(DATETIME|DATEAMPM|E8601DT|B8601DT|IS8601DT|E8601DN|B8601DN|MDYAMPM|DTDATE|DTMONYY|"
    r"DTWKDATX|DTYEAR|DTYYQC)\Z")
_TIME_FORMATS = re.compile(r"(TIME|TIMEAMPM|TOD|HHMM|HOUR|MMSS|E8601TM|B8601TM|IS8601TM)\Z")
# ISO 8601 text as SDTM --DTC variables hold it (reduced precision allowed, no zone)
_ISO_DATETIME = r"\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)?"
# what a numeric SAS date/datetime/time must look like to become a number again
_FULL_DATE = r"\d{4}-\d{2}-\d{2}"
_FULL_TIME = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?"


def sas_temporal_kind(display_format: str | None) -> str | None:
    """``"date"``, ``"datetime"`` or ``"time"`` for a SAS format of that family, else None.

    >>> sas_temporal_kind("DATE9."), sas_temporal_kind("E8601DT19."), sas_temporal_kind("8.2")
    ('date', 'datetime', None)
    """
    if not display_format:
        return None
    match = _FORMAT_RE.match(display_format.strip().upper())
    if match is None or match["name"] is None:
        return None
    name = match["name"]
    if _DATE_FORMATS.match(name):
        return "date"
    if _DATETIME_FORMATS.match(name):
        return "datetime"
    if _TIME_FORMATS.match(name):
        return "time"
    return None


# --- metadata ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One object of ``columns``."""

    item_oid: str
    name: str
    label: str
    data_type: str
    target_data_type: str | None = None
    length: int | None = None
    display_format: str | None = None
    key_sequence: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"itemOID": self.item_oid, "name": self.name,
                               "label": self.label, "dataType": self.data_type}
        for key, value in (("targetDataType", self.target_data_type), ("length", self.length),
                           ("displayFormat", self.display_format),
                           ("keySequence", self.key_sequence)):
            if value is not None:
                out[key] = value
        return out

    @property
    def is_numeric(self) -> bool:
        """Does the column hold numbers once decoded (a SAS numeric variable)?"""
        return (self.data_type in _NUMBER_TYPES or self.target_data_type is not None
                or self.data_type in ("decimal", "boolean"))  # booleans read as 1/0


@dataclass(frozen=True)
class DatasetJsonMeta:
    """What a Dataset-JSON file says about its dataset, besides the rows."""

    name: str
    label: str
    item_group_oid: str
    records: int
    columns: tuple[Column, ...]
    created: str  # datasetJSONCreationDateTime as written
    version: str  # datasetJSONVersion
    #: the optional top-level attributes present (fileOID, studyOID, sourceSystem, ...)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def dataset_meta(self, frame: pd.DataFrame | None = None) -> DatasetMeta:
        """The model's metadata: labels, Char/Num, lengths, formats, keys (by keySequence).

        A string column without ``length`` takes the longest value of ``frame``.
        """
        variables = []
        for order, column in enumerate(self.columns, start=1):
            numeric = column.is_numeric
            length = 8 if numeric else column.length
            if length is None:
                values = frame[column.name] if frame is not None else pd.Series([], dtype=object)
                length = max(1, int(byte_lengths(values).max())) if len(values) else 1
            variables.append(VariableMeta(
                name=column.name, label=column.label, datatype="Num" if numeric else "Char",
                length=length, order=order, display_format=column.display_format))
        keyed = sorted((c.key_sequence, c.name) for c in self.columns
                       if c.key_sequence is not None)
        return DatasetMeta(name=self.name, label=self.label, keys=tuple(n for _, n in keyed),
                           variables=tuple(variables))


@dataclass(frozen=True)
class Header:
    """Optional top-level attributes a writer may add (each left out when None).

    ``study_oid`` and ``metadata_version_oid`` default to what define.xml uses
    (:func:`cdisc.model.oids.study_oid` of the STUDYID value, and
    :func:`~cdisc.model.oids.metadata_version_oid` with the dataset's standard);
    pass "" to leave them out.
    """

    file_oid: str | None = None
    db_last_modified: datetime | None = None
    originator: str | None = None
    source_system: tuple[str, str] | None = None  # (name, version)
    study_oid: str | None = None
    metadata_version_oid: str | None = None
    metadata_ref: str | None = None  # e.g. "define.xml"


def _timestamp(moment: datetime) -> str:
    """ISO 8601 date-time to the second; an aware time is written in UTC with ``Z``."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    return moment.replace(microsecond=0).isoformat()


def _study_value(frame: pd.DataFrame) -> str | None:
    if "STUDYID" not in frame.columns:
        return None
    texts = {str(v).rstrip(" ") for v in factorize(frame["STUDYID"])[1]} - {""}
    return texts.pop() if len(texts) == 1 else None


# --- encoding ----------------------------------------------------------------------------
@dataclass
class _Encoded:
    """A column encoded: its metadata, and its values as JSON holds them (str / int /
    float / None), kept as each record's code into the column's distinct values --
    a column repeats its values, and its records' objects would cost 8 bytes a cell."""

    column: Column
    problems: list[Problem] = field(default_factory=list)
    #: a text column: its distinct values and each distinct value's text as encoded
    #: (the records take the second by their codes, and the first so taken is the
    #: frame's column -- checked when encoding)
    distinct: np.ndarray | None = None
    encoded_distinct: np.ndarray | None = None
    #: each record's position in ``tokens`` (-1: null), in the smallest integer type
    codes: np.ndarray | None = None
    #: the JSON-ready value of each code
    tokens: np.ndarray | None = None
    #: the values record by record, for a column without codes (a text column whose
    #: codes do not hold its values: :func:`cdisc.model.text.codes_hold`)
    records: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.codes) if self.codes is not None else (
            len(self.records) if self.records is not None else 0)

    def values_at(self, positions: slice | np.ndarray) -> np.ndarray:
        """The JSON-ready values of the records at ``positions`` (object array)."""
        if self.codes is None:
            return self.records[positions] if self.records is not None else np.empty(
                0, dtype=object)
        return np.append(self.tokens, None)[self.codes[positions]]  # code -1: None

    @property
    def values(self) -> np.ndarray:
        """:meth:`values_at` every record (made on each call: let it go once used)."""
        return self.values_at(slice(None))


def _records(mask: np.ndarray, series: pd.Series, code: str, message: str,
             where: dict[str, Any]) -> list[Problem]:
    rows = np.flatnonzero(mask)
    out = []
    for i in rows[:MAX_REPORTED_RECORDS]:
        value = series.iat[i]
        out.append(Problem(code, message, Location(
            record=int(i) + 1, value=value.item() if isinstance(value, np.generic) else value,
            **where)))
    if len(rows) > MAX_REPORTED_RECORDS:
        out.append(Problem(code, f"and {len(rows) - MAX_REPORTED_RECORDS} more records: "
                           f"{message}", Location(**where)))
    return out


def _json_numbers(values: np.ndarray) -> np.ndarray:
    """float64 -> objects json prints exactly: int for whole numbers within 2**53
    (so no ``.0``; negative zero becomes 0), the float itself otherwise, None for NaN."""
    out = np.full(len(values), None, dtype=object)
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = present & (np.floor(values) == values) & (np.abs(values) <= EXACT_INTEGERS)
    fractional = present & ~whole
    if whole.any():
        out[whole] = values[whole].astype(np.int64).tolist()
    if fractional.any():
        out[fractional] = values[fractional].tolist()  # Python floats: repr is shortest
    return out


def _temporal_strings(values: np.ndarray, kind: str) -> np.ndarray | None:
    """SAS day / second counts -> ISO 8601 text, or None when one cannot be written exactly."""
    present = ~np.isnan(values)
    numbers = values[present]
    if (np.floor(numbers) != numbers).any():
        return None
    if kind == "date":
        if ((numbers < _FIRST_DAY) | (numbers > _LAST_DAY)).any():
            return None
        text = (_SAS_EPOCH_DAY + numbers.astype(np.int64).astype("timedelta64[D]")).astype(str)
    elif kind == "datetime":
        if ((numbers < _FIRST_DAY * _DAY_SECONDS)
                | (numbers >= (_LAST_DAY + 1) * _DAY_SECONDS)).any():
            return None
        moments = (_SAS_EPOCH_DAY.astype("datetime64[s]")
                   + numbers.astype(np.int64).astype("timedelta64[s]"))
        text = moments.astype(str)
    else:  # time of day
        if ((numbers < 0) | (numbers >= _DAY_SECONDS)).any():
            return None
        seconds = numbers.astype(np.int64)
        text = np.array([f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
                         for s in seconds.tolist()], dtype=object)
    out = np.full(len(values), None, dtype=object)
    out[present] = text.astype(object)
    return out


def column_types(variable: VariableMeta, values: pd.Series) -> tuple[str, str | None]:
    """``(dataType, targetDataType)`` of a variable in Dataset-JSON 1.1, from its
    metadata and values (see the table in the module docstring).

    >>> import pandas as pd
    >>> num = VariableMeta("ADT", "Analysis Date", "Num", 8, 1, display_format="DATE9.")
    >>> column_types(num, pd.Series([22000.0, None]))
    ('date', 'integer')
    >>> column_types(VariableMeta("AGE", "Age", "Num", 8, 2), pd.Series([53.0, 61.0]))
    ('integer', None)
    >>> column_types(VariableMeta("X", "X", "Num", 8, 3), pd.Series([0.5]))
    ('double', None)
    """
    column = _encode_column(variable, values, key_sequence=None, dataset="").column
    return column.data_type, column.target_data_type


def _encode_column(variable: VariableMeta, series: pd.Series, *, key_sequence: int | None,
                   dataset: str, blank_missing: bool = False) -> _Encoded:
    where = {"dataset": dataset, "field": variable.name}
    oid = item_oid(dataset, variable.name)
    display = variable.display_format or None
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if variable.is_numeric:
        return _encode_numeric(variable, series, oid, display, key_sequence, where)
    return _encode_text(variable, series, oid, display, key_sequence, where, blank_missing)


def _encode_numeric(variable: VariableMeta, series: pd.Series, oid: str, display: str | None,
                    key_sequence: int | None, where: dict[str, Any]) -> _Encoded:
    def column(data_type: str, target: str | None = None) -> Column:
        return Column(oid, variable.name, variable.label, data_type, target, None, display,
                      key_sequence)

    if pd.api.types.is_bool_dtype(series.dtype) or not (
            pd.api.types.is_numeric_dtype(series.dtype)
            or infer_dtype(series, skipna=True) in ("integer", "floating", "mixed-integer-float",
                                                    "empty", "decimal")):
        return _Encoded(column("double"), [Problem(
            ENCODE, "a Num variable holds values that are not numbers", Location(**where))])
    values = pd.to_numeric(series).to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        return _Encoded(column("double"), _records(
            infinite, series, ENCODE, "an infinite number cannot be written in JSON", where))
    # each distinct number is converted once (NaN: code -1, null)
    codes, present = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(code_type(len(present)), copy=False)
    kind = sas_temporal_kind(display)
    if kind is not None:
        text = _temporal_strings(present, kind)
        if text is not None:
            return _Encoded(column(kind, "integer"), codes=codes, tokens=text)
    whole = bool(((np.floor(present) == present) & (np.abs(present) <= EXACT_INTEGERS)).all())
    # an all-missing column is integer too, as define.xml describes it
    return _Encoded(column("integer" if whole else "double"), codes=codes,
                    tokens=_json_numbers(present))


def _encode_text(variable: VariableMeta, series: pd.Series, oid: str, display: str | None,
                 key_sequence: int | None, where: dict[str, Any],
                 blank_missing: bool = False) -> _Encoded:
    """A text column as JSON holds it: str without trailing blanks, None (null) for a
    missing value -- and, with ``blank_missing``, for a blank one too (how a frame read
    from XPT, where the two are one, is written from a frame that had None)."""
    def column(data_type: str, length: int | None) -> Column:
        return Column(oid, variable.name, variable.label, data_type, None, length, display,
                      key_sequence)

    array = series.to_numpy(dtype=object)
    if not all_text(array):
        obj = series.astype(object)
        bad = ~obj.map(lambda v: isinstance(v, str) or v is None
                       or (isinstance(v, float) and np.isnan(v))).to_numpy(dtype=bool)
        return _Encoded(column("string", None), _records(
            bad, obj, ENCODE, "a Char variable holds a value that is not text", where))
    # a column repeats its values: the blanks are stripped from each distinct text once;
    # a missing value (None, NaN, pd.NA: code -1) is null, the last entry
    codes, distinct, holds = text_codes(array)
    texts = pd.Series(distinct, dtype=object).str.rstrip(" ")
    encoded = np.append(texts.to_numpy(dtype=object), None)
    if blank_missing:
        encoded[np.flatnonzero((texts == "").to_numpy(dtype=bool))] = None
    length = max(1, int(variable.length or 1))
    data_type = "string"
    if variable.name.upper().endswith("DTC"):
        filled = texts[texts != ""]  # each text a record holds, once
        if len(filled) and filled.str.fullmatch(_ISO_DATETIME).all():
            data_type = "datetime" if filled.str.contains("T", regex=False).any() else "date"
    if data_type != "string":
        length = None  # as Define-XML: no length for dates
    if not holds:  # the verification per distinct value relies on it: record by record
        return _Encoded(column(data_type, length), records=encoded[codes])
    return _Encoded(column(data_type, length), distinct=distinct, encoded_distinct=encoded[:-1],
                    codes=codes, tokens=encoded[:-1])


def _encoded_columns(dataset: Dataset, *, blank_missing: bool = False
                     ) -> tuple[list[_Encoded], list[Problem]]:
    frame, meta = dataset.frame, dataset.meta
    name = dataset.name
    problems: list[Problem] = []
    if frame.shape[1] == 0:
        problems.append(Problem(ENCODE, "the dataset has no variables", Location(dataset=name)))
    duplicated = pd.Index(frame.columns).duplicated()
    known = {v.name: v for v in meta.variables}
    keys = {key: position for position, key in enumerate(meta.keys, start=1)}
    encoded = []
    for position, column in enumerate(frame.columns):
        where = Location(dataset=name, field=str(column))
        if duplicated[position]:
            problems.append(Problem(ENCODE, f"variable {column} appears more than once", where))
            continue
        variable = known.get(column)
        if variable is None:
            problems.append(Problem(ENCODE, "the dataset metadata does not describe this "
                                    "variable", where))
            continue
        result = _encode_column(variable, frame.iloc[:, position],
                                key_sequence=keys.get(column), dataset=name,
                                blank_missing=blank_missing)
        problems += result.problems
        encoded.append(result)
    for extra in sorted(set(known) - {str(c) for c in frame.columns}):
        problems.append(Problem(ENCODE, "the metadata describes a variable the dataset does "
                                "not have", Location(dataset=name, field=extra)))
    return encoded, problems


def _metadata(dataset: Dataset, columns: Iterable[Column], *, created: datetime,
              header: Header) -> dict[str, Any]:
    meta = dataset.meta
    study = _study_value(dataset.frame)
    study_id = header.study_oid
    if study_id is None and study is not None:
        study_id = study_oid(study)
    mdv = header.metadata_version_oid
    if mdv is None and study is not None and meta.standard and meta.version:
        mdv = metadata_version_oid(study, meta.standard, meta.version)
    out: dict[str, Any] = {"datasetJSONCreationDateTime": _timestamp(created),
                           "datasetJSONVersion": DATASET_JSON_VERSION}
    optional: dict[str, Any] = {
        "fileOID": header.file_oid,
        "dbLastModifiedDateTime": (_timestamp(header.db_last_modified)
                                   if header.db_last_modified is not None else None),
        "originator": header.originator,
        "sourceSystem": ({"name": header.source_system[0], "version": header.source_system[1]}
                         if header.source_system else None),
        "studyOID": study_id or None,
        "metaDataVersionOID": mdv or None,
        "metaDataRef": header.metadata_ref,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out.update({"itemGroupOID": item_group_oid(dataset.name), "records": len(dataset.frame),
                "name": dataset.name, "label": dataset.label,
                "columns": [c.to_json() for c in columns]})
    return out


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode(dataset: Dataset, *, created: datetime, ndjson: bool = False,
           header: Header | None = None) -> bytes:
    """The Dataset-JSON 1.1 bytes of ``dataset`` (NDJSON when ``ndjson``), UTF-8.

    Raises :class:`OutputError` with every problem (a variable without
    metadata, text in a Num variable, an infinite number, ...).
    """
    return _encode(dataset, created=created, ndjson=ndjson, header=header)[0]


def _encode(dataset: Dataset, *, created: datetime, ndjson: bool,
            header: Header | None) -> tuple[bytes, list[_Encoded]]:
    """:func:`encode`'s bytes and the encoded columns they hold (values as JSON holds them)."""
    encoded, layout = _prepare(dataset, created=created, ndjson=ndjson, header=header)
    parts = [layout.head.encode("utf-8"), *(text for _, _, text in _row_chunks(encoded, layout)),
             layout.tail.encode("utf-8")]
    return b"".join(parts), encoded


#: rows encoded, checked and written at a time by :func:`write_dataset_json`: memory
#: stays near one chunk's rows and text whatever the size of the dataset
CHUNK_ROWS = 1 << 16


@dataclass(frozen=True)
class _Layout:
    """Where the rows go: the text before them, between two rows, and after them."""

    head: str
    separator: str
    tail: str
    rows: int


def _prepare(dataset: Dataset, *, created: datetime, ndjson: bool,
             header: Header | None, blank_missing: bool = False
             ) -> tuple[list[_Encoded], _Layout]:
    if not isinstance(created, datetime):
        raise OutputError.single(ENCODE, f"created must be a datetime, not {created!r}",
                                 dataset=dataset.name)
    encoded, problems = _encoded_columns(dataset, blank_missing=blank_missing)
    if problems:
        raise OutputError(problems)
    metadata = _metadata(dataset, (e.column for e in encoded), created=created,
                         header=header or Header())
    rows = encoded[0].rows if encoded else 0
    dump = _ENCODER.encode
    if ndjson:
        return encoded, _Layout(dump(metadata) + "\n", "\n", "\n" if rows else "", rows)
    # one column and one row per line: the file stays readable and diffs line by line
    columns = metadata.pop("columns")
    head = dump(metadata)[:-1]  # without the closing brace
    return encoded, _Layout(head + ',"columns":[\n' + ",\n".join(map(dump, columns))
                            + '],"rows":[\n', ",\n", "]}\n", rows)


#: at most this many bytes of padded row text are assembled at a time (a chunk with
#: wide columns is assembled in parts): memory stays near it whatever the widths
ROW_BYTES = 32 << 20


def _row_chunks(encoded: list[_Encoded], layout: _Layout
                ) -> Iterator[tuple[int, int, bytes]]:
    """``(first row, end row, UTF-8 text)`` of each chunk of :data:`CHUNK_ROWS` rows: every
    row is followed by the separator but the last row of all.

    A column's distinct values are encoded once, each into a zero-padded row of a
    byte table with the punctuation around it ("[" before the first column, "," after
    each but the last, "]" and the separator after the last); a chunk's records take
    their values' rows of each table side by side, and dropping the zero bytes leaves
    the text. JSON text never holds a zero byte (a NUL is written \\u0000, no UTF-8
    sequence holds one), so the padding is all that is dropped. A column whose codes
    do not hold its values is encoded record by record.
    """
    if not encoded:
        return
    separator = layout.separator.encode("utf-8")
    last = len(encoded) - 1
    affixes = [(b"[" if i == 0 else b"", b"]" + separator if i == last else b",")
               for i in range(len(encoded))]
    tables = [None if e.codes is None else _token_table(np.append(e.tokens, None), *affix)
              for e, affix in zip(encoded, affixes, strict=True)]
    for start in range(0, layout.rows, CHUNK_ROWS):
        stop = min(layout.rows, start + CHUNK_ROWS)
        parts = []
        for e, table, affix in zip(encoded, tables, affixes, strict=True):
            if table is None:  # one table row per record of the chunk
                parts.append((_token_table(e.values_at(slice(start, stop)), *affix), None))
            else:
                parts.append((table, e.codes[start:stop]))
        text = _rows_bytes(parts, stop - start)
        yield start, stop, (text[:-len(separator)] if stop == layout.rows else text)


def _token_table(values: np.ndarray, prefix: bytes, suffix: bytes) -> np.ndarray:
    """Each JSON-ready value as ``prefix`` + its UTF-8 JSON text + ``suffix``, one per
    row of a uint8 table padded with zero bytes."""
    texts = [prefix + text.encode("utf-8") + suffix for text in map(_ENCODER.encode, values)]
    lengths = np.fromiter(map(len, texts), dtype=np.intp, count=len(texts))
    table = np.zeros((len(texts), int(lengths.max(initial=0))), dtype=np.uint8)
    flat = np.frombuffer(b"".join(texts), dtype=np.uint8)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    table[np.repeat(np.arange(len(texts)), lengths), np.arange(len(flat)) - starts] = flat
    return table


def _rows_bytes(parts: list[tuple[np.ndarray, np.ndarray | None]], rows: int) -> bytes:
    """The text of ``rows`` records: for each column its token table and each record's
    row of it (None: the table holds the records in order)."""
    width = sum(table.shape[1] for table, _ in parts)
    step = max(1, ROW_BYTES // max(1, width))
    out = []
    for first in range(0, rows, step):
        end = min(rows, first + step)
        block = np.concatenate(
            [table[first:end] if codes is None else table.take(codes[first:end], axis=0)
             for table, codes in parts], axis=1)
        out.append(block[block != 0].tobytes())
    return b"".join(out)


# --- decoding ----------------------------------------------------------------------------
def _fail(code: str, message: str, source: str, **where: Any) -> CdiscError:
    return CdiscError.single(code, message, file=source or None, **where)


def _column_from_json(item: Any, position: int, source: str,
                      problems: list[Problem]) -> Column | None:
    where = Location(file=source or None, json_path=f"columns[{position}]")
    if not isinstance(item, dict):
        problems.append(Problem(BAD_METADATA, "a column is not an object", where))
        return None
    bad = [key for key in ("itemOID", "name", "label", "dataType")
           if not isinstance(item.get(key), str)]
    if bad:
        problems.append(Problem(BAD_METADATA, f"column without {', '.join(bad)} (text)", where))
        return None
    data_type, target = item["dataType"], item.get("targetDataType")
    if data_type not in DATA_TYPES:
        problems.append(Problem(BAD_METADATA, f"dataType {data_type!r} is not one of "
                                f"{', '.join(sorted(DATA_TYPES))}", where))
        return None
    if target is not None and target not in TARGET_DATA_TYPES:
        problems.append(Problem(BAD_METADATA, f"targetDataType {target!r} is not integer or "
                                "decimal", where))
        return None
    if target == "integer" and data_type not in _TEMPORAL | _NUMBER_TYPES:
        problems.append(Problem(BAD_METADATA, f"targetDataType integer with dataType "
                                f"{data_type!r}", where))
        return None
    for key in ("length", "keySequence"):
        value = item.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            problems.append(Problem(BAD_METADATA, f"{key} {value!r} is not a whole number "
                                    "from 1", where))
            return None
    display = item.get("displayFormat")
    return Column(item["itemOID"], item["name"], item["label"], data_type, target,
                  item.get("length"), display if isinstance(display, str) else None,
                  item.get("keySequence"))


def _parse_metadata(document: Any, source: str) -> DatasetJsonMeta:
    if not isinstance(document, dict) or "datasetJSONVersion" not in document:
        raise _fail(NOT_DATASET_JSON, "not Dataset-JSON: no top-level datasetJSONVersion", source)
    version = document["datasetJSONVersion"]
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise _fail(NOT_DATASET_JSON, f"Dataset-JSON version {version!r} is not supported "
                    "(this reader reads 1.1)", source)
    problems = []
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        problems.append(Problem(BAD_METADATA, f"required attributes missing: "
                                f"{', '.join(missing)}", Location(file=source or None)))
    for key in ("datasetJSONCreationDateTime", "itemGroupOID", "name", "label"):
        if key in document and not isinstance(document[key], str):
            problems.append(Problem(BAD_METADATA, f"{key} is not text",
                                    Location(file=source or None, json_path=key)))
    records = document.get("records")
    if "records" in document and (not isinstance(records, int) or isinstance(records, bool)
                                  or records < 0):
        problems.append(Problem(BAD_METADATA, f"records {records!r} is not a whole number "
                                "from 0", Location(file=source or None, json_path="records")))
    raw_columns = document.get("columns", [])
    if not isinstance(raw_columns, list):
        problems.append(Problem(BAD_METADATA, "columns is not an array",
                                Location(file=source or None, json_path="columns")))
        raw_columns = []
    columns = [_column_from_json(item, i, source, problems) for i, item in enumerate(raw_columns)]
    names = [c.name for c in columns if c is not None]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(BAD_METADATA, f"column {name} appears more than once",
                                Location(file=source or None, field=name)))
    if problems:
        raise CdiscError(problems)
    attributes = {k: document[k] for k in _TOP_LEVEL
                  if k in document and k not in ("datasetJSONCreationDateTime",
                                                 "datasetJSONVersion", "itemGroupOID",
                                                 "records", "name", "label")}
    return DatasetJsonMeta(
        name=document["name"], label=document["label"],
        item_group_oid=document["itemGroupOID"], records=records,
        columns=tuple(c for c in columns if c is not None),
        created=document["datasetJSONCreationDateTime"], version=version,
        attributes=attributes)


def _decode_column(column: Column, values: np.ndarray, source: str, dataset: str,
                   missing_text: str | None) -> tuple[np.ndarray | None, list[Problem]]:
    """One column of rows -> what read_xpt would give: str ("" for null) or float64."""
    where = {"file": source or None, "dataset": dataset, "field": column.name}
    series = pd.Series(values, dtype=object)
    absent = series.isna().to_numpy()
    kind = infer_dtype(series, skipna=True)

    def bad(mask: np.ndarray, message: str) -> tuple[None, list[Problem]]:
        return None, _records(mask, series, BAD_VALUE, message, where)

    def not_text() -> np.ndarray:
        return ~series.map(lambda v: v is None or isinstance(v, str)).to_numpy(dtype=bool)

    if column.data_type in _NUMBER_TYPES and column.target_data_type != "decimal":
        if kind not in ("integer", "floating", "mixed-integer-float", "empty"):
            numbers = series.map(lambda v: v is None or (isinstance(v, (int, float))
                                                         and not isinstance(v, bool)))
            return bad(~numbers.to_numpy(dtype=bool), f"a {column.data_type} value that is "
                       "not a number")
        try:
            return values.astype("float64"), []  # None -> NaN
        except OverflowError:
            huge = series.map(lambda v: isinstance(v, int) and abs(v) > 2**1023)
            return bad(huge.to_numpy(dtype=bool), "a number beyond the range of a double")
    if column.data_type == "decimal" or column.target_data_type == "decimal":
        if kind not in ("string", "empty", "integer", "floating", "mixed-integer-float",
                        "mixed"):
            return bad(~absent, "a decimal that is neither text nor a number")
        text = series.map(lambda v: v.replace(",", "") if isinstance(v, str) else v)
        numbers = pd.to_numeric(text, errors="coerce")
        wrong = (numbers.isna() & ~series.isna()).to_numpy()
        if wrong.any():
            return bad(wrong, "a decimal that is not a number")
        return numbers.to_numpy(dtype="float64", na_value=np.nan), []
    if column.data_type == "boolean":
        if kind not in ("boolean", "empty"):
            return bad(~series.map(lambda v: v is None or isinstance(v, bool))
                       .to_numpy(dtype=bool), "a boolean value that is not true or false")
        return np.array([np.nan if v is None else float(v) for v in values]), []
    if kind not in ("string", "empty"):
        return bad(not_text(), f"a {column.data_type} value that is not text")
    if column.target_data_type == "integer":  # a SAS date, datetime or time as a number
        return _sas_numbers(column.data_type, series, absent, where)
    out = series.to_numpy(dtype=object).copy()
    out[absent] = missing_text
    return out, []


def _sas_numbers(data_type: str, series: pd.Series, absent: np.ndarray,
                 where: dict[str, Any]) -> tuple[np.ndarray | None, list[Problem]]:
    out = np.full(len(series), np.nan)
    # each distinct text is read once (a date column repeats its values)
    codes, distinct = factorize(series[~absent].astype(str).to_numpy(dtype=object))
    text = pd.Series(distinct, dtype=object)
    pattern = {"date": _FULL_DATE, "datetime": _FULL_DATE + "T" + _FULL_TIME,
               "time": _FULL_TIME}[data_type]
    wrong = ~text.str.fullmatch(pattern).to_numpy(dtype=bool)[codes]
    if wrong.any():
        mask = np.zeros(len(series), dtype=bool)
        mask[np.flatnonzero(~absent)[wrong]] = True
        return None, _records(mask, series, BAD_VALUE, f"not a complete ISO 8601 {data_type} "
                              "(hh:mm at least; no time zone), so no SAS number", where)
    try:
        if data_type == "date":
            days = np.array(text.tolist(), dtype="datetime64[D]") - _SAS_EPOCH_DAY
            numbers = days.astype(np.int64).astype("float64")
        elif data_type == "datetime":
            moments = np.array(text.tolist(), dtype="datetime64[us]") - _SAS_EPOCH_US
            numbers = moments.astype(np.int64) / 1e6
        else:
            parts = text.str.split(":", expand=True).reindex(columns=[0, 1, 2])
            numbers = (parts[0].astype(float) * 3600 + parts[1].astype(float) * 60
                       + parts[2].fillna("0").astype(float)).to_numpy(dtype="float64")
    except ValueError as exc:
        return None, [Problem(BAD_VALUE, f"an impossible {data_type}: {exc}", Location(**where))]
    out[~absent] = np.asarray(numbers)[codes]
    return out, []


def _frame(meta: DatasetJsonMeta, rows: list[Any], source: str,
           missing_text: str | None) -> pd.DataFrame:
    width = len(meta.columns)
    problems = []
    lengths = np.fromiter((len(r) if isinstance(r, list) else -1 for r in rows), dtype=np.int64,
                          count=len(rows))
    wrong = np.flatnonzero(lengths != width)
    for i in wrong[:MAX_REPORTED_RECORDS]:
        problems.append(Problem(BAD_ROWS, f"row is not an array of {width} values",
                                Location(file=source or None, dataset=meta.name,
                                         record=int(i) + 1)))
    if len(wrong) > MAX_REPORTED_RECORDS:
        problems.append(Problem(BAD_ROWS, f"and {len(wrong) - MAX_REPORTED_RECORDS} more rows "
                                "of the wrong shape", Location(file=source or None)))
    if meta.records != len(rows) and (rows or meta.records):
        problems.append(Problem(BAD_ROWS, f"records says {meta.records}, the file holds "
                                f"{len(rows)} rows", Location(file=source or None,
                                                              dataset=meta.name)))
    if problems:
        raise CdiscError(problems)
    data: dict[str, Any] = {}
    for column, array in zip(meta.columns, _columns_of(rows, width), strict=True):
        decoded, column_problems = _decode_column(column, array, source, meta.name,
                                                  missing_text)
        problems += column_problems
        data[column.name] = decoded
    if problems:
        raise CdiscError(problems)
    frame = pd.DataFrame(data, columns=[c.name for c in meta.columns])
    for column in meta.columns:  # empty frames: keep the types a reader of the XPT would see
        if column.is_numeric and frame[column.name].dtype != "float64":
            frame[column.name] = frame[column.name].astype("float64")
    return frame


def _columns_of(rows: list[list[Any]], width: int) -> list[np.ndarray]:
    """The rows (each a list of ``width`` values) as one object array per column."""
    if rows:
        try:  # one C pass; a value that is itself an array changes the shape
            table = np.array(rows, dtype=object)
        except ValueError:
            table = None
        if table is not None and table.shape == (len(rows), width):
            return [table[:, k].copy() for k in range(width)]
    by_column = zip(*rows, strict=True) if rows else ((),) * width
    return [np.fromiter(values, dtype=object, count=len(rows)) for values in by_column]


def _ndjson_rows(numbered: list[tuple[int, str]], source: str) -> list[Any]:
    """The row lines as one JSON array (one parser call), or the first bad line located."""
    try:
        rows = json.loads("[" + ",".join(line for _, line in numbered) + "]")
        if len(rows) == len(numbered):  # else a line held two values ("[1],[2]")
            return rows
    except json.JSONDecodeError:
        pass
    for number, line in numbered:
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(NOT_JSON, f"line {number} is not valid JSON: {exc.msg}", source,
                        line=number, column=exc.colno) from None
    raise _fail(NOT_JSON, "the row lines are not valid JSON", source)  # e.g. "1" "]["


def _not_json(exc: json.JSONDecodeError | UnicodeDecodeError, source: str) -> CdiscError:
    """One located problem for a file that is not JSON (or not UTF-8 text)."""
    if isinstance(exc, UnicodeDecodeError):
        return _fail(NOT_JSON, f"not UTF-8 text: {exc.reason} at byte {exc.start}", source)
    return _fail(NOT_JSON, f"not valid JSON: {exc.msg} (line {exc.lineno}, column "
                 f"{exc.colno})", source, line=exc.lineno, column=exc.colno)


def decode(data: bytes | str, *, ndjson: bool = False, source: str = "",
           missing_text: str | None = "") -> tuple[pd.DataFrame, DatasetJsonMeta]:
    """The frame and metadata of Dataset-JSON 1.1 bytes (NDJSON when ``ndjson``).

    Character nulls become ``missing_text`` ("" as XPT reads them; pass None to
    keep them). Raises :class:`CdiscError` with every problem found, located
    by ``source`` (the file name), column and record.
    """
    meta, rows = _document(data, ndjson=ndjson, source=source)
    return _frame(meta, rows, source, missing_text), meta


def _document(data: bytes | str, *, ndjson: bool, source: str
              ) -> tuple[DatasetJsonMeta, list[Any]]:
    """The metadata and the rows (as JSON arrays) of Dataset-JSON bytes."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
        if ndjson:
            # "\n" only: str.splitlines() would also split at U+2028 inside a JSON string
            lines = [line.rstrip("\r") for line in text.split("\n")]
            numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
            if not numbered:
                raise _fail(NOT_DATASET_JSON, "empty NDJSON file", source)
            document = json.loads(numbered[0][1])
            meta = _parse_metadata(document, source)
            if "rows" in document:
                raise _fail(BAD_METADATA, "the NDJSON metadata line holds rows", source)
            rows = _ndjson_rows(numbered[1:], source)
        else:
            document = json.loads(text)
            meta = _parse_metadata(document, source)
            rows = document.get("rows", [])
            if not isinstance(rows, list):
                raise _fail(BAD_ROWS, "rows is not an array", source)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _not_json(exc, source) from None
    return meta, rows


def read_dataset_json(path: str | Path, *, missing_text: str | None = ""
                      ) -> tuple[pd.DataFrame, DatasetJsonMeta]:
    """Read a ``.json`` or ``.ndjson`` Dataset-JSON file (NDJSON by its suffix)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(READ_FAILED, f"cannot read: {exc.strerror or exc}", str(path)) from None
    return decode(data, ndjson=path.suffix.lower() == ".ndjson", source=str(path),
                  missing_text=missing_text)


def read_metadata(path: str | Path) -> DatasetJsonMeta:
    """The metadata of a Dataset-JSON file without decoding its rows (NDJSON: the first
    line only), e.g. for the labels and lengths define.xml is checked against."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.readline() if path.suffix.lower() == ".ndjson" else fh.read()
    except OSError as exc:
        raise _fail(READ_FAILED, f"cannot read: {exc.strerror or exc}", source) from None
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _not_json(exc, source) from None
    return _parse_metadata(document, source)


def holds_frame(path: str | Path, frame: pd.DataFrame, name: str) -> bool:
    """Whether the Dataset-JSON file ``path`` holds exactly ``frame`` as dataset ``name``,
    decided without decoding its rows; False when that cannot be decided so (read the
    file and compare the frames instead).

    True when the file's columns and row text are, byte for byte, what this writer makes
    of ``frame`` with the file's own column metadata: the file then decodes to what
    encoding ``frame`` decodes to, which is ``frame`` (every value of a frame read from
    XPT survives the encoding, and the writer checks that on every column it writes).
    ``cdisc validate`` reads a dataset written in two formats once, from the XPT, and
    checks its Dataset-JSON copy this way: re-encoding costs a fraction of parsing.
    Any other layout (another writer's spacing, a value written differently) is False.
    """
    import mmap

    path = Path(path)
    ndjson = path.suffix.lower() == ".ndjson"
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            view = memoryview(raw)
            try:
                return _holds_frame(raw, view, frame, name, ndjson=ndjson, source=str(path))
            finally:
                view.release()  # before the map closes
    except (OSError, ValueError):  # unreadable or empty: the full read reports it
        return False


def _holds_frame(raw: Any, data: memoryview, frame: pd.DataFrame, name: str, *,
                 ndjson: bool, source: str) -> bool:
    marker = b"\n" if ndjson else _ROWS_START  # where the rows begin
    at = raw.find(marker)
    if at < 0:
        return False
    end = at + len(marker)
    try:
        document = _head_document(bytes(data[:end]).decode("utf-8"), ndjson)
        meta = _parse_metadata(document, source)
    except (json.JSONDecodeError, UnicodeDecodeError, CdiscError):
        return False
    if meta.name.strip().upper() != name or meta.records != len(frame) or (
            [c.name for c in meta.columns] != [str(c) for c in frame.columns]):
        return False
    dataset = Dataset(meta.dataset_meta(frame), frame)
    try:
        # XPT keeps no difference between a blank and a missing text, which this writer
        # writes as null: the usual case; a file with "" there is read in full instead
        encoded, layout = _prepare(dataset, created=datetime(1960, 1, 1), ndjson=ndjson,
                                   header=None, blank_missing=True)
    except OutputError:  # a value this writer would not write: not its file
        return False
    if [e.column.to_json() for e in encoded] != document["columns"]:
        return False
    at = end
    for _start, _stop, chunk in _row_chunks(encoded, layout):
        if data[at:at + len(chunk)] != chunk:
            return False
        at += len(chunk)
    return data[at:] == layout.tail.encode("utf-8")


#: where this writer's rows begin in a .json file
_ROWS_START = b'"rows":[\n'


def _head_document(head: str, ndjson: bool) -> Any:
    """The document of the text before this writer's rows (an NDJSON file's first line,
    or a .json file up to ``"rows":[``), closed as a file without rows."""
    return json.loads(head if ndjson else head + "]}")


# --- sniffing ----------------------------------------------------------------------------
SNIFF_BYTES = 64 * 1024
_WS = re.compile(r"[ \t\r\n]*")


def _scan_top_level(text: str) -> bool | None:
    """Does the object starting ``text`` have a top-level ``datasetJSONVersion``?

    True / False when the prefix answers it, None when a value runs past it.
    """
    decoder = json.JSONDecoder()
    at = _WS.match(text, 0).end()
    if at >= len(text):
        return None
    if text[at] != "{":
        return False
    at += 1
    while True:
        at = _WS.match(text, at).end()
        if at >= len(text):
            return None
        if text[at] == "}":
            return False
        try:
            key, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return None
        if not isinstance(key, str):
            return False
        if key == "datasetJSONVersion":
            return True
        at = _WS.match(text, at).end()
        if at >= len(text):
            return None
        if text[at] != ":":
            return False
        at = _WS.match(text, at + 1).end()
        try:
            _value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return None
        at = _WS.match(text, at).end()
        if at >= len(text):
            return None
        if text[at] != ",":
            return False  # "}" ends the object without the key; anything else is not JSON
        at += 1


def is_dataset_json(path: str | Path) -> bool:
    """Is ``path`` a Dataset-JSON file (a top-level ``datasetJSONVersion``)?

    Reads the first attributes only (the specification puts the version
    second); a file that orders its attributes otherwise is parsed whole. A
    file that cannot be read or is not JSON is not Dataset-JSON. For NDJSON
    the first line is the metadata object.
    """
    path = Path(path)
    ndjson = path.suffix.lower() == ".ndjson"
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
            complete = len(head) < SNIFF_BYTES
            text = head.decode("utf-8-sig", errors="replace")
            if ndjson:
                first, newline, _rest = text.lstrip(" \t\r\n").partition("\n")
                verdict = _scan_top_level(first if newline else text)
                if verdict is None and not newline and not complete:
                    first = (head + fh.readline()).decode("utf-8-sig", errors="replace")
                    verdict = _scan_top_level(first.lstrip(" \t\r\n").partition("\n")[0])
                return bool(verdict)
            verdict = _scan_top_level(text)
            if verdict is not None:
                return verdict
            document = json.loads(head + fh.read()) if not complete else json.loads(head)
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        return False
    return isinstance(document, dict) and "datasetJSONVersion" in document


# --- writing -----------------------------------------------------------------------------
#: what ``write_dataset_json(verify=...)`` accepts
VERIFY_MODES = ("fast", "full")
#: rows parsed back by ``verify="fast"`` (the first, the last, the others evenly spaced)
SAMPLED_ROWS = 1000


def write_dataset_json(dataset: Dataset, path: str | Path, *, created: datetime,
                       ndjson: bool = False, header: Header | None = None,
                       verify: str = "fast") -> int:
    """Encode ``dataset`` and write it to ``path`` all or nothing, checking the text as it
    goes; returns the number of bytes written.

    The check: every column, decoded as a reader decodes it, is the frame's column
    (every value, compared as :func:`cdisc.formats.compare.frame_differences`
    compares); the metadata parses back as written; and the rows, a chunk of
    :data:`CHUNK_ROWS` at a time before it is written: each chunk's row lines are
    counted (one row per line, as this writer lays them out) and ``verify="full"``
    parses every one and compares it with the row encoded, ``"fast"`` parses
    :data:`SAMPLED_ROWS` of the dataset's rows -- a full parse costs more than the
    encoding, and what it would check is the standard library's JSON encoder.
    Raises :class:`OutputError` with the problems found (encoding or verification);
    ``path`` keeps what it held then.
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}, not {verify!r}")
    path = Path(path)
    encoded, layout = _prepare(dataset, created=created, ndjson=ndjson, header=header)
    check = _Check(dataset, encoded, layout, name=path.name, full=verify == "full")
    meta, problems = check.metadata()
    if meta is not None and not problems:
        problems = check.columns(meta)
    if problems:
        raise OutputError(problems)

    def parts() -> Iterator[bytes]:
        yield layout.head.encode("utf-8")
        for start, stop, text in _row_chunks(encoded, layout):
            check.rows(start, stop, text)  # raises before the chunk is written
            yield text
        yield layout.tail.encode("utf-8")

    return write_atomic_parts(path, parts())


class _Check:
    """What the encoded text holds that differs from the dataset (see
    :func:`write_dataset_json`), on the arrays the encoder made: no frame is built."""

    def __init__(self, dataset: Dataset, encoded: list[_Encoded], layout: _Layout, *,
                 name: str, full: bool) -> None:
        self.dataset, self.encoded, self.layout = dataset, encoded, layout
        self.name, self.full = name, full
        self.reader = f"the encoded {name}"
        total = layout.rows
        self.sampled = np.zeros(0, dtype=np.int64) if full or not total else np.unique(
            np.linspace(0, total - 1, min(total, SAMPLED_ROWS)).astype(np.int64))

    def _unreadable(self, problems: Iterable[Problem]) -> list[Problem]:
        return [Problem(VERIFY, f"the encoded file does not read back: {p.message}",
                        p.location) for p in problems]

    def metadata(self) -> tuple[DatasetJsonMeta | None, list[Problem]]:
        """The metadata the head parses back to (None when it does not), and how it
        differs from the dataset's name, record count and variables."""
        dataset, frame = self.dataset, self.dataset.frame
        try:
            meta = _parse_metadata(_head_document(self.layout.head, self.layout.separator
                                                  == "\n"), self.name)
        except json.JSONDecodeError as exc:
            return None, self._unreadable(_not_json(exc, self.name).problems)
        except CdiscError as exc:
            return None, self._unreadable(exc.problems)
        problems: list[Problem] = []
        if meta.records != len(frame) or meta.name != dataset.name:
            problems.append(Problem(VERIFY, f"the encoded file says {meta.name} with "
                                    f"{meta.records} records", Location(dataset=dataset.name)))
        names = [c.name for c in meta.columns]
        if names != [str(c) for c in frame.columns]:
            problems.append(Problem(VERIFY, f"{self.reader} holds variables {names}, not "
                                    f"{list(frame.columns)}", Location(dataset=dataset.name)))
        return meta, problems

    def columns(self, meta: DatasetJsonMeta) -> list[Problem]:
        """Each encoded column decoded as a reader decodes it is the frame's column. A text
        column is compared once per distinct value (each record holds its value's text by
        its code, checked when encoding); a difference there is found and located record
        by record."""
        frame, problems = self.dataset.frame, []
        numeric = {v.name for v in self.dataset.meta.variables if v.is_numeric}
        for column, encoded in zip(meta.columns, self.encoded, strict=True):
            if encoded.distinct is not None and encoded.encoded_distinct is not None and (
                    not self._differences(meta, column, encoded.encoded_distinct,
                                          pd.Series(encoded.distinct, dtype=object))):
                continue  # (text decodes always: a list of str and None)
            # compared as the metadata says: a Num column of Python ints as numbers, a Char
            # column that is all NaN (a float column to pandas) as text
            want = (pd.to_numeric(frame[column.name]) if column.name in numeric
                    else frame[column.name].astype(object))
            found = None
            if encoded.distinct is None and encoded.codes is not None:
                # numbers (or dates): each distinct value decoded once, taken by code; a
                # value that does not decode is located record by record below
                found = self._differences(meta, column, np.append(encoded.tokens, None),
                                          want, codes=encoded.codes)
            if found is None:
                found = self._differences(meta, column, encoded.values, want)
            problems += found
        return problems

    def _differences(self, meta: DatasetJsonMeta, column: Column, values: np.ndarray,
                     want: pd.Series, codes: np.ndarray | None = None) -> list[Problem] | None:
        """How ``values``, decoded as a reader decodes them, differ from ``want`` --
        ``values[codes]`` with ``codes`` (then None where a value does not decode)."""
        decoded, problems = _decode_column(column, values, self.name, meta.name, "")
        if decoded is None:
            return None if codes is not None else self._unreadable(problems)
        if codes is not None:
            decoded = decoded[codes]  # code -1: the null appended last
        have = pd.Series(decoded, index=want.index,
                         dtype="float64" if column.is_numeric else object)
        return column_differences(want, have, name=column.name, dataset=self.dataset.name,
                                  reader=self.reader, code=VERIFY)

    def rows(self, start: int, stop: int, text: bytes) -> None:
        """Rows ``start:stop`` as ``text`` holds them: counted, and parsed where sampled.

        Each separator ends a line and JSON text holds no raw line break, so the rows
        are where the line breaks say (each checked to follow the rest of the
        separator); no copy of the rows is made to count them."""
        separator = self.layout.separator.encode("utf-8")
        codes = np.frombuffer(text, dtype=np.uint8)
        breaks = np.flatnonzero(codes == ord("\n"))
        ends = breaks - (len(separator) - 1)  # where each row's separator begins
        final = stop == self.layout.rows
        lines = len(breaks) + final  # the last row of all has no separator after it
        where = Location(dataset=self.dataset.name)
        if lines != stop - start or (final and text.endswith(b"\n")):
            raise OutputError([Problem(VERIFY, f"{self.reader} holds {lines} records where "
                                       f"rows {start + 1}-{stop} were encoded, not "
                                       f"{stop - start}", where)])
        if not final and not text.endswith(separator):  # bytes after the last separator
            raise OutputError([Problem(VERIFY, f"{self.reader} holds text after record "
                                       f"{stop}, the last of rows {start + 1}-{stop}",
                                       Location(dataset=self.dataset.name, record=stop))])
        unseparated = np.zeros(len(breaks), dtype=bool)
        for i, byte in enumerate(separator[:-1]):
            unseparated |= codes[np.maximum(ends + i, 0)] != byte
        if unseparated.any():
            row = start + int(np.argmax(unseparated)) + 1
            raise OutputError([Problem(VERIFY, f"{self.reader} does not separate record {row} "
                                       f"from the next with {separator!r}",
                                       Location(dataset=self.dataset.name, record=row))])
        if self.full:
            numbers = np.arange(start, stop)
        else:
            numbers = self.sampled[np.searchsorted(self.sampled, start):
                                   np.searchsorted(self.sampled, stop)]
        if not len(numbers):
            return
        begins = np.append(0, breaks + 1)[numbers - start]
        finish = np.append(ends, len(codes))[numbers - start]
        lines = [text[b:e] for b, e in zip(begins.tolist(), finish.tolist(), strict=True)]
        try:
            if self.full:
                parsed = json.loads(b"[" + b",".join(lines) + b"]")
            else:
                parsed = [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise OutputError(self._unreadable(_not_json(exc, self.name).problems)) from None
        columns = [e.values_at(numbers) for e in self.encoded]  # the rows parsed, in order
        numbers = numbers.tolist()
        expected = zip(*columns, strict=True) if columns else ((),) * len(numbers)
        try:
            same = len(parsed) == len(numbers) and not any(map(ne, map(_as_tuple, parsed),
                                                               expected))
        except TypeError:  # a row that is no array
            same = False
        if not same:
            raise OutputError([_first_row_differing(parsed, numbers, columns, self.reader,
                                                    self.dataset.name)])


def _as_tuple(row: Any) -> Any:
    return tuple(row) if isinstance(row, list) else row


def _first_row_differing(rows: list[Any], numbers: Sequence[int], columns: list[np.ndarray],
                         reader: str, dataset: str) -> Problem:
    for j, (i, got) in enumerate(zip(numbers, rows, strict=False)):
        want = [column[j] for column in columns]
        if _as_tuple(got) != tuple(want):
            return Problem(VERIFY, f"{reader} holds row {got!r}, encoded as {want!r}",
                           Location(dataset=dataset, record=i + 1))
    return Problem(VERIFY, f"{reader} holds {len(rows)} values where {len(numbers)} rows "
                   "were encoded", Location(dataset=dataset))
