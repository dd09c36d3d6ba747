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

from typing import Any

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


def condition_columns(cond: dict[str, Any]) -> list[str]:
    """Every column a condition reads (for spec checks)."""
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
