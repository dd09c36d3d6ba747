"""Console output of a run: the problem table, the reconciliation, the datasets."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import Problem
from .output.reports import reconciliation_lines

if TYPE_CHECKING:
    from .pipeline import ConversionResult


#: problems printed per code; errors.json always has all of them
SHOWN_PER_CODE = 20


def print_problems(problems: Sequence[Problem], errors_json: Path | None) -> None:
    """Every problem, grouped by code with a count, to stderr; and as JSON if asked."""
    counts = Counter(p.code for p in problems)
    click.echo(f"{len(problems)} problem(s) stopped the run:", err=True)
    for code in sorted(counts):
        group = [p for p in problems if p.code == code]
        click.echo(f"\n{code} ({counts[code]}): {group[0].message.split(':')[0]}", err=True)
        for p in group[:SHOWN_PER_CODE]:
            click.echo(f"  {p.location}: {p.message}", err=True)
        if len(group) > SHOWN_PER_CODE:
            click.echo(f"  ... and {len(group) - SHOWN_PER_CODE} more "
                       f"({'all in ' + str(errors_json) if errors_json else 'not shown'})",
                       err=True)
    if errors_json is not None:
        errors_json.parent.mkdir(parents=True, exist_ok=True)
        errors_json.write_text(
            json.dumps({"problems": [p.to_dict() for p in problems],
                        "counts": dict(sorted(counts.items()))}, indent=2, default=str) + "\n",
            encoding="utf-8")
        click.echo(f"\nproblems written to {errors_json}", err=True)


def print_summary(result: ConversionResult) -> None:
    for line in reconciliation_lines(result.sdtm):
        click.echo(f"reconciliation  {line}")
    for name, frame in sorted(result.sdtm.datasets.items()):
        click.echo(f"dataset         {name:<8} {len(frame):>5} records")
    if result.warnings:
        click.echo(f"{len(result.warnings)} warning(s)/notice(s): see run-report.json")
    click.echo(f"output          {result.out_dir}")
