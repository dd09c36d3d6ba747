"""What "missing" means, for every stage.

A value is missing when it is None, NaN or pd.NA, or text that is empty once
trailing blanks are dropped (SAS pads character values with blanks and has no
other character missing value, so "" and "   " read back alike).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype


def is_missing(values: pd.Series) -> np.ndarray:
    """True where a value is missing.

    >>> is_missing(pd.Series(["a", "", "  ", None, float("nan")])).tolist()
    [False, True, True, True, True]
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        return values.isna().to_numpy()
    obj = values.astype(object)
    absent = pd.isna(obj).to_numpy()
    if infer_dtype(obj, skipna=True) in ("string", "empty"):
        blank = obj.where(~absent, "x").str.rstrip(" ").eq("").to_numpy(dtype=bool)
    else:
        blank = obj.map(lambda v: isinstance(v, str) and not v.rstrip(" ")).to_numpy(dtype=bool)
    return absent | blank
