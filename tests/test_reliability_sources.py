"""Issue #8 (reliability) for the source reader: nothing altered silently, every input bounded.

Every input is generated here: CSV text, and XLSX packages written part by
part (so a test controls formulas, cached values, error cells, row numbers and
declared sizes exactly as Excel or a hostile file would have them).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc.errors import ProblemLog, Severity
from cdisc.limits import Limits
from cdisc.model import numbers
from cdisc.pipeline import convert
from cdisc.sources import read_sources
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, write_study

PTS_HEADER = ["id", "sex", "age", "consent"]
PTS_ROWS = [["1", "Female", 40, "01-JAN-2012"], ["2", "Male", 50, "05-JAN-2012"]]


# -- helpers ---------------------------------------------------------------------------
class Xml(str):
    """A cell written as raw XML; ``{ref}`` becomes the cell reference (e.g. ``C2``)."""


def _letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_rows(rows: list[list], start: int = 1) -> str:
    """``<row>`` elements for ``rows`` (text as inline strings, numbers as numbers)."""
    out = []
    for r, values in enumerate(rows, start):
        cells = []
        for c, value in enumerate(values, 1):
            ref = f"{_letters(c)}{r}"
            if value is None:
                continue
            if isinstance(value, Xml):
                cells.append(value.format(ref=ref, row=r))
            elif isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">'
                             f"{escape(value)}</t></is></c>")
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    return "".join(out)


def write_xlsx(path: Path, sheets: dict[str, str], extra: dict[str, bytes] | None = None,
               compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A minimal XLSX package: sheet name -> the XML inside ``<sheetData>``."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1))
    parts = {
        "[Content_Types].xml": (
            f'<Types xmlns="{pkg}/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}</Types>"),
        "_rels/.rels": (
            f'<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            + "".join(f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, name in enumerate(sheets, 1))
            + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{pkg}/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="{rel}/worksheet" '
                      f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1))
            + "</Relationships>"),
    }
    for i, data in enumerate(sheets.values(), 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = (
            f'<worksheet xmlns="{main}"><sheetData>{data}</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def pts_xlsx_study(folder: Path, rows: list[list], header: list[str] = PTS_HEADER,
                   sheet: str = "Patients") -> Path:
    """The mini study with pts read from sheet ``sheet`` of pts.xlsx."""
    spec_text = MINI_SPEC.replace("file: pts.csv", f"file: pts.xlsx\n    sheet: {sheet}")
    spec = write_study(folder, spec_text, {k: v for k, v in MINI_FILES.items()
                                           if k != "pts.csv"})
    write_xlsx(folder / "pts.xlsx", {sheet: sheet_rows([header, *rows])})
    return spec


def read(spec_path: Path, **changes) -> tuple[dict, ProblemLog]:
    spec = load_spec(spec_path)
    if changes:
        spec = replace(spec, **changes)
    problems = ProblemLog()
    tables = read_sources(spec, problems)
    return tables, problems


def found(problems: ProblemLog) -> list[tuple]:
    return sorted((p.code, Path(p.location.file).name if p.location.file else None,
                   p.location.sheet, p.location.row, p.location.field) for p in problems)


def codes(problems: ProblemLog) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        out[p.code] = out.get(p.code, 0) + 1
    return out


def study_with(tmp_path: Path, **files: str) -> Path:
    return write_study(tmp_path, MINI_SPEC, {**MINI_FILES, **files})


def raw_csv(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)


# -- 1. control characters -------------------------------------------------------------
def test_nul_byte_in_a_csv_cell_is_located_not_truncated(tmp_path):
    spec = study_with(tmp_path)
    raw_csv(tmp_path, "aes.csv", b"id,term,onset\n1,Fatigue,09-JAN-2012\n1,Ra\x00sh,10-JAN-2012\n")
    _, problems = read(spec)
    assert found(problems) == [("SRC011", "aes.csv", None, 3, "term")]
    problem = next(iter(problems))
    assert problem.location.value == "Ra\x00sh" and "'\\x00' at character 3" in problem.message


@pytest.mark.parametrize("cell, char", [
    (b"Ra\tsh", "\\t"), (b"Rash\t", "\\t"), (b"Ra\x01sh", "\\x01"), (b"Ra\x7fsh", "\\x7f"),
    (b'"Ra\nsh"', "\\n"), (b'"Ra\r\nsh"', "\\r"), (b"Ra\x1bsh", "\\x1b"),
])
def test_tab_line_break_and_other_control_characters_in_a_cell_are_located(tmp_path, cell, char):
    spec = study_with(tmp_path)
    raw_csv(tmp_path, "aes.csv", b"id,term,onset\n1,Fatigue,09-JAN-2012\n1," + cell
            + b",10-JAN-2012\n2,Rash,21-MAR-2012\n")
    tables, problems = read(spec)
    assert found(problems) == [("SRC011", "aes.csv", None, 3, "term")]
    assert f"'{char}'" in next(iter(problems)).message


@pytest.mark.parametrize("xml_text, char", [
    ("Ra\tsh", "\\t"), ("two\nlines", "\\n"), ("Ra_x0000_sh", "\\x00"), ("Ra_x001B_sh", "\\x1b"),
])
def test_control_characters_in_xlsx_cells_are_located_at_their_sheet_cell(tmp_path, xml_text,
                                                                          char):
    cell = Xml('<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">' + xml_text
               + "</t></is></c>")
    spec = pts_xlsx_study(tmp_path, [["1", "Female", 40, "01-JAN-2012"],
                                     ["2", cell, 50, "05-JAN-2012"]])
    _, problems = read(spec)
    assert found(problems) == [("SRC011", "pts.xlsx", "Patients", 3, "sex")]
    assert f"'{char}'" in next(iter(problems)).message


def test_control_characters_in_undeclared_columns_are_not_reported(tmp_path):
    spec = study_with(tmp_path)
    raw_csv(tmp_path, "aes.csv", b"id,term,onset,note\n1,Fatigue,09-JAN-2012,a\tb\x00c\n")
    tables, problems = read(spec)
    assert not problems.errors
    assert tables["aes"].frame["term"].tolist() == ["Fatigue"]


@pytest.mark.e2e
def test_control_character_stops_the_run_before_anything_is_written(tmp_path):
    spec = study_with(tmp_path / "study")
    raw_csv(tmp_path / "study", "aes.csv", b"id,term,onset\n1,Ra\x00sh,09-JAN-2012\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "SRC011" in result.output and "row 2" in result.output and "field term" in result.output
    assert not out.exists()


# -- 2. XLSX formulas and error cells --------------------------------------------------
def test_xlsx_formula_with_a_cached_value_is_read_as_that_value_and_noted(tmp_path):
    spec = pts_xlsx_study(tmp_path, [
        ["1", "Female", Xml('<c r="{ref}"><f>20*2</f><v>40</v></c>'), "01-JAN-2012"],
        ["2", "Male", 50, "05-JAN-2012"],
    ])
    tables, problems = read(spec)
    assert not problems.errors
    assert tables["pts"].frame["age"].tolist() == [40, 50]
    (notice,) = list(problems)
    assert (notice.code, notice.severity) == ("SRC012", Severity.NOTICE)
    assert (notice.location.sheet, notice.location.row, notice.location.field) == (
        "Patients", 2, "age")
    assert "C2" in notice.message and notice.location.value == "=20*2"


@pytest.mark.e2e
def test_xlsx_formula_notice_reaches_the_run_report(tmp_path):
    spec = pts_xlsx_study(tmp_path / "study", [
        ["1", "Female", Xml('<c r="{ref}"><f>20*2</f><v>40</v></c>'), "01-JAN-2012"],
        ["2", "Male", 50, "05-JAN-2012"],
    ])
    result = convert(spec, out_dir=tmp_path / "out")
    report = json.loads((tmp_path / "out" / "run-report.json").read_text())
    assert [p["code"] for p in report["problems"]].count("SRC012") == 1
    assert any(p.code == "SRC012" for p in result.warnings)


@pytest.mark.parametrize("cell", [
    Xml('<c r="{ref}"><f>20*2</f></c>'),  # never calculated (no <v>)
    Xml('<c r="{ref}"><f>20*2</f><v></v></c>'),  # what openpyxl writes for a formula
])
def test_xlsx_formula_without_a_cached_value_is_an_error_at_its_cell(tmp_path, cell):
    spec = pts_xlsx_study(tmp_path, [["1", "Female", cell, "01-JAN-2012"],
                                     ["2", "Male", 50, "05-JAN-2012"]])
    spec.write_text(spec.read_text().replace("age: {type: integer}",
                                             "age: {type: integer, required: true}"))
    _, problems = read(spec)
    assert found(problems) == [("SRC013", "pts.xlsx", "Patients", 2, "age")]
    assert "C2" in next(iter(problems)).message  # not "required value is missing"


def test_xlsx_formula_returning_empty_text_is_an_empty_value(tmp_path):
    # Excel saves an empty text result as an empty <v/> of a t="str" cell
    spec = pts_xlsx_study(tmp_path, [
        ["1", Xml('<c r="{ref}" t="str"><f>IF(A{row}="","","")</f><v></v></c>'), 40,
         "01-JAN-2012"],
        ["2", "Male", 50, "05-JAN-2012"],
        [None, None, Xml('<c r="{ref}" t="str"><f>IF(A{row}="","",1)</f><v></v></c>')],
    ])
    tables, problems = read(spec)
    assert not problems.errors
    assert tables["pts"].frame["sex"].tolist() == [None, "Male"]
    assert tables["pts"].frame["__row__"].tolist() == [2, 3]  # row 4 is blank
    assert codes(problems) == {"SRC012": 1}


@pytest.mark.parametrize("formula", [
    "[1]Sheet1!A1", "'C:\\data\\[ages.xlsx]Sheet1'!A1", "_xlfn.WEBSERVICE(\"http://x/\")",
    "FILTERXML(A1,\"//a\")", "YEAR(TODAY())-1970", "RANDBETWEEN(1,90)", "cmd|' /C calc'!A0",
])
def test_xlsx_formula_from_outside_the_workbook_is_an_error_even_with_a_cached_value(
        tmp_path, formula):
    spec = pts_xlsx_study(tmp_path, [
        ["1", "Female", Xml('<c r="{ref}"><f>' + escape(formula) + "</f><v>40</v></c>"),
         "01-JAN-2012"],
        ["2", "Male", 50, "05-JAN-2012"],
    ])
    tables, problems = read(spec)
    assert found(problems) == [("SRC014", "pts.xlsx", "Patients", 2, "age")]


def test_xlsx_shared_formula_cells_are_each_reported(tmp_path):
    spec = pts_xlsx_study(tmp_path, [
        ["1", "Female", Xml('<c r="{ref}"><f t="shared" ref="C2:C3" si="0">NOW()</f>'
                            "<v>40</v></c>"), "01-JAN-2012"],
        ["2", "Male", Xml('<c r="{ref}"><f t="shared" si="0"/><v>50</v></c>'), "05-JAN-2012"],
    ])
    _, problems = read(spec)
    assert found(problems) == [("SRC014", "pts.xlsx", "Patients", 2, "age"),
                               ("SRC014", "pts.xlsx", "Patients", 3, "age")]


def test_xlsx_error_value_is_an_error_not_the_text_nan(tmp_path):
    spec = pts_xlsx_study(tmp_path, [
        ["1", Xml('<c r="{ref}" t="e"><v>#N/A</v></c>'), 40, "01-JAN-2012"],
        ["2", "Male", Xml('<c r="{ref}" t="e"><f>1/0</f><v>#DIV/0!</v></c>'), "05-JAN-2012"],
    ])
    _, problems = read(spec)
    assert found(problems) == [("SRC015", "pts.xlsx", "Patients", 2, "sex"),
                               ("SRC015", "pts.xlsx", "Patients", 3, "age")]
    assert {p.location.value for p in problems} == {"#N/A", "#DIV/0!"}


def test_xlsx_cells_read_as_read_excel_made_them(tmp_path):
    """Valid workbooks read exactly as before: same text, same rows (blank rows skipped)."""
    import datetime

    frame = pd.DataFrame({
        "id": ["1", "2", "", "3", "4", "5"],
        "sex": [" Female ", "Male", "", True, 2.5, datetime.datetime(2009, 4, 19)],
        "age": [40, 50.0, "", 1e20, 0.1, 7],
        # an Excel date cell in a date column is written in its declared format instead
        # (tests/test_sources_dialects.py); in a text column (sex) it reads as before
        "consent": ["01-JAN-2012", "05-JAN-2012", "", "01-JAN-2012 10:30", "x", "01-FEB-2012"],
    })
    spec_text = MINI_SPEC.replace("file: pts.csv", "file: pts.xlsx").replace(
        "age: {type: integer}", "age: {type: string}")
    spec = write_study(tmp_path, spec_text, {k: v for k, v in MINI_FILES.items()
                                             if k != "pts.csv"})
    frame.to_excel(tmp_path / "pts.xlsx", index=False)
    before = pd.read_excel(tmp_path / "pts.xlsx", dtype=str, keep_default_na=False,
                           engine="openpyxl")
    tables, problems = read(spec)
    assert not problems.errors
    got = tables["pts"].frame
    assert got["__row__"].tolist() == [2, 3, 5, 6, 7]
    for name in PTS_HEADER:
        expected = [v.strip() or None for v in before[name].astype(str)]
        del expected[2]  # the blank row
        assert got[name].tolist() == expected, name


# -- 3. numbers that cannot be stored as written ---------------------------------------
@pytest.mark.parametrize("column, text, code", [
    ("age", "9007199254740993", "SRC016"),
    ("age", "123456789012345678901", "SRC016"),
    ("dose", "0.1000000000000000055511", "SRC016"),
    ("dose", "1e-400", "SRC017"),
    ("dose", "1e-79", "SRC017"),
    ("dose", "1e100", "SRC017"),
    ("dose", "1e400", "SRC017"),
    ("dose", "-1" + "0" * 80, "SRC017"),
])
def test_number_that_cannot_be_stored_exactly_is_located_at_its_source_row(
        tmp_path, column, text, code):
    files = dict(MINI_FILES)
    if column == "age":
        files["pts.csv"] = f"id,sex,age,consent\n1,Female,{text},01-JAN-2012\n"
    else:
        files["doses.csv"] = f"id,dose,start,stop\n1,3,10-JAN-2012,31-JAN-2012\n1,{text},,\n"
    _, problems = read(write_study(tmp_path, MINI_SPEC, files))
    file, row = ("pts.csv", 2) if column == "age" else ("doses.csv", 3)
    assert found(problems) == [(code, file, None, row, column)]
    assert next(iter(problems)).location.value == text


@pytest.mark.parametrize("text", ["0.1", "2.5", "1e3", "1E-5", "9007199254740992",
                                  "0.000000000000000001", "123456789.123456", "-0", "5."])
def test_numbers_that_read_back_as_written_are_accepted(tmp_path, text):
    files = dict(MINI_FILES)
    files["doses.csv"] = f"id,dose,start,stop\n1,{text},10-JAN-2012,31-JAN-2012\n"
    tables, problems = read(write_study(tmp_path, MINI_SPEC, files))
    assert not problems.errors
    assert tables["doses"].frame["dose"].iloc[0] == float(text)


def test_huge_number_in_an_xlsx_cell_is_located_at_its_sheet_row(tmp_path):
    spec = pts_xlsx_study(tmp_path, [["1", "Female", 1e100, "01-JAN-2012"]])
    spec.write_text(spec.read_text().replace("age: {type: integer}", "age: {type: number}"))
    _, problems = read(spec)
    assert found(problems) == [("SRC017", "pts.xlsx", "Patients", 2, "age")]


def test_text_in_a_required_number_column_is_only_not_a_number(tmp_path):
    files = {**MINI_FILES, "doses.csv": "id,dose,start,stop\n1,ten,10-JAN-2012,31-JAN-2012\n"}
    spec = write_study(tmp_path, MINI_SPEC.replace("dose: {type: number}",
                                                   "dose: {type: number, required: true}"), files)
    _, problems = read(spec)
    assert found(problems) == [("SRC005", "doses.csv", None, 2, "dose")]


def test_transport_number_limits_are_shared_constants():
    assert math.isclose(numbers.IBM_MAX, 7.2370055773322621e75, rel_tol=1e-15)
    assert math.isclose(numbers.IBM_TINY, 5.397605346934028e-79, rel_tol=1e-15)
    assert numbers.EXACT_INTEGERS == 2**53
    assert numbers.WRITABLE_MAX < numbers.IBM_MAX
    assert "TS-140" in numbers.__doc__


# -- 4. duplicated header in XLSX ------------------------------------------------------
def test_xlsx_declared_column_twice_in_the_header_is_src010(tmp_path):
    spec = pts_xlsx_study(tmp_path, [["1", "Female", 40, "01-JAN-2012", "Male"]],
                          header=[*PTS_HEADER, "sex"])
    _, problems = read(spec)
    assert found(problems) == [("SRC010", "pts.xlsx", "Patients", 1, "sex")]


# -- 5. line ends, damaged workbooks, missing sheets -----------------------------------
def test_csv_with_cr_only_line_ends_is_read_with_exact_lines(tmp_path):
    spec = study_with(tmp_path)
    raw_csv(tmp_path, "aes.csv", b"id,term,onset\r1,Fatigue,09-JAN-2012\r\r1,Rash,"
            b"10-JAN-2012\r2,Fatigue,21-MAR-2012\r")
    tables, problems = read(spec)
    assert not problems.errors
    frame = tables["aes"].frame
    assert frame["term"].tolist() == ["Fatigue", "Rash", "Fatigue"]
    assert frame["__row__"].tolist() == [2, 4, 5]
    raw_csv(tmp_path, "aes.csv", b"id,term,onset\r1,Fatigue,09-JAN-2012\r,Rash,10-JAN-2012\r")
    _, problems = read(spec)
    # one defect, one error: a missing subject id is SRC008 (not also SRC006 "required")
    assert found(problems) == [("SRC008", "aes.csv", None, 3, "id")]


@pytest.mark.parametrize("damage", ["not-a-zip", "truncated", "empty", "no-workbook"])
def test_damaged_xlsx_is_one_clear_src003(tmp_path, damage):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS)
    path = tmp_path / "pts.xlsx"
    data = path.read_bytes()
    if damage == "not-a-zip":
        path.write_bytes(b"id,sex,age,consent\n1,Female,40,01-JAN-2012\n")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "not a workbook")
    _, problems = read(spec)
    assert [(p.code, Path(p.location.file).name) for p in problems] == [("SRC003", "pts.xlsx")]
    assert "Traceback" not in next(iter(problems)).message


def test_missing_sheet_lists_the_sheets_of_the_workbook(tmp_path):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS)
    write_xlsx(tmp_path / "pts.xlsx", {"Demography": sheet_rows([PTS_HEADER, *PTS_ROWS]),
                                       "AEs": sheet_rows([["id"]])})
    _, problems = read(spec)
    assert found(problems) == [("SRC003", "pts.xlsx", "Patients", None, None)]
    assert "'Demography', 'AEs'" in next(iter(problems)).message


# -- 6. resource limits ----------------------------------------------------------------
def test_csv_rows_over_the_limit_stop_reading_with_a_located_error(tmp_path):
    spec = study_with(tmp_path)
    lines = "".join(f"1,Rash,{d:02d}-JAN-2012\n" for d in range(1, 21))
    for body in (lines, "\n" + lines):  # the C parser path and the exact path
        (tmp_path / "aes.csv").write_text("id,term,onset\n" + body)
        _, problems = read(spec, limits=Limits(rows=5))
        (problem,) = list(problems)
        assert (problem.code, problem.location.row) == ("SRC018", 8 if body[0] == "\n" else 7)
        assert "rows=5" in problem.message and "--limit rows=N" in problem.message


def test_xlsx_row_bomb_stops_at_the_row_limit_in_seconds(tmp_path):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS)
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(2, 200_002))
    write_xlsx(tmp_path / "pts.xlsx", {"Patients": sheet_rows([PTS_HEADER]) + body})
    started = time.monotonic()
    _, problems = read(spec, limits=Limits(rows=100))
    assert found(problems) == [("SRC018", "pts.xlsx", "Patients", 102, None)]
    assert time.monotonic() - started < 20


def test_xlsx_row_beyond_the_last_excel_row_is_refused(tmp_path):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS)
    far = '<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
    write_xlsx(tmp_path / "pts.xlsx", {"Patients": sheet_rows([PTS_HEADER, *PTS_ROWS]) + far})
    started = time.monotonic()
    _, problems = read(spec)
    assert [p.code for p in problems] == ["SRC003"]
    assert "1,048,576" in next(iter(problems)).message
    assert time.monotonic() - started < 30


def test_xlsx_shared_strings_bomb_is_refused_before_it_is_unpacked(tmp_path):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS)
    bomb = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + (
        b"<si><t>" + b"x" * 1000 + b"</t></si>") * 5000 + b"</sst>"
    write_xlsx(tmp_path / "pts.xlsx", {"Patients": sheet_rows([PTS_HEADER, *PTS_ROWS])},
               extra={"xl/sharedStrings.xml": bomb})
    assert (tmp_path / "pts.xlsx").stat().st_size < 1_000_000 < len(bomb)
    _, problems = read(spec, limits=Limits(file_bytes=1_000_000))
    assert found(problems) == [("SRC018", "pts.xlsx", None, None, None)]
    assert "file_bytes" in next(iter(problems)).message


def test_csv_with_too_many_columns_is_refused_from_its_header(tmp_path):
    spec = study_with(tmp_path)
    header = ",".join(f"c{i}" for i in range(100_000))
    (tmp_path / "aes.csv").write_text("id,term,onset," + header + "\n1,Rash,10-JAN-2012\n")
    started = time.monotonic()
    _, problems = read(spec, limits=Limits(columns=1000))
    assert found(problems) == [("SRC018", "aes.csv", None, 1, None)]
    assert "--limit columns=N" in next(iter(problems)).message
    assert time.monotonic() - started < 10
    # within twice the limit the header is parsed and counted exactly
    (tmp_path / "aes.csv").write_text("id,term,onset," + header[:9000] + "\n1,Rash,10-JAN-2012\n")
    _, problems = read(spec, limits=Limits(columns=1000))
    assert found(problems) == [("SRC018", "aes.csv", None, 1, None)]


def test_xlsx_with_too_many_columns_is_refused(tmp_path):
    spec = pts_xlsx_study(tmp_path, PTS_ROWS, header=[*PTS_HEADER, *(f"c{i}" for i in range(50))])
    _, problems = read(spec, limits=Limits(columns=20))
    assert found(problems) == [("SRC018", "pts.xlsx", "Patients", 1, None)]


def test_cell_over_the_size_limit_is_located(tmp_path):
    spec = study_with(tmp_path)
    long = "x" * 500
    (tmp_path / "aes.csv").write_text(f"id,term,onset\n1,Fatigue,09-JAN-2012\n1,{long},"
                                      "10-JAN-2012\n")
    _, problems = read(spec, limits=Limits(cell_chars=100))
    assert found(problems) == [("SRC018", "aes.csv", None, 3, "term")]
    assert long not in str(next(iter(problems)))
    # the exact reader (a blank line) stops at the cell too, in any column
    (tmp_path / "aes.csv").write_text(f"id,term,onset,note\n\n1,Fatigue,09-JAN-2012,{long}\n")
    _, problems = read(spec, limits=Limits(cell_chars=100))
    assert found(problems) == [("SRC018", "aes.csv", None, 3, None)]


def test_file_over_the_size_limit_is_not_read(tmp_path):
    spec = study_with(tmp_path)
    _, problems = read(spec, limits=Limits(file_bytes=20))
    assert {(p.code, Path(p.location.file).name) for p in problems} == {
        ("SRC018", "pts.csv"), ("SRC018", "doses.csv"), ("SRC018", "aes.csv")}
    assert all("--limit file_bytes=N" in p.message for p in problems)


def _read_within(spec_path: Path, seconds: float, **changes) -> ProblemLog:
    """read_sources in a daemon thread, so a blocking open fails the test instead of hanging."""
    box: dict[str, ProblemLog] = {}
    thread = threading.Thread(target=lambda: box.setdefault("p", read(spec_path, **changes)[1]),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # unblock an open() waiting for a writer, then fail
        for source in load_spec(spec_path).sources.values():
            if source.file.is_fifo():
                os.close(os.open(source.file, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading the source blocked")
    return box["p"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_as_source_is_refused_without_blocking(tmp_path):
    spec = study_with(tmp_path)
    (tmp_path / "aes.csv").unlink()
    os.mkfifo(tmp_path / "aes.csv")
    problems = _read_within(spec, 10)
    assert found(problems) == [("SRC019", "aes.csv", None, None, None)]
    assert "FIFO" in next(iter(problems)).message


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_device_as_source_is_refused(tmp_path):
    spec = write_study(tmp_path, MINI_SPEC.replace("file: aes.csv", "file: zero.csv"),
                       MINI_FILES)
    (tmp_path / "zero.csv").symlink_to("/dev/null")  # /dev/zero would never end
    problems = _read_within(spec, 10, allow_outside_sources=True)
    assert found(problems) == [("SRC019", "zero.csv", None, None, None)]
    assert "character device" in next(iter(problems)).message


def test_folder_as_source_is_refused(tmp_path):
    spec = study_with(tmp_path)
    (tmp_path / "aes.csv").unlink()
    (tmp_path / "aes.csv").mkdir()
    _, problems = read(spec)
    assert found(problems) == [("SRC019", "aes.csv", None, None, None)]


# -- 7. sources outside the source folder ----------------------------------------------
SECRET = "SECRET-VALUE-42"


def outside_study(tmp_path: Path, file: str) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "aes.csv").write_text(f"id,term,onset\n1,{SECRET},99-XXX-2012\n")
    return write_study(tmp_path / "study", MINI_SPEC.replace("file: aes.csv", f"file: {file}"),
                       MINI_FILES)


@pytest.mark.parametrize("how", ["parent", "absolute", "symlink", "symlinked-folder"])
def test_source_outside_the_source_folder_is_refused_unread(tmp_path, how):
    target = tmp_path / "outside" / "aes.csv"
    file = {"parent": "../outside/aes.csv", "absolute": str(target),
            "symlink": "aes_link.csv", "symlinked-folder": "linked/aes.csv"}[how]
    spec = outside_study(tmp_path, file)
    if how == "symlink":
        (spec.parent / "aes_link.csv").symlink_to(target)
    if how == "symlinked-folder":
        (spec.parent / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    _, problems = read(spec)
    (problem,) = list(problems)
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1)
                if f"file: {file}" in text)
    assert problem.code == "SRC020"
    assert (problem.location.file, problem.location.line) == (str(spec.resolve()), line)
    assert problem.location.json_path == "$.sources.aes.file"
    assert problem.location.value == file
    assert SECRET not in str(problem) and "--allow-outside-sources" in problem.message


def test_source_outside_the_folder_is_read_when_allowed(tmp_path):
    spec = outside_study(tmp_path, "../outside/aes.csv")
    (tmp_path / "outside" / "aes.csv").write_text("id,term,onset\n1,Rash,10-JAN-2012\n")
    tables, problems = read(spec, allow_outside_sources=True)
    assert not problems.errors and tables["aes"].frame["term"].tolist() == ["Rash"]


def test_source_folder_option_makes_its_files_inside(tmp_path):
    data = tmp_path / "data"
    write_study(data, MINI_SPEC, MINI_FILES)
    (tmp_path / "spec").mkdir()
    spec = write_study(tmp_path / "spec", MINI_SPEC, {})
    tables = read_sources(load_spec(spec, source_dir=data), problems := ProblemLog())
    assert not problems.errors and set(tables) == {"pts", "doses", "aes"}


# -- 8. XLSX problems name the sheet ---------------------------------------------------
def test_xlsx_row_problems_name_file_sheet_row_and_source_column(tmp_path):
    spec = pts_xlsx_study(tmp_path, [["1", "Female", "forty", "01-JAN-2012"],
                                     ["2", "Male", 50, "05-JAN-2012"],
                                     ["2", "Male", 51, "05-JAN-2012"]], sheet="Demography")
    _, problems = read(spec)
    assert found(problems) == [("SRC005", "pts.xlsx", "Demography", 2, "age"),
                               ("SRC007", "pts.xlsx", "Demography", 3, "id"),
                               ("SRC007", "pts.xlsx", "Demography", 4, "id")]
    text = str(next(p for p in problems if p.code == "SRC005"))
    assert "pts.xlsx, sheet 'Demography', row 2, field age, value 'forty'" in text

