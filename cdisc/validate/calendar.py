"""Calendar arithmetic of the validator, written apart from the mapping engine's.

A rule that reused the engine's study-day code could never catch a bug in it,
so the validator counts days itself: the civil-from-days algorithm (proleptic
Gregorian calendar, as ISO 8601 uses), on whole columns, for every year
0001-9999.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .frames import ascii_arrow_text, per_distinct

_LEADING_DATE = r"^(\d{4})-(\d{2})-(\d{2})"


def _date_parts(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of the leading YYYY-MM-DD of each value, NaN where there is none."""
    arr = ascii_arrow_text(values)
    if arr is None:  # not all ASCII text: Python's regex, which reads other scripts' digits
        parts = values.astype("string").str.extract(_LEADING_DATE)
        return tuple(pd.to_numeric(parts[i], errors="coerce").to_numpy(dtype="float64")
                     for i in range(3))  # type: ignore[return-value]
    found = pc.extract_regex(arr, r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})")
    return tuple(pc.cast(pc.struct_field(found, [i]), pa.float64()).to_numpy(
        zero_copy_only=False) for i in range(3))  # type: ignore[return-value]


def day_numbers(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of the complete date each ISO 8601 value starts with.

    NaN where the value has no complete leading date (partial, missing,
    malformed) or the date does not exist (2023-02-29, month 13, year 0000).

    >>> day_numbers(pd.Series(["1970-01-02", "2024-02-29T10:00", "2023-02-29", "0001-01-01"])
    ...             ).tolist()
    [1.0, 19782.0, nan, -719162.0]
    """
    # dates repeat: each distinct value is parsed once
    return per_distinct(values, _day_numbers, np.nan)


def _day_numbers(values: pd.Series) -> np.ndarray:
    year, month, day = _date_parts(values)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype="float64")
    in_month = np.where((month >= 1) & (month <= 12),
                        month_days[np.clip(np.nan_to_num(month), 1, 12).astype(int) - 1]
                        + ((month == 2) & leap), 0)
    real = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= in_month)
    # days from civil (H. Hinnant): March-based years make the leap day the last day
    y = year - (month <= 2)
    era = np.floor(y / 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = np.floor((153 * mp + 2) / 5) + day - 1
    doe = yoe * 365 + np.floor(yoe / 4) - np.floor(yoe / 100) + doy
    days = era * 146097 + doe - 719468
    return np.where(real, days, np.nan)


def study_days(dates: pd.Series, reference: pd.Series) -> np.ndarray:
    """SDTMIG 3.4 section 4.4.4: the reference date is day 1, the day before it -1 (no day 0).

    NaN unless both values start with a complete, real date.
    """
    delta = day_numbers(dates) - day_numbers(reference)
    return np.where(delta >= 0, delta + 1, delta)
