"""The run report: reconciliation of source records, exclusions, warnings.

Written as ``run-report.json`` beside the datasets, with stable field names
and no wall-clock time, so the same run gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..sdtm.engine import SdtmResult


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
    path.write_text(
        json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
    )


def reconciliation_lines(result: SdtmResult) -> list[str]:
    """One line per source: read = mapped + excluded."""
    return [
        f"{r.source}: {r.read} read, {r.mapped} mapped, {r.excluded} excluded"
        for r in result.reconciliation
    ]
