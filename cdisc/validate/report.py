"""Validation reports: console summary, ``validation.json``, ``validation.xlsx``.

Both files are reproducible: stable field names, a fixed order (findings by
dataset, record, rule, variable), no wall-clock time, file names relative to
the validated folder. The workbook follows the Pinnacle 21 report layout
(sheets Dataset Summary, Issue Summary, Details); its document properties and
its zip entries carry a fixed timestamp, so the same result gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from .. import __version__, standards
from ..errors import Problem, Severity
from ..output.reports import write_json
from .engine import ValidationResult
from .registry import Rule

JSON_NAME = "validation.json"
XLSX_NAME = "validation.xlsx"
TOOL = "cdisc-convert"
# The workbook's created/modified time and its zip entries' time: fixed, for
# byte-identical reports (zip timestamps cannot be earlier than 1980).
FIXED_TIME = datetime(1980, 1, 1)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTICE: 2}


def _rules_by_id(result: ValidationResult) -> dict[str, Rule]:
    return {r.id: r for r in result.rules}


def _finding(p: Problem) -> dict[str, Any]:
    loc = p.location
    return {
        "rule": p.code,
        "severity": p.severity.value,
        "dataset": loc.dataset,
        "usubjid": loc.usubjid,
        "variable": loc.field,
        "value": loc.value,
        "record": loc.record,
        "message": p.message,
    }


def _standards() -> dict[str, str]:
    """Versions of the metadata validated against, e.g. {"ADaMIG": "1.3", "SDTMIG": "3.4", ...}."""
    versions = {}
    for name in standards.known_datasets():
        meta = standards.dataset(name)
        versions[meta.standard] = meta.version
    return {**dict(sorted(versions.items())), **standards.ct_versions()}


def to_json(result: ValidationResult) -> dict[str, Any]:
    """The ``validation.json`` payload (see the module docstring)."""
    counts = result.rule_counts()
    return {
        "tool": {"name": TOOL, "version": __version__},
        "standards": _standards(),
        "datasets": [
            {"name": d.name, "records": d.records, "standard": d.standard, "file": d.file}
            for d in result.datasets
        ],
        "summary": result.summary,
        "rules": [
            {"id": r.id, "severity": r.severity.value, "message": r.message,
             "citation": r.citation, "count": counts.get(r.id, 0)}
            for r in result.rules
        ],
        "findings": [_finding(p) for p in result.findings],
    }


def write_json_report(result: ValidationResult, path: Path) -> Path:
    write_json(to_json(result), path)
    return path


# --- console ---------------------------------------------------------------------------


def summary_line(result: ValidationResult) -> str:
    s = result.summary
    return (f"validation      {len(result.datasets)} datasets: {s['error']} error(s), "
            f"{s['warning']} warning(s), {s['notice']} notice(s)")


def print_report(result: ValidationResult, *, examples: int = 3) -> None:
    """The findings grouped by rule (errors first), a few examples each, then the totals."""
    rules = _rules_by_id(result)
    counts = result.rule_counts()
    order = sorted(counts, key=lambda rid: (_SEVERITY_ORDER[rules[rid].severity], rid))
    for name in (f"{d.name} ({d.standard}, {d.records} records)" for d in result.datasets):
        click.echo(f"dataset         {name}")
    for rid in order:
        rule = rules[rid]
        click.echo(f"\n{rule.severity.value:<8}{rid}  {counts[rid]:>5}  {rule.message}")
        click.echo(f"                      [{rule.citation}]")
        group = [p for p in result.findings if p.code == rid]
        for p in group[:examples]:
            click.echo(f"    {p.location}: {p.message}")
        if len(group) > examples:
            click.echo(f"    ... and {len(group) - examples} more")
    click.echo("")
    click.echo(summary_line(result))


# --- workbook --------------------------------------------------------------------------


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]],
           widths: list[int]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_cell(v) for v in row])
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = ws.dimensions


def _cell(value: Any) -> Any:
    """A value openpyxl can store: control characters (which CV0005 reports) are escaped."""
    if value is None or isinstance(value, (int, float)):
        return value
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: repr(m.group(0))[1:-1], str(value))


def workbook(result: ValidationResult) -> Workbook:
    """The Pinnacle 21-style workbook (not yet written)."""
    rules = _rules_by_id(result)
    wb = Workbook()
    wb.remove(wb.active)
    per_dataset: Counter[tuple[str | None, Severity]] = Counter(
        (p.location.dataset, p.severity) for p in result.findings)
    _sheet(wb, "Dataset Summary",
           ["Dataset", "Label", "Standard", "Records", "Errors", "Warnings", "Notices", "Source"],
           [[d.name, d.label, d.standard, d.records, per_dataset[(d.name, Severity.ERROR)],
             per_dataset[(d.name, Severity.WARNING)], per_dataset[(d.name, Severity.NOTICE)],
             d.file] for d in result.datasets],
           [12, 40, 10, 10, 10, 10, 10, 30])
    issues: Counter[tuple[str, str]] = Counter(
        (p.location.dataset or "", p.code) for p in result.findings)
    _sheet(wb, "Issue Summary",
           ["Dataset", "Rule ID", "Message", "Severity", "Found", "Citation"],
           [[ds or None, rid, rules[rid].message, rules[rid].severity.value, n,
             rules[rid].citation] for (ds, rid), n in sorted(issues.items())],
           [12, 10, 60, 10, 8, 70])
    _sheet(wb, "Details",
           ["Dataset", "Record", "USUBJID", "Variable", "Value", "Rule ID", "Message",
            "Severity"],
           [[p.location.dataset, p.location.record, p.location.usubjid, p.location.field,
             p.location.value, p.code, p.message, p.severity.value]
            for p in result.findings],
           [12, 8, 20, 12, 24, 10, 80, 10])
    props = wb.properties
    props.creator = props.lastModifiedBy = f"{TOOL} {__version__}"
    props.title = "CDISC validation report"
    props.created = props.modified = FIXED_TIME
    return wb


def write_xlsx(result: ValidationResult, path: Path) -> Path:
    """Write the workbook with fixed timestamps, so the same result gives the same bytes."""
    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the wall clock into "modified".
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook(result), archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # same entries and order, fixed times
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    Path(path).write_bytes(out.getvalue())
    return Path(path)


def write_reports(result: ValidationResult, folder: Path) -> list[Path]:
    """``validation.json`` and ``validation.xlsx`` in ``folder`` (created if need be)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_json_report(result, folder / JSON_NAME), write_xlsx(result, folder / XLSX_NAME)]
