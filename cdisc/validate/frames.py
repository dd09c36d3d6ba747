"""Column helpers shared by the rules, and the one place findings are made.

Missing values: a character value that is empty once trailing blanks are
dropped (SAS pads with blanks, and ``read_xpt`` returns "" for a missing
value) is missing, as are None, NaN and pd.NA. Every rule and the schema
checks go through :func:`strings` (or :func:`text`, :func:`missing`), so
"null" means the same thing everywhere.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Location, Problem
from ..model import is_missing
from ..model.text import (
    all_text,
    built_from_codes,
    byte_lengths,
    code_type,
    factorize,
    known_codes,
    not_printable_ascii,
    text_codes,
)
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
    values = _normalised(s)[0]
    assert values is not None
    return values


@dataclass(frozen=True)
class Distinct:
    """A column of text (str or None) as codes into its distinct values.

    ``codes[i]`` is the position of row i's value in ``values``, -1 where it is
    missing. A check of a text column looks at each distinct value once and spreads
    the answers to the rows (:meth:`per_row`): columns repeat their values (codes,
    dates, identifiers), and numpy indexing is ~1 ns a row where a Python call per
    value is ~100.
    """

    codes: np.ndarray  # signed integers, as narrow as the number of values allows
    values: np.ndarray  # object array of distinct str

    def per_row(self, per_value: np.ndarray | Sequence[Any], missing: Any) -> np.ndarray:
        """One answer per distinct value -> one per row, ``missing`` where null."""
        answers = np.asarray(per_value)
        table = np.empty(len(self.values) + 1,
                         dtype=answers.dtype if answers.size else np.asarray([missing]).dtype)
        table[:-1] = answers
        table[-1] = missing
        return table[self.codes]  # code -1 is the last entry

    def rows(self) -> np.ndarray:
        """The column itself: object array of str, None where missing."""
        return self.per_row(self.values, None)


def _distinct(codes: np.ndarray, texts: Sequence[str | None]) -> Distinct:
    """``Distinct`` of a column factorised as ``codes`` into ``texts`` (which may hold
    None and repeat a value: normalising can merge "A" and "A ")."""
    texts = np.asarray(texts, dtype=object) if len(texts) else np.empty(0, dtype=object)
    remap, values = factorize(texts)  # None -> -1
    kind = code_type(len(values))
    if len(values) != len(texts) or (remap != np.arange(len(remap))).any():
        return Distinct(np.append(remap, -1).astype(kind)[codes],
                        np.asarray(values, dtype=object))
    return Distinct(codes.astype(kind, copy=False), np.asarray(values, dtype=object))


def _normalised(s: pd.Series, *, rows: bool = True
                ) -> tuple[pd.Series | None, Distinct | None, str]:
    """:func:`strings` of ``s``, its distinct values when computed on the way, and what
    ``s`` held: "number" (a numeric column), "string" (str or missing) or "mixed".
    Without ``rows`` the strings themselves are left unmade (None) where the distinct
    values are found: a caller that keeps only those saves a take per record."""
    found: Distinct | None
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        codes, numbers = pd.factorize(num)  # NaN -> -1
        found = _distinct(codes, number_text(pd.Series(numbers)).to_numpy(dtype=object))
        source = "number"
    else:
        obj = s.to_numpy(dtype=object)
        coded = text_codes(obj) if all_text(obj) else None  # the writers' codes, in a run
        if coded is not None and coded.holds:  # None, NaN, NA: code -1
            found = _distinct(coded.codes, [v.rstrip(" ") or None for v in coded.distinct])
            source = "string"
        else:
            # A mixed column (text among numbers, in a hand-made frame): per element, once.
            values = np.empty(len(obj), dtype=object)
            values[:] = [(v.rstrip(" ") or None) if isinstance(v, str)
                         else None if pd.isna(v) else (str(v) or None) for v in obj]
            return pd.Series(values, index=s.index, dtype=object), None, "mixed"
    if not rows:
        return None, found, source
    return pd.Series(found.rows(), index=s.index, dtype=object), found, source


def missing(s: pd.Series) -> np.ndarray:
    """True where the value is null (the one definition: :func:`cdisc.model.is_missing`)."""
    return is_missing(s)


def missing_in(frame: pd.DataFrame, name: str) -> np.ndarray:
    """:func:`missing` of column ``name`` (which the frame has), from the run's
    :func:`text` of it when that has seen every value (a column of text, or of
    numbers: there a null is exactly what :func:`strings` makes None)."""
    if frame.columns.is_unique and _memo is not None:
        kept = _kept_text(frame, name)
        if kept.source in ("string", "number"):
            return kept.distinct.codes < 0
    return missing(frame[name])


def numbers(s: pd.Series) -> pd.Series:
    """float64, NaN where missing or not a number (rules are lenient; the type check is not)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index)
    return pd.to_numeric(s, errors="coerce").astype("float64")


def key_text(s: pd.Series) -> pd.Series:
    """A column as comparable text: numbers normalised, numeric text ("1.0") too."""
    values, found, source = _normalised(s)
    if source == "number":
        return values  # number_text already: parsing it again gives the same text
    if found is None:
        found = _distinct_of(values)
    if found is None:  # unreachable: strings() gives str or None
        return values
    # each distinct text parsed once; the rows share its key's str object
    texts = pd.Series(found.values, dtype=object)
    as_num = pd.to_numeric(texts, errors="coerce")
    keys = texts.where(as_num.isna(), number_text(as_num)).to_numpy(dtype=object)
    return pd.Series(found.per_row(keys, None), index=s.index, dtype=object)


def upper(values: pd.Series) -> pd.Series:
    """``values.str.upper()`` of a column of text (str or None), each distinct value once."""
    found = _text_distinct(values)
    uppers = np.array([v.upper() for v in found.values], dtype=object) if len(found.values) \
        else np.empty(0, dtype=object)
    return pd.Series(found.per_row(uppers, None), index=values.index, dtype=object)


# --- per-run memo ------------------------------------------------------------------
# Many rules read the same columns; the engine runs them inside run_cache(), so each
# column is normalised once per run. Entries hold the frame they were computed from,
# so an id() cannot be reused by another frame while its entry exists.
_T = TypeVar("_T")
_memo: dict[tuple[Any, ...], tuple[pd.DataFrame | pd.Series, Any]] | None = None


@dataclass(frozen=True)
class _Text:
    """What a run keeps of a column's :func:`text`: its distinct values and codes (1-4
    bytes a row), and what the source column held ("number", "string" or "mixed")."""

    distinct: Distinct
    source: str
    #: the column's own array, when its text is the column itself (an SDTM column built
    #: from its codes, which normalising leaves as it is): text() hands it out, not a copy
    column: np.ndarray | None = None


#: id of each text() Series handed out in this run -> what it was made from. Weak: an
#: entry goes with its Series, so a run keeps codes, never a text column per rule.
_handed: dict[int, _Text] = {}
#: the last text() Series handed out, by frame and column (least recent first)
_recent: OrderedDict[tuple[int, str], tuple[pd.DataFrame, pd.Series]] = OrderedDict()
_RECENT = 4


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
            _recent.clear()
            _handed.clear()


def memo(frame: pd.DataFrame | pd.Series, key: tuple[Any, ...], compute: Callable[[], _T]
         ) -> _T:
    """``compute()`` once per frame (or column) and key during a run (always, outside one)."""
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
    """:func:`strings` of a column (None-filled if absent); do not modify it.

    Within a run the column is normalised once: the run keeps its distinct values
    and codes, and each call gets the text back from them (a numpy take), so what a
    run holds per column is a few bytes a row, not a Series of objects.
    """
    if _memo is None:
        col = column(frame, name)
        return strings(col) if col is not None else pd.Series(
            [None] * len(frame), index=frame.index, dtype=object)
    recent = _recent.get((id(frame), name))
    if recent is not None and recent[0] is frame:
        _recent.move_to_end((id(frame), name))
        return recent[1]
    kept = _kept_text(frame, name)
    rows = kept.distinct.rows() if kept.column is None else kept.column
    out = pd.Series(rows, index=frame.index, dtype=object, copy=False)
    _handed[id(out)] = kept
    weakref.finalize(out, _handed.pop, id(out), None)
    # a rule that asks for a column value by value (in a message) gets the same Series
    _recent[(id(frame), name)] = (frame, out)
    if len(_recent) > _RECENT:
        _recent.popitem(last=False)
    return out


@dataclass(frozen=True)
class ColumnText:
    """:func:`text` of one column as the column checks read it: its distinct values,
    what the column held ("number", "string" or "mixed"), and the text itself, made
    only when asked (for the findings)."""

    distinct: Distinct
    source: str
    make: Callable[[], pd.Series]


def column_text(frame: pd.DataFrame, position: int) -> ColumnText:
    """:class:`ColumnText` of the column at ``position`` (a frame's names may repeat)."""
    if frame.columns.is_unique and _memo is not None:
        name = str(frame.columns[position])
        kept = _kept_text(frame, name)
        return ColumnText(kept.distinct, kept.source, lambda: text(frame, name))
    values, found, source = _normalised(frame.iloc[:, position])
    if found is None:
        found = _distinct_of(values)
        assert found is not None  # strings() gives str or None
    return ColumnText(found, source, lambda: values)


def text_at(frame: pd.DataFrame, position: int) -> tuple[Distinct, Callable[[], pd.Series]]:
    """The distinct values of the text of the column at ``position``, and a function
    that gives the text itself (see :class:`ColumnText`)."""
    column = column_text(frame, position)
    return column.distinct, column.make


def column_distinct(frame: pd.DataFrame, name: str) -> Distinct:
    """The distinct values of :func:`text` of a column, without making the text."""
    if _memo is None:
        return _text_distinct(text(frame, name))
    return _kept_text(frame, name).distinct


def _kept_text(frame: pd.DataFrame, name: str) -> _Text:
    def compute() -> _Text:
        col = column(frame, name)
        if col is None:
            return _Text(Distinct(np.full(len(frame), -1, dtype=np.int8),
                                  np.empty(0, dtype=object)), "string")
        values, found, source = _normalised(col, rows=False)
        if found is None:  # a mixed column: its text holds str or None
            assert values is not None
            found = _distinct_of(values)
            assert found is not None
        return _Text(found, source, _text_itself(col, found) if source == "string" else None)

    return memo(frame, ("text", name), compute)


def _text_itself(col: pd.Series, found: Distinct) -> np.ndarray | None:
    """``col``'s own array when SDTM built it from its codes in this run (each record the
    object of its distinct value, None where missing, read-only: nothing may change a
    converted dataset) and normalising leaves those values as they are; None otherwise.
    Only such columns: whether a column some stage merely coded is read-only would
    depend on which thread coded it first."""
    array = col.to_numpy(dtype=object)
    if array.ndim != 1 or not built_from_codes(array):
        return None
    coded = known_codes(array)
    if coded is None or len(coded.distinct) != len(found.values):
        return None
    # normalising changed nothing: the same objects (str.rstrip returns a str it leaves
    # unchanged), in the same order, so the codes are the same too
    if not all(a is b for a, b in zip(coded.distinct, found.values, strict=True)):
        return None
    return array


def _run_text(values: pd.Series) -> bool:
    """Whether ``values`` is a column :func:`text` handed out in this run (whose distinct
    values are known)."""
    return id(values) in _handed


def source_kind(values: pd.Series) -> str | None:
    """For a run's :func:`text` column, what its source column held: "number", "string"
    (str or missing) or "mixed"; None for any other Series."""
    kept = _handed.get(id(values))
    return kept.source if kept is not None else None


def distinct(values: pd.Series) -> Distinct | None:
    """The distinct values of a column of str/None (known for the run's :func:`text`
    columns); None when a value is neither text nor missing."""
    kept = _handed.get(id(values))
    return kept.distinct if kept is not None else _distinct_of(values)


def _distinct_of(values: pd.Series) -> Distinct | None:
    obj = values.to_numpy(dtype=object)
    if not all_text(obj):
        return None
    codes, uniques = factorize(obj)
    return Distinct(codes.astype(code_type(len(uniques))), np.asarray(uniques, dtype=object))


def is_in(values: pd.Series | Distinct, members: Collection[Any]) -> np.ndarray:
    """``values.isin(members)`` as numpy, each distinct text value looked up once."""
    found = values if isinstance(values, Distinct) else distinct(values)
    if found is None:
        assert isinstance(values, pd.Series)
        return values.isin(list(members)).to_numpy(dtype=bool)
    return found.per_row(pd.Series(found.values, dtype=object).isin(list(members)).to_numpy(),
                         False)


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
    The run's text columns compare as codes of their distinct values
    (:func:`first_rows_of`); other columns by one dict lookup per row.
    """
    # only the run's text columns: they hold str or None, where codes and Python
    # equality agree (a hand-made column may hold NaN, which is not None)
    found = [distinct(c) if isinstance(c, pd.Series) and _run_text(c) else None
             for c in columns]
    if columns and all(d is not None for d in found):
        return first_rows_of([d for d in found if d is not None])
    arrays = [np.asarray(c, dtype=object) for c in columns]
    n = len(arrays[0]) if arrays else 0
    first: dict[tuple[Any, ...], int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, key in enumerate(zip(*arrays, strict=True)):
        out[i] = first.setdefault(key, i)
    return out


def first_rows_of(columns: Sequence[Distinct]) -> np.ndarray:
    """:func:`first_rows` of columns given by their distinct values (a missing value is
    one value of its own): one integer key per row, numbered by first appearance."""
    return _first_rows_of_codes([d.codes for d in columns], [len(d.values) + 1 for d in columns])


_KEY_LIMIT = 1 << 62


def _first_rows_of_codes(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """:func:`first_rows` of columns given as codes (-1 for missing) with ``sizes``
    possible values each (missing included)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    span = 1
    for column_codes, size in zip(codes, sizes, strict=True):
        if span * size >= _KEY_LIMIT:  # renumber the keys so far densely: they fit again
            key, seen = pd.factorize(key)
            span = max(len(seen), 1)
        key = key * size + (column_codes.astype(np.int64) + 1)
        span *= size
    groups, _ = pd.factorize(key)  # numbered in order of first appearance
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    newest = np.maximum.accumulate(groups)
    first = np.flatnonzero(np.r_[True, groups[1:] > newest[:-1]])  # group k starts at first[k]
    return first[groups]


# --- whole-column text operations (Arrow) ---------------------------------------------
# A regular expression or a string function applied value by value (pandas' .str on
# object columns) was most of a validation's time; Arrow runs them over a whole column.


def arrow_text(values: pd.Series) -> pa.Array | None:
    """A text column (str, or None/NaN/NA where missing) as an Arrow string array.

    None when a value is neither text nor missing (a mixed, hand-made column): the
    callers then take the value-by-value path, which knows how to render those.
    """
    return _to_arrow(values)


def _to_arrow(values: pd.Series) -> pa.Array | None:
    if isinstance(values.dtype, pd.StringDtype):
        return pa.array(values.array).cast(pa.string())
    try:
        return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def ascii_arrow_text(values: pd.Series) -> pa.Array | None:
    """:func:`arrow_text` when every value is ASCII, else None.

    Patterns with ``\\d`` or ``\\w`` match the same in Arrow (RE2) and in Python only
    on ASCII text (Python's also match other scripts' digits), so those take the
    Arrow path only for ASCII columns.
    """
    arr = arrow_text(values)
    if arr is None:
        return None

    return arr if pc.all(pc.string_is_ascii(arr)).as_py() is not False else None


def regex_search(values: pd.Series | Distinct, pattern: str) -> np.ndarray:
    """``re.search(pattern, value) is not None`` for every text value (False where missing
    or not text), searching each distinct value once: dates and codes repeat, and
    Python's own regex keeps its semantics (lookaheads, Unicode digits)."""
    rx = re.compile(pattern)
    found = _found(values)
    if found is not None:
        return found.per_row(np.fromiter((rx.search(v) is not None for v in found.values),
                                         dtype=bool, count=len(found.values)), False)
    assert isinstance(values, pd.Series)
    codes, uniques = factorize(values.to_numpy(dtype=object))
    if not len(uniques):
        return np.zeros(len(codes), dtype=bool)
    hit = np.fromiter((isinstance(u, str) and rx.search(u) is not None for u in uniques),
                      dtype=bool, count=len(uniques))
    return (codes >= 0) & hit[codes]


def _bools(mask: pa.Array) -> np.ndarray:
    return mask.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def not_null(values: pd.Series) -> np.ndarray:
    """``values.notna()`` as a numpy array (from the codes of a run's text column)."""
    if _run_text(values):
        found = distinct(values)
        if found is not None:
            return found.codes >= 0
    return values.notna().to_numpy()


def _found(values: pd.Series | Distinct) -> Distinct | None:
    return values if isinstance(values, Distinct) else distinct(values)


def char_lengths(values: pd.Series | Distinct) -> np.ndarray | None:
    """Characters (code points) of each text value, 0 where missing; None when a value
    is neither text nor missing."""
    found = _found(values)
    if found is None:
        return None
    return found.per_row(np.fromiter(map(len, found.values), dtype=np.int64,
                                     count=len(found.values)), 0)


def utf8_lengths(values: pd.Series | Distinct) -> np.ndarray:
    """Bytes of each value of a :func:`strings` column in UTF-8 (0 where missing)."""
    found = _found(values)
    if found is None:
        assert isinstance(values, pd.Series)
        return byte_lengths(values)
    return found.per_row(byte_lengths(pd.Series(found.values, dtype=object)), 0)


def printable_ascii(values: pd.Series | Distinct) -> np.ndarray:
    """True where a :func:`strings` value is missing or printable ASCII (cdisc.model.text)."""
    found = _found(values)
    if found is None:
        assert isinstance(values, pd.Series)
        return ~not_printable_ascii(values)
    return found.per_row(~not_printable_ascii(pd.Series(found.values, dtype=object)), True)


def starts_with(values: pd.Series | Distinct, prefix: str) -> np.ndarray:
    """True where a text value starts with ``prefix`` (False where missing)."""
    found = _found(values)
    if found is not None:
        return found.per_row(np.fromiter((v.startswith(prefix) for v in found.values),
                                         dtype=bool, count=len(found.values)), False)
    assert isinstance(values, pd.Series)
    arr = arrow_text(values)
    if arr is None:
        return values.astype("string").str.startswith(prefix).fillna(False).to_numpy(
            dtype=bool)
    return _bools(pc.starts_with(arr, prefix))


# --- ISO 8601 comparisons ----------------------------------------------------------


def iso_prefix(s: pd.Series) -> pd.Series:
    """The leading date/time part of ISO 8601 values (no interval end, no zone), NA otherwise."""
    text = strings(s)
    arr = ascii_arrow_text(text)
    if arr is None:
        return text.astype("string").str.extract(f"({_ISO_DATETIME.pattern})", expand=False)
    found = pc.struct_field(pc.extract_regex(arr, f"(?P<p>{_ISO_DATETIME.pattern})"), [0])
    return pd.Series(pd.arrays.ArrowStringArray(found), index=s.index)


def iso_compare(a: pd.Series, b: pd.Series) -> pd.Series:
    """-1/0/+1 comparing ISO values at their common precision; NA where either is unknown.

    "2012-03" vs "2012-03-15" is 0: a partial date is only known to its precision,
    so it is not before or after a date inside that period. ISO 8601 extended
    values of one precision sort as strings, so a comparison is of the first bytes
    of the two leading date/times, as many as the largest standard precision both
    reach. Each distinct value is parsed once and each distinct pair compared once.
    """
    left, right = _text_distinct(a), _text_distinct(b)
    left_keys, right_keys = _iso_keys(left), _iso_keys(right)
    if left_keys is None or right_keys is None:  # a leading date/time that is not ASCII
        return _iso_compare_text(a, b)
    span = len(right.values) + 1
    pairs, seen = pd.factorize((left.codes.astype(np.int64) + 1) * span + (right.codes + 1))
    # code -1 (missing) indexes the last entry of a table: its key is empty, length 0
    order, unknown = _iso_order(*left_keys, seen // span - 1, *right_keys, seen % span - 1)
    return pd.Series(pd.arrays.IntegerArray(order[pairs], unknown[pairs]), index=a.index)


#: bytes of the longest precision compared (YYYY-MM-DDThh:mm:ss; fractions are not)
_ISO_WIDTH = _PRECISIONS[-1]


def _iso_order(left_bytes: np.ndarray, left_len: np.ndarray, left_at: np.ndarray,
               right_bytes: np.ndarray, right_len: np.ndarray, right_at: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """-1/0/+1 of the leading date/times ``left_at`` vs ``right_at`` (rows of the key
    tables), and where that is unknown (no common standard precision)."""
    common = np.minimum(left_len[left_at], right_len[right_at])
    width = np.zeros(len(common), dtype=np.int64)
    for precision in _PRECISIONS:  # the largest standard precision both values reach
        width[common >= precision] = precision
    lefts, rights = left_bytes[left_at], right_bytes[right_at]
    differ = (lefts != rights) & (np.arange(_ISO_WIDTH) < width[:, None])
    first = differ.argmax(axis=1)
    rows = np.arange(len(first))
    order = np.sign(lefts[rows, first].astype(np.int64) - rights[rows, first].astype(np.int64))
    return order * differ.any(axis=1), width == 0


def _iso_keys(found: Distinct) -> tuple[np.ndarray, np.ndarray] | None:
    """Per distinct value (and a last entry for missing), the leading ISO 8601 date/time
    as ``_ISO_WIDTH`` bytes (zero-filled) and its length in characters (0 where there is
    none); None if one is not ASCII."""
    prefixes = [m.group(0) if m is not None else "" for m in map(_ISO_DATETIME.match,
                                                                    found.values)]
    if not all(p.isascii() for p in prefixes):
        return None
    prefixes.append("")  # the missing value
    lengths = np.fromiter(map(len, prefixes), dtype=np.int64, count=len(prefixes))
    joined = b"".join(p.encode("ascii")[:_ISO_WIDTH].ljust(_ISO_WIDTH, b"\0")
                      for p in prefixes)
    keys = np.frombuffer(joined, dtype=np.uint8).reshape(len(prefixes), _ISO_WIDTH)
    return keys, lengths


def _text_distinct(s: pd.Series) -> Distinct:
    """:func:`distinct` of :func:`strings` of ``s`` (a run's text column as it is)."""
    if source_kind(s) is not None:
        found = distinct(s)
        if found is not None:
            return found
    normal, found, _ = _normalised(s, rows=False)
    if found is None:
        assert normal is not None
        found = _distinct_of(normal)
    assert found is not None  # strings() gives str or None
    return found


def per_distinct(values: pd.Series, compute: Callable[[pd.Series], np.ndarray],
                 missing: Any) -> np.ndarray:
    """``compute`` (a whole-column function of text values) run on each distinct value of
    :func:`strings` of ``values`` once, spread to the rows; ``missing`` where null."""
    found = _text_distinct(values)
    return found.per_row(np.asarray(compute(pd.Series(found.values, dtype=object))), missing)


def _iso_compare_text(a: pd.Series, b: pd.Series) -> pd.Series:
    """:func:`iso_compare` on the leading date/times as text (any characters)."""
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
    # the found rows' values at once (.iat per finding costs more than the finding)
    found_subjects = _plain_values(subjects, rows)
    found_values = _plain_values(value, rows)
    text_of = message if callable(message) else None
    return [Problem(rule.id, text_of(int(i)) if text_of is not None else message,
                    Location(dataset=dataset, usubjid=subject, field=variable, value=shown,
                             record=int(i) + 1),
                    rule.severity)
            for i, subject, shown in zip(rows, found_subjects, found_values, strict=True)]


def _plain_values(values: pd.Series | None, rows: np.ndarray) -> list[Any]:
    if values is None:
        return [None] * len(rows)
    return [_plain(v) for v in values.iloc[rows].tolist()]


def at_rows(values: pd.Series | pd.DataFrame) -> Callable[[int], Any]:
    """``values.iat[i]`` as a function of i for the messages of findings: the values are
    read into one array at the first call (``.iat`` costs microseconds a call, which
    a rule with a million findings pays a million times)."""
    read: list[np.ndarray] = []

    def at(i: int) -> Any:
        if not isinstance(values, pd.Series):
            return values.iat[i]  # what it did before (a frame: an error, reported as such)
        if not read:
            dtype = values.dtype
            read.append(values.to_numpy() if isinstance(dtype, np.dtype) and dtype.kind in
                        "biufcO" else values.to_numpy(dtype=object))  # Timestamps, pd.NA
        return read[0][i]

    return at


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
