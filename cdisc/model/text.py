"""What text a submission dataset may hold: one definition for every stage.

The mapping engine reports a breach at the source row, the XPT writer only
asserts it (an output record is no place to send a user), and the validator
reports it in datasets we did not write. All three take the rule from here.

Limits: SAS XPORT v5 (SAS technical note TS-140) gives names 8 bytes and
labels 40; the FDA Study Data Technical Conformance Guide limits character
values to 200 bytes and asks for ASCII text. Control characters (C0 and DEL)
do not survive a transport file: ReadStat truncates at NUL and readers strip
trailing tabs and newlines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_NAME = 8  # dataset and variable names
MAX_LABEL = 40  # dataset and variable labels
MAX_CHAR = 200  # bytes of one character value

#: a character that is not ASCII
NON_ASCII = r"[^\x00-\x7f]"
#: an ASCII control character (C0 or DEL)
CONTROL = r"[\x00-\x1f\x7f]"
#: one or more characters a dataset may not hold: not printable ASCII
NOT_PRINTABLE_ASCII = r"[^\x20-\x7e]"


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def non_ascii(values: pd.Series) -> np.ndarray:
    """True where a value holds a character beyond ASCII (missing values never do)."""
    return _as_text(values).str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool)


def control_characters(values: pd.Series) -> np.ndarray:
    """True where a value holds a control character such as NUL, TAB or ESC."""
    return _as_text(values).str.contains(CONTROL, regex=True).to_numpy(dtype=bool)


def not_printable_ascii(values: pd.Series) -> np.ndarray:
    r"""True where a value holds anything but printable ASCII (0x20-0x7E); missing never does.

    >>> not_printable_ascii(pd.Series(["ok", "tab\there", "caf\u00e9", None])).tolist()
    [False, True, True, False]
    """
    return _as_text(values).str.contains(NOT_PRINTABLE_ASCII, regex=True).to_numpy(dtype=bool)


def byte_lengths(values: pd.Series) -> np.ndarray:
    """UTF-8 bytes of each value once trailing blanks (SAS padding) are dropped; 0 if missing.

    >>> byte_lengths(pd.Series(["ab ", None, "é"])).tolist()
    [2, 0, 2]
    """
    text = _as_text(values).str.rstrip(" ")
    lengths = text.str.len().to_numpy(dtype=np.int64)
    wide = text.str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool)
    if wide.any():  # characters == bytes for ASCII; encode only the others
        lengths[wide] = text[wide].str.encode("utf-8").str.len().to_numpy()
    return lengths


def first_offending(value: object, pattern: str) -> tuple[int, str] | None:
    """1-based position and character of the first match of ``pattern`` in one value."""
    import re

    found = re.search(pattern, str(value))
    return (found.start() + 1, found.group()) if found else None
