"""The run report: reconciliation of source records, exclusions, warnings.

Written as ``run-report.json`` beside the datasets, with stable field names
and no wall-clock time, so the same run gives the same bytes.

Every report file is written by :func:`write_atomic`: a temporary file in the
same folder, flushed to disk, then renamed over the target, so a full disk or
a killed run never leaves a 0-byte or half-written report behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from ..formats.atomic import (
    WRITE_FAILED,
    json_bytes,
    json_parts,
    write_atomic,
    write_atomic_parts,
    write_failed,
)

if TYPE_CHECKING:  # a type only: printing a report must not import the SDTM engine
    from ..sdtm.engine import SdtmResult

#: error code of a report that would replace a file that is not ours
NOT_OURS = "REP002"


def run_report(
    result: SdtmResult, datasets: dict[str, int], notices: list[Problem], version: str
) -> dict[str, Any]:
    return {
        "tool": {"name": "cdisc-convert", "version": version},
        "datasets": [{"name": name, "records": n} for name, n in sorted(datasets.items())],
        "reconciliation": [
            {
                "source": r.source,
                "file": Path(r.file).name,
                "read": r.read,
                "mapped": r.mapped,
                "excluded": r.excluded,
            }
            for r in result.reconciliation
        ],
        "exclusions": [
            {"source": s, "row": int(r), "reason": why}
            for s, r, why in result.exclusions[["source", "row", "reason"]].itertuples(index=False)
        ],
        "problems": [p.to_dict() for p in notices],
    }


def write_json(payload: Any, path: Path) -> None:
    """Write a JSON report atomically (see :func:`write_atomic`), a piece at a time."""
    write_atomic_parts(Path(path), json_parts(payload))




def reconciliation_lines(result: SdtmResult) -> list[str]:
    """One line per source: read = mapped + excluded."""
    return [
        f"{r.source}: {r.read} read, {r.mapped} mapped, {r.excluded} excluded"
        for r in result.reconciliation
    ]


__all__ = ["NOT_OURS", "WRITE_FAILED", "json_bytes", "run_report", "write_atomic",
           "write_failed", "write_json"]
