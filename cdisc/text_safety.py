"""Untrusted text made safe for where it is shown or stored.

Values in our messages and reports come from the user's files: source cells,
XPT values, dataset, member, column and file names. Each place they go has its
own hazard, and one function here for each:

- a terminal obeys escape sequences (ESC, BEL, C1 controls, bidi overrides):
  :func:`console_text` shows them as visible escapes (``\\x1b``);
- a spreadsheet runs a text that starts with ``=`` as a formula (a DDE
  ``cmd|' /C calc'`` payload, a ``HYPERLINK`` leaking a neighbouring cell) and
  refuses control characters: :func:`sheet_cell` / :func:`append_row` store
  every text as a string cell, unchanged, never as a formula or an error value;
- a CSV file opened in a spreadsheet runs ``=``, ``+``, ``-``, ``@`` (also after
  a tab or CR) as a formula: :func:`csv_field` neutralises them as the OWASP
  "CSV Injection" advice says (no CSV report is written today; any new one must
  pass every field through it);
- a message quoting a 50 MB value: :func:`clip` keeps the first characters and
  says how long the whole value was.
"""

from __future__ import annotations

import math
import re
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

# --- values ------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy scalars as Python ones, so 1e100 prints as ``1e+100``, not ``np.float64(1e+100)``."""
    # no numpy import here (the CLI's --help needs none): a numpy scalar means numpy is loaded
    numpy = sys.modules.get("numpy")
    return value.item() if numpy is not None and isinstance(value, numpy.generic) else value


def clip(text: str, limit: int) -> str:
    """``text`` if at most ``limit`` characters, else its start and its full length.

    >>> clip("abcdef", 3)
    'abc… (6 characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def quoted(value: Any, limit: int) -> str:
    """``repr`` of a value for a message, long strings clipped after the quote.

    >>> quoted("x" * 5, 3)
    "'xxx'… (5 characters)"
    >>> import numpy as np
    >>> quoted(np.float64(1e100), 200)
    '1e+100'
    """
    value = plain(value)
    if isinstance(value, str):
        if len(value) > limit:
            return f"{value[:limit]!r}… ({len(value)} characters)"
        return repr(value)
    return clip(repr(value), limit)


def json_value(value: Any, limit: int) -> Any:
    """A value for a JSON report: numbers stay numbers, long text is clipped.

    NaN and infinities (which strict JSON has no words for) become "nan", "inf", "-inf".
    """
    value = plain(value)
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return clip(repr(bytes(value)), limit)
    return value


# --- the console -------------------------------------------------------------------

# C0 controls, DEL, C1 controls; line/paragraph separators; bidi embeddings, overrides
# and isolates (a "Trojan Source" name that reads differently than it sorts); lone
# surrogates (undecodable file names), which an encoder refuses with a traceback.
_CONSOLE_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def console_text(text: Any) -> str:
    """``text`` with every control character shown as a visible escape.

    For a line printed to a terminal: ESC, BEL and the other C0/C1 controls, DEL,
    bidi controls and lone surrogates become ``\\x1b``, ``\\x07``, ``\\u202e``,
    ``\\udcff``...; newline, CR and tab become ``\\n``, ``\\r``, ``\\t`` (a value cannot
    start a line of its own). Everything else, non-ASCII letters included, is kept.

    >>> console_text("AE\\x1b[2J\\x07")
    'AE\\\\x1b[2J\\\\x07'
    """
    text = text if isinstance(text, str) else str(text)
    if _CONSOLE_UNSAFE.search(text) is None:
        return text
    return _CONSOLE_UNSAFE.sub(_escape, text)


# --- spreadsheets ------------------------------------------------------------------

#: Excel's limit on the characters of one cell (openpyxl cuts longer text silently)
SHEET_CELL_CHARS = 32_767
# Characters a worksheet cannot hold (XML 1.0 forbids them; openpyxl raises on the C0
# ones): shown as escapes, like the console. Tab, LF and CR are allowed.
_SHEET_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def sheet_text(value: Any) -> str:
    """Text as a worksheet stores it: illegal characters escaped, clipped to Excel's limit."""
    text = value if isinstance(value, str) else str(value)
    if _SHEET_UNSAFE.search(text) is not None:
        text = _SHEET_UNSAFE.sub(_escape, text)
    if len(text) > SHEET_CELL_CHARS:
        marker = f"… ({len(text)} characters)"
        text = text[:SHEET_CELL_CHARS - len(marker)] + marker
    return text


def sheet_cell(ws: Worksheet, value: Any) -> Cell:
    """A cell for ``ws`` holding ``value`` as data, never as a formula.

    Numbers (numpy ones included) and booleans are number/boolean cells; None is an
    empty cell; everything else is a string cell (``data_type == "s"``) with the text
    exactly as given, so ``=HYPERLINK(...)``, ``+1``, ``@SUM(A1)`` or ``#N/A`` are
    shown, not evaluated. NaN and infinities, which a workbook cannot hold, are text.
    Every workbook writer uses this (or :func:`append_row`), for headers too.
    """
    from openpyxl.cell.cell import Cell

    value = plain(value)
    if value is None or isinstance(value, bool):
        return Cell(ws, value=value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return Cell(ws, value=value)
    cell = Cell(ws, value=sheet_text(value))
    cell.data_type = "s"  # openpyxl binds "=..." as a formula and "#N/A" as an error
    return cell


def append_row(ws: Worksheet, values: list[Any]) -> None:
    """Append one row of :func:`sheet_cell` cells (works in write-only mode too)."""
    ws.append([sheet_cell(ws, v) for v in values])


# --- CSV -----------------------------------------------------------------------------

_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_field(value: Any) -> Any:
    """A field for a CSV report that a spreadsheet will not run as a formula.

    OWASP "CSV Injection": a field starting with ``=``, ``+``, ``-``, ``@``, tab or CR
    gets a leading single quote, which spreadsheets show as text and do not
    evaluate. Numbers are left alone (``-3`` stays a number); the csv module adds
    the enclosing double quotes and doubles embedded ones. This changes the text,
    so it is for CSV files meant for people, never for data files read back.

    >>> csv_field("=1+2"), csv_field("-3"), csv_field(-3), csv_field("ok")
    ("'=1+2", "'-3", -3, 'ok')
    """
    value = plain(value)
    if isinstance(value, str) and value.startswith(_CSV_TRIGGERS):
        return "'" + value
    return value


def echo(line: Any = "", *, err: bool = False) -> None:
    """Print one line, control characters escaped (see :func:`console_text`).

    ``line`` is one line: a newline inside it is shown as ``\\n``, so print a blank
    line with ``echo()``.
    """
    click.echo(console_text(line), err=err)


# --- workbooks whose bytes depend only on their content --------------------------------
# openpyxl's Workbook.save stamps the wall clock into the properties and every zip entry.

#: the zip entries' time: the earliest a zip can hold
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def workbook_bytes(book: Any) -> bytes:
    """The .xlsx bytes of an openpyxl ``book``; its ``properties`` times are the caller's."""
    import io
    import zipfile

    from openpyxl.writer.excel import ExcelWriter

    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the wall clock into "modified".
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # same entries and order, fixed times
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
