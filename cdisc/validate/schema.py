"""Vectorised checks compiled from the JSON Schema of one record.

The schemas in ``schemas/`` describe one record of a dataset (see
:func:`cdisc.standards.dataset_schema`). Validating every record with
``jsonschema`` costs a Python call per cell; here each keyword becomes one
pandas operation over a whole column, with the same result record by record
(``tests/test_validate_schema.py`` proves it against
``jsonschema.Draft202012Validator``, broken records included).

The JSON view of a record (what the schema is applied to) is
:func:`json_records`: one key per column; missing values (see
:mod:`cdisc.validate.frames`) are ``null``; trailing blanks are dropped.

Only the keywords the generated schemas use are compiled. A schema with any
other keyword is refused (:class:`StandardsError`), so a new keyword in
``tools/build_schemas.py`` cannot be silently ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .. import standards
from ..errors import StandardsError
from .frames import (
    ColumnText,
    Distinct,
    char_lengths,
    column_text,
    is_in,
    not_null,
    regex_search,
    strings,
)

Keyword = Literal["type", "maxLength", "enum", "pattern", "required", "additionalProperties",
                  "propertyNames"]

_TOP_KEYWORDS = {"$schema", "$id", "title", "description", "type", "properties",
                 "patternProperties", "additionalProperties", "required", "propertyNames",
                 "x-cdisc"}
_COLUMN_KEYWORDS = {"type", "maxLength", "enum", "pattern", "title", "description", "x-cdisc"}

# JSON kinds of a cell
NULL, STRING, NUMBER, BOOLEAN, OTHER = "null", "string", "number", "boolean", "other"


@dataclass(frozen=True)
class ColumnSpec:
    """The per-value keywords of one property (or pattern property, or additionalProperties)."""

    types: frozenset[str] | None = None
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None  # non-null members
    enum_null: bool = False  # null is a member of the enum
    pattern: str | None = None


@dataclass(frozen=True)
class Violation:
    keyword: Keyword
    variable: str
    rows: np.ndarray  # 0-based positions; empty for column-level keywords
    detail: str = ""  # e.g. the pattern or the enum, for messages


@dataclass(frozen=True)
class CompiledSchema:
    name: str
    properties: dict[str, ColumnSpec]
    pattern_properties: tuple[tuple[str, ColumnSpec], ...]
    additional: ColumnSpec | None  # None: additionalProperties is false
    required: tuple[str, ...]
    property_names: str | None

    def specs_for(self, variable: str) -> list[ColumnSpec] | None:
        """Every spec that applies to ``variable`` (JSON Schema 2020-12 semantics).

        A name in ``properties`` and matching ``patternProperties`` must satisfy
        both; ``additionalProperties`` applies only to names neither covers.
        None means the variable is not allowed at all.
        """
        specs = [spec for pattern, spec in self.pattern_properties if re.search(pattern, variable)]
        if variable in self.properties:
            specs.insert(0, self.properties[variable])
        if specs:
            return specs
        return None if self.additional is None else [self.additional]

    def known(self, variable: str) -> bool:
        """In ``properties`` or a ``patternProperties`` name (not only allowed as additional)."""
        return variable in self.properties or any(
            re.search(p, variable) for p, _ in self.pattern_properties)

    def violations(self, frame: pd.DataFrame) -> Iterator[Violation]:
        """Every keyword violation, column by column, each a vectorised test."""
        for name in self.required:
            if name not in frame.columns:
                yield Violation("required", name, np.array([], dtype=int))
        for position, variable in enumerate(frame.columns):
            name = str(variable)
            if self.property_names and not re.search(self.property_names, name):
                yield Violation("propertyNames", name, np.array([], dtype=int),
                                self.property_names)
            specs = self.specs_for(name)
            if specs is None:
                yield Violation("additionalProperties", name, np.array([], dtype=int))
                continue
            cells = Cells(frame.iloc[:, position], column_text(frame, position))
            # A name in properties that also matches a patternProperty is checked by both;
            # one finding per cell and keyword, as a record-by-record validator would count.
            merged: dict[str, Violation] = {}
            for spec in specs:
                for v in _column_violations(name, cells, spec):
                    seen = merged.get(v.keyword)
                    merged[v.keyword] = v if seen is None else Violation(
                        v.keyword, name, np.union1d(seen.rows, v.rows), seen.detail)
            yield from merged.values()


class Cells:
    """A column's JSON view, computed once: the kind of each cell and the strings.

    ``kind`` is one small integer per cell (:data:`KIND_CODES`); for the usual
    column (all text, or all numbers) it follows from the column's type and which
    cells are null, without looking at any value again. A column of text is checked
    from its distinct values (``column.distinct``), without making its text.
    """

    def __init__(self, s: pd.Series, column: ColumnText) -> None:
        self.series = s
        self.column = column
        self.kind = _kind_codes(s, column)
        self.only_text = not (self.kind > _STRING).any()

    @cached_property
    def text(self) -> pd.Series:
        """The strings, None where a cell is not a string."""
        values = self.column.make()
        return values if self.only_text else values.where(self.kind == _STRING, None)

    @property
    def strings(self) -> pd.Series | Distinct:
        """What the string checks read: the distinct values of a column of text."""
        return self.column.distinct if self.only_text else self.text


#: the JSON kinds as the small integers of Cells.kind
KIND_CODES = {NULL: 0, STRING: 1, NUMBER: 2, BOOLEAN: 3, OTHER: 4}
_NULL, _STRING, _NUMBER = KIND_CODES[NULL], KIND_CODES[STRING], KIND_CODES[NUMBER]


def _kind_codes(s: pd.Series, column: ColumnText) -> np.ndarray:
    dtype = s.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
            and not pd.api.types.is_complex_dtype(dtype):
        return np.where(s.isna().to_numpy(), _NULL, _NUMBER).astype(np.uint8)
    if column.source == "string":  # every value is text or missing: text() saw them all
        return (column.distinct.codes >= 0).astype(np.uint8) * np.uint8(_STRING)
    kinds = cell_kinds(s, column.make())
    return np.fromiter((KIND_CODES[k] for k in kinds), dtype=np.uint8, count=len(kinds)) \
        if not (kinds == STRING).all() else np.full(len(kinds), _STRING, dtype=np.uint8)


def cell_kinds(s: pd.Series, normalised: pd.Series | None = None) -> np.ndarray:
    """The JSON type of every cell: null / string / number / boolean / other.

    ``normalised`` is ``strings(s)`` when the caller has it already.
    """
    n = len(s)
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.where(s.isna().to_numpy(), NULL, BOOLEAN).astype(object)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return np.where(s.isna().to_numpy(), NULL, NUMBER).astype(object)
    if not (pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)):
        return np.where(s.isna().to_numpy(), NULL, OTHER).astype(object)
    if infer_dtype(s, skipna=True) in ("string", "empty"):  # one C pass: the usual case
        values = strings(s) if normalised is None else normalised
        return np.where(not_null(values), STRING, NULL).astype(object)
    # Mixed object columns (hand-made frames): classify each cell, once.
    return s.map(_kind).to_numpy(dtype=object) if n else np.array([], dtype=object)


def _kind(value: Any) -> str:
    if value is None or value is pd.NA:
        return NULL
    if isinstance(value, (bool, np.bool_)):
        return BOOLEAN
    if isinstance(value, str):
        return NULL if not value.rstrip(" ") else STRING
    if isinstance(value, (int, float, np.integer, np.floating)):
        return NULL if value != value else NUMBER  # NaN is missing
    return OTHER


def _char_lengths(values: pd.Series | Distinct) -> np.ndarray:
    """Characters (code points, as jsonschema's maxLength counts) of each value, 0 if missing."""
    lengths = char_lengths(values)
    if lengths is None:
        assert isinstance(values, pd.Series)
        return values.str.len().fillna(0).to_numpy()
    return lengths


def _column_violations(name: str, cells: Cells, spec: ColumnSpec) -> Iterator[Violation]:
    kind = cells.kind
    if spec.types is not None:
        allowed = np.zeros(len(KIND_CODES), dtype=bool)
        allowed[[KIND_CODES[t] for t in spec.types if t in KIND_CODES]] = True
        bad = ~allowed[kind]
        if bad.any():
            yield Violation("type", name, np.flatnonzero(bad), "/".join(sorted(spec.types)))
    is_str = kind == _STRING
    if spec.max_length is not None and is_str.any():
        bad = is_str & (_char_lengths(cells.strings) > spec.max_length)
        if bad.any():
            yield Violation("maxLength", name, np.flatnonzero(bad), str(spec.max_length))
    if spec.enum is not None:
        null = kind == _NULL
        if cells.only_text:
            member = is_in(cells.strings, spec.enum)  # each distinct value once
        else:
            values = cells.text.where(is_str, cells.series.where(~null & ~is_str, None))
            member = values.isin(list(spec.enum)).to_numpy()
        bad = (null & (not spec.enum_null)) | (~null & ~member)
        if bad.any():
            yield Violation("enum", name, np.flatnonzero(bad), ", ".join(map(str, spec.enum)))
    if spec.pattern is not None and is_str.any():
        # re.search is what jsonschema's "pattern" does
        bad = is_str & ~regex_search(cells.strings, spec.pattern)
        if bad.any():
            yield Violation("pattern", name, np.flatnonzero(bad), spec.pattern)


# --- compiling ---------------------------------------------------------------------


def _refuse(name: str, what: str) -> StandardsError:
    return StandardsError.single(
        "STD005", f"the validator cannot compile {what} of the {name} schema; "
        "extend cdisc/validate/schema.py with the keyword first", dataset=name)


def _spec(name: str, prop: Any) -> ColumnSpec:
    if prop is True or prop == {}:
        return ColumnSpec()
    if not isinstance(prop, dict) or set(prop) - _COLUMN_KEYWORDS:
        raise _refuse(name, f"keywords {sorted(set(prop) - _COLUMN_KEYWORDS)}")
    types = prop.get("type")
    if isinstance(types, str):
        types = [types]
    enum = prop.get("enum")
    return ColumnSpec(
        types=frozenset(types) if types is not None else None,
        max_length=prop.get("maxLength"),
        enum=tuple(v for v in enum if v is not None) if enum is not None else None,
        enum_null=enum is not None and None in enum,
        pattern=prop.get("pattern"),
    )


@cache
def compile_schema(name: str) -> CompiledSchema:
    """The compiled checks of dataset ``name`` (SUPP-- included), built once per process."""
    schema = standards.dataset_schema(name)
    unknown = set(schema) - _TOP_KEYWORDS
    if unknown or schema.get("type") not in (None, "object"):
        raise _refuse(name, f"top-level keywords {sorted(unknown)}")
    additional = schema.get("additionalProperties", True)
    return CompiledSchema(
        name=schema["x-cdisc"]["name"],
        properties={k: _spec(name, v) for k, v in schema.get("properties", {}).items()},
        pattern_properties=tuple(
            (p, _spec(name, v)) for p, v in schema.get("patternProperties", {}).items()),
        additional=None if additional is False else _spec(name, additional),
        required=tuple(schema.get("required", ())),
        property_names=(schema.get("propertyNames") or {}).get("pattern"),
    )


# --- the JSON view -----------------------------------------------------------------


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each record as the JSON object the schema describes (for jsonschema and debugging)."""
    columns = [str(c) for c in frame.columns]
    out: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    for position, name in enumerate(columns):
        s = frame.iloc[:, position]
        kind = cell_kinds(s)
        text = strings(s)
        for i in range(len(frame)):
            value = s.iat[i]
            if kind[i] == NULL:
                value = None
            elif kind[i] == STRING:
                value = text.iat[i]
            elif isinstance(value, np.generic):
                value = value.item()
            out[i][name] = value
    return out
