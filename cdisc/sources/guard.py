"""Checks made before a source file is opened, and the problem every limit gives.

* A file named in the spec must stay inside the source folder (``--source``,
  else the spec's folder) after symlinks are resolved; ``../x.csv``, an
  absolute path elsewhere or a symlink pointing out of the folder is refused
  (SRC020) before anything is read, unless the user passed
  ``--allow-outside-sources``. The message names the file as the spec wrote it.
* Only a regular file is opened (SRC019): a FIFO would block the open, a
  device such as ``/dev/zero`` never ends, a folder is no table.
* A file larger than ``file_bytes`` is not read (SRC018).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import Location, Problem, SourceError
from ..limits import Limits
from ..spec.model import SourceSpec, Spec

LIMIT_CODE = "SRC018"

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def limit_problem(limit: str, limits: Limits, what: str, location: Location) -> Problem:
    """SRC018: ``what`` is over the limit named ``limit``; says how to raise it."""
    value = getattr(limits, limit)
    return Problem(LIMIT_CODE, (
        f"{what}, over the limit {limit}={value:,}; reading stopped. If the file is genuine, "
        f"raise the limit with --limit {limit}=N"), location)


def written_name(source: SourceSpec, folder: Path) -> str:
    """The file name as the spec wrote it (relative names were joined to ``folder``)."""
    try:
        return source.file.relative_to(folder).as_posix()
    except ValueError:
        return str(source.file)


def outside_problem(spec: Spec, source: SourceSpec) -> Problem | None:
    """SRC020 when the source file leaves the source folder and the user did not allow it."""
    if spec.allow_outside_sources:
        return None
    folder = spec.source_dir or spec.base_dir
    try:
        inside = source.file.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop: not provably inside
        inside = False
    if inside:
        return None
    name = written_name(source, folder)
    return Problem("SRC020", (
        f"source file {name!r} lies outside the source folder (the spec's folder, or the "
        "folder given with --source); it is not read. Move it into the folder, or pass "
        "--allow-outside-sources if reading it is intended"),
        spec.locate(source.json_path + ("file",), value=name))


def check_file(source: SourceSpec, limits: Limits) -> None:
    """Raise SourceError unless the file is a regular file within ``file_bytes``.

    Uses ``os.stat`` (which follows symlinks and opens nothing), so a FIFO is
    refused without blocking. FileNotFoundError propagates (SRC002).
    """
    file = str(source.file)
    info = os.stat(source.file)
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        raise SourceError(Problem("SRC019", (
            f"the source is {kind}, not a regular file; only regular CSV/XLSX files are read"),
            Location(file=file)))
    if info.st_size > limits.file_bytes:
        raise SourceError(limit_problem(
            "file_bytes", limits, f"the file has {info.st_size:,} bytes", Location(file=file)))
