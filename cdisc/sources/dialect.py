"""How a CSV file is written: its text encoding, its cell separator, its numbers.

Hospital systems and spreadsheets of other countries write CSV files other
than the comma-and-UTF-8 kind: ``;`` or tab between cells (Excel in a country
whose decimal mark is the comma), Windows-1252 or Latin-1 text, UTF-16 with a
byte order mark (Excel's "Unicode text"), ``2,5`` and ``1.234,5`` for numbers.
A source may declare each (``delimiter:``, ``encoding:``, ``decimal:``,
``thousands:``); what it does not declare is recognised where that is certain
and refused with a hint where it is not:

* **encoding**: a byte order mark (UTF-8, UTF-16, UTF-32) says it; without
  one the text must be UTF-8 (or the declared encoding). Bytes that are not
  UTF-8 are an error naming the line and the byte, suggesting ``encoding:
  cp1252``: guessing an 8-bit code page would change letters silently.
* **delimiter**: the one of ``,`` ``;`` tab ``|`` that splits the header line
  into the most declared headers (then into the most cells; ties go in that
  order), so ``Dose (mg, total)`` in a ``;`` file does not mislead it.
* **numbers**: with ``decimal: ","`` a number is ``2,5``; with ``thousands:``
  the separator is accepted only between groups of three digits
  (``1.234,5``), so ``1.5`` in a decimal-comma file is an error, never 1.5 or 15.

>>> normalise_numbers(pd.Series(["1.234,5", "2,5", "1.5", None]), ",", ".").tolist()
['1234.5', '2.5', None, None]
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import Location, Problem, SourceError

#: the cell separators recognised, in the order that breaks a tie
DELIMITERS = (",", ";", "\t", "|")
#: byte order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


@dataclass(frozen=True)
class CsvText:
    """A CSV file decoded: its text, the encoding it was read with and its separator."""

    text: str
    encoding: str  # a Python codec name
    delimiter: str
    #: the file's bytes when they are UTF-8 (pandas' C parser reads them directly)
    utf8: bytes | None = None


def delimiter_name(delimiter: str) -> str:
    """``"\\t"`` -> ``tab``, ``";"`` -> ``';'``: how a message shows a separator."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _declared_codec(name: str, file: str) -> str:
    """The Python name of codec ``name``; SRC022 if there is none (the spec check says so
    first, this is for sources built without it)."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise SourceError(Problem("SRC022", f"unknown encoding {name!r}",
                                  Location(file=file))) from None


def decode(data: bytes, declared: str | None, file: str) -> tuple[str, str]:
    """The text of a CSV file and the codec it was decoded with; SourceError if it cannot be.

    A byte order mark decides the UTF flavour; a declared encoding that contradicts
    it is an error (the mark cannot lie about UTF-16, a declaration can be a slip).
    """
    bom = next(((mark, codec) for mark, codec in _BOMS if data.startswith(mark)), None)
    if bom is not None:
        mark, codec = bom
        family = codec.removesuffix("-sig")
        if declared is not None and not _declared_codec(declared, file).startswith(family):
            raise SourceError(Problem("SRC022", (
                f"the file starts with a {family.upper()} byte order mark but the spec "
                f"declares encoding {declared!r}: remove encoding: from the spec, or save "
                "the file in the declared encoding"), Location(file=file, row=1)))
        # the utf-16/utf-32 codecs read the mark themselves (it says the byte order)
        encoding, payload = (family, data[len(mark):]) if family == "utf-8" else (codec, data)
    else:
        encoding, payload = declared or "utf-8", data
        _declared_codec(encoding, file)
    try:
        return payload.decode(encoding), codecs.lookup(encoding).name
    except UnicodeDecodeError as exc:
        line = payload.count(b"\n", 0, exc.start) + 1
        bad = payload[exc.start:exc.start + min(exc.end - exc.start, 4)]
        if declared is None:
            hint = ("the file is in another encoding: declare it in the spec, e.g. encoding: "
                    "cp1252 (Windows, Western European) or encoding: latin-1; or save it as "
                    "UTF-8")
        else:
            hint = f"the file is not in the declared encoding {declared!r}"
        raise SourceError(Problem("SRC022", (
            f"the text cannot be read as {encoding}: byte{'s' if len(bad) > 1 else ''} "
            f"{' '.join(f'0x{b:02X}' for b in bad)} at line {line} is not {encoding}; {hint}"),
            Location(file=file, row=line))) from None


def header_line(text: str) -> str:
    """The first line of ``text`` (without its line end)."""
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return text[:min(ends)] if ends else text


def split_header(line: str, delimiter: str) -> list[str]:
    """The header line's cells as the csv module reads them with ``delimiter``."""
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:
        return [line]


def sniff_delimiter(line: str, wanted: list[str]) -> str:
    """The separator that finds the most ``wanted`` headers in ``line`` (see the module doc)."""
    def score(delimiter: str) -> tuple[int, int, int]:
        cells = split_header(line, delimiter)
        return (len(set(wanted) & set(cells)), len(cells), -DELIMITERS.index(delimiter))

    return max(DELIMITERS, key=score)


def suggested_delimiter(header: list[str], delimiter: str) -> str | None:
    """When the header was read as one cell that another separator splits: that separator."""
    if len(header) != 1:
        return None
    counts = {d: header[0].count(d) for d in DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def number_pattern(decimal: str, thousands: str | None) -> re.Pattern[str]:
    """A number written with ``decimal`` and optional ``thousands`` between 3-digit groups."""
    d = re.escape(decimal)
    exponent = r"(?:[eE][+-]?\d+)?"
    plain = rf"\d+(?:{d}\d*)?|{d}\d+"
    if thousands is not None:
        t = re.escape(thousands)
        plain = rf"\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?|{plain}"
    return re.compile(rf"[+-]?(?:{plain}){exponent}", re.ASCII)


def normalise_numbers(values: pd.Series, decimal: str, thousands: str | None,
                      written: np.ndarray | None = None) -> pd.Series:
    """Numbers written with ``decimal``/``thousands`` as Python writes them; a cell not
    so written becomes missing (the caller reports it, knowing it was not empty).

    ``written``: the cells to look at (the text cells of a workbook); the others,
    numbers the workbook stored as numbers, pass as they are.
    """
    present = values.notna().to_numpy()
    if written is not None:
        present &= written
    if decimal == "." and thousands is None or not present.any():
        return values
    text = values[present].astype(str)
    fits = text.str.fullmatch(number_pattern(decimal, thousands)).to_numpy(dtype=bool)
    clean = text
    if thousands is not None:
        clean = clean.str.replace(thousands, "", regex=False)
    if decimal != ".":
        clean = clean.str.replace(decimal, ".", regex=False)
    out = values.copy()
    out[present] = clean.where(fits, None)
    return out
