"""Numbers as text, the one way every stage writes them.

SAS and define.xml readers expect ``3`` rather than ``3.0``; anything that is
not a whole number keeps Python's shortest round-trip form (``2.5``,
``121.3``, ``1e+20``), so converting back gives the same float. Whole numbers
are printed as integers only below 2**53, where a float still holds every
integer exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_EXACT_INTEGERS = 2.0**53


def number_text(values: pd.Series) -> pd.Series:
    """3.0 -> "3", 2.5 -> "2.5", missing -> None (object dtype, same index).

    >>> number_text(pd.Series([3.0, 2.5, None, 1e20])).tolist()
    ['3', '2.5', None, '1e+20']
    """
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(num), None, dtype=object)
    finite = np.isfinite(num)
    whole = finite & (np.abs(num, where=finite, out=np.zeros_like(num)) < _EXACT_INTEGERS)
    whole &= np.floor(num, where=whole, out=np.zeros_like(num)) == num
    out[whole] = num[whole].astype(np.int64).astype(str)
    rest = ~np.isnan(num) & ~whole
    out[rest] = num[rest].astype(str)
    return pd.Series(out, index=values.index, dtype=object)


def decimals(values: pd.Series) -> int:
    """The most decimal places among the numbers of a column (0 for whole numbers).

    >>> decimals(pd.Series([62, 24.1, 35.25, None, 24.1]))
    2
    """
    # the text of a number depends on its value alone: each distinct number once
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    text = number_text(pd.Series(pd.unique(num))).dropna()
    fractional = text[text.str.contains(".", regex=False) & ~text.str.contains("e")]
    return int(fractional.str.partition(".")[2].str.len().max()) if len(fractional) else 0
