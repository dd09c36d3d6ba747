"""An independent SAS XPORT version 5 decoder, written from SAS TS-140 for verification.

It shares no code with the encoder (:mod:`cdisc.formats.xpt_encode`): the
header is parsed field by field with :mod:`struct` and checked against the
fixed texts of TS-140, the variables' places come from their namestr records,
and IBM doubles are decoded arithmetically (``fraction * 16**(exponent - 64)``
with :func:`numpy.ldexp`) where the encoder shifts bits. Everything works on
whole columns of a block of records.

A v5 file does not store its number of records. :func:`data_problem` checks
the data area against the number the writer encoded (its length is that many
records rounded up to 80 bytes, and the fill is blanks); :func:`guess_records`
is what a reader without that number can do, and is a guess when a record is
at most 80 bytes long and the last records are blank.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["Field", "Layout", "LayoutError", "data_problem", "decode_numbers", "decode_text",
           "guess_records", "iter_records", "read_as_readstat", "read_layout", "read_xport",
           "readstat_records"]

CARD = 80
_PREFIX = b"HEADER RECORD*******"
_SUFFIX = b"HEADER RECORD!!!!!!!"
# TS-140 namestr: ntype nhfun nlng nvar0 nname nlabel nform nfl nfd nfj nfill niform nifl
# nifd npos rest
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi52s")
_MISSING_CODES = frozenset(b"._ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class LayoutError(ValueError):
    """The bytes are not the one-member v5 layout of TS-140."""


@dataclass(frozen=True)
class Field:
    """A variable as its namestr record describes it."""

    name: str
    label: str
    kind: str  # "num" or "char"
    length: int
    number: int  # nvar0
    position: int  # npos: offset in the record
    format_name: str
    format_width: int
    format_decimals: int
    justification: int
    informat_name: str
    informat_width: int
    informat_decimals: int

    @property
    def format(self) -> str:
        """The display format as SAS writes it (``"DATE9."``), or ``""``."""
        if not (self.format_name or self.format_width or self.format_decimals):
            return ""
        width = str(self.format_width) if self.format_width else ""
        return f"{self.format_name}{width}." + (str(self.format_decimals)
                                                 if self.format_decimals else "")


@dataclass(frozen=True)
class Layout:
    """The header of a one-member v5 file."""

    library_created: bytes  # the 16-byte datetimes, as stored
    library_modified: bytes
    member_created: bytes
    member_modified: bytes
    sas_version: str
    os_name: str
    name: str
    label: str
    member_type: str
    fields: tuple[Field, ...]
    data_offset: int  # first byte after the OBS header

    @property
    def record_length(self) -> int:
        return sum(f.length for f in self.fields)


def _card(head: bytes, index: int) -> bytes:
    card = head[index * CARD:(index + 1) * CARD]
    if len(card) != CARD:
        raise LayoutError(f"the file ends inside header record {index + 1}")
    return card


def _header_card(card: bytes, name: bytes, where: str) -> bytes:
    if card[:20] != _PREFIX or card[28:48] != _SUFFIX or card[20:28].rstrip(b" ") != name:
        raise LayoutError(f"{where} is not the {name.decode()} header record: {card[:48]!r}")
    return card[48:]


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii").rstrip(" ")
    except UnicodeDecodeError:
        raise LayoutError(f"header text is not ASCII: {raw!r}") from None


def read_layout(head: bytes) -> Layout:
    """Parse the header records (``head``: at least every byte up to the OBS header)."""
    if head[:20] == _PREFIX and head[20:28] == b"LIBV8   ":
        raise LayoutError("SAS XPORT version 8 (LIBV8), not version 5")
    _header_card(_card(head, 0), b"LIBRARY", "record 1")
    real = _card(head, 1)
    if real[:24] != b"SAS     SAS     SASLIB  ":
        raise LayoutError(f"record 2 is not the library header: {real[:24]!r}")
    library_modified = _card(head, 2)[:16]
    member = _header_card(_card(head, 3), b"MEMBER", "record 4")
    namestr_size = int(member[26:30] or b"0") if member[26:30].strip().isdigit() else 0
    if namestr_size != _NAMESTR.size:
        raise LayoutError(f"namestr records of {namestr_size} bytes, not {_NAMESTR.size}")
    _header_card(_card(head, 4), b"DSCRPTR", "record 5")
    descriptor = _card(head, 5)
    if descriptor[:8] != b"SAS     " or descriptor[16:24] != b"SASDATA ":
        raise LayoutError(f"record 6 is not the member header: {descriptor[:24]!r}")
    second = _card(head, 6)
    counts = _header_card(_card(head, 7), b"NAMESTR", "record 8")
    if not counts[6:10].isdigit():
        raise LayoutError(f"unreadable number of variables: {counts[6:10]!r}")
    nvars = int(counts[6:10])
    start = 8 * CARD
    end = start + nvars * _NAMESTR.size
    obs_at = end + (-end % CARD)
    if len(head) < obs_at + CARD:
        raise LayoutError("the file ends inside the variable descriptors")
    fields = []
    for i in range(nvars):
        (ntype, _hfun, length, number, name, label, fname, fwidth, fdecimals, justification,
         _fill, iname, iwidth, idecimals, position, _rest) = _NAMESTR.unpack_from(
            head, start + i * _NAMESTR.size)
        if ntype not in (1, 2):
            raise LayoutError(f"variable {i + 1} has type {ntype}, neither 1 nor 2")
        fields.append(Field(_ascii(name), _ascii(label), "num" if ntype == 1 else "char",
                            length, number, position, _ascii(fname), fwidth, fdecimals,
                            justification, _ascii(iname), iwidth, idecimals))
    if head[end:obs_at].strip(b" "):
        raise LayoutError("the fill after the variable descriptors is not blank")
    _header_card(head[obs_at:obs_at + CARD], b"OBS", f"byte {obs_at}")
    return Layout(
        library_created=real[64:80], library_modified=library_modified,
        member_created=descriptor[64:80], member_modified=second[:16],
        sas_version=_ascii(real[24:32]), os_name=_ascii(real[32:40]),
        name=_ascii(descriptor[8:16]), label=_ascii(second[32:72]),
        member_type=_ascii(second[72:80]), fields=tuple(fields), data_offset=obs_at + CARD)


def read_head(fh: BinaryIO) -> Layout:
    """The layout of the file open in ``fh`` (read from its start)."""
    fh.seek(0)
    head = fh.read(8 * CARD)
    if len(head) < 8 * CARD:
        raise LayoutError(f"file of {len(head)} bytes, shorter than the v5 header")
    nvars = int(head[7 * CARD + 54:7 * CARD + 58]) if head[7 * CARD + 54:7 * CARD + 58].isdigit() \
        else 0
    rest = nvars * _NAMESTR.size
    head += fh.read(rest + (-rest % CARD) + CARD)
    return read_layout(head)


def data_problem(layout: Layout, file_size: int, records: int, tail: bytes) -> str | None:
    """Why a data area of ``file_size - data_offset`` bytes ending in ``tail`` cannot hold
    exactly ``records`` records, or None. ``tail`` is the data area from byte
    ``records * record_length`` on (the fill)."""
    data = file_size - layout.data_offset
    used = records * layout.record_length
    expected = used + (-used % CARD)
    if data != expected:
        return (f"the data area is {data} bytes; {records} records of "
                f"{layout.record_length} bytes take {expected}")
    if tail.strip(b" "):
        return "the fill after the last record is not blank"
    return None


def guess_records(layout: Layout, data: bytes | np.ndarray) -> int:
    """The number of records a reader without the writer's count would take: every whole
    record in the data area, less trailing all-blank records that end inside the last
    80 bytes (they cannot be told from the blank fill). A guess when records are short."""
    length = layout.record_length
    raw = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if length == 0:
        return 0
    count = raw.size // length
    limit = raw.size - CARD
    while count and (count - 1) * length >= limit and not (
            raw[(count - 1) * length:count * length] != 0x20).any():
        count -= 1
    return count


def iter_records(fh: BinaryIO, layout: Layout, records: int,
                 rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first record index, (n, record length) uint8 block)`` for ``records`` records,
    ``rows`` at a time, read from ``fh`` into one reused buffer."""
    length = layout.record_length
    buffer = np.empty(max(1, rows) * max(1, length), dtype=np.uint8)
    fh.seek(layout.data_offset)
    for start in range(0, records, max(1, rows)):
        count = min(rows, records - start)
        view = buffer[:count * length]
        got = fh.readinto(memoryview(view))
        if got != view.size:
            raise LayoutError(f"the file ends inside record {start + got // max(1, length) + 1}")
        yield start, view.reshape(count, length)


def decode_numbers(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IBM doubles of an (n, k) uint8 block (k = 2..8 bytes each) -> (float64, codes).

    Missing values are NaN; ``codes`` holds the ASCII code of a special missing
    value (``A``-``Z``, ``_``) and 0 elsewhere (``.`` included).
    """
    n, width = raw.shape
    full = np.zeros((n, 8), dtype=np.uint8)
    full[:, :width] = raw
    first = full[:, 0]
    fraction = full.view(">u8").reshape(n).astype(np.uint64) & np.uint64(0x00FF_FFFF_FFFF_FFFF)
    power = (first & 0x7F).astype(np.int64)
    power -= 64
    power *= 4
    power -= 56
    value = np.ldexp(fraction.astype(np.float64), power)
    np.negative(value, out=value, where=(first & 0x80) != 0)
    missing = fraction == 0
    missing &= np.isin(first, np.frombuffer(bytes(_MISSING_CODES), dtype=np.uint8))
    value[missing] = np.nan
    codes = np.where(missing & (first != 0x2E), first, 0).astype(np.uint8)
    return value, codes


def decode_text(raw: np.ndarray) -> np.ndarray:
    """An (n, w) uint8 block -> an object array of str with trailing blanks dropped."""
    n, width = raw.shape
    fixed = np.ascontiguousarray(raw).view(f"S{max(width, 1)}").reshape(n)
    return np.array([v.decode("ascii", "replace").rstrip(" ") for v in fixed.tolist()],
                    dtype=object)


def read_xport(path: Path, records: int | None = None) -> tuple[dict[str, np.ndarray], Layout]:
    """Every column of a one-member v5 file (numbers float64, text str), and its layout.

    ``records``: the number written, when known; otherwise :func:`guess_records`.
    """
    with Path(path).open("rb") as fh:
        layout = read_head(fh)
        fh.seek(layout.data_offset)
        data = fh.read()
    if records is None:
        records = guess_records(layout, data)
    raw = np.frombuffer(data, dtype=np.uint8)[:records * layout.record_length]
    block = raw.reshape(records, layout.record_length) if layout.record_length else raw
    columns: dict[str, np.ndarray] = {}
    for field in layout.fields:
        part = block[:, field.position:field.position + field.length]
        columns[field.name] = (decode_numbers(part)[0] if field.kind == "num"
                               else decode_text(part))
    return columns, layout


# --- reading as ReadStat reads ------------------------------------------------------
# ``cdisc validate`` reads whole folders of XPT files. This reader gives the frame
# pyreadstat gives (text without trailing blanks, "" where missing; numbers as
# float64, NaN where missing, special missing values included), from whole-column
# operations on the mapped file, and refuses (LayoutError) every file where it could
# differ from ReadStat, which then reads it: text other than printable ASCII (ReadStat
# decodes and truncates at NUL bytes by its own rules), IBM numbers that are not
# normalised or have more significant bits than a double (ReadStat's conversion
# truncates where ours would round), a second member, duplicate variable names.

_MEMBER_HEADER = _PREFIX + b"MEMBER  " + _SUFFIX
_BLANK = 0x20
_TRAILING_BLOCK = 4096  # records looked at at once, from the end, for blank records


def readstat_records(records: np.ndarray) -> int:
    """ReadStat's record count of a data area of whole ``(n, record length)`` records:
    every whole record less the trailing records that are blank in every byte.

    Measured with pyreadstat 1.3: a blank record before a non-blank one is kept,
    whatever the record length; the fill of the last 80 bytes is blank too, so
    trailing blank records cannot be told from it.
    """
    count = len(records)
    while count:
        start = max(0, count - _TRAILING_BLOCK)
        used = np.flatnonzero((records[start:count] != _BLANK).any(axis=1))
        if used.size:
            return start + int(used[-1]) + 1
        count = start
    return 0


def _readstat_numbers(raw: np.ndarray, name: str) -> np.ndarray:
    """float64 of IBM doubles, as ReadStat converts them; LayoutError where it may not."""
    n, width = raw.shape
    full = np.zeros((n, 8), dtype=np.uint8)
    full[:, :width] = raw
    fraction = full.view(">u8").reshape(n) & np.uint64(0x00FF_FFFF_FFFF_FFFF)
    # ReadStat (TS-140's conversion) finds the binary point from the first hex digit of
    # the fraction and truncates the bits a double cannot hold; this decoder computes
    # the value, so the two agree only on normalised fractions of at most 53 bits.
    unnormalised = (fraction != 0) & (fraction < np.uint64(1 << 52))
    inexact = fraction.astype(np.float64).astype(np.uint64) != fraction
    if unnormalised.any() or inexact.any():
        raise LayoutError(f"variable {name}: IBM numbers ReadStat converts by its own rule")
    value, _codes = decode_numbers(raw)
    # ReadStat: a zero fraction is 0 only after a zero first byte; any other first
    # byte, not only '.', '_' and 'A'-'Z', makes it missing (negative zero included)
    zero = fraction == 0
    value[zero] = np.where(full[zero, 0] == 0, 0.0, np.nan)
    return value


def _readstat_text(raw: np.ndarray, name: str) -> np.ndarray:
    """Fixed-width text -> object array of str without trailing blanks (each distinct
    value one str object); LayoutError when a byte is not printable ASCII."""
    import pyarrow as pa

    n, width = raw.shape
    if n == 0:
        return np.empty(0, dtype=object)
    block = np.ascontiguousarray(raw)
    encoded = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [None, pa.py_buffer(block)]).dictionary_encode()
    distinct = encoded.dictionary
    values = np.frombuffer(distinct.buffers()[1], dtype=np.uint8,
                           count=len(distinct) * width).reshape(len(distinct), width)
    if ((values < 0x20) | (values > 0x7E)).any():
        raise LayoutError(f"variable {name}: text that is not printable ASCII")
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [v.decode("ascii").rstrip(" ") for v in distinct.to_pylist()]
    return texts.take(encoded.indices.to_numpy())


def read_as_readstat(path: Path) -> tuple[dict[str, np.ndarray], Layout]:
    """Every column of a one-member v5 file as pyreadstat reads it, and the layout.

    Numbers are float64 (NaN where missing), text an object array of str ("" where
    missing). Raises :class:`LayoutError` for a file this reader cannot promise to
    read as ReadStat does (see above): the caller then reads it with pyreadstat.
    """
    with Path(path).open("rb") as fh:
        layout = read_head(fh)
        names = [f.name for f in layout.fields]
        if not names or len(set(names)) != len(names):
            raise LayoutError("no variables, or a variable name twice")
        size = fh.seek(0, 2)
        whole = (size - layout.data_offset) // layout.record_length
        if whole <= 0:
            return {f.name: np.empty(0, dtype=np.float64 if f.kind == "num" else object)
                    for f in layout.fields}, layout
        # Unmapped when the last view of it goes: at return (the columns are copies), or
        # with the traceback of an error raised while decoding.
        columns = _mapped_columns(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ),
                                  layout, whole)
    return columns, layout


def _mapped_columns(mapped: mmap.mmap, layout: Layout, whole: int) -> dict[str, np.ndarray]:
    at = mapped.find(_MEMBER_HEADER, layout.data_offset)
    while at >= 0:
        if at % CARD == 0:
            raise LayoutError("a second member (one member per file is read here)")
        at = mapped.find(_MEMBER_HEADER, at + 1)
    length = layout.record_length
    block = np.frombuffer(mapped, dtype=np.uint8, count=whole * length,
                          offset=layout.data_offset).reshape(whole, length)
    block = block[:readstat_records(block)]
    return {field.name: (_readstat_numbers if field.kind == "num" else _readstat_text)(
                block[:, field.position:field.position + field.length], field.name)
            for field in layout.fields}
