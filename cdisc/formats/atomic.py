"""Writing a file all or nothing: a temporary file beside it, fsync, rename.

A full disk or a killed run never leaves a 0-byte or half-written file: the
target keeps what it held until the new bytes are complete on disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from pathlib import Path
from typing import Any

from ..errors import OutputError

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
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never write through a file or link someone put there; 0o666 & umask,
        # like any other file we write (mkstemp would make it 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise write_failed(exc, path) from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_failed(exc, path) from None
        raise  # KeyboardInterrupt & co.
    fsync_dir(path.parent)


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
    return (json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")
