"""Row conditions evaluated on frames: ``where:`` filters and the ``condition`` algorithm.

The condition language (its shape, walking it, describing it) is the spec's,
:mod:`cdisc.spec.conditions`; this module evaluates a condition on rows::

    {"column": "grade", "in": [3, 4]}
    {"all": [{"column": "death_date", "is_missing": false},
             {"not": {"column": "cause", "equals": "Unknown"}}]}

A missing value equals nothing, so ``equals``/``in`` are false for it and
``not_equals``/``not_in`` are true.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# describe_condition is re-exported for the engine's exclusion reasons (cdisc/sdtm/blocks.py)
from ..spec.conditions import describe_condition as describe_condition


def _comparable(column: pd.Series, value: Any) -> Any:
    if pd.api.types.is_numeric_dtype(column) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if not pd.api.types.is_numeric_dtype(column) and not isinstance(value, str):
        # a number written in the spec matches the text a file holds: 3.0 -> "3"
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value


def evaluate_condition(cond: dict[str, Any], frame: pd.DataFrame) -> pd.Series:
    """Boolean Series aligned with ``frame``."""
    if "all" in cond:
        result = pd.Series(True, index=frame.index)
        for sub in cond["all"]:
            result &= evaluate_condition(sub, frame)
        return result
    if "any" in cond:
        result = pd.Series(False, index=frame.index)
        for sub in cond["any"]:
            result |= evaluate_condition(sub, frame)
        return result
    if "not" in cond:
        return ~evaluate_condition(cond["not"], frame)
    column = frame[cond["column"]]
    present = column.notna()
    if "is_missing" in cond:
        return ~present if cond["is_missing"] else present
    if "equals" in cond:
        equal = present & (column == _comparable(column, cond["equals"]))
        return equal.fillna(False).astype(bool)
    if "not_equals" in cond:
        equal = present & (column == _comparable(column, cond["not_equals"]))
        return ~equal.fillna(False).astype(bool)
    if "in" in cond:
        return (present & column.isin([_comparable(column, v) for v in cond["in"]])).astype(bool)
    if "not_in" in cond:
        inside = present & column.isin([_comparable(column, v) for v in cond["not_in"]])
        return ~inside.astype(bool)
    raise ValueError(f"unknown condition {cond!r}")  # the spec schema prevents this
