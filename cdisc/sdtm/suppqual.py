"""SUPPQUAL: non-standard variables and text over 200 bytes (SDTMIG 3.4 section 4.5.3, 8.4).

Text over 200 bytes (SDTMIG 3.4 section 4.5.3.2): the first piece stays in the
variable, the others go to SUPP-- as QNAM1, QNAM2, ... (QNAM truncated so the
name keeps 8 characters). The split rule, which :func:`join_pieces` inverts:

* the text is split at a blank between two words, the pieces never start or
  end with a blank (the FDA business rules reject leading blanks, and XPT drops
  trailing ones), so every split blank is the one separator between two pieces;
* a piece split at a blank holds at most 199 bytes, so that the blank between
  it and the next one fits in the 200 bytes it had;
* a word that does not fit in 200 bytes is cut hard, inside the word: that
  piece holds exactly 200 bytes and joins the next one without a blank;
* blanks around the whole text are not part of it (the source reader strips
  them from every cell), so they are dropped before splitting; blanks inside
  the text, several in a row included, are kept inside the pieces;
* each piece ends at the last blank that keeps it within 199 bytes (words stay
  whole), unless the rest could then not be split, when an earlier choice is
  taken; a text that no split by these rules fits (the only places to cut are
  inside a run of blanks, or a word of exactly 200 bytes is followed by a
  blank) is an error (MAP015) rather than a piece with a blank at an end.

Joining back: ``piece + " " + next``, except after a 200-byte piece (``piece +
next``). Each piece's QLABEL is the variable's label, then "<label> 1",
"<label> 2", ... so QLABEL is unique per QNAM within the dataset.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import standards
from ..model.text import MAX_CHAR, MAX_LABEL, MAX_NAME
from ..sources.reader import ROW, SOURCE
from ..spec.model import DomainSpec, Spec
from .distinct import DistinctValues
from .primitives import as_text
from .registry import MappingContext

#: prefix of the columns that carry a block's supp: values until SUPP-- is built
SUPP_PREFIX = "__supp__"
#: QORIG of a SUPP value whose mapping names no origin
DEFAULT_ORIGIN = "CRF"
#: the one separator between two pieces split at a word boundary
PIECE_SEPARATOR = " "
#: a blank with a non-blank on both sides: the only place a text is split between words
_WORD_BREAK = re.compile(r"(?<=[^ ]) (?=[^ ])")


def split_words(text: str, width: int = MAX_CHAR) -> list[str] | None:
    """Split ``text`` into pieces of at most ``width`` bytes by the rule above; None if no
    split by that rule exists (the only places to cut are inside a run of blanks, or a
    word of exactly ``width`` bytes is followed by a blank).

    Each piece ends at the last blank that keeps it within ``width - 1`` bytes, else the
    word is cut hard at ``width``; when that choice leaves a rest that cannot be split,
    the next one is tried, so a text is refused only when no split exists.

    >>> split_words("aa bb cc", width=4)
    ['aa', 'bb', 'cc']
    >>> split_words("abcdefg hi", width=4)
    ['abcd', 'efg', 'hi']
    >>> split_words("ab    cd", width=4) is None
    True
    """
    rest = text.strip(" ")
    n = len(rest)
    breaks = [m.start() for m in _WORD_BREAK.finditer(rest)]
    # piece start -> (piece end, next piece start), solved from the end of the text
    plan: dict[int, tuple[int, int]] = {}
    for start in range(n - 1, -1, -1):
        if rest[start] == " ":
            continue  # no piece starts with a blank
        if n - start <= width:
            plan[start] = (n, n)
            continue
        lo, hi = bisect_right(breaks, start), bisect_left(breaks, start + width)
        # the last blank within width - 1 bytes whose rest can be split, then a hard cut
        options = [(b, b + len(PIECE_SEPARATOR)) for b in reversed(breaks[lo:hi])]
        end = start + width
        if rest[end - 1] != " " and rest[end] != " ":
            options.append((end, end))
        for option in options:
            if option[1] in plan:
                plan[start] = option
                break
    if 0 not in plan:
        return [""] if n == 0 else None
    pieces: list[str] = []
    start = 0
    while start < n:
        end, start_next = plan[start]
        pieces.append(rest[start:end])
        start = start_next
    return pieces


def join_pieces(pieces: Sequence[str], width: int = MAX_CHAR) -> str:
    """The text :func:`split_words` split: a blank between pieces, none after a cut word.

    >>> join_pieces(["abcd", "efg", "hi"], width=4)
    'abcdefg hi'
    """
    out = pieces[0] if pieces else ""
    for before, piece in zip(pieces, pieces[1:], strict=False):
        out += ("" if len(before) == width else PIECE_SEPARATOR) + piece
    return out


def piece_qnam(name: str, i: int) -> str:
    """QNAM of the i-th extra piece of ``name``: COMMENT -> COMMENT1, AETERMXY -> AETERMX1."""
    return f"{name[:MAX_NAME - len(str(i))]}{i}"


def piece_label(label: str, i: int, taken: set[str]) -> str:
    """QLABEL of the i-th extra piece: "<label> i", within 40 characters, unlike ``taken``."""
    for suffix in (f" {i}", f" part {i}", f" (piece {i})"):
        candidate = f"{label[:MAX_LABEL - len(suffix)].rstrip(' ')}{suffix}"
        if candidate not in taken:
            return candidate
    return f"Piece {i} of {label}"[:MAX_LABEL]


def split_long(frame: pd.DataFrame, domain: DomainSpec, ctx: MappingContext,
               meta: standards.Dataset, distinct: DistinctValues | None = None,
               ) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
    """Text over 200 bytes: SUPPQUAL pieces where allowed (SDTMIG 4.5.3), else an error.

    Returns the frame and, for each SUPP piece created, its (QLABEL, QORIG).
    ``distinct`` gives the frame's distinct values, if another check has them.
    """
    distinct = distinct or DistinctValues(frame)
    piece_labels: dict[str, tuple[str, str]] = {}
    mappings = {var: m for b in domain.records for var, m in b.map.items()}
    supp = {q: m for b in domain.records for q, m in b.supp.items()}
    mappings.update({SUPP_PREFIX + q: m for q, m in supp.items()})
    taken = {str(m["label"]) for m in supp.values() if m.get("label")}
    for column in list(frame.columns):
        if column in (SOURCE, ROW) or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        found = distinct(column) if frame[column].dtype == object else None
        if found is not None and not (_lengths(found) > MAX_CHAR).any():
            continue  # each distinct value measured once in the common case
        long = pd.Series(_lengths(frame[column]) > MAX_CHAR, index=frame.index)
        if not long.any():
            continue
        text = frame[column].astype("string")
        name = column.removeprefix(SUPP_PREFIX)
        where = ctx.at(domain.name, name, ())
        base = mappings.get(column, {})
        if not base.get("split_long_text"):
            where.report(
                "MAP007", f"text is longer than {MAX_CHAR} bytes; set split_long_text: true on "
                "this mapping to put the rest in SUPPQUAL (SDTMIG 4.5.3), or shorten it",
                frame, long, name, text)
            continue
        split = {i: split_words(str(text.at[i])) for i in text.index[long]}
        unsplittable = pd.Series(False, index=frame.index)
        unsplittable[[i for i, p in split.items() if p is None]] = True
        where.report(
            "MAP015", f"text over {MAX_CHAR} bytes cannot be split into SUPPQUAL pieces that "
            "neither start nor end with a blank (the only places to cut are inside a run of "
            "blanks, or a word of exactly 200 bytes is followed by a blank); make those runs "
            "single blanks in the source", frame, unsplittable, name, text)
        count = max((len(p) for p in split.values() if p is not None), default=1)
        qnams = [piece_qnam(name, i) for i in range(1, count)]
        clash = [q for q in qnams if q == name or SUPP_PREFIX + q in frame or q in supp]
        if clash:
            where.report(
                "MAP015", f"text over {MAX_CHAR} bytes needs SUPPQUAL pieces {', '.join(qnams)}, "
                f"but {', '.join(clash)} is already a qualifier of {domain.name}: rename one",
                frame, long, name, text)
            continue
        first = frame[column].astype(object).copy()
        columns = {q: pd.Series(None, index=frame.index, dtype=object) for q in qnams}
        for i, pieces in split.items():
            if pieces is None:
                continue
            first.at[i] = pieces[0]
            for q, piece in zip(qnams, pieces[1:], strict=False):
                columns[q].at[i] = piece
        frame[column] = first
        label = str(base.get("label") or (meta.variable(name).label if meta.has(name)
                                          else name))
        taken.add(label)
        for i, q in enumerate(qnams, start=1):
            frame[SUPP_PREFIX + q] = columns[q]
            piece_labels[q] = (piece_label(label, i, taken), base.get("origin", DEFAULT_ORIGIN))
            taken.add(piece_labels[q][0])
    return frame, piece_labels


def _lengths(values: pd.Series) -> np.ndarray:
    """Characters of each value's text, 0 for a missing one (``astype("string").str.len()``
    without a string copy of the column when it is all text)."""
    array = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
        missing = pd.isna(array)
        if missing.any():
            array = np.where(missing, "", array)
        return np.fromiter(map(len, array), dtype=np.int64, count=len(array))
    return values.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)


def build_suppqual(frame: pd.DataFrame, domain: DomainSpec, spec: Spec,
              piece_labels: dict[str, tuple[str, str]]) -> pd.DataFrame | None:
    columns = [c for c in frame.columns if c.startswith(SUPP_PREFIX)]
    if not columns:
        return None
    seqvar = f"{domain.name}SEQ"
    declared = {q: m for b in domain.records for q, m in b.supp.items()}
    idvar = None if domain.name == "DM" else seqvar
    # one record per qualifier with a value, qualifier by qualifier in column order
    # (as melt lists them), without first making a record for every empty cell
    ids = ["USUBJID", SOURCE, ROW] + ([seqvar] if idvar else [])
    parts = []
    for column in columns:
        given = frame[column].notna().to_numpy() & (_lengths(frame[column]) > 0)
        parts.append(frame.loc[given, ids].assign(QNAM=column.removeprefix(SUPP_PREFIX),
                                                  QVAL=frame[column][given]))
    long = pd.concat(parts, ignore_index=True)

    # QLABEL/QORIG/QEVAL per QNAM, looked up once per QNAM rather than per record
    qnams = long["QNAM"].unique()
    labels = {q: declared[q].get("label", q) if q in declared
              else piece_labels.get(q, (q, DEFAULT_ORIGIN))[0] for q in qnams}
    origins = {q: declared[q].get("origin", DEFAULT_ORIGIN) if q in declared
               else piece_labels.get(q, (q, DEFAULT_ORIGIN))[1] for q in qnams}
    evaluators = {q: declared.get(q, {}).get("evaluator") for q in qnams}

    supp = pd.DataFrame({
        "STUDYID": spec.study.studyid,
        "RDOMAIN": domain.name,
        "USUBJID": long["USUBJID"],
        "IDVAR": idvar or None,
        "IDVARVAL": as_text(long[seqvar]) if idvar else None,
        "QNAM": long["QNAM"],
        "QLABEL": long["QNAM"].map(labels),
        "QVAL": as_text(long["QVAL"]),
        "QORIG": long["QNAM"].map(origins),
        "QEVAL": long["QNAM"].map(evaluators),
        SOURCE: long[SOURCE],
        ROW: long[ROW],
    })
    return supp
