"""Value recodes for columns without a codelist: a map, a regular-expression extract.

A site writes grades as ``G2`` or ``Grade 3`` and yes/no as ``y``/``Yes``; SDTM wants
``2``, ``3`` and one spelling. ``recode`` maps collected values to submission
values through a table in the spec; ``extract`` keeps the part of each value a
pattern captures (and may then map it). A value that matches nothing is an error
at its source row (MAP020) unless the spec gives a ``default``: nothing is
silently dropped. ``ignore_case`` is :mod:`cdisc.sdtm.matching`'s rule.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .matching import lookup_values, report_clashes, squeeze_blanks
from .primitives import as_text
from .registry import Arg, MappingContext, algorithm

_MAP_SCHEMA = {"type": "object", "minProperties": 1,
               "additionalProperties": {"type": ["string", "number"]}}
_IGNORE_CASE = Arg.value("match ignoring case and blanks (female, Female and ' F ' alike)",
                         {"type": "boolean"})
_DEFAULT = Arg.value("the result for a value nothing matches; without it such a value is "
                     "an error (MAP020)", {"type": ["string", "number"]}, result=True)


def _missing_as_none(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


@algorithm("recode", "record", args={
    "column": Arg.column("the source column of collected values", required=True),
    "map": Arg.value("collected value -> submission value", _MAP_SCHEMA, required=True,
                     result=True),
    "ignore_case": _IGNORE_CASE,
    "default": _DEFAULT,
})
def recode(src: pd.DataFrame, ctx: MappingContext, *, column: str, map: dict[str, Any],
           ignore_case: bool = False, default: Any = None) -> pd.Series:
    """Collected value -> submission value through a table, for a column without a codelist.

    ``{algorithm: recode, column: ongoing, map: {"Yes": "Y", "No": "N"}, ignore_case: true}``:
    ``yes`` -> ``Y``; a value the table does not hold is an error (MAP020) unless
    ``default`` gives its result.
    """
    values = as_text(src[column])
    result, ambiguous, clashes = lookup_values(values, map, ignore_case)
    report_clashes(src, ctx, column, values, ambiguous, clashes)
    unmatched = values.notna() & result.isna() & ~ambiguous
    if default is not None:
        result = result.where(~unmatched, default)
    else:
        ctx.report("MAP020", "value is not in the recode map; add it to the spec (or give a "
                   "default)", src, unmatched, column, values)
    return _missing_as_none(result)


@algorithm("extract", "record", args={
    "column": Arg.column("the source column of collected values", required=True),
    "pattern": Arg.pattern("a regular expression the whole value must match; its group is "
                           "the result (G2 -> 2 for G([1-5]))", required=True),
    "map": Arg.value("the extracted text -> submission value (optional)", _MAP_SCHEMA,
                     result=True),
    "ignore_case": _IGNORE_CASE,
    "default": _DEFAULT,
})
def extract(src: pd.DataFrame, ctx: MappingContext, *, column: str, pattern: str,
            map: dict[str, Any] | None = None, ignore_case: bool = False,
            default: Any = None) -> pd.Series:
    """The part of each value a regular expression captures: ``G2`` -> ``2``.

    The pattern (Python syntax, exactly one capturing group) must match the whole
    value: with ``pattern: "(?:G|Grade )([1-5])"``, ``G2`` -> ``2`` and ``Grade 3``
    -> ``3``, while ``G12`` is an error (MAP020) rather than a silent ``1``. With
    ``map`` the extracted text is then recoded; with ``ignore_case`` case and
    blanks do not count (the extracted text keeps its case).
    """
    values = as_text(src[column])
    text = squeeze_blanks(values) if ignore_case else values.astype("string")
    found = text.str.extract(f"^(?:{pattern})\\Z", flags=re.IGNORECASE if ignore_case else 0,
                             expand=True).iloc[:, 0]
    extracted = _missing_as_none(found)
    no_match = values.notna() & extracted.isna()
    result = extracted
    not_in_map = pd.Series(False, index=src.index)
    if map is not None:
        result, ambiguous, clashes = lookup_values(extracted, map, ignore_case)
        report_clashes(src, ctx, column, values, ambiguous, clashes)
        not_in_map = extracted.notna() & result.isna() & ~ambiguous
    if default is not None:
        result = result.where(~(no_match | not_in_map), default)
    else:
        ctx.report("MAP020", f"value does not match the pattern {pattern!r}; add a spelling "
                   "to the pattern (or give a default)", src, no_match, column, values)
        ctx.report("MAP020", f"the part of the value {pattern!r} extracts is not in the map; "
                   "add it to the spec (or give a default)", src, not_in_map, column, values)
    return _missing_as_none(result)


__all__ = ["extract", "recode"]
