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

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# pandas' hash table of Python objects: the one pandas.factorize uses for arrays that
# are not all text (see factorize below for why text needs it too)
from pandas._libs.hashtable import PyObjectHashTable

MAX_NAME = 8  # dataset and variable names
MAX_LABEL = 40  # dataset and variable labels
MAX_CHAR = 200  # bytes of one character value

#: a character that is not ASCII
NON_ASCII = r"[^\x00-\x7f]"
#: an ASCII control character (C0 or DEL)
CONTROL = r"[\x00-\x1f\x7f]"
#: one or more characters a dataset may not hold: not printable ASCII
NOT_PRINTABLE_ASCII = r"[^\x20-\x7e]"


def factorize(values: Any, *, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each value's code (-1 for a missing one: None, NaN, NaT, pd.NA) and the distinct
    values as an object array, in order of first appearance (sorted with ``sort``).

    Values are compared as Python compares them. ``pandas.factorize`` hashes an array
    that is all text as C strings, which end at the first NUL: it takes "M" and
    "M\\x00" for one value, so a check made once per distinct value would pass the
    second unseen. Every stage that works once per distinct text factorises here.

    >>> codes, distinct = factorize(np.array(["M", "M\\x00", None, "M"], dtype=object))
    >>> codes.tolist(), distinct.tolist()
    ([0, 1, -1, 0], ['M', 'M\\x00'])
    >>> factorize(np.array(["b", "a", "b"], dtype=object), sort=True)[0].tolist()
    [1, 0, 1]
    """
    array = values.to_numpy(dtype=object) if isinstance(values, pd.Series | pd.Index) else (
        np.asarray(values, dtype=object))
    array = np.ascontiguousarray(array.ravel())
    table = PyObjectHashTable(max(1, len(array)))  # sized for all distinct: no rehashing
    distinct, codes = table.factorize(array, na_sentinel=-1)
    distinct = np.asarray(distinct, dtype=object)
    if sort and len(distinct) > 1:
        order = np.argsort(distinct, kind="stable")
        rank = np.empty(len(order), dtype=codes.dtype)
        rank[order] = np.arange(len(order), dtype=codes.dtype)
        codes = np.where(codes >= 0, rank[codes], codes)
        distinct = distinct[order]
    return codes, distinct


def codes_hold(values: np.ndarray, codes: np.ndarray, distinct: np.ndarray) -> bool:
    """Whether ``codes`` take every present record of ``values`` to a value equal to its
    own (one object comparison per record). A stage that checks or writes a column once
    per distinct value relies on it, and falls back to record by record when it fails
    (a hash that took two values for one).

    >>> values = np.array(["M", "M\\x00", None], dtype=object)
    >>> codes_hold(values, *factorize(values))
    True
    >>> codes_hold(values, np.array([0, 0, -1]), np.array(["M"], dtype=object))
    False
    """
    present = codes >= 0
    return bool((distinct[codes[present]] == values[present]).all())


def all_text(values: Any) -> bool:
    """Whether an array or Series holds text (or nothing) only: the columns a hash may
    code once per distinct value, as it takes ``1``, ``1.0`` and ``True`` for one value
    while their text differs (one C pass; once per column coded inside
    :func:`codes_shared`, where a column does not change).

    >>> all_text(np.array(["a", None], dtype=object)), all_text(pd.Series(["a", 1.0]))
    (True, False)
    """
    shared = _SHARED.get()
    array = values.to_numpy() if isinstance(values, pd.Series) and values.dtype == object \
        else values
    key = None
    if shared is not None and isinstance(array, np.ndarray) and array.dtype == object:
        key = _memory(array)
        if key in shared.codes:
            hit = shared.text.get(key)
            if hit is not None:
                return hit
            if key in shared.built:  # each record is one of its distinct values, or None
                values = shared.codes[key][1].distinct
        else:
            key = None  # a column not coded in the block may still change
    found = pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    if key is not None:
        shared.text[key] = found
    return found


class TextCodes(NamedTuple):
    """A column's :func:`factorize` and whether its codes hold (:func:`codes_hold`)."""

    codes: np.ndarray
    distinct: np.ndarray
    holds: bool


class _Shared:
    """What a :func:`codes_shared` block knows of its columns, by their memory: their codes
    (the array kept alive with them, so that its memory is not reused) and, once asked,
    whether they are :func:`all_text`."""

    def __init__(self) -> None:
        self.codes: dict[tuple[Any, ...], tuple[np.ndarray, TextCodes]] = {}
        self.text: dict[tuple[Any, ...], bool] = {}
        #: the columns built from their codes (see :func:`remember_codes`)
        self.built: set[tuple[Any, ...]] = set()


#: the columns coded inside :func:`codes_shared` (None outside it)
_SHARED: ContextVar[_Shared | None] = ContextVar("shared text codes", default=None)


@contextlib.contextmanager
def codes_shared() -> Iterator[None]:
    """Inside the block, :func:`text_codes` of an array already coded in it is the
    codes made then: the stages that write, describe and validate the datasets code
    each column once. The arrays must not change inside the block (the codes are
    read-only, and a column is known by its memory: where it starts, its shape and
    strides). A block inside another shares the outer one's codes."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set(_Shared())
    try:
        yield
    finally:
        _SHARED.reset(token)


def code_type(count: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer for codes -1 ... ``count`` - 1 (codes kept for every
    column of a run cost a byte or two a record, not eight)."""
    for kind in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(kind).max:
            return kind
    return np.int64


def text_codes(values: np.ndarray) -> TextCodes:
    """:func:`factorize` of an object array, its codes in the narrowest integer type
    (:func:`code_type`), and whether :func:`codes_hold` -- made once per array inside
    :func:`codes_shared`.

    >>> coded = text_codes(np.array(["M", "F", None, "M"], dtype=object))
    >>> coded.codes.tolist(), coded.codes.dtype.name
    ([0, 1, -1, 0], 'int8')
    """
    known = known_codes(values)
    if known is not None:
        return known
    coded = coded_text(values)
    remember_codes(values, coded)
    return coded


def coded_text(values: np.ndarray) -> TextCodes:
    """:func:`text_codes` made afresh and kept nowhere (for an array about to be let go)."""
    codes, distinct = factorize(values)
    holds = codes_hold(values, codes, distinct)
    codes = codes.astype(code_type(len(distinct)), copy=False)
    codes.flags.writeable = False
    distinct.flags.writeable = False
    return TextCodes(codes, distinct, holds)


class CodesMemo:
    """:func:`text_codes` kept for a while, e.g. while one domain is checked, sorted and
    put in order: each column is coded once however many steps look at it. A column is
    known by its memory, so one a step replaced is coded afresh; the arrays seen are
    kept alive with their codes until the memo is let go."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], tuple[np.ndarray, TextCodes]] = {}
        self._text: dict[tuple[Any, ...], tuple[np.ndarray, bool]] = {}

    def all_text(self, values: np.ndarray) -> bool:
        """:func:`all_text` of an object array, once per array while the memo is kept."""
        key = _memory(values)
        hit = self._text.get(key)
        if hit is None:
            hit = self._text[key] = (values, all_text(values))
        return hit[1]

    def remember(self, values: np.ndarray, coded: TextCodes) -> None:
        """Know ``values``, an all-text array built from ``coded`` (e.g. a column put in
        order with its codes), without coding it again; it is made read-only, so that a
        change to it fails instead of leaving its codes wrong."""
        values.flags.writeable = False
        key = _memory(values)
        self._known[key] = (values, coded)
        self._text[key] = (values, True)

    def knows(self, values: np.ndarray) -> bool:
        """Whether the memo has the codes of ``values``."""
        return _memory(values) in self._known

    def codes(self, values: np.ndarray) -> TextCodes:
        key = _memory(values)
        hit = self._known.get(key)
        if hit is not None:
            return hit[1]
        coded = known_codes(values) or coded_text(values)
        self._known[key] = (values, coded)
        return coded


def _memory(values: np.ndarray) -> tuple[Any, ...]:
    return values.__array_interface__["data"][0], values.shape, values.strides


def known_codes(values: np.ndarray) -> TextCodes | None:
    """The codes of an object array already coded (or remembered) in this
    :func:`codes_shared` block; None otherwise."""
    shared = _SHARED.get()
    if shared is None or not isinstance(values, np.ndarray) or values.dtype != object:
        return None
    known = shared.codes.get(_memory(values))
    return None if known is None else known[1]  # the same memory: the array or a view


def remember_codes(values: np.ndarray, coded: TextCodes, *, built: bool = False) -> None:
    """Keep ``coded`` as the codes of ``values`` for the rest of the :func:`codes_shared`
    block (nothing outside one): a stage that builds a column from codes it has hands
    them on. ``values`` is made read-only, so that a change to it fails instead of
    leaving its codes wrong. ``built``: ``values`` was made as ``distinct[codes]`` with
    None for code -1 (:func:`built_from_codes`)."""
    shared = _SHARED.get()
    if shared is None or not isinstance(values, np.ndarray) or values.dtype != object:
        return
    values.flags.writeable = False
    key = _memory(values)
    shared.codes[key] = (values, coded)  # the array kept: its memory is not reused
    if built:
        shared.built.add(key)


def built_from_codes(values: np.ndarray) -> bool:
    """Whether ``values`` was built from its codes in this :func:`codes_shared` block (each
    record the very object of its distinct value, None where missing, read-only), as
    SDTM builds its text columns; False outside a block."""
    shared = _SHARED.get()
    return (shared is not None and isinstance(values, np.ndarray) and values.dtype == object
            and _memory(values) in shared.built)


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


#: values joined at a time by the ASCII fast path (bounds the joined copy's memory)
_SLICE = 1 << 20


def _ascii_slices(values: pd.Series) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """The column as (text, character codes, value ends) per slice of values, when all of
    its text is ASCII without NUL (missing values count as "", other values as their
    ``str``); None otherwise, and the callers take the per-value path.

    A slice is joined with NUL between the values: ``str.isascii`` on the joined text is
    one C call, ASCII has one byte per character, and the NULs mark where each value
    ends, so the checks below are numpy operations on the codes (character counts
    included) instead of a regex or a ``len`` per value.
    """
    array = values.to_numpy(dtype=object)
    missing = pd.isna(array)
    if missing.any():
        array = array.copy()
        array[missing] = ""
    try:
        return _joined_slices(array)
    except TypeError:  # some values are not text (numbers): their text, as the rules read it
        return _joined_slices(_as_text(values).to_numpy(dtype=object))


def _joined_slices(array: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    slices = []
    for start in range(0, len(array), _SLICE):
        text = array[start:start + _SLICE]
        joined = "\x00".join(text)
        if not joined.isascii():
            return None
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        ends = np.flatnonzero(codes == 0)
        if len(ends) != len(text) - 1:
            return None  # a value holds NUL itself: the per-value path says which
        slices.append((text, codes, np.append(ends, len(codes))))
    return slices


def _counts(ends: np.ndarray) -> np.ndarray:
    """Characters of each value from where the values end (one separator between two)."""
    return np.diff(ends, prepend=-1) - 1


def _rows_holding(slices: list[tuple[np.ndarray, np.ndarray, np.ndarray]], low: int,
                  high: int) -> np.ndarray:
    """True for each value holding a character code below ``low`` (the NUL separators
    aside) or above ``high``."""
    found = []
    for text, codes, ends in slices:
        rows = np.zeros(len(text), dtype=bool)
        outside = ((codes < low) & (codes != 0)) | (codes > high)
        if outside.any():
            rows[np.searchsorted(ends, np.flatnonzero(outside))] = True
        found.append(rows)
    return np.concatenate(found) if found else np.zeros(0, dtype=bool)


def non_ascii(values: pd.Series) -> np.ndarray:
    """True where a value holds a character beyond ASCII (missing values never do)."""
    if _ascii_slices(values) is not None:
        return np.zeros(len(values), dtype=bool)
    return _as_text(values).str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool)


def control_characters(values: pd.Series) -> np.ndarray:
    """True where a value holds a control character such as NUL, TAB or ESC."""
    slices = _ascii_slices(values)
    if slices is not None:  # ASCII: a control character is below 0x20 or 0x7F (DEL)
        return _rows_holding(slices, 0x20, 0x7E)
    return _as_text(values).str.contains(CONTROL, regex=True).to_numpy(dtype=bool)


def not_printable_ascii(values: pd.Series) -> np.ndarray:
    r"""True where a value holds anything but printable ASCII (0x20-0x7E); missing never does.

    >>> not_printable_ascii(pd.Series(["ok", "tab\there", "caf\u00e9", None])).tolist()
    [False, True, True, False]
    """
    slices = _ascii_slices(values)
    if slices is not None:
        return _rows_holding(slices, 0x20, 0x7E)
    return _as_text(values).str.contains(NOT_PRINTABLE_ASCII, regex=True).to_numpy(dtype=bool)


def byte_lengths(values: pd.Series) -> np.ndarray:
    """UTF-8 bytes of each value once trailing blanks (SAS padding) are dropped; 0 if missing.

    >>> byte_lengths(pd.Series(["ab ", None, "é"])).tolist()
    [2, 0, 2]
    """
    slices = _ascii_slices(values)
    if slices is not None:  # ASCII: bytes are characters
        parts = []
        for text, codes, ends in slices:
            lengths = _counts(ends)
            filled = np.flatnonzero(lengths)
            trailing = filled[codes[ends[filled] - 1] == 0x20]  # values ending in a blank
            if len(trailing):
                lengths[trailing] = [len(v.rstrip(" ")) for v in text[trailing]]
            parts.append(lengths)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
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
