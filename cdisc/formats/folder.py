"""Reading a folder of dataset files: every file a known format reads, one dataset each.

``cdisc validate`` and ``cdisc adam --sdtm`` read folders this way: files in
hidden folders (our staging and backup copies) are skipped, a dataset found
twice is an error, and every unreadable file is reported before anything is
used.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import CdiscError, Location, Problem
from . import ALL_READERS, dataset_suffixes


@dataclass
class DatasetFolder:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: dataset name -> file, relative to the folder
    files: dict[str, str] = field(default_factory=dict)
    #: dataset name -> "sdtm" / "adam" when the file lies in such a subfolder
    hints: dict[str, str] = field(default_factory=dict)


def _hint(relative: Path) -> str | None:
    for part in relative.parts[:-1]:
        if part.lower() in ("sdtm", "adam"):
            return part
    return None


# glibc mallopt() parameters and their defaults (malloc/malloc.c), and the environment
# variables that override the defaults at start-up
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_DEFAULTS = {_M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", 128 * 1024),
                    _M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", 128 * 1024)}
_KEEP_FREED = {_M_TRIM_THRESHOLD: 256 * 1024**2, _M_MMAP_THRESHOLD: 32 * 1024**2}


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (mallopt's parameters are glibc's), else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (AttributeError, OSError, ValueError):  # not glibc, no confstr (Windows, macOS)
        return None
    return libc


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """While reading many XPT files, let the C allocator reuse freed memory (glibc only).

    pyreadstat (1.3) allocates and fills 100,000 rows per column for every XPT
    file it reads (a v5 file does not say how many records it holds) and frees
    them once the frame is built. glibc gives that memory back to the kernel and
    maps it again for the next file: about a thousand page faults per small
    file, most of the time of a folder of small files (10,000 files: 11.5
    million page faults, 16 s of system time). Inside this block freed memory
    stays with the process for reuse; on leaving, glibc's default thresholds (or
    the MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_ values) are set again,
    fixed rather than adaptive from then on, and the memory is released. Does
    nothing on other C libraries.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    for param, value in _KEEP_FREED.items():
        libc.mallopt(param, value)
    try:
        yield
    finally:
        for param, (variable, default) in _MALLOC_DEFAULTS.items():
            setting = os.environ.get(variable, "")
            libc.mallopt(param, int(setting) if setting.isdigit() else default)
        libc.malloc_trim(0)


def read_dataset_folder(path: str | Path,
                        suffixes: tuple[str, ...] | None = None) -> DatasetFolder:
    """Every dataset file under ``path`` whose suffix a reader knows (or one of ``suffixes``).

    Raises :class:`CdiscError` when the folder does not exist, holds no dataset
    file, a file cannot be read, or two files hold the same dataset.
    """
    suffixes = suffixes or dataset_suffixes()
    root = Path(path)
    if not root.is_dir():
        raise CdiscError.single("VAL001", "not a folder", file=str(path))
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes
        # Hidden folders are staging/backup copies (see cdisc.output.folder), not inputs.
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise CdiscError.single("VAL002", "no dataset files (" + ", ".join(
            f"*{s}" for s in suffixes) + ")", file=str(path))
    frames: dict[str, pd.DataFrame] = {}
    where: dict[str, str] = {}
    hints: dict[str, str] = {}
    problems: list[Problem] = []
    with reuse_freed_memory():
        for file in files:
            relative = file.relative_to(root).as_posix()
            try:
                frame, member, _label = ALL_READERS[file.suffix.lower()](file)
            except CdiscError as exc:
                problems += [replace(p, location=replace(p.location, file=relative))
                             for p in exc.problems]
                continue
            name = (member or file.stem).strip().upper()
            if name in frames:
                problems.append(Problem("VAL003", f"dataset {name} is also in {where[name]}",
                                        Location(file=relative, dataset=name)))
                continue
            frames[name], where[name] = frame, relative
            hint = _hint(file.relative_to(root))
            if hint:
                hints[name] = hint
    if problems:
        raise CdiscError(problems)
    return DatasetFolder(frames, where, hints)

