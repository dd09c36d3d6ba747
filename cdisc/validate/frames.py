"""Column helpers shared by the rules, and the one place findings are made.

Missing values: a character value that is empty once trailing blanks are
dropped (SAS pads with blanks, and ``read_xpt`` returns "" for a missing
value) is missing, as are None, NaN and pd.NA. Every rule and the schema
checks go through :func:`strings` (or :func:`text`, :func:`missing`), so
"null" means the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..errors import Location, Problem
from ..model import is_missing
from ..model.text import byte_lengths, not_printable_ascii
from ..text import number_text
from .registry import get_rule

# The leading date/time of an ISO 8601 value (the start of an interval), which the
# rules compare; durations and malformed values have none (the pattern check, CV0104,
# reports the malformed ones).
_ISO_DATETIME = re.compile(
    r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?)?")
# Lengths of ISO 8601 values at each precision: YYYY, YYYY-MM, date, +hh, +hh:mm, +hh:mm:ss
_PRECISIONS = (4, 7, 10, 13, 16, 19)


def strings(s: pd.Series) -> pd.Series:
    """Strings without trailing blanks, None where missing (object dtype; non-strings as str)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return number_text(s)
    # Plain loops over the object array: the pandas .str methods loop over it the same
    # way, plus a fixed cost per call that dominates on the many small datasets of a study.
    obj = s.to_numpy(dtype=object)
    if infer_dtype(obj, skipna=True) in ("string", "empty"):  # one C pass; the usual case
        values = [(v.rstrip(" ") or None) if isinstance(v, str) else None for v in obj]
    else:
        # A mixed column (text among numbers, in a hand-made frame): per element, once.
        values = [(v.rstrip(" ") or None) if isinstance(v, str)
                  else None if pd.isna(v) else (str(v) or None) for v in obj]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, index=s.index, dtype=object)


def missing(s: pd.Series) -> np.ndarray:
    """True where the value is null (the one definition: :func:`cdisc.model.is_missing`)."""
    return is_missing(s)


def numbers(s: pd.Series) -> pd.Series:
    """float64, NaN where missing or not a number (rules are lenient; the type check is not)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index)
    return pd.to_numeric(s, errors="coerce").astype("float64")


def key_text(s: pd.Series) -> pd.Series:
    """A column as comparable text: numbers normalised, numeric text ("1.0") too."""
    text = strings(s)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return text  # number_text already: parsing it again gives the same text
    as_num = pd.to_numeric(text, errors="coerce")
    normal = number_text(as_num)
    return text.where(as_num.isna(), normal)


# --- per-run memo ------------------------------------------------------------------
# Many rules read the same columns; the engine runs them inside run_cache(), so each
# column is normalised once per run. Entries hold the frame they were computed from,
# so an id() cannot be reused by another frame while its entry exists.
_T = TypeVar("_T")
_memo: dict[tuple[Any, ...], tuple[pd.DataFrame, Any]] | None = None


@contextmanager
def run_cache() -> Iterator[None]:
    global _memo
    outer = _memo
    if outer is None:
        _memo = {}
    try:
        yield
    finally:
        if outer is None:
            _memo = None


def memo(frame: pd.DataFrame, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
    """``compute()`` once per frame and key during a run (always, outside a run)."""
    if _memo is None:
        return compute()
    full = (id(frame), *key)
    hit = _memo.get(full)
    if hit is not None and hit[0] is frame:
        return hit[1]
    value = compute()
    _memo[full] = (frame, value)
    return value


def text(frame: pd.DataFrame, name: str) -> pd.Series:
    """:func:`strings` of a column (None-filled if absent), memoised; do not modify it."""
    def compute() -> pd.Series:
        col = column(frame, name)
        if col is None:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        return strings(col)
    return memo(frame, ("text", name), compute)


def column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` if the frame has it (once), else None."""
    if name not in frame.columns:
        return None
    col = frame[name]  # not .loc: frame[name] is cached by pandas, .loc costs ~50 us a call
    return col if isinstance(col, pd.Series) else col.iloc[:, 0]


def first_rows(columns: Sequence[np.ndarray | pd.Series]) -> np.ndarray:
    """For each row, the 0-based position of the first row with the same values.

    Values compare as Python objects (None equals None, as ``dropna=False`` in
    pandas); a row is a duplicate where the result differs from its position.
    One dict lookup per row: cheaper than pandas' duplicated/groupby on small
    frames and as fast on large ones.
    """
    arrays = [np.asarray(c, dtype=object) for c in columns]
    n = len(arrays[0]) if arrays else 0
    first: dict[tuple[Any, ...], int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, key in enumerate(zip(*arrays, strict=True)):
        out[i] = first.setdefault(key, i)
    return out


def utf8_lengths(values: pd.Series) -> np.ndarray:
    """Bytes of each value of a :func:`strings` column in UTF-8 (0 where missing)."""
    return byte_lengths(values)


def printable_ascii(values: pd.Series) -> np.ndarray:
    """True where a :func:`strings` value is missing or printable ASCII (cdisc.model.text)."""
    return ~not_printable_ascii(values)


# --- ISO 8601 comparisons ----------------------------------------------------------


def iso_prefix(s: pd.Series) -> pd.Series:
    """The leading date/time part of ISO 8601 values (no interval end, no zone), NA otherwise."""
    text = strings(s)
    return text.astype("string").str.extract(f"({_ISO_DATETIME.pattern})", expand=False)


def iso_compare(a: pd.Series, b: pd.Series) -> pd.Series:
    """-1/0/+1 comparing ISO values at their common precision; NA where either is unknown.

    "2012-03" vs "2012-03-15" is 0: a partial date is only known to its precision,
    so it is not before or after a date inside that period. ISO 8601 extended
    values of one precision sort as strings, so each precision is one vectorised
    string comparison.
    """
    left, right = iso_prefix(a), iso_prefix(b)
    common = np.minimum(left.str.len(), right.str.len())
    out = pd.Series(pd.NA, index=a.index, dtype="Int64")
    for width in _PRECISIONS:
        # Truncate to the largest standard precision both values reach.
        at = common.ge(width).fillna(False) & ~common.ge(_next(width)).fillna(False)
        if not at.any():
            continue
        lt = left[at].str.slice(0, width)
        rt = right[at].str.slice(0, width)
        out[at] = np.select([lt < rt, lt > rt], [-1, 1], 0)
    return out


def _next(width: int) -> int:
    later = [p for p in _PRECISIONS if p > width]
    return later[0] if later else 10**6


# --- findings ----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """numpy scalars -> Python; NaN/NA -> None (reports are JSON)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, str):
        return value.rstrip(" ") or None
    if isinstance(value, float) and value.is_integer():
        return int(value) if abs(value) < 2**53 else value
    return value


def hits(
    rule_id: str,
    dataset: str,
    frame: pd.DataFrame,
    mask: np.ndarray | pd.Series | Sequence[bool],
    *,
    variable: str | None,
    message: str | Callable[[int], str],
    value: pd.Series | None = None,
) -> list[Problem]:
    """One finding per True in ``mask`` (the only per-row loop: it emits the findings).

    ``record`` is the 1-based position in ``frame``; ``value`` defaults to the
    column ``variable``; ``message`` may be a function of the 0-based row.
    """
    rule = get_rule(rule_id)
    rows = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(rows):
        return []
    if value is None and variable is not None:
        value = column(frame, variable)
    subjects = column(frame, "USUBJID")
    out = []
    for i in rows:
        out.append(Problem(
            rule.id,
            message(int(i)) if callable(message) else message,
            Location(
                dataset=dataset,
                usubjid=_plain(subjects.iat[i]) if subjects is not None else None,
                field=variable,
                value=_plain(value.iat[i]) if value is not None else None,
                record=int(i) + 1,
            ),
            rule.severity,
        ))
    return out


def dataset_hit(rule_id: str, dataset: str | None, message: str, *,
                variable: str | None = None, value: Any = None) -> Problem:
    """A finding about a whole dataset or variable (no record)."""
    rule = get_rule(rule_id)
    return Problem(rule.id, message,
                   Location(dataset=dataset, field=variable, value=_plain(value)), rule.severity)


def show(value: Any) -> str:
    """A value for a message: strings quoted, missing as 'null'."""
    value = _plain(value)
    return "null" if value is None else repr(value)
