"""Calendar arithmetic of the validator, written apart from the mapping engine's.

A rule that reused the engine's study-day code could never catch a bug in it,
so the validator counts days itself: the civil-from-days algorithm (proleptic
Gregorian calendar, as ISO 8601 uses), on whole columns, for every year
0001-9999.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_LEADING_DATE = r"^(\d{4})-(\d{2})-(\d{2})"


def day_numbers(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of the complete date each ISO 8601 value starts with.

    NaN where the value has no complete leading date (partial, missing,
    malformed) or the date does not exist (2023-02-29, month 13, year 0000).

    >>> day_numbers(pd.Series(["1970-01-02", "2024-02-29T10:00", "2023-02-29", "0001-01-01"])
    ...             ).tolist()
    [1.0, 19782.0, nan, -719162.0]
    """
    parts = values.astype("string").str.extract(_LEADING_DATE)
    year, month, day = (pd.to_numeric(parts[i], errors="coerce").to_numpy(dtype="float64")
                        for i in range(3))
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
