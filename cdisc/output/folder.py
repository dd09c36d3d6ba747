"""All-or-nothing output folders: build in a sibling temporary folder, then swap.

A failed or killed run leaves the previous output folder exactly as it was:
nothing is written into it until every file of the new run exists and has
been verified.
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


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
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
        backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
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
