"""The vectorised schema checks agree with jsonschema record by record, broken records included."""

from __future__ import annotations

import math
import re
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest

from cdisc import standards
from cdisc.validate import validate_datasets
from cdisc.validate.rules.schema import SCHEMA_KEYWORDS
from cdisc.validate.schema import compile_schema, json_records


def json_view(value: Any) -> Any:
    """The JSON view of a cell, written out independently of the engine's helpers."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value.rstrip(" ") or None
    return value


def valid_value(var: standards.Variable, schema: dict[str, Any]) -> Any:
    prop = schema["properties"][var.name]
    if "enum" in prop:
        return next(v for v in prop["enum"] if v is not None)
    if var.is_numeric:
        return 3.0
    if var.iso8601 == "duration":
        return "P2D"
    if var.iso8601 == "datetime":
        return "2012-03-04T10:20"
    return "TEXT"


def sample(name: str) -> pd.DataFrame:
    """Five good records of every variable, then records each breaking one keyword."""
    meta = standards.dataset(name)
    schema = standards.dataset_schema(name)
    good = {v.name: valid_value(v, schema) for v in meta.variables}
    rows = [dict(good) for _ in range(5)]
    rows[1] = {k: None for k in good}  # all null: only "required" columns are present
    rows[2] = {k: (f"{v}   " if isinstance(v, str) else v) for k, v in good.items()}  # padding
    char = [v for v in meta.variables if not v.is_numeric]
    num = [v for v in meta.variables if v.is_numeric]
    enum = [v for v in char if "enum" in schema["properties"][v.name]]
    iso = [v for v in char if v.iso8601]
    broken: list[tuple[str, Any]] = [
        (char[0].name, 12.5),  # number in a character variable
        (char[-1].name, "x" * 201),  # too long
        (char[1].name, "   "),  # blanks only: null
        (char[-1].name, pd.Timestamp("2012-01-01")),  # neither text nor number
        (char[-1].name, True),  # a boolean
    ]
    if num:
        broken += [(num[0].name, "12"), (num[-1].name, np.int64(7)), (num[-1].name, "")]
    if enum:
        broken += [(enum[0].name, "NOT A TERM"), (enum[-1].name, "y")]
    if iso:
        broken += [(iso[0].name, "12/03/2012"), (iso[-1].name, "2012-13-01"),
                   (iso[0].name, "2012-02-30T25:00"), (iso[-1].name, "2012---15")]
    for variable, value in broken:
        row = dict(good)
        row[variable] = value
        rows.append(row)
    return pd.DataFrame(rows, columns=list(good)).astype(object)


def jsonschema_errors(name: str, frame: pd.DataFrame) -> set[tuple[int, str, str]]:
    validator = jsonschema.Draft202012Validator(standards.dataset_schema(name))
    records = [{str(k): json_view(v) for k, v in row.items()}
               for row in frame.to_dict(orient="records")]
    assert records == json_records(frame)  # the engine's JSON view is the same
    out = set()
    for i, record in enumerate(records, start=1):
        for error in validator.iter_errors(record):
            keyword = str(error.validator)
            if error.absolute_schema_path and error.absolute_schema_path[0] == "propertyNames":
                # The name failed propertyNames' own "pattern"; the instance is the name.
                keyword, variables = "propertyNames", [error.instance]
            elif error.validator == "required":
                variables = re.findall(r"'([^']+)' is a required property", error.message)
            elif error.validator == "additionalProperties":
                variables = re.findall(r"'([^']+)'", error.message.split("(")[-1])
            else:
                variables = [error.absolute_path[0]]
            out.update((i, str(v), keyword) for v in variables)
    return out


def engine_errors(name: str, frame: pd.DataFrame) -> set[tuple[int, str, str]]:
    compiled = compile_schema(name)
    result = validate_datasets({name: frame})
    assert not [p for p in result.findings if p.code == "CV0000"]
    out = set()
    for p in result.findings:
        keyword = SCHEMA_KEYWORDS.get(p.code)
        if keyword is None or p.location.dataset != name:
            continue
        if keyword == "additionalProperties" and compiled.additional is not None:
            continue  # ADaM allows sponsor variables: CV0106 is then a notice, not a violation
        # Variable-level findings (missing or unexpected variable) concern every record.
        records = [p.location.record] if p.location.record else range(1, len(frame) + 1)
        out.update((r, p.location.field, keyword) for r in records)
    return out


@pytest.mark.parametrize("name", [*standards.known_datasets(), "SUPPAE"])
def test_sample_records_agree_with_jsonschema(name):
    frame = sample(name)
    expected = jsonschema_errors(name, frame)
    assert expected, "the sample must break the schema"
    assert engine_errors(name, frame) == expected


@pytest.mark.parametrize("name", ["DM", "ADSL", "SUPPAE"])
def test_structural_breaks_agree_with_jsonschema(name):
    frame = sample(name)
    required = standards.dataset_schema(name)["required"]
    frame = frame.drop(columns=[required[-1]])  # a required variable missing
    frame["ZZUNKNWN"] = "x"  # not in the standard
    frame["TRT02P"] = 5.0  # ADSL: a patternProperties name, with the wrong type
    if standards.dataset(name).standard == "ADaMIG":
        frame["bad_name"] = 1.0  # propertyNames
        frame["AVISIT_LONG"] = "y" * 300  # additionalProperties schema: maxLength
    frame["MIXED"] = pd.Series([1, "a", None, 2.5, "b"] * 4)[: len(frame)].to_numpy()
    expected = jsonschema_errors(name, frame)
    assert engine_errors(name, frame) == expected
    structural = ("propertyNames" if standards.dataset(name).standard == "ADaMIG"
                  else "additionalProperties")
    assert {k for _, _, k in expected} >= {"type", "maxLength", "enum", "required", structural}


def test_iso8601_patterns_are_exercised():
    assert "pattern" in {k for _, _, k in jsonschema_errors("DM", sample("DM"))}


def test_every_schema_keyword_is_compiled():
    # A keyword the compiler does not know would raise StandardsError here.
    for name in standards.known_datasets():
        assert compile_schema(name).properties
