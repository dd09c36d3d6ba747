"""Validation reports: console summary, ``validation.json``, ``.xlsx`` and ``.html``.

Every file is reproducible: stable field names, a fixed order, no wall-clock
time (the date shown is the run's own, :attr:`ValidationResult.date`), file
names relative to the validated folder. The workbook and the HTML page show
the same tables (:func:`report_tables`), in the layout Pinnacle 21 users read:

* **Validation Summary**: tool and version, standards, CT version and packages,
  date, data folder, datasets, records, rules run, findings per severity;
* **Dataset Summary**: Dataset, Label, Class, Records, Rejects, Errors,
  Warnings, Notices (and the file) per dataset, then per other source
  (a define.xml);
* **Issue Summary**: Source, Rule ID, Message, Severity, Found, grouped per
  source (dataset), severities in P21's order (Reject, Error, Warning, Notice);
* **Details**: Source, Record, Count, Variables, Values, Rule ID, Message,
  Category, Severity (and USUBJID, and the file position of a define.xml finding),
  per source and rule;
* **Rules**: every rule that ran, with its description, citation, category,
  scope and how many findings it made.

Severities show as P21 writes them (Error, Warning, Notice); validation.json
keeps the lower-case ids and adds the display form (``severity_label``).

All files list at most ``Limits.problems_per_code`` findings of each rule (the
first ones in the result's order); the counts (summary, each rule's ``count``,
Found, the Dataset Summary) always cover every finding, and a rule with
findings left out says how many (``omitted`` in validation.json, a closing
Details row per rule whose Count is the number left out). Values and messages
are clipped as in errors.json (``Limits.message_value_chars``). Every workbook
cell is made by :func:`cdisc.text_safety.sheet_cell`: text is a string cell,
never a formula; the HTML page escapes every text (:mod:`.report_html`).
All files are written atomically (:func:`cdisc.formats.atomic.write_atomic`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .. import __version__, standards
from ..errors import Problem, Severity, group_by_code, message_chars
from ..formats.atomic import json_parts, write_atomic, write_atomic_parts, write_failed
from ..limits import DEFAULT_LIMITS, Limits
from ..text_safety import clip, echo, json_value, sheet_cell, workbook_bytes
from .engine import ValidationResult, ct_packages
from .registry import Rule, severity_label

JSON_NAME = "validation.json"
XLSX_NAME = "validation.xlsx"
HTML_NAME = "validation.html"
TOOL = "cdisc-convert"
TITLE = "CDISC validation report"
# The workbook's created/modified time and its zip entries' time: fixed, for
# byte-identical reports (zip timestamps cannot be earlier than 1980).
FIXED_TIME = datetime(1980, 1, 1)
#: severity ids in Pinnacle 21's order; "reject" is P21's, none of our rules has it yet
SEVERITY_IDS = ("reject", "error", "warning", "notice")
_RANK = {s: i for i, s in enumerate(SEVERITY_IDS)}
NOT_RECORDED = "not recorded"


def _rules_by_id(result: ValidationResult) -> dict[str, Rule]:
    return {r.id: r for r in result.rules}


def _finding(p: Problem, chars: int = DEFAULT_LIMITS.message_value_chars) -> dict[str, Any]:
    loc = p.location
    out = {
        "rule": p.code,
        "severity": p.severity.value,
        "dataset": loc.dataset,
        "usubjid": loc.usubjid,
        "variable": loc.field,
        "value": json_value(loc.value, chars),
        "record": loc.record,
        "message": clip(p.message, message_chars(chars)),
    }
    if loc.file is not None:  # a define.xml finding: where in which file
        out["file"] = loc.file
        if loc.line is not None:
            out["line"] = loc.line
    return out


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


def _ig_versions(result: ValidationResult) -> str:
    """The implementation guides of the validated datasets, e.g. ``SDTMIG 3.4, ADaMIG 1.3``."""
    shipped = _standards()
    used = {d.standard for d in result.datasets}
    guides = [(std, ig) for std, ig in (("SDTM", "SDTMIG"), ("ADaM", "ADaMIG")) if std in used]
    return ", ".join(f"{ig} {shipped[ig]}" for _, ig in guides if ig in shipped) or "none"


def _ct_text(result: ValidationResult) -> str:
    packages = ct_packages(result.ct_version)
    return f"{result.ct_version} ({', '.join(packages)})" if packages else result.ct_version


def _date_text(result: ValidationResult) -> str:
    """The run's date and where it comes from (never the wall clock: said, to avoid surprise)."""
    if result.date is None:
        return f"{NOT_RECORDED} (no SOURCE_DATE_EPOCH, define.xml or XPT header date)"
    return f"{result.date} (from {result.date_source})" if result.date_source else result.date


def _folder_text(result: ValidationResult) -> str:
    if result.folder is not None:
        return result.folder
    if any(d.file for d in result.datasets):
        return ". (the folder of this report; file names are relative to it)"
    return "(datasets given in memory, not read from files)"


def to_json(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The ``validation.json`` payload (see the module docstring)."""
    counts = result.rule_counts()
    findings, omitted = listed(result.findings, limits.problems_per_code)
    chars = limits.message_value_chars
    return {
        "tool": {"name": TOOL, "version": __version__},
        "run": {"date": result.date, "date_source": result.date_source,
                "folder": result.folder, "ct_version": result.ct_version},
        "standards": _standards(),
        "severities": {s.value: severity_label(s) for s in Severity},
        "datasets": [
            {"name": d.name, "records": d.records, "standard": d.standard, "file": d.file}
            for d in result.datasets
        ],
        "summary": result.summary,
        "rules": [
            {"id": r.id, "severity": r.severity.value, "severity_label": r.label,
             "category": r.category, "message": r.message, "citation": r.citation,
             "scope": r.scope.describe() if r.scope is not None else None,
             "count": counts.get(r.id, 0),
             **({"omitted": omitted[r.id]} if r.id in omitted else {})}
            for r in result.rules
        ],
        "findings": [_finding(p, chars) for p in findings],
    }


def write_json_report(result: ValidationResult, path: Path,
                      limits: Limits = DEFAULT_LIMITS) -> Path:
    write_atomic_parts(Path(path), json_parts(to_json(result, limits)))
    return Path(path)


# --- console ---------------------------------------------------------------------------


def summary_line(result: ValidationResult) -> str:
    s = result.summary
    rejects = f"{s['reject']} reject(s), " if s.get("reject") else ""
    return (f"validation      {len(result.datasets)} datasets: {rejects}{s['error']} error(s), "
            f"{s['warning']} warning(s), {s['notice']} notice(s)")


def print_report(result: ValidationResult, *, examples: int = 3) -> None:
    """The findings grouped by rule (errors first), a few examples each, then the totals."""
    rules = _rules_by_id(result)
    groups = group_by_code(result.findings)
    order = sorted(groups, key=lambda rid: (_severity_rank(rules[rid]), rid))
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


# --- the tables both the workbook and the HTML page show --------------------------------


@dataclass(frozen=True)
class Table:
    """One sheet of the workbook, one section of the HTML page."""

    title: str
    header: list[str]
    rows: list[list[Any]]
    widths: list[int]  # characters, per column (the workbook's column widths)
    note: str = ""  # one sentence under the title (HTML) about what the table holds
    severity_column: int | None = None  # the column holding a severity label
    group_column: int | None = None  # a new value here starts a group (drawn as a rule)
    wrap: frozenset[int] = field(default_factory=frozenset)  # columns of long text
    filters: bool = True  # autofilter (workbook) and filter boxes (HTML)

    @property
    def anchor(self) -> str:
        return self.title.lower().replace(" ", "-")


def source_of(p: Problem) -> str:
    """Where a finding is, as the Source column shows it: the dataset, else the file."""
    loc = p.location
    return loc.dataset or loc.file or "(study)"


def _source_key(name: str, datasets: set[str]) -> tuple[int, str]:
    return (0 if name in datasets else 1, name)


def _severity_rank(p_or_rule: Problem | Rule) -> int:
    return _RANK.get(p_or_rule.severity.value, len(_RANK))


def _summary_table(result: ValidationResult, limits: Limits) -> Table:
    s = Counter(p.severity.value for p in result.findings)
    rows: list[list[Any]] = [
        ["Tool", f"{TOOL} {__version__}"],
        ["Standards", _ig_versions(result)],
        ["CT version", _ct_text(result)],
        ["CT packages", ", ".join(f"{k} {v}" for k, v in sorted(
            standards.ct_versions().items()))],
        ["Date", _date_text(result)],
        ["Data folder", _folder_text(result)],
        ["Datasets", len(result.datasets)],
        ["Records", sum(d.records for d in result.datasets)],
        ["Rules run", len(result.rules)],
        *[[f"{severity_label(sid)}s", s.get(sid, 0)] for sid in SEVERITY_IDS],
        ["Findings", len(result.findings)],
        ["Details", f"at most {limits.problems_per_code} findings per rule are listed; "
                    "every count covers all findings"],
    ]
    return Table("Validation Summary", ["Item", "Value"], rows, [18, 90],
                 note="The run: tool, standards, terminology, date and totals.",
                 wrap=frozenset({1}), filters=False)


def _dataset_table(result: ValidationResult) -> Table:
    per: Counter[tuple[str, str]] = Counter(
        (source_of(p), p.severity.value) for p in result.findings)
    names = {d.name for d in result.datasets}
    others = sorted({source_of(p) for p in result.findings} - names)

    def counts(source: str) -> list[int]:
        return [per[(source, sid)] for sid in SEVERITY_IDS]

    rows = [[d.name, d.label, d.dataset_class, d.records, *counts(d.name), d.file]
            for d in result.datasets]
    rows += [[name, None, None, None, *counts(name), name if "." in name else None]
             for name in others]
    return Table("Dataset Summary",
                 ["Dataset", "Label", "Class", "Records", "Rejects", "Errors", "Warnings",
                  "Notices", "File"], rows, [12, 40, 30, 10, 10, 10, 10, 10, 30],
                 note="One row per dataset (then per other source, e.g. a define.xml) "
                      "with its findings per severity.")


def _issue_table(result: ValidationResult, rules: dict[str, Rule]) -> Table:
    found: Counter[tuple[str, str]] = Counter((source_of(p), p.code) for p in result.findings)
    names = {d.name for d in result.datasets}
    order = sorted(found, key=lambda k: (_source_key(k[0], names),
                                         _severity_rank(rules[k[1]]), k[1]))
    rows = [[source, rid, rules[rid].message, rules[rid].label, found[(source, rid)]]
            for source, rid in order]
    return Table("Issue Summary", ["Source", "Rule ID", "Message", "Severity", "Found"], rows,
                 [12, 10, 80, 10, 8], note="Each rule's findings per source, all counted.",
                 severity_column=3, group_column=0)


def _detail_table(result: ValidationResult, rules: dict[str, Rule], limits: Limits) -> Table:
    findings, omitted = listed(result.findings, limits.problems_per_code)
    chars = limits.message_value_chars
    names = {d.name for d in result.datasets}
    # By source and rule (as P21 lists them), then the result's order (record, variable).
    position = {id(p): i for i, p in enumerate(findings)}
    findings = sorted(findings, key=lambda p: (_source_key(source_of(p), names), p.code,
                                               position[id(p)]))
    rows: list[list[Any]] = []
    for p in findings:
        loc, rule = p.location, rules[p.code]
        where = (f"{loc.file}:{loc.line}" if loc.line is not None else loc.file) \
            if loc.file else None
        rows.append([source_of(p), loc.record, 1, loc.field, json_value(loc.value, chars),
                     p.code, clip(p.message, message_chars(chars)), rule.category, rule.label,
                     loc.usubjid, where])
    for rid, n in omitted.items():  # after the last listed finding of the rule
        last = max(i for i, row in enumerate(rows) if row[5] == rid)
        rule = rules[rid]
        rows.insert(last + 1, [rows[last][0], None, n, None, None, rid,
                               f"{n} more findings of {rid} are not listed here (at most "
                               f"{limits.problems_per_code} per rule); Issue Summary counts "
                               "all of them", rule.category, rule.label, None, None])
    return Table("Details",
                 ["Source", "Record", "Count", "Variables", "Values", "Rule ID", "Message",
                  "Category", "Severity", "USUBJID", "Location"], rows,
                 [12, 8, 7, 12, 24, 10, 80, 14, 10, 20, 24],
                 note=f"Every finding (at most {limits.problems_per_code} per rule; a closing "
                      "row gives the Count of those not listed), by source and rule.",
                 severity_column=8, group_column=0)


def _rule_table(result: ValidationResult) -> Table:
    counts = result.rule_counts()
    rows = [[r.id, r.message, r.citation, r.category, r.label,
             r.scope.describe() if r.scope is not None else "any dataset (chosen by the rule)",
             counts.get(r.id, 0)] for r in result.rules]
    return Table("Rules",
                 ["Rule ID", "Description", "Citation", "Category", "Severity", "Scope",
                  "Found"], rows, [10, 60, 70, 14, 10, 30, 8],
                 note="Every rule that ran, with the standard or business rule it implements.",
                 severity_column=4, wrap=frozenset({1, 2}))


def report_tables(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> list[Table]:
    """The five tables of the workbook and the HTML page, in order."""
    rules = _rules_by_id(result)
    return [_summary_table(result, limits), _dataset_table(result),
            _issue_table(result, rules), _detail_table(result, rules, limits),
            _rule_table(result)]


# --- workbook --------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
#: light fills of the Severity cells, as P21 users know them (red, amber, blue, dark red)
SEVERITY_FILLS = {"Reject": "F4B6B6", "Error": "FAD4D4", "Warning": "FCE9C2", "Notice": "DCE9F7"}
_GROUP_EDGE = Border(top=Side(style="thin", color="7F7F7F"))


def _sheet(wb: Workbook, table: Table) -> None:
    """One sheet: a styled, frozen header row, then the rows (every cell by ``sheet_cell``).

    Cells are styled before they are appended: looking a row up again (``ws.max_row``,
    ``ws[n]``) scans every cell of the sheet, which made a long Details sheet quadratic.
    """
    ws = wb.create_sheet(table.title)
    header = [sheet_cell(ws, h) for h in table.header]
    for cell in header:
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    ws.append(header)
    fills = {label: PatternFill("solid", fgColor=color) for label, color in SEVERITY_FILLS.items()}
    wrap = Alignment(wrap_text=True, vertical="top")
    previous: object = object()
    for n, row in enumerate(table.rows):
        cells = [sheet_cell(ws, v) for v in row]
        if table.severity_column is not None:
            fill = fills.get(row[table.severity_column])
            if fill is not None:
                cells[table.severity_column].fill = fill
        if table.group_column is not None:
            if n and row[table.group_column] != previous:
                for cell in cells:
                    cell.border = _GROUP_EDGE
            previous = row[table.group_column]
        for i in table.wrap:
            cells[i].alignment = wrap
        ws.append(cells)
    for i, width in enumerate(table.widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    if table.filters and table.rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table.header))}{len(table.rows) + 1}"


def workbook(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> Workbook:
    """The Pinnacle 21-style workbook (not yet written)."""
    wb = Workbook()
    wb.remove(wb.active)
    for table in report_tables(result, limits):
        _sheet(wb, table)
    props = wb.properties
    props.creator = props.lastModifiedBy = f"{TOOL} {__version__}"
    props.title = TITLE
    props.created = props.modified = FIXED_TIME
    return wb


def write_xlsx(result: ValidationResult, path: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Write the workbook with fixed timestamps, so the same result gives the same bytes."""
    write_atomic(Path(path), workbook_bytes(workbook(result, limits)))
    return Path(path)


# --- HTML ------------------------------------------------------------------------------


def html_report(result: ValidationResult, limits: Limits = DEFAULT_LIMITS) -> str:
    """The HTML page: the workbook's tables, sortable and filterable offline."""
    from .report_html import render

    counts = Counter(p.severity.value for p in result.findings)
    subtitle = [f"{TOOL} {__version__}", f"date {result.date or NOT_RECORDED}",
                f"CT {_ct_text(result)}", f"data {_folder_text(result)}"]
    return render(TITLE, subtitle, report_tables(result, limits),
                  [(severity_label(sid), counts.get(sid, 0)) for sid in SEVERITY_IDS])


def write_html(result: ValidationResult, path: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    write_atomic(Path(path), html_report(result, limits).encode("utf-8"))
    return Path(path)


def write_reports(result: ValidationResult, folder: Path,
                  limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """``validation.json``, ``validation.xlsx`` and ``validation.html`` in ``folder``.

    ``folder`` is created if need be. Each file is replaced atomically; a failure
    raises :class:`~cdisc.errors.OutputError` with one line (REP001), leaving the
    file as it was.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(exc, folder / JSON_NAME) from None
    return [write_json_report(result, folder / JSON_NAME, limits),
            write_xlsx(result, folder / XLSX_NAME, limits),
            write_html(result, folder / HTML_NAME, limits)]

