"""The condition language of a spec: its shape, and walking it.

A condition is data, not code (no ``eval``); it filters a block's rows
(``where:``), picks a ``condition`` case or selects the records a derivation
reads::

    {"column": "grade", "in": [3, 4]}
    {"all": [{"column": "death_date", "is_missing": false},
             {"not": {"column": "cause", "equals": "Unknown"}}]}

The JSON Schema (``$defs/condition``) fixes the shape; this module reads it for
the spec checks (which columns a condition reads, which values it compares)
and for messages. Evaluating a condition on rows is
:func:`cdisc.sdtm.conditions.evaluate_condition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pandas.api.types import infer_dtype

from ..model import is_missing
from ..model.text import factorize

#: single-column tests that compare the column with values written in the spec
VALUE_TESTS = ("equals", "not_equals")
LIST_TESTS = ("in", "not_in")


def leaf_conditions(cond: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-column tests of a condition (for spec checks)."""
    if "all" in cond or "any" in cond:
        return [leaf for sub in cond.get("all", cond.get("any", [])) for leaf in
                leaf_conditions(sub)]
    if "not" in cond:
        return leaf_conditions(cond["not"])
    return [cond]


def condition_columns(cond: Mapping[str, Any] | None) -> list[str]:
    """Every column a condition reads (for spec checks); none for no condition."""
    if not cond:
        return []
    if "all" in cond or "any" in cond:
        return [c for sub in cond.get("all", cond.get("any", [])) for c in condition_columns(sub)]
    if "not" in cond:
        return condition_columns(cond["not"])
    return [cond["column"]]


def compared_values(leaf: dict[str, Any]) -> list[Any]:
    """The values a single-column test compares its column with.

    >>> compared_values({"column": "grade", "in": [3, 4]})
    [3, 4]
    """
    values = [leaf[k] for k in VALUE_TESTS if k in leaf]
    return values + [v for k in LIST_TESTS for v in leaf.get(k, [])]


def describe_condition(cond: dict[str, Any]) -> str:
    """Short human text of a condition, for exclusion reasons.

    >>> describe_condition({"not": {"column": "grade", "in": [3, 4]}})
    'not (grade in [3, 4])'
    """
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


# --- evaluation on rows --------------------------------------------------------------


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


def evaluate_condition(cond: Mapping[str, Any] | None, frame: pd.DataFrame) -> pd.Series:
    """The condition on every row of ``frame``: a boolean Series aligned with it.

    No condition is true everywhere. A value is missing as :func:`cdisc.model.is_missing`
    says (None, NaN, blank text: source cells and SAS values alike); text is compared
    without surrounding blanks. A missing value equals nothing, so ``equals``/``in``
    are false for it and ``not_equals``/``not_in`` true.
    """
    if cond is None:
        return pd.Series(True, index=frame.index)
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
    if not pd.api.types.is_numeric_dtype(column.dtype):
        array = column.to_numpy(dtype=object)
        if infer_dtype(array, skipna=True) in ("string", "empty"):
            # A test's result depends on the value alone: decide it once per distinct
            # text (and once for missing), then take it back to every row by its code.
            codes, distinct = factorize(array)
            codes[codes < 0] = len(distinct)
            decided = _evaluate_leaf(cond, pd.Series([*distinct, None], dtype=object))
            return pd.Series(decided.to_numpy(dtype=bool)[codes], index=frame.index)
    return _evaluate_leaf(cond, column).set_axis(frame.index)


def _evaluate_leaf(cond: Mapping[str, Any], column: pd.Series) -> pd.Series:
    """One single-column test on every value of ``column`` (aligned with it)."""
    present = pd.Series(~is_missing(column), index=column.index)
    if not pd.api.types.is_numeric_dtype(column.dtype):
        stripped = column.astype(object).where(present, "").astype(str).str.strip()
        column = stripped.where(present, None)
    if "is_missing" in cond:
        return ~present if cond["is_missing"] else present
    for op, negate in (("equals", False), ("not_equals", True)):
        if op in cond:
            equal = (present & (column == _comparable(column, cond[op]))).fillna(False)
            return ~equal.astype(bool) if negate else equal.astype(bool)
    for op, negate in (("in", False), ("not_in", True)):
        if op in cond:
            inside = present & column.isin([_comparable(column, v) for v in cond[op]])
            return ~inside.astype(bool) if negate else inside.astype(bool)
    raise KeyError(f"unknown condition {dict(cond)!r}")  # the spec schema prevents this
