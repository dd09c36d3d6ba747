"""Row conditions for ``where:`` filters and the ``condition`` algorithm.

A condition is data, not code (no ``eval``)::

    {"column": "grade", "in": [3, 4]}
    {"all": [{"column": "death_date", "is_missing": false},
             {"not": {"column": "cause", "equals": "Unknown"}}]}

A missing value equals nothing, so ``equals``/``in`` are false for it and
``not_equals``/``not_in`` are true.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


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


def describe_condition(cond: dict[str, Any]) -> str:
    """Short human text of a condition, for exclusion reasons."""
    if "all" in cond:
        return " and ".join(f"({describe_condition(c)})" for c in cond["all"])
    if "any" in cond:
        return " or ".join(f"({describe_condition(c)})" for c in cond["any"])
    if "not" in cond:
        return f"not ({describe_condition(cond['not'])})"
    col = cond["column"]
    for op, word in (("equals", "=="), ("not_equals", "!="), ("in", "in"), ("not_in", "not in")):
        if op in cond:
            return f"{col} {word} {cond[op]!r}"
    return f"{col} is {'missing' if cond['is_missing'] else 'present'}"


def leaf_conditions(cond: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-column tests of a condition (for spec checks)."""
    if "all" in cond or "any" in cond:
        return [leaf for sub in cond.get("all", cond.get("any", [])) for leaf in
                leaf_conditions(sub)]
    if "not" in cond:
        return leaf_conditions(cond["not"])
    return [cond]


def condition_columns(cond: dict[str, Any]) -> list[str]:
    """Every column a condition reads (for spec checks)."""
    if "all" in cond or "any" in cond:
        return [c for sub in cond.get("all", cond.get("any", [])) for c in condition_columns(sub)]
    if "not" in cond:
        return condition_columns(cond["not"])
    return [cond["column"]]
