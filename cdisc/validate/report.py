"""Validation reports: console summary, ``validation.json``, ``validation.xlsx``.

Both files are reproducible: stable field names, a fixed order (findings by
dataset, record, rule, variable), no wall-clock time, file names relative to
the validated folder. The workbook follows the Pinnacle 21 report layout
(sheets Dataset Summary, Issue Summary, Details); its document properties and
its zip entries carry a fixed timestamp, so the same result gives the same bytes.

Both list at most ``Limits.problems_per_code`` findings of each rule (the first
ones in the report's order); the counts (summary, each rule's ``count``, the
Issue Summary sheet) always cover every finding, and a rule with findings left
out says how many (``omitted`` in validation.json, a closing row per rule in
the Details sheet). Values and messages are clipped as in errors.json
(``Limits.message_value_chars``). Every workbook cell is written by
:func:`cdisc.text_safety.append_row`: text is a string cell, never a formula.
Both files are written atomically (:func:`cdisc.formats.atomic.write_atomic`).
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from .. import __version__, standards
from ..errors import Problem, Severity, group_by_code, message_chars
from ..formats.atomic import json_bytes, write_atomic, write_failed
from ..limits import DEFAULT_LIMITS, Limits
from ..text_safety import append_row, clip, echo, json_value
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


def _finding(p: Problem, chars: int = DEFAULT_LIMITS.message_value_chars) -> dict[str, Any]:
    loc = p.location
    return {
        "rule": p.code,
        "severity": p.severity.value,
        "dataset": loc.dataset,
        "usubjid": loc.usubjid,
        "variable": loc.field,
        "value": json_value(loc.value, chars),
        "record": loc.record,
        "message": clip(p.message, message_chars(chars)),
    }


def listed(findings: list[Problem], per_rule: int) -> tuple[list[Problem], dict[str, int]]:
    """The first ``per_rule`` findings of each rule (order kept) and, per rule, how many
    more there are (rules with none left out are not in the dict)."""
    seen: Counter[str] = Counter()
    kept = []
    for p in findings:
        seen[p.code] += 1
        if seen[p.code] <= per_rule:
            kept.append(p)
    return kept, {rid: n - per_rule for rid, n in sorted(seen.items()) if n > per_rule}


def _standards() -> dict[str, str]:
    """Versions of the metadata validated against, e.g. {"ADaMIG": "1.3", "SDTMIG": "3.4", ...}."""
    versions = {}
    for name in standards.known_datasets():
        meta = standards.dataset(name)
        versions[meta.standard] = meta.version
    return {**dict(sorted(versions.items())), **standards.ct_versions()}


def to_json(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The ``validation.json`` payload (see the module docstring)."""
    counts = result.rule_counts()
    findings, omitted = listed(result.findings, limits.problems_per_code)
    chars = limits.message_value_chars
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
             "citation": r.citation, "count": counts.get(r.id, 0),
             **({"omitted": omitted[r.id]} if r.id in omitted else {})}
            for r in result.rules
        ],
        "findings": [_finding(p, chars) for p in findings],
    }


def write_json_report(result: ValidationResult, path: Path,
                      limits: Limits = DEFAULT_LIMITS) -> Path:
    write_atomic(Path(path), json_bytes(to_json(result, limits)))
    return Path(path)


# --- console ---------------------------------------------------------------------------


def summary_line(result: ValidationResult) -> str:
    s = result.summary
    return (f"validation      {len(result.datasets)} datasets: {s['error']} error(s), "
            f"{s['warning']} warning(s), {s['notice']} notice(s)")


def print_report(result: ValidationResult, *, examples: int = 3) -> None:
    """The findings grouped by rule (errors first), a few examples each, then the totals."""
    rules = _rules_by_id(result)
    groups = group_by_code(result.findings)
    order = sorted(groups, key=lambda rid: (_SEVERITY_ORDER[rules[rid].severity], rid))
    chars = DEFAULT_LIMITS.message_value_chars
    for name in (f"{d.name} ({d.standard}, {d.records} records)" for d in result.datasets):
        echo(f"dataset         {name}")
    for rid in order:
        rule, group = rules[rid], groups[rid]
        echo()
        echo(f"{rule.severity.value:<8}{rid}  {len(group):>5}  {rule.message}")
        echo(f"                      [{rule.citation}]")
        for p in group[:examples]:
            echo(f"    {p.location.describe(chars)}: {clip(p.message, message_chars(chars))}")
        if len(group) > examples:
            echo(f"    ... and {len(group) - examples} more")
    echo()
    echo(summary_line(result))


# --- workbook --------------------------------------------------------------------------


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]],
           widths: list[int]) -> None:
    ws = wb.create_sheet(title)
    append_row(ws, header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(ws, row)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = ws.dimensions


def workbook(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> Workbook:
    """The Pinnacle 21-style workbook (not yet written)."""
    rules = _rules_by_id(result)
    findings, omitted = listed(result.findings, limits.problems_per_code)
    chars = limits.message_value_chars
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
             json_value(p.location.value, chars), p.code,
             clip(p.message, message_chars(chars)), p.severity.value] for p in findings]
           + [[None, None, None, None, None, rid,
               f"{n} more findings of {rid} are not listed here (at most "
               f"{limits.problems_per_code} per rule); Issue Summary counts all of them",
               rules[rid].severity.value] for rid, n in omitted.items()],
           [12, 8, 20, 12, 24, 10, 80, 10])
    props = wb.properties
    props.creator = props.lastModifiedBy = f"{TOOL} {__version__}"
    props.title = "CDISC validation report"
    props.created = props.modified = FIXED_TIME
    return wb


def write_xlsx(result: ValidationResult, path: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Write the workbook with fixed timestamps, so the same result gives the same bytes."""
    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the wall clock into "modified".
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook(result, limits), archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # same entries and order, fixed times
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    write_atomic(Path(path), out.getvalue())
    return Path(path)


def write_reports(result: ValidationResult, folder: Path,
                  limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """``validation.json`` and ``validation.xlsx`` in ``folder`` (created if need be).

    Each file is replaced atomically; a failure raises :class:`~cdisc.errors.OutputError`
    with one line (REP001), leaving the file as it was.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(exc, folder / JSON_NAME) from None
    return [write_json_report(result, folder / JSON_NAME, limits),
            write_xlsx(result, folder / XLSX_NAME, limits)]
