"""What "missing" means, for every stage.

A value is missing when it is None, NaN or pd.NA, or text that is empty once
trailing blanks are dropped (SAS pads character values with blanks and has no
other character missing value, so "" and "   " read back alike).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .text import factorize


def is_missing(values: pd.Series) -> np.ndarray:
    """True where a value is missing.

    >>> is_missing(pd.Series(["a", "", "  ", None, float("nan")])).tolist()
    [False, True, True, True, True]
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        return values.isna().to_numpy()
    # numpy arrays, not pandas calls: this runs for every column of every stage, most of
    # them a few records long, where pandas' fixed cost per call would dominate
    array = values.to_numpy(dtype=object)
    absent = pd.isna(array)
    if infer_dtype(array, skipna=True) not in ("string", "empty"):
        return absent | np.fromiter((isinstance(v, str) and not v.rstrip(" ") for v in array),
                                    dtype=bool, count=len(array))
    blank = np.zeros(len(array), dtype=bool)
    if not absent.all():
        # a column repeats its values: each distinct text is looked at once
        codes, distinct = factorize(array[~absent])
        blank[~absent] = np.fromiter((not text.rstrip(" ") for text in distinct), dtype=bool,
                                     count=len(distinct))[codes]
    return absent | blank
