"""All-or-nothing output folders: build in a sibling temporary folder, then swap.

A failed or killed run leaves the previous output folder exactly as it was:
nothing is written into it until every file of the new run exists and has
been verified. The temporary folders are named with the run's process id, so
the next run can tell a killed run's leftovers from a live run's and remove
(or, for a run killed mid-swap, restore) them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _recover_abandoned(out_dir: Path) -> None:
    """Clean up after runs that were killed (their temporary folders carry their pid).

    A run killed between its two renames leaves the previous output only in its
    ``.old-`` folder: that folder is put back, so the output is as it was.
    """
    for kind in ("old", "new"):
        for folder in sorted(out_dir.parent.glob(f".{out_dir.name}.{kind}-*-*")):
            pid = folder.name.removeprefix(f".{out_dir.name}.{kind}-").split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            if kind == "old" and not out_dir.exists():
                os.replace(folder, out_dir)
            else:
                shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover_abandoned(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-{os.getpid()}-",
                                    dir=out_dir.parent))
    # mkdtemp makes the folder private (0700); the output is an ordinary folder.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
            os.replace(backup, out_dir)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
