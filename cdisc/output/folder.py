"""All-or-nothing output folders that never touch what the tool did not write.

The output is built in a sibling temporary folder and swapped in only when
every file of the run exists and has been verified, so a failed or killed run
leaves the previous output exactly as it was.

Replacing a folder deletes it, so the target is checked first (and again,
under a lock, just before the swap). A folder may be replaced only when it is
empty or holds our marker file :data:`MARKER`, which lists every file a
previous run wrote; a folder holding anything else (a user's notes, the
study's spec or source files, a folder that contains them, the working
directory, ``/``, a mount point, a symbolic link) is refused with OUT010 and
left untouched.

The temporary folders are named ``.<out>.new-<pid>-*`` and ``.<out>.old-<pid>-*``
with the run's process id, so a later command can tell a killed run's leftovers
from a live run's and remove (or, for a run killed between the two renames of
the swap, restore) them. Swaps and recoveries of one output folder are
serialised by an advisory lock on its parent folder, so two runs at the same
moment leave one complete output and no leftovers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import OutputError
from ..formats.atomic import synced_together, write_failed

try:  # POSIX; elsewhere swaps are not serialised between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: the file inside every output folder we write: which files the run wrote
MARKER = ".cdisc-output.json"
GENERATOR = "cdisc-convert"


def safe_child(root: Path, relative: str) -> Path:
    """``root / relative``, refusing names that would leave ``root`` (``../x``, absolute)."""
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents and candidate != root.resolve():
        raise OutputError.single(
            "OUT001",
            f"output name {relative!r} points outside the output folder",
            file=str(root),
            field=relative,
        )
    return candidate


# -- what may be replaced ---------------------------------------------------------------
def _refuse(out: Path, why: str) -> OutputError:
    return OutputError.single(
        "OUT010", f"refusing to use this output folder: {why}; nothing was changed. Choose a "
        "new or empty folder, or one that an earlier `cdisc convert` wrote", file=str(out))


def _marker_files(folder: Path) -> set[str] | None:
    """The files our marker in ``folder`` lists, or None when there is no valid marker."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("generator") != GENERATOR:
        return None
    files = content.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _foreign_entries(folder: Path, ours: set[str]) -> list[str]:
    """Entries below ``folder`` that the marker does not list (symbolic links always)."""
    ours_dirs = {parent.as_posix() for f in ours for parent in Path(f).parents} - {"."}
    foreign = []
    for root, dirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        for name in sorted(dirs):
            rel = (rel_root / name).as_posix()
            if os.path.islink(os.path.join(root, name)) or rel not in ours_dirs:
                foreign.append(rel + "/")
        dirs[:] = [d for d in dirs if (rel_root / d).as_posix() in ours_dirs
                   and not os.path.islink(os.path.join(root, d))]
        for name in sorted(files):
            rel = (rel_root / name).as_posix()
            if rel == MARKER:
                continue
            if rel not in ours or os.path.islink(os.path.join(root, name)):
                foreign.append(rel)
    return foreign


def _is_mount(path: Path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def check_output_target(out_dir: str | Path, protected: Iterable[str | Path] = ()) -> Path:
    """The resolved output folder, if a run may replace it; else raise OUT010.

    ``protected`` are files and folders the run reads (the spec, its folder,
    the source folder and files): the output may be none of them and no folder
    that contains one. The current working directory is protected too.
    """
    given = Path(out_dir)
    absolute = Path(os.path.abspath(given))
    if absolute.is_symlink():
        raise _refuse(given, "it is a symbolic link (replacing it would replace the folder it "
                      "points to); give the real folder")
    out = absolute.resolve()
    if out == Path(out.anchor) or _is_mount(out):
        raise _refuse(given, "it is a file system root or a mount point")
    for ancestor in [out, *out.parents]:
        if ancestor.exists() and not ancestor.is_dir():
            what = "it is a file" if ancestor == out else f"{ancestor} is a file, not a folder"
            raise _refuse(given, what)
    for kept in (*protected, Path.cwd()):
        kept = Path(kept).resolve()
        if out == kept or out in kept.parents:
            what = ("the current working directory" if kept == Path.cwd().resolve()
                    else str(kept))
            raise _refuse(given, f"it is or contains {what}, which this run reads or runs in")
    if out.is_dir():
        try:
            entries = list(out.iterdir())
        except OSError as exc:
            raise _refuse(given, f"it cannot be listed ({exc.strerror})") from None
        if entries:
            ours = _marker_files(out)
            if ours is None:
                raise _refuse(given, f"it holds files that cdisc did not write (no {MARKER} "
                              "marker)")
            foreign = _foreign_entries(out, ours)
            if foreign:
                shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
                raise _refuse(given, f"it holds files that cdisc did not write: {shown}")
    return out


# -- leftovers of killed runs, and the swap ---------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except (OverflowError, OSError):
        return False
    return True


def _leftovers(out_dir: Path, kind: str) -> list[tuple[Path, int]]:
    found = []
    for folder in sorted(out_dir.parent.glob(f".{out_dir.name}.{kind}-*-*")):
        pid = folder.name.removeprefix(f".{out_dir.name}.{kind}-").split("-", 1)[0]
        if pid.isdigit() and folder.is_dir() and not folder.is_symlink():
            found.append((folder, int(pid)))
    return found


def _ours_or_empty(folder: Path) -> bool:
    return _marker_files(folder) is not None or not any(folder.iterdir())


def _recover_unlocked(out_dir: Path) -> None:
    for folder, pid in _leftovers(out_dir, "old"):
        if _alive(pid) or not _ours_or_empty(folder):
            continue
        if not out_dir.exists():
            os.replace(folder, out_dir)  # killed between the two renames: put it back
        else:
            shutil.rmtree(folder, ignore_errors=True)
    for folder, pid in _leftovers(out_dir, "new"):
        if not _alive(pid) and _ours_or_empty(folder):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _swap_lock(parent: Path) -> Iterator[None]:
    """Serialise swaps and recoveries of the output folders in ``parent``."""
    if fcntl is None:
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def recover_abandoned(out_dir: str | Path) -> None:
    """Clean up after runs that were killed; a folder moved aside mid-swap is put back.

    Only folders with our naming, of processes that are gone, holding our
    marker (or nothing) are touched. Any command that works on an output
    folder calls this first, whether or not it then succeeds.
    """
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.is_symlink() or not out_dir.parent.is_dir():
        return
    try:
        with _swap_lock(out_dir.parent):
            _recover_unlocked(out_dir)
    except OSError:
        return  # a read-only or unreadable parent: nothing of ours can be there to fix


def _os_error(exc: OSError, what: str, path: Path) -> OutputError:
    reason = write_failed(exc, path).problems[0].message.removeprefix("cannot write the file: ")
    return OutputError.single("OUT011", f"cannot {what}: {reason}", file=str(path))


def write_marker(folder: Path, files: Iterable[Path]) -> Path:
    """Record which files the run wrote, so a later run may replace the folder."""
    listed = sorted({Path(f).relative_to(folder).as_posix() for f in files})
    marker = folder / MARKER
    marker.write_text(json.dumps({"generator": GENERATOR, "files": listed}, indent=1) + "\n",
                      encoding="utf-8")
    return marker


@contextmanager
def staged_output(out_dir: Path, protected: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``out_dir``.

    The caller writes its files into the folder and then calls
    :func:`write_marker` listing them. ``out_dir`` is checked with
    :func:`check_output_target` before anything is created and again just
    before the swap.
    """
    protected = tuple(protected)
    out_dir = check_output_target(out_dir, protected)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        recover_abandoned(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-{os.getpid()}-",
                                        dir=out_dir.parent))
        # mkdtemp makes the folder private (0700); the output is an ordinary folder.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        write_marker(staging, ())  # recognisably ours from the start, for recovery
    except OSError as exc:
        raise _os_error(exc, "create the output folder", out_dir) from None
    try:
        with synced_together():  # every file on disk before the folder is published
            yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        with _swap_lock(out_dir.parent):
            check_output_target(out_dir, protected)  # it may have changed while we worked
            _swap(staging, out_dir)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _os_error(exc, "replace the output folder", out_dir) from None
        raise


def _swap(staging: Path, out_dir: Path) -> None:
    backup = None
    if out_dir.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-{os.getpid()}-",
                                       dir=out_dir.parent))
        os.rmdir(backup)
        os.replace(out_dir, backup)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        if backup is not None:
            with suppress(OSError):
                os.replace(backup, out_dir)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
