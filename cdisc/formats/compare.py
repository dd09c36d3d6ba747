"""Do two frames hold the same dataset? One answer for every format.

Used by the Dataset-JSON writer (the bytes it wrote, decoded, against the
frame it was given) and by the folder reader (``dm.xpt`` against ``dm.json``
of the same dataset). Values are compared as a transport file stores them:

* character: a missing value (None, NaN) is "", trailing blanks are padding
  (SAS drops them), so ``None``, ``""`` and ``"  "`` are the same;
* numeric: the same double, or both missing; with ``tiny`` > 0 any two
  magnitudes below ``tiny`` are one stored zero (XPT stores numbers below
  ``16**-65`` as 0); negative zero equals zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Location, Problem

#: differing records reported per column before a summary line
MAX_REPORTED = 10


def _is_numeric(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values.dtype)
            and not pd.api.types.is_bool_dtype(values.dtype))


def _filled(values: pd.Series) -> np.ndarray:
    """The values, a missing one as "" (numpy, not pandas: a column of ten records costs
    microseconds, not pandas' fixed cost per call)."""
    # np.array copies: pandas' to_numpy(copy=True) can hand back a read-only array as it is
    array = np.array(values.to_numpy(dtype=object), dtype=object)
    array[pd.isna(array)] = ""
    return array


def _text(filled: np.ndarray) -> np.ndarray:
    """Values as compared: text without its trailing blanks; other values as they are."""
    return np.fromiter((v.rstrip(" ") if isinstance(v, str) else v for v in filled),
                       dtype=object, count=len(filled))


def _same_text(want: pd.Series, have: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(same, want's text, have's text) of two character columns, each text only where they
    differ. Equal values have equal text, so the blanks are stripped only from the values
    that differ as they are (a few, if any, of a column written and read back)."""
    want_filled, have_filled = _filled(want), _filled(have)
    same = np.asarray(want_filled == have_filled, dtype=bool)
    shown_want = np.full(len(same), None, dtype=object)
    shown_have = np.full(len(same), None, dtype=object)
    rows = np.flatnonzero(~same)
    if len(rows):
        shown_want[rows] = _text(want_filled[rows])
        shown_have[rows] = _text(have_filled[rows])
        same[rows] = np.asarray(shown_want[rows] == shown_have[rows], dtype=bool)
    return same, shown_want, shown_have


def _numbers(values: pd.Series) -> np.ndarray | None:
    converted = pd.to_numeric(values, errors="coerce")
    if (converted.isna() & values.notna()).any():
        return None  # not all numbers
    return converted.to_numpy(dtype="float64", na_value=np.nan)


def frame_differences(expected: pd.DataFrame, got: pd.DataFrame, *, dataset: str,
                      reader: str, code: str, tiny: float = 0.0) -> list[Problem]:
    """Every way ``got`` differs from ``expected``: variables, record count, values.

    Numeric columns of ``expected`` are compared as numbers, all others as text.
    ``reader`` names what produced ``got`` in the messages (e.g. ``"sdtm/dm.json"``).
    """
    where = {"dataset": dataset}
    if list(got.columns) != list(expected.columns):
        return [Problem(code, f"{reader} holds variables {list(got.columns)}, not "
                        f"{list(expected.columns)}", Location(**where))]
    if len(got) != len(expected):
        return [Problem(code, f"{reader} holds {len(got)} records, not {len(expected)}",
                        Location(**where))]
    problems: list[Problem] = []
    for position, name in enumerate(expected.columns):
        problems += column_differences(expected.iloc[:, position], got.iloc[:, position],
                                       name=str(name), dataset=dataset, reader=reader,
                                       code=code, tiny=tiny)
    return problems


def column_differences(want: pd.Series, have: pd.Series, *, name: str, dataset: str,
                       reader: str, code: str, tiny: float = 0.0) -> list[Problem]:
    """Every record where column ``have`` differs from ``want`` (the same length), as
    :func:`frame_differences` compares them."""
    where = {"dataset": dataset}
    if _is_numeric(want):
        read = _numbers(have)
        if read is None:
            return [Problem(code, f"{reader} holds text in a numeric variable",
                            Location(field=name, **where))]
        wanted = want.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            same = (read == wanted) | (np.isnan(read) & np.isnan(wanted))
            if tiny:
                same |= (np.abs(read) <= tiny) & (np.abs(wanted) <= tiny)
        shown_want, shown_have = wanted, read
    else:
        if _is_numeric(have):
            return [Problem(code, f"{reader} holds numbers in a character variable",
                            Location(field=name, **where))]
        same, shown_want, shown_have = _same_text(want, have)
    problems: list[Problem] = []
    rows = np.flatnonzero(~np.asarray(same, dtype=bool))
    for i in rows[:MAX_REPORTED]:
        value = shown_want[i]
        problems.append(Problem(
            code, f"{reader} holds {shown_have[i]!r}, not {value!r}",
            Location(field=name, record=int(i) + 1,
                     value=value.item() if isinstance(value, np.generic) else value,
                     **where)))
    if len(rows) > MAX_REPORTED:
        problems.append(Problem(code, f"and {len(rows) - MAX_REPORTED} more records differ "
                                f"in {reader}", Location(field=name, **where)))
    return problems
