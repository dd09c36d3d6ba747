"""SAS XPORT version 5 encoder (SAS TS-140) on whole numpy columns, streamed in chunks.

This module only turns prepared columns into bytes; what may be written (names,
labels, ASCII, the 200-byte limit, finite numbers) is decided and checked by
:mod:`cdisc.formats.xpt` before anything reaches it. The bytes are those
ReadStat (pyreadstat ``write_xport(file_format_version=5)``) writes for the same
columns, header timestamps aside (``tests/test_xpt_encoder.py`` compares them
byte for byte):

* header: the library header (``SAS``/``SAS``/``SASLIB``, version ``6.06``, OS
  ``bsd4.2``, created and modified), the member and descriptor headers
  (``SASDATA``, dataset name and label), the NAMESTR header with the number of
  variables, one 140-byte namestr per variable (blank fill to 80 bytes after the
  last one) and the OBS header -- every record 80 bytes;
* numbers: IBM System/370 doubles, converted bit for bit as ReadStat's
  ``ieee2xpt`` does (the 52-bit IEEE fraction with its hidden bit, shifted left
  by ``exponent mod 4`` into the 56-bit IBM fraction; exponent ``floor(e/4) + 65``;
  exact, no rounding). Binary exponents below -260 (zero, negative zero,
  subnormals, magnitudes under ``16**-65``) become IBM zero, above 248 (from
  ``2**249``, and infinities) the largest IBM magnitude with the sign kept; NaN
  is the SAS missing value ``.`` (``0x2E`` then seven zero bytes) and a special
  missing value ``.A``-``.Z``/``._`` its letter (or ``_``) then seven zero bytes.
  A numeric length below 8 keeps the first bytes (SAS's truncated numerics);
* text: each value's ASCII bytes padded with blanks to the variable's length;
* observations: one record buffer per chunk of rows, written as one block; the
  last 80-byte record is filled with blanks.

Memory: three record buffers of about :data:`CHUNK_BYTES` (one being encoded,
two being written by a background thread) and the per-column arrays of one
chunk, whatever the number of rows.

Text must be printable ASCII (the caller's transport checks): numpy pads
fixed-width bytes with NULs, and one pass turns every byte below a blank into a
blank, which touches only that padding.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np

from ..workers import stop_if_asked

__all__ = [
    "CHUNK_BYTES",
    "SPECIAL_MISSING",
    "SpecialMissing",
    "Variable",
    "encode_numbers",
    "encode_records",
    "encode_text",
    "header",
    "ibm_bits",
    "record_dtype",
    "rows_per_chunk",
    "sas_format_parts",
    "write_members",
]

RECORD = 80  #: every XPORT record is 80 bytes
NAMESTR = 140  #: bytes per variable descriptor in a v5 file
#: record bytes encoded and written at a time
CHUNK_BYTES = 8 * 1024 * 1024

_VERSION = b"6.06    "  # what ReadStat writes as the SAS version ...
_OS = b"bsd4.2  "  # ... and the operating system
_SIGN = np.uint64(0x8000_0000_0000_0000)
_FRACTION = np.uint64(0x000F_FFFF_FFFF_FFFF)
_HIDDEN = np.uint64(0x0010_0000_0000_0000)
_IBM_LARGEST = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
_MISSING = np.uint64(0x2E) << np.uint64(56)  # "." then seven zero bytes
_BLANK = 0x20


class SpecialMissing:
    """A SAS special missing value of a numeric variable: ``.A``-``.Z`` or ``._``.

    One instance per code (:data:`SPECIAL_MISSING`), so a frame holds them as
    objects in a numeric column: ``pd.Series([1.0, SPECIAL_MISSING["A"], None])``.
    Readers that know no special missing values (pandas, pyreadstat) read them
    as NaN.
    """

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f".{self.code}"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_special, (self.code,))


def _special(code: str) -> SpecialMissing:
    return SPECIAL_MISSING[code]


#: "A".."Z" and "_" -> the one SpecialMissing of that code
SPECIAL_MISSING: dict[str, SpecialMissing] = {
    c: SpecialMissing(c) for c in ("_", *(chr(i) for i in range(ord("A"), ord("Z") + 1)))}


@dataclass(frozen=True)
class Variable:
    """One variable as written: what its namestr record says."""

    name: str  # 1-8 characters
    label: str  # at most 40 characters
    kind: Literal["char", "num"]
    length: int  # bytes per record: text 1-200 (XPT allows more), numbers 2-8 (8 by default)
    format: str = ""  # a canonical SAS display format ("DATE9.", "8.2", "$CHAR20.") or ""


def sas_format_parts(fmt: str) -> tuple[str, int, int]:
    """``"DATE9."`` -> ``("DATE", 9, 0)``, ``"8.2"`` -> ``("", 8, 2)``, ``""`` -> ``("", 0, 0)``."""
    if not fmt:
        return "", 0, 0
    match = re.fullmatch(r"(.*?)(\d*)\.(\d*)", fmt)
    if match is None:
        raise ValueError(f"not a SAS format: {fmt!r}")
    name, width, decimals = match.groups()
    return name, int(width or 0), int(decimals or 0)


# ------------------------------------------------------------------ header ---


def _record(text: bytes) -> bytes:
    if len(text) > RECORD:
        raise ValueError(f"header record of {len(text)} bytes")
    return text.ljust(RECORD, b" ")


def _header_record(name: bytes, numbers: Sequence[int] = (0, 0, 0, 0, 0, 0)) -> bytes:
    fields = b"".join(b"%05d" % n for n in numbers)
    return _record(b"HEADER RECORD*******" + name.ljust(8) + b"HEADER RECORD!!!!!!!" + fields)


def _text(value: str, size: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"{value!r} is longer than {size} bytes")
    return raw.ljust(size, b" ")


def namestr(variable: Variable, number: int, position: int) -> bytes:
    """The 140-byte descriptor of ``variable``, the ``number``-th (from 1) at byte ``position``."""
    fname, fwidth, fdecimals = sas_format_parts(variable.format)
    numeric = variable.kind == "num"
    return b"".join((
        np.array([1 if numeric else 2, 0, variable.length, number], dtype=">i2").tobytes(),
        _text(variable.name, 8),
        _text(variable.label, 40),
        _text(fname, 8),
        # nfl, nfd, nfj: ReadStat sets the justification to 1 (right) for numbers
        np.array([fwidth, fdecimals, 1 if numeric else 0], dtype=">i2").tobytes(),
        b"\x00\x00",  # nfill
        b" " * 8,  # informat name (none)
        np.array([0, 0], dtype=">i2").tobytes(),  # informat width, decimals
        np.array([position], dtype=">i4").tobytes(),  # npos
        b"\x00" * 52,  # rest
    ))


def header(name: str, label: str, variables: Sequence[Variable], stamp: bytes) -> bytes:
    """Every header record of a one-member v5 file, up to and including the OBS header.

    ``stamp`` is the 16-byte ``ddMONyy:hh:mm:ss`` datetime written as created
    and modified, in the library and in the member header.
    """
    if len(stamp) != 16:
        raise ValueError("the datetime stamp must be 16 bytes")
    padding = b" " * 24
    out = [
        _header_record(b"LIBRARY"),
        _record(b"SAS     SAS     SASLIB  " + _VERSION + _OS + padding + stamp),
        _record(stamp),
        _header_record(b"MEMBER", (0, 0, 0, 160, 0, NAMESTR)),
        _header_record(b"DSCRPTR"),
        _record(b"SAS     " + _text(name, 8) + b"SASDATA " + _VERSION + _OS + padding + stamp),
        _record(stamp + b" " * 16 + _text(label, 40) + b" " * 8),
        _header_record(b"NAMESTR", (0, len(variables), 0, 0, 0, 0)),
    ]
    position = 0
    descriptors = []
    for number, variable in enumerate(variables, start=1):
        descriptors.append(namestr(variable, number, position))
        position += variable.length
    block = b"".join(descriptors)
    out.append(block + b" " * (-len(block) % RECORD))
    out.append(_header_record(b"OBS"))
    return b"".join(out)


# ----------------------------------------------------------------- numbers ---


def ibm_bits(values: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    """IBM System/370 doubles of ``values`` as uint64 bit patterns (native byte order).

    ``codes`` (uint8, optional): where non-zero, the special missing value with
    that ASCII code (``ord("A")``... or ``ord("_")``) instead of the number.
    """
    x = np.ascontiguousarray(values, dtype=np.float64)
    bits = x.view(np.uint64)
    exponent = (bits >> np.uint64(52)).astype(np.int64)
    exponent &= 0x7FF
    exponent -= 1023
    out = bits & _FRACTION
    out |= _HIDDEN
    out <<= (exponent & 3).astype(np.uint64)
    ibm_exponent = exponent >> 2
    ibm_exponent += 65
    out |= ibm_exponent.astype(np.uint64) << np.uint64(56)
    sign = bits & _SIGN
    out |= sign
    np.copyto(out, np.uint64(0), where=exponent < -260)
    large = exponent > 248  # includes infinities and NaN (exponent 1024)
    np.copyto(out, _IBM_LARGEST | sign, where=large)
    if large.any():
        np.copyto(out, _MISSING, where=np.isnan(x))
    if codes is not None:
        special = codes != 0
        if special.any():
            np.copyto(out, codes.astype(np.uint64) << np.uint64(56), where=special)
    return out


def encode_numbers(values: np.ndarray, length: int = 8,
                   codes: np.ndarray | None = None) -> np.ndarray:
    """The stored bytes of a numeric column: an (n, length) uint8 array, big-endian IBM."""
    big_endian = ibm_bits(values, codes).astype(">u8")
    return big_endian.view(np.uint8).reshape(-1, 8)[:, :length]


# -------------------------------------------------------------------- text ---


def encode_text(values: np.ndarray, length: int) -> np.ndarray:
    """The stored bytes of a character column: an (n, length) uint8 array, blank-padded.

    ``values``: str objects (printable ASCII; missing is ""), or an ``S`` array.
    Bytes beyond ``length`` are dropped, so a value may carry trailing blanks past it.
    """
    fixed = np.asarray(values, dtype=f"S{length}")  # NUL-padded; one C loop
    matrix = fixed.view(np.uint8).reshape(-1, length)
    # Printable text has no byte below a blank: every NUL is padding.
    np.maximum(matrix, np.full(length, _BLANK, dtype=np.uint8), out=matrix)
    return matrix


# ----------------------------------------------------------------- records ---


def rows_per_chunk(record_length: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    return max(1, chunk_bytes // max(1, record_length))


def record_dtype(variables: Sequence[Variable]) -> np.dtype:
    """A structured dtype laying the variables out as one record: text ``S<length>``,
    8-byte numbers big-endian ``>u8``, truncated numbers raw bytes ``V<length>``."""
    names, formats, offsets = [], [], []
    position = 0
    for index, variable in enumerate(variables):
        names.append(f"v{index}")  # not the variable name: those need not be valid fields
        if variable.kind == "char":
            formats.append(f"S{variable.length}")
        else:
            formats.append(">u8" if variable.length == 8 else f"V{variable.length}")
        offsets.append(position)
        position += variable.length
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": max(position, 1)})


def encode_records(variables: Sequence[Variable], columns: Sequence[object],
                   dtype: np.dtype | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """One chunk of observations as a contiguous (rows, record length) uint8 array.

    ``columns[i]`` holds the chunk's values of ``variables[i]``: for text, str
    objects (printable ASCII, missing as "") or an ``S`` array, or a pair
    ``(values, missing)`` whose boolean mask marks values written as blanks
    whatever they hold (None, NaN: no copy of the values is needed); for numbers,
    float64 values (NaN = ``.``) or a pair ``(values, codes)`` with special
    missing codes (see :func:`ibm_bits`). ``dtype``: :func:`record_dtype` of
    ``variables``, when the caller keeps it across chunks; ``out``: an array of
    that dtype with room for the rows, reused instead of a new one.

    Text goes straight into its field (numpy pads it with NULs), then one pass
    over the whole buffer turns every byte below a blank into a blank -- text
    holds no such byte (the transport checks refuse control characters), so
    that touches only the padding -- and only then are the numbers written.
    """
    dtype = record_dtype(variables) if dtype is None else dtype
    record_length = sum(v.length for v in variables)
    rows = _rows(columns)
    out = np.empty(rows, dtype=dtype) if out is None or len(out) < rows else out[:rows]
    for index, (variable, column) in enumerate(zip(variables, columns, strict=True)):
        if variable.kind == "char":
            values, missing = column if isinstance(column, tuple) else (column, None)
            field = out[f"v{index}"]
            field[...] = values  # missing objects become their str() here ...
            if missing is not None:
                field[missing] = b""  # ... and blanks here
    matrix = out.view(np.uint8).reshape(rows, dtype.itemsize)[:, :record_length]
    # against a row of blanks: numpy's uint8 maximum with a scalar is ten times slower
    np.maximum(matrix, np.full(record_length, _BLANK, dtype=np.uint8), out=matrix)
    position = 0
    for index, (variable, column) in enumerate(zip(variables, columns, strict=True)):
        if variable.kind == "num":
            values, codes = column if isinstance(column, tuple) else (column, None)
            if variable.length == 8:
                out[f"v{index}"] = ibm_bits(values, codes)
            else:
                matrix[:, position:position + variable.length] = encode_numbers(
                    values, variable.length, codes)
        position += variable.length
    return matrix


def _rows(columns: Sequence[object]) -> int:
    if not columns:
        return 0
    first = columns[0]
    return len(first[0] if isinstance(first, tuple) else first)  # type: ignore[arg-type]


def write_members(fh: BinaryIO, *, name: str, label: str, variables: Sequence[Variable],
                  stamp: bytes, chunks: Iterable[Sequence[object]],
                  background: bool = True) -> tuple[int, int]:
    """Write a whole one-member v5 file to ``fh``: header, observations, blank fill.

    ``chunks`` yields the columns of successive row ranges (see
    :func:`encode_records`). With ``background`` a second thread writes each
    encoded chunk while the next one is encoded (the write system call releases
    the GIL); three record buffers go round between the two threads, so memory
    stays at three chunks whatever the number of rows. Returns
    ``(records, bytes written)``.
    """
    head = header(name, label, variables, stamp)
    dtype = record_dtype(variables)
    fh.write(head)
    records = data = 0
    if background:
        with _BackgroundWriter(fh, buffers=3) as writer:
            for columns in chunks:
                stop_if_asked()  # a stage being stopped: the caller removes the file
                rows = _rows(columns)
                block = encode_records(variables, columns, dtype, writer.buffer(rows, dtype))
                records += block.shape[0]  # what was encoded, not what was asked for
                data += block.size
                writer.write(block)
    else:
        buffer: np.ndarray | None = None
        for columns in chunks:
            stop_if_asked()
            rows = _rows(columns)
            if buffer is None or len(buffer) < rows:
                buffer = np.empty(rows, dtype=dtype)
            block = encode_records(variables, columns, dtype, buffer)
            records += block.shape[0]
            data += block.size
            fh.write(memoryview(np.ascontiguousarray(block)).cast("B"))
    tail = -data % RECORD
    fh.write(b" " * tail)
    return records, len(head) + data + tail


class _BackgroundWriter:
    """A thread writing blocks to ``fh`` in order, handing their buffers back for reuse."""

    def __init__(self, fh: BinaryIO, buffers: int) -> None:
        self.fh = fh
        self.pending: queue.Queue[tuple[np.ndarray, np.ndarray] | None] = queue.Queue()
        self.free: queue.Queue[np.ndarray] = queue.Queue()
        self.unused = buffers  # buffers not made yet
        self.failed: list[BaseException] = []
        self.thread = threading.Thread(target=self._drain, name="xpt-writer", daemon=True)

    def _drain(self) -> None:
        while (item := self.pending.get()) is not None:
            block, buffer = item
            if not self.failed:
                try:
                    self.fh.write(memoryview(np.ascontiguousarray(block)).cast("B"))
                except BaseException as exc:  # handed to the encoding thread
                    self.failed.append(exc)
            self.free.put(buffer)

    def buffer(self, rows: int, dtype: np.dtype) -> np.ndarray:
        """A record buffer for ``rows`` records: a new one while fewer than ``buffers``
        exist, else the next one the writer has finished with."""
        self._raise()
        if self.unused:
            self.unused -= 1
            buffer = np.empty(rows, dtype=dtype)
        else:
            buffer = self.free.get()
            self._raise()
        self._current = buffer if len(buffer) >= rows else np.empty(rows, dtype=dtype)
        return self._current

    def write(self, block: np.ndarray) -> None:
        self.pending.put((block, self._current))

    def _raise(self) -> None:
        if self.failed:
            raise self.failed[0]

    def __enter__(self) -> _BackgroundWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pending.put(None)
        self.thread.join()
        self._raise()
