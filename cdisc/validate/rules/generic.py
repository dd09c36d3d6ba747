"""Checks every dataset gets, whether or not we know it: names, lengths, ASCII, duplicates."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ... import standards
from ...errors import Problem, Severity
from ...model.text import MAX_CHAR, MAX_NAME
from ..frames import (
    column_distinct,
    dataset_hit,
    first_rows_of,
    hits,
    printable_ascii,
    starts_with,
    text_at,
    utf8_lengths,
)
from ..registry import InScope, Scope, rule
from ..schema import compile_schema
from ..study import ADAM, as_study, metadata

# SDTM names: letters and digits, starting with a letter, at most 8 (the XPT v5 limit).
_NAME = re.compile(rf"[A-Z][A-Z0-9]{{0,{MAX_NAME - 1}}}\Z")


def _adam_name_pattern() -> str | None:
    """ADaM names allow '_': take the rule from a shipped ADaM schema, not from here."""
    for name in standards.known_datasets():
        meta = standards.dataset(name)
        if meta.standard == "ADaMIG":
            return compile_schema(name).property_names
    return None


@rule("CV0001", Severity.NOTICE, "Dataset is not in the standards metadata we ship",
      "SDTMIG 3.4 / ADaMIG 1.3 dataset list; only the generic checks ran on it",
      category="Metadata")
def unknown_dataset(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    return [dataset_hit("CV0001", name, f"{name} is not a dataset of the shipped standards "
                        f"metadata; it was checked as {study.standards[name]} with the generic "
                        "and cross-dataset rules only")
            for name in study.names() if metadata(name) is None]


@rule("CV0002", Severity.ERROR, "Dataset name is not 1-8 upper-case letters and digits",
      "SAS XPORT v5; CG0205 (CORE-000293)", category="Format")
def dataset_name(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return [dataset_hit("CV0002", name, f"dataset name {name!r} is not 1-8 upper-case letters "
                        "and digits starting with a letter", value=name)
            for name in as_study(datasets).names() if not _NAME.match(name)]


@rule("CV0003", Severity.ERROR, "Variable name is not 1-8 upper-case letters and digits",
      "SDTMIG 3.4 section 4.2.1; SAS XPORT v5; CG0310 (CORE-000182)", category="Format")
def variable_name(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    adam = _adam_name_pattern()
    out = []
    for name in study.names():
        if metadata(name) is not None and compile_schema(name).property_names:
            continue  # the schema's propertyNames (CV0107) checks these names
        pattern = adam if study.standards[name] == ADAM and adam else _NAME.pattern
        for variable in map(str, study[name].columns):
            if not re.search(pattern, variable):
                out.append(dataset_hit("CV0003", name, f"variable name {variable!r} does not "
                                       f"match {pattern}", variable=variable))
    return out


@rule("CV0004", Severity.ERROR, "Character value longer than 200 bytes",
      "SAS XPORT v5 / FDA Study Data Technical Conformance Guide; SDTMIG 3.4 section 4.2.9",
      category="Limit")
def value_length(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names():
        frame = study[name]
        compiled = compile_schema(name) if metadata(name) is not None else None
        for position, variable in enumerate(map(str, frame.columns)):
            specs = compiled.specs_for(variable) if compiled is not None else None
            if specs and any(s.max_length for s in specs):
                continue  # the schema's maxLength (CV0102) checks this column
            found, values = text_at(frame, position)
            size = utf8_lengths(found)
            if (size > MAX_CHAR).any():
                out += hits("CV0004", name, frame, size > MAX_CHAR, variable=variable,
                            value=values(), message=lambda i, s=size, v=variable:
                            f"{v} is {int(s[i])} bytes; at most {MAX_CHAR}")
    return out


@rule("CV0005", Severity.ERROR, "Character value is not printable ASCII",
      "SAS XPORT v5 / FDA Study Data Technical Conformance Guide (ASCII text)", category="Format")
def ascii_text(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names():
        frame = study[name]
        for position, (variable, dtype) in enumerate(zip(map(str, frame.columns), frame.dtypes,
                                                         strict=True)):
            if pd.api.types.is_numeric_dtype(dtype):
                continue
            found, values = text_at(frame, position)
            bad = ~printable_ascii(found)
            if bad.any():
                out += hits("CV0005", name, frame, bad, variable=variable, value=values(),
                            message=f"{variable} has characters outside printable ASCII")
    return out


@rule("CV0006", Severity.WARNING, "Duplicate record (all values equal apart from --SEQ)",
      "SDTMIG 3.4 section 3.2.1 (dataset keys: one record per observation)", category="Consistency")
def duplicate_records(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names():
        frame = study[name]
        if frame.empty or not frame.columns.is_unique:
            continue
        # --SEQ (and ADaM's ASEQ) exists to tell records apart, so it is left out.
        compare = [c for c in frame.columns if not str(c).endswith("SEQ")]
        if not compare:
            continue
        first_row = first_rows_of([column_distinct(frame, c) for c in compare])
        dup = first_row != np.arange(len(frame))
        out += hits("CV0006", name, frame, dup, variable=None,
                    message=lambda i, f=first_row: f"same values as record {int(f[i]) + 1}")
    return out


@rule("CV0007", Severity.WARNING, "Text value starts with a blank",
      "FB1501 (CORE-000867: text variables have no leading spaces); SAS XPORT keeps trailing "
      "blanks only as padding", scope=Scope(standard="SDTM"), category="Format")
def leading_blank(ds: InScope) -> list[Problem]:
    frame = ds.frame
    out: list[Problem] = []
    for position, (variable, dtype) in enumerate(zip(map(str, frame.columns), frame.dtypes,
                                                     strict=True)):
        if pd.api.types.is_numeric_dtype(dtype):
            continue
        found, values = text_at(frame, position)
        bad = starts_with(found, " ")
        if bad.any():
            out += hits("CV0007", ds.name, frame, bad, variable=variable, value=values(),
                        message=f"{variable} starts with a blank")
    return out


@rule("CV0000", Severity.ERROR, "A rule could not run (a defect of the validator)",
      "cdisc-convert: please report it with the datasets that caused it", category="System")
def internal(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return []  # the engine reports a rule that raised under this id
