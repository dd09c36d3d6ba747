"""Text built from several columns: VISIT ``CYCLE 1 DAY 8`` from a cycle and a day column.

The template names its columns in braces (the language is
:func:`cdisc.spec.algorithms.template_parts`, checked at ``spec check``). What
happens when a part is missing is the spec's choice, never a half-built text
like ``CYCLE 1 DAY ``.
"""

from __future__ import annotations

import pandas as pd

from ..spec.algorithms import template_parts
from .primitives import as_text
from .registry import Arg, MappingContext, algorithm

#: what a row with a missing placeholder value becomes (the ``missing`` argument)
MISSING_RULES = ("error", "null", "omit")


@algorithm("format", "record", args={
    "template": Arg.template("the text, with {column} for each column's value "
                             "(\"CYCLE {cycle} DAY {day}\")", required=True),
    "missing": Arg.value("a row where a placeholder's column is empty: error (default, "
                         "MAP022), null (the whole value is missing) or omit (the "
                         "placeholder is left out, blanks around it closed up)",
                         {"enum": list(MISSING_RULES)}),
})
def format_text(src: pd.DataFrame, ctx: MappingContext, *, template: str,
                missing: str = "error") -> pd.Series:
    """Text from a template with ``{column}`` placeholders: ``CYCLE {cycle} DAY {day}``.

    Numbers are written as SAS prints them (``1.0`` -> ``1``). A row with an
    empty placeholder column is an error (MAP022) unless ``missing`` says
    ``null`` (the value is missing) or ``omit`` (``"{site} {detail}"`` with no
    detail gives ``"LIVER"``). ``{{``/``}}`` write a literal brace.
    """
    parts = template_parts(template)
    out = pd.Series("", index=src.index, dtype="string")
    any_missing = pd.Series(False, index=src.index)
    first_missing: pd.Series = pd.Series(None, index=src.index, dtype=object)
    for literal, name in parts:
        out = out + literal
        if name is None:
            continue
        values = as_text(src[name]).astype("string")
        gone = values.isna()
        first_missing = first_missing.where(first_missing.notna() | ~gone, name)
        any_missing |= gone
        out = out + values.fillna("")
    if missing == "omit":
        # an omitted part leaves its blanks behind: close them up (other rows keep theirs)
        closed = out.str.replace(r"\s+", " ", regex=True).str.strip()
        out = out.where(~any_missing, closed)
        out = out.where(out != "")
    else:
        if missing == "error":
            for name in dict.fromkeys(first_missing.dropna()):
                ctx.report("MAP022", f"the template {template!r} needs a value of {name!r}, "
                           "which is empty (missing: null or omit in the spec says what to "
                           "do instead)", src, any_missing & first_missing.eq(name), name)
        out = out.where(~any_missing)
    return out.astype(object).where(out.notna(), None)


__all__ = ["MISSING_RULES", "format_text"]
