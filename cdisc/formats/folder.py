"""Reading a folder of dataset files: every file a known format reads, one dataset each.

``cdisc validate`` and ``cdisc adam --sdtm`` read folders this way: files in
hidden folders (our staging and backup copies) are skipped, and so are files a
reader declines (a ``.json`` report beside Dataset-JSON datasets); every
unreadable file is reported before anything is used.

One dataset in two files of the same format is an error (VAL003). One dataset
in files of different formats (``dm.xpt`` and ``dm.json``, as ``convert
--format both`` writes them) is read once from the preferred format (XPT, then
Dataset-JSON, then NDJSON, then CSV: :attr:`cdisc.formats.Reader.rank`); the
other files are read too and must hold the same data (VAL006 otherwise).
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
from ..model.numbers import IBM_TINY
from . import ALL_READERS, Reader, dataset_suffixes
from .compare import frame_differences


@dataclass
class DatasetFolder:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: dataset name -> file, relative to the folder
    files: dict[str, str] = field(default_factory=dict)
    #: dataset name -> "sdtm" / "adam" when the file lies in such a subfolder
    hints: dict[str, str] = field(default_factory=dict)
    #: dataset name -> its other files (other formats, same data), relative to the folder
    also: dict[str, list[str]] = field(default_factory=dict)
    #: files with a known suffix that are not datasets (report JSON files), relative
    skipped: list[str] = field(default_factory=list)


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
    file, a file cannot be read, two files of one format hold the same dataset
    (VAL003), or files of different formats hold one dataset with different
    data (VAL006).
    """
    suffixes = suffixes or dataset_suffixes()
    root = Path(path)
    if not root.is_dir():
        raise CdiscError.single("VAL001", "not a folder", file=str(path))
    # a dataset's files in their order of preference (dm.xpt before dm.json), so that a
    # copy in another format can be checked against the dataset already read
    candidates = sorted(
        (p for p in root.rglob("*")
         if p.is_file() and p.suffix.lower() in suffixes
         # Hidden folders are staging/backup copies (see cdisc.output.folder), not inputs.
         and not any(part.startswith(".") for part in p.relative_to(root).parts)),
        key=lambda p: (p.parent, p.stem, ALL_READERS[p.suffix.lower()].rank, p.name))
    files, skipped = [], []
    for file in candidates:
        if ALL_READERS[file.suffix.lower()].accepts(file):
            files.append(file)
        else:
            skipped.append(file.relative_to(root).as_posix())
    if not files:
        raise CdiscError.single("VAL002", "no dataset files (" + ", ".join(
            f"*{s}" for s in suffixes) + ")", file=str(path))
    folder = DatasetFolder(skipped=skipped)
    #: dataset name -> suffix -> file: which formats of a dataset have been read
    seen: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    with reuse_freed_memory():
        for file in files:
            relative = file.relative_to(root).as_posix()
            suffix = file.suffix.lower()
            reader = ALL_READERS[suffix]
            if _known_copy(folder, seen, file, relative, reader):
                continue
            try:
                frame, member, _label = reader(file)
            except CdiscError as exc:
                problems += [replace(p, location=replace(p.location, file=relative))
                             for p in exc.problems]
                continue
            name = (member or file.stem).strip().upper()
            formats = seen.setdefault(name, {})
            if suffix in formats:
                problems.append(Problem("VAL003", f"dataset {name} is also in {formats[suffix]}",
                                        Location(file=relative, dataset=name)))
                continue
            formats[suffix] = relative
            if name in folder.frames:
                problems += _same_data(folder, name, frame, relative, reader.rank)
                continue
            folder.frames[name], folder.files[name] = frame, relative
            hint = _hint(file.relative_to(root))
            if hint:
                folder.hints[name] = hint
    if problems:
        raise CdiscError(problems)
    return folder


def _known_copy(folder: DatasetFolder, seen: dict[str, dict[str, str]], file: Path,
                relative: str, reader: Reader) -> bool:
    """Whether ``file`` is a copy, in a less preferred format, of a dataset already read
    that its reader can confirm without reading it whole (:attr:`Reader.holds`); then
    it is recorded as such. A file it cannot confirm is read and compared in full."""
    name = file.stem.strip().upper()
    formats = seen.get(name)
    if reader.holds is None or name not in folder.frames or not formats or (
            file.suffix.lower() in formats):
        return False
    kept = ALL_READERS[Path(folder.files[name]).suffix.lower()]
    if kept.rank >= reader.rank or not reader.holds(file, folder.frames[name], name):
        return False
    formats[file.suffix.lower()] = relative
    folder.also.setdefault(name, []).append(relative)
    return True


def _same_data(folder: DatasetFolder, name: str, frame: pd.DataFrame, relative: str,
               rank: int) -> list[Problem]:
    """A second file of dataset ``name`` in another format: keep the preferred, compare."""
    kept = folder.files[name]
    kept_rank = ALL_READERS[Path(kept).suffix.lower()].rank
    if rank < kept_rank:  # the new file is the preferred format: it becomes the dataset
        primary, primary_file, other, other_file = frame, relative, folder.frames[name], kept
    else:
        primary, primary_file, other, other_file = folder.frames[name], kept, frame, relative
    # The usual case first: the same values in the same types (one C comparison per value),
    # which frame_differences would pass value by value. XPT stores magnitudes below
    # 16**-65 as 0, so those compare as one zero there.
    differences = [] if primary.shape == other.shape and primary.equals(other) else \
        frame_differences(primary, other, dataset=name, reader=other_file, code="VAL006",
                          tiny=IBM_TINY)
    folder.frames[name], folder.files[name] = primary, primary_file
    folder.also.setdefault(name, []).append(other_file)
    folder.hints.pop(name, None)
    hint = _hint(Path(primary_file))
    if hint:
        folder.hints[name] = hint
    if not differences:
        return []
    shown = "; ".join(f"{p.location.describe()}: {p.message}" for p in differences[:3])
    more = f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
    return [Problem("VAL006", f"dataset {name} in {other_file} differs from {primary_file}: "
                    f"{shown}{more}", Location(file=other_file, dataset=name))]
