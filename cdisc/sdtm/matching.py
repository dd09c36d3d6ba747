"""Matching collected values against a table, exactly or ignoring case and blanks.

One rule for every table the spec writes (``recode``/``extract`` maps, study CT
maps with ``assign_ct``'s ``ignore_case``): ignoring case and blanks means
surrounding blanks are dropped, a run of blanks counts as one, and case does
not count, so ``female``, ``Female`` and ``" F "`` match the keys ``Female``
and ``F``. Two keys of one table that become equal under this rule but give
different results make the values matching them ambiguous: the caller reports
them, nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .ct import ResolvedCodelist
from .registry import MappingContext


def squeeze_blanks(values: pd.Series) -> pd.Series:
    """Surrounding blanks dropped and every run of blanks made one blank (text stays text)."""
    return values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)


def loose_key(values: pd.Series) -> pd.Series:
    """The form values are compared in when case and blanks do not count.

    >>> loose_key(pd.Series(["  Female ", "F", "not  done", None])).tolist()
    ['female', 'f', 'not done', None]
    """
    out = squeeze_blanks(values).str.casefold()
    return out.astype(object).where(out.notna(), None)


def _loose_table(table: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``table`` keyed by :func:`loose_key`, and the keys that collide with different values."""
    keys = list(table)
    loose = loose_key(pd.Series(keys, dtype=object)).tolist()
    out: dict[str, Any] = {}
    spelled: dict[str, list[str]] = {}
    for key, norm in zip(keys, loose, strict=True):  # the spec's table, not the data
        spelled.setdefault(norm, []).append(key)
        out.setdefault(norm, table[key])
    clashes = {norm: spellings for norm, spellings in spelled.items()
               if len({str(table[k]) for k in spellings}) > 1}
    return out, clashes


def lookup_values(values: pd.Series, table: Mapping[str, Any], ignore_case: bool,
                  ) -> tuple[pd.Series, pd.Series, dict[str, list[str]]]:
    """``values`` looked up in ``table``: (results, ambiguous rows, clashing keys).

    Exact matching is a plain dictionary lookup and nothing is ambiguous.
    """
    if not ignore_case:
        return values.map(dict(table)), pd.Series(False, index=values.index), {}
    loose, clashes = _loose_table(table)
    keys = loose_key(values)
    ambiguous = keys.isin(list(clashes)).astype(bool)
    return keys.map(loose).where(~ambiguous), ambiguous, clashes


def report_clashes(src: pd.DataFrame, ctx: MappingContext, column: str, values: pd.Series,
                   ambiguous: pd.Series, clashes: dict[str, list[str]]) -> None:
    """MAP021 for each row that matches keys differing only in case or blanks."""
    if ambiguous.any():
        spellings = "; ".join(" / ".join(repr(k) for k in keys) for keys in clashes.values())
        ctx.report("MAP021", "value matches map keys that differ only in case or blanks but "
                   f"map to different values ({spellings})", src, ambiguous, column, values)


def loose_ct_values(src: pd.DataFrame, ctx: MappingContext, column: str, values: pd.Series,
                    resolved: ResolvedCodelist) -> tuple[pd.Series, pd.Series]:
    """Submission values for ``assign_ct``'s ``ignore_case``: the study CT map first, then
    the codelist's own submission values, both ignoring case and blanks.

    Returns the values and the rows already reported: a row matching keys (or
    terms) that differ only in case or blanks is MAP021 and comes back missing.
    A value matching nothing is missing, for ``assign_ct`` to report.
    """
    mapped, ambiguous, clashes = lookup_values(values, resolved.map, True)
    report_clashes(src, ctx, column, values, ambiguous, clashes)
    terms = {term: term for term in resolved.codelist.terms}
    direct, ambiguous_term, term_clashes = lookup_values(values, terms, True)
    ambiguous_term &= mapped.isna() & ~ambiguous
    report_clashes(src, ctx, column, values, ambiguous_term, term_clashes)
    reported = ambiguous | ambiguous_term
    return mapped.where(mapped.notna() | ambiguous, direct).where(~reported), reported


__all__ = ["lookup_values", "loose_ct_values", "loose_key", "report_clashes", "squeeze_blanks"]
