"""Writing a file all or nothing: a temporary file beside it, fsync, rename.

A full disk or a killed run never leaves a 0-byte or half-written file: the
target keeps what it held until the new bytes are complete on disk.

Inside :func:`synced_together` (the staged output folder of a run,
:func:`cdisc.output.folder.staged_output`) the files are renamed at once and
made durable together when the block ends, before the folder is published: all
their fsyncs are issued at once, which a journaling file system commits as one
(120 files: 0.02 s instead of 0.4 s one by one on ext4).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError
from ..workers import stop_if_asked

if TYPE_CHECKING:  # numpy and pandas are imported when a frame is written: --help needs none
    import numpy as np
    import pandas as pd

#: error code of a file that could not be written
WRITE_FAILED = "REP001"


def write_failed(exc: OSError, path: Path) -> OutputError:
    """One line saying why ``path`` could not be written (a full disk said as such)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif exc.errno == getattr(errno, "EDQUOT", None):
        reason = "the disk quota is exceeded"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST) and not Path(path).parent.is_dir():
        reason = "a part of its folder path is a file, not a folder"
    return OutputError.single(WRITE_FAILED, f"cannot write the file: {reason}", file=str(path))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, all or nothing.

    The bytes go to a temporary file beside ``path`` (same folder, so the rename
    cannot cross file systems), are flushed with fsync, and the file is renamed
    over ``path``; the folder is then synced. On any failure the temporary file
    is removed, ``path`` keeps what it held, and an :class:`OutputError`
    (:data:`WRITE_FAILED`, one line) is raised. The parent folder must exist.
    """
    write_atomic_parts(path, (data,))


def write_atomic_parts(path: Path, parts: Iterable[bytes]) -> int:
    """:func:`write_atomic` of the bytes ``parts`` yields one after another, so that a
    large file is never whole in memory; returns the number of bytes written.

    An exception raised by ``parts`` itself (e.g. a check of the next part failing)
    is raised as it is, after the temporary file is removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never write through a file or link someone put there; 0o666 & umask,
        # like any other file we write (mkstemp would make it 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise write_failed(exc, path) from None
    pending = _PENDING.get()
    written = 0
    try:
        try:
            for part in parts:
                stop_if_asked()  # a stage being stopped: end here, the file removed
                view = memoryview(part)
                written += len(view)
                while view:
                    view = view[os.write(fd, view):]
            if pending is None:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_failed(exc, path) from None
        raise  # KeyboardInterrupt, a failed check of the parts & co.
    made_durable(path, pending)
    return written


#: files written inside :func:`synced_together`, not yet synced (None outside it)
_PENDING: ContextVar[list[Path] | None] = ContextVar("cdisc_pending_sync", default=None)


def made_durable(path: Path, pending: list[Path] | None = None) -> None:
    """After ``path`` was renamed into place: sync its folder, or, inside
    :func:`synced_together`, leave the file and its folder to the end of the block."""
    if pending is None:
        pending = _PENDING.get()
    if pending is None:
        fsync_dir(path.parent)
    else:
        pending.append(path)


def deferred() -> bool:
    """Whether a file written now is synced at the end of a :func:`synced_together` block."""
    return _PENDING.get() is not None


@contextlib.contextmanager
def synced_together() -> Iterator[None]:
    """Files written by :func:`write_atomic` (and the XPT writer) inside the block are synced
    when it ends, all at once, with their folders; a failure raises :data:`WRITE_FAILED`.

    Nothing is published inside the block that a crash could leave half-written: the
    caller publishes the files (renames their folder) only after the block.
    """
    token = _PENDING.set([])
    try:
        yield
        pending = _PENDING.get() or []
    finally:
        _PENDING.reset(token)
    sync_all(pending)


def sync_all(paths: Iterable[Path]) -> None:
    """fsync every file and then every folder holding one, the calls issued together
    (threads: fsync releases the GIL, and the file system commits concurrent ones as one)."""
    from concurrent.futures import ThreadPoolExecutor

    # in order of name, so that a failure names the same file whichever wrote first
    files = sorted(dict.fromkeys(Path(p) for p in paths))
    if not files:
        return
    with ThreadPoolExecutor(max_workers=min(32, len(files))) as pool:
        for failed in pool.map(_sync_file, files):
            if failed is not None:
                raise write_failed(*failed) from None
        list(pool.map(fsync_dir, dict.fromkeys(f.parent for f in files)))


def _sync_file(path: Path) -> tuple[OSError, Path] | None:
    try:
        # Windows commits only a file opened for writing; elsewhere reading is enough
        fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc, path
    return None


def fsync_dir(folder: Path) -> None:
    """Make the rename durable; some systems cannot open a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_bytes(payload: Any) -> bytes:
    """The bytes of a JSON report: indented, keys in the given order, newline at the end."""
    return (json.dumps(payload, indent=2, sort_keys=False, default=_plain) + "\n"
            ).encode("utf-8")


def _plain(value: Any) -> Any:
    """What a report writes for an object JSON has no type for: its rows, or its text."""
    return value.to_list() if isinstance(value, JsonRecords) else str(value)


#: text gathered before it is handed on by :func:`json_parts`
_PART_CHARS = 1 << 20


def json_parts(payload: Any) -> Iterator[bytes]:
    """:func:`json_bytes` of ``payload`` in pieces of about a megabyte, for
    :func:`write_atomic_parts`: a report of a million findings is never whole in memory
    (as text, then as bytes) beside the findings themselves. Any value may be
    :class:`JsonRecords`, rendered a column at a time."""
    held: list[str] = []
    size = 0
    for piece in _indented_pieces(payload, 0):
        held.append(piece)
        size += len(piece)
        if size >= _PART_CHARS:
            yield "".join(held).encode("utf-8")
            held, size = [], 0
    held.append("\n")
    yield "".join(held).encode("utf-8")


#: a list or object with more items than this (or any at the top two levels, where a
#: report's long lists hang) is handed on an item at a time; a smaller one is rendered
#: whole: at most one item of a long list is ever held as pieces
_STREAMED_ITEMS = 64

#: each text as JSON writes it with ensure_ascii (the C function where there is one)
_json_text = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _indented_pieces(value: Any, level: int) -> Iterator[str]:
    """``value`` as ``json.dumps(value, indent=2, default=_plain)`` writes it, nested
    ``level`` deep, in pieces: a large list or object an item at a time, the rest
    rendered whole by :func:`_indented`, and :class:`JsonRecords` a column at a time."""
    if isinstance(value, JsonRecords):
        yield from value.pieces(level)
        return
    if not isinstance(value, list | tuple | dict) or not value or (
            len(value) <= _STREAMED_ITEMS and level >= 2):
        out: list[str] = []
        _indented(value, level, out)
        yield "".join(out)
        return
    opening, closing = _BRACKETS[isinstance(value, dict)]
    yield opening
    for lead, item in _members(value, level):
        yield lead
        yield from _indented_pieces(item, level + 1)
    yield "\n" + "  " * level + closing


#: a list's and an object's brackets, by whether it is an object
_BRACKETS = (("[", "]"), ("{", "}"))


def _members(value: list[Any] | tuple[Any, ...] | dict[Any, Any], level: int
             ) -> Iterator[tuple[str, Any]]:
    """Each item of a list or object at ``level`` with the text before it (the line break,
    the indent and, in an object, its key)."""
    inner = "\n" + "  " * (level + 1)
    if isinstance(value, dict):
        for number, (key, item) in enumerate(value.items()):
            yield (inner if number == 0 else "," + inner) + _json_text(_key_text(key)) + ": ", item
    else:
        for number, item in enumerate(value):
            yield (inner if number == 0 else "," + inner), item


def _indented(value: Any, level: int, out: list[str]) -> None:
    """Append ``value``'s text at ``level`` to ``out``: the rules of the standard library's
    indenting encoder (which is pure Python, a generator per level), in one recursion."""
    if isinstance(value, str):
        out.append(_json_text(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, list | tuple | dict):
        opening, closing = _BRACKETS[isinstance(value, dict)]
        if not value:
            out.append(opening + closing)
            return
        out.append(opening)
        for lead, item in _members(value, level):
            out.append(lead)
            _indented(item, level + 1, out)
        out.append("\n" + "  " * level + closing)
    elif isinstance(value, JsonRecords):
        out.extend(value.pieces(level))
    else:
        _indented(_plain(value), level, out)


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key_text(key: Any) -> str:
    """An object key as JSON writes it (keys are text; numbers, booleans and None too)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float_text(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


class JsonRecords:
    """The rows of a frame as a JSON report holds them: an array with one object per
    row, exactly what ``json.dumps(frame.to_dict("records"), indent=2)`` writes.

    Rendered a column and a few thousand rows at a time -- each distinct text encoded
    once, numbers by the C encoder -- instead of a dict per row through the pure-Python
    indenting encoder: the RECIST review of 100,000 subjects holds 600,000 rows. The
    frame holds what ``to_dict`` would give: str, int, float, bool and None (missing).

    >>> import pandas as pd
    >>> text = "".join(JsonRecords(pd.DataFrame({"A": ["x", None]})).pieces(level=0))
    >>> text == json.dumps([{"A": "x"}, {"A": None}], indent=2)
    True
    """

    #: rows rendered at a time
    ROWS = 4096

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def to_list(self) -> list[dict[str, Any]]:
        return self.frame.to_dict(orient="records")

    def pieces(self, level: int) -> Iterator[str]:
        """The array's text, nested ``level`` deep (two blanks a level)."""
        import numpy as np

        frame = self.frame
        if not len(frame) or not len(frame.columns):  # to_dict gives no rows for either
            yield "[]"
            return
        pad = "  "
        opening = pad * (level + 1) + "{"
        closing = "\n" + pad * (level + 1) + "}"
        names = [json.dumps(str(c)) for c in frame.columns]
        yield "[\n"
        for start in range(0, len(frame), self.ROWS):
            part = frame.iloc[start:start + self.ROWS]
            rows = np.full(len(part), opening, dtype=object)
            for number, name in enumerate(names):
                lead = ("\n" if number == 0 else ",\n") + pad * (level + 2) + name + ": "
                rows = rows + lead + _json_values(part.iloc[:, number].to_numpy(dtype=object))
            rows = rows + closing
            yield ("" if start == 0 else ",\n") + ",\n".join(rows.tolist())
        yield "\n" + pad * level + "]"


_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _json_values(values: np.ndarray) -> np.ndarray:
    """Each value's JSON text, as ``json.dumps`` writes it (object array)."""
    import numpy as np
    from pandas.api.types import infer_dtype

    from ..model.text import factorize

    kind = infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):  # text repeats: each distinct text encoded once
        codes, distinct = factorize(values)
        texts = np.array([*map(json.dumps, distinct), "null"], dtype=object)
        return texts[codes]  # -1 (missing) is the last: null
    if kind in ("integer", "floating", "mixed-integer-float", "boolean"):
        # numbers, booleans and None hold no comma: one C-encoded array, split
        return np.array(_COMPACT.encode(values.tolist())[1:-1].split(","), dtype=object)
    return np.array([json.dumps(v, default=str) for v in values], dtype=object)
