"""Work once per distinct value: the memoisation the engine's hot paths share.

A study's columns repeat: 600,000 dates of 10,000 subjects hold a few thousand
distinct days, a USUBJID column 10,000 identifiers, a coded column a dozen
terms. A rule that looks at one value at a time (a date's calendar, a CT term, a
padded identifier) is therefore computed on the distinct values and taken back
to the rows by their codes: one hash pass over the column (``cdisc.model.text.factorize``, in
C) instead of Python or a regex per row.

Only columns whose values are all text (or missing) are taken this way, because
``factorize`` treats ``1``, ``1.0`` and ``True`` as one value while their text
differs; for other columns :func:`per_distinct` returns None and the caller
computes on the rows.

Example::

    >>> import pandas as pd
    >>> per_distinct(pd.Series(["a", None, "a", "bb"]), lambda s: s.str.len()).tolist()
    [1.0, nan, 1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..model.text import CodesMemo, all_text, factorize


def distinct_text(values: pd.Series) -> tuple[pd.Series, np.ndarray] | None:
    """The distinct values of a text column and each row's position among them, or None
    when some value is neither text nor missing.

    The column's own missing value (None, NaN or pd.NA, the first one met) stands last
    for every missing row, so a rule decides about missing values as it would on the
    rows. The distinct values are an object Series with a fresh 0..n-1 index.
    """
    array = values.to_numpy(dtype=object)
    if not all_text(array):
        return None
    codes, distinct = factorize(array)
    missing = codes < 0
    if missing.any():
        codes[missing] = len(distinct)
        distinct = np.append(np.asarray(distinct, dtype=object), array[np.argmax(missing)])
    return pd.Series(distinct, dtype=object), codes


def per_distinct(values: pd.Series,
                 compute: Callable[[pd.Series], Any]) -> np.ndarray | None:
    """``compute`` (an element-wise rule on a Series) on the distinct values of a text
    column, taken back to every row (an array aligned with ``values``); None when the
    column is not all text."""
    found = distinct_text(values)
    if found is None:
        return None
    distinct, codes = found
    result = compute(distinct)
    array = result.to_numpy() if isinstance(result, pd.Series) else np.asarray(result)
    return array[codes]


class DistinctValues:
    """The distinct present values of each text column of one frame, made once per column
    for the checks that run on the frame one after another (a check that finds nothing
    in them -- the usual case -- never looks at the records).

    >>> frame = pd.DataFrame({"A": ["x", "y", "x", None]})
    >>> DistinctValues(frame)("A").tolist()
    ['x', 'y']
    """

    def __init__(self, frame: pd.DataFrame, memo: CodesMemo | None = None) -> None:
        self.frame = frame
        self.memo = memo or CodesMemo()
        self._known: dict[str, pd.Series | None] = {}

    def __call__(self, column: str) -> pd.Series | None:
        """The column's distinct present values; None when it holds something but text.
        The column must not have changed since the frame was given."""
        if column not in self._known:
            array = self.frame[column].to_numpy(dtype=object)
            found = None
            if self.memo.all_text(array):
                found = pd.Series(self.memo.codes(array).distinct, dtype=object)
            self._known[column] = found
        return self._known[column]


def dense_ranks(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each integer key's rank among the distinct keys (0, 1, ... in sorted order) and the
    first row of each distinct key, by rank: ``np.unique(keys, return_index=True,
    return_inverse=True)`` from a hash of the rows and a sort of the distinct keys only
    (sorting millions of records is what it avoids).

    >>> [a.tolist() for a in dense_ranks(np.array([7, 3, 7, 5]))]
    [[2, 0, 2, 1], [1, 3, 0]]
    """
    codes, distinct = pd.factorize(keys)  # codes in order of first appearance
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if not len(codes):
        return codes.astype(np.int64), codes.astype(np.int64)
    # code k first appears where the running maximum of the codes first reaches k
    reached = np.maximum.accumulate(codes)
    firsts = np.flatnonzero(np.r_[True, reached[1:] != reached[:-1]])
    return rank[codes], firsts[order]


def combined_ranks(columns: Iterable[tuple[np.ndarray, int]], rows: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dense_ranks` of the combinations of several columns: ``columns`` gives each
    column's codes (in its values' sorted order, 0 ... size - 1) and size. The codes are
    combined in mixed radix, which keeps the order, and renumbered densely after each
    column, so that the combined key never overflows.

    >>> [a.tolist() for a in combined_ranks([(np.array([1, 0, 1]), 2),
    ...                                      (np.array([0, 2, 0]), 3)], 3)]
    [[1, 0, 1], [1, 0]]
    """
    group = np.zeros(rows, dtype=np.int64)
    first = np.zeros(min(1, rows), dtype=np.int64)
    for codes, size in columns:
        group, first = dense_ranks(group * size + codes)
    return group, first

