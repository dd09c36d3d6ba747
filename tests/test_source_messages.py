"""Issue #13: messages a user can act on, every problem of a run in one run.

A missing column lists the headers read (and the separator the header seems to
use), an undeclared column is one notice per source, a missing workbook is one
line, every row message names file, sheet, row and the source column as the
file shows it, once per defect, and problems of the sources and of the mapping
come out of one run.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import cli
from cdisc.errors import CdiscError, ProblemLog, Severity, SourceError
from cdisc.pipeline import build
from cdisc.sources import read_sources
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, write_study


def read(spec_path: Path) -> ProblemLog:
    problems = ProblemLog()
    read_sources(load_spec(spec_path), problems)
    return problems


def located(problems) -> list[tuple]:
    return sorted((p.code, Path(p.location.file).name if p.location.file else None,
                   p.location.sheet, p.location.row, p.location.field,
                   p.location.value) for p in problems)


def failed_build(spec: Path) -> CdiscError:
    with pytest.raises(CdiscError) as caught:
        build(spec)
    return caught.value


# -- a declared column the file lacks ---------------------------------------------------
def test_a_missing_column_lists_the_headers_read(tmp_path):
    files = {**MINI_FILES, "aes.csv": "id,adverse event,onset\n1,Rash,09-JAN-2012\n"}
    problems = read(write_study(tmp_path, MINI_SPEC, files))
    assert [(p.code, p.location.row, p.location.field, p.message) for p in problems] == [(
        "SRC004", 1, "term", "declared column 'term' is not in the file header; the header "
        "read has 'id', 'adverse event', 'onset'")]


def test_a_header_that_differs_in_case_or_blanks_is_named(tmp_path):
    files = {**MINI_FILES, "aes.csv": "id,Term ,onset\n1,Rash,09-JAN-2012\n"}
    problems = read(write_study(tmp_path, MINI_SPEC, files))
    assert [p.message for p in problems] == [
        "declared column 'term' is not in the file header; the header read has 'id', 'Term ', "
        "'onset'. The file has 'Term ': a header is matched exactly; write it as in the file, "
        "or keep the name and add header: 'Term '"]


def test_a_header_read_as_one_cell_suggests_the_separator(tmp_path):
    text = MINI_SPEC.replace("file: aes.csv", "file: aes.csv\n    delimiter: ','")
    files = {**MINI_FILES, "aes.csv": "id;term;onset\n1;Rash;09-JAN-2012\n2;Rash, mild;x\n"}
    problems = read(write_study(tmp_path, text, files))
    assert [(p.code, p.location.field) for p in problems] == [
        ("SRC004", "id"), ("SRC004", "term"), ("SRC004", "onset")]
    assert next(iter(problems)).message == (
        "declared column 'id' is not in the file header; the header read has "
        "'id;term;onset'. The header was read as one cell, separated by ',', but it holds ';': "
        "declare delimiter: ';' for this source")


def test_a_sheet_holding_csv_lines_in_one_column_says_so(tmp_path):
    text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx")
    spec = write_study(tmp_path, text, {k: v for k, v in MINI_FILES.items() if k != "aes.csv"})
    wb = openpyxl.Workbook()
    wb.active.append(["id\tterm\tonset"])
    wb.active.append(["1\tRash\t09-JAN-2012"])
    wb.save(tmp_path / "aes.xlsx")
    problems = read(spec)
    assert located(problems) == [("SRC004", "aes.xlsx", "Sheet", 1, name, None)
                                 for name in ("id", "onset", "term")]
    assert next(iter(problems)).message.endswith(
        "The header is one cell holding tab: the sheet holds CSV lines in its first column; "
        "read the CSV file itself, or split the column (Excel: Data > Text to Columns)")


def test_the_header_is_named_as_the_file_shows_it(tmp_path):
    text = MINI_SPEC.replace("term: {type: string}",
                             'term: {header: "Adverse event (verbatim)", type: string}')
    problems = read(write_study(tmp_path, text, MINI_FILES))
    assert [p.message for p in problems] == [
        "declared column 'Adverse event (verbatim)' (declared as 'term') is not in the file "
        "header; the header read has 'id', 'term', 'onset'"]


# -- columns the spec does not declare -----------------------------------------------------
def test_undeclared_columns_are_one_notice_per_source(tmp_path):
    rows = "".join(f"1,Rash {i},09-JAN-2012,x,y\n" for i in range(50))
    files = {**MINI_FILES, "aes.csv": "id,term,onset,Comment,Investigator\n" + rows}
    problems = read(write_study(tmp_path, MINI_SPEC, files))
    assert [(p.code, p.severity, Path(p.location.file).name, p.location.row, p.message)
            for p in problems] == [
        ("SRC021", Severity.NOTICE, "aes.csv", 1, "2 columns of the file are not declared in "
         "the spec and not read: 'Comment', 'Investigator'")]


def test_undeclared_columns_of_a_sheet_are_one_notice(tmp_path):
    text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx\n    sheet: AEs")
    spec = write_study(tmp_path, text, {k: v for k, v in MINI_FILES.items() if k != "aes.csv"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "AEs"
    ws.append(["id", "term", None, "Notes", "onset"])
    ws.append(["1", "Rash", None, "seen by GP", "09-JAN-2012"])
    wb.save(tmp_path / "aes.xlsx")
    assert [(p.code, p.location.sheet, p.message) for p in read(spec)] == [
        ("SRC021", "AEs", "1 column of the file is not declared in the spec and not read: "
         "'Notes'")]


# -- files and sheets ---------------------------------------------------------------------
WORKBOOK_SPEC = (MINI_SPEC.replace("file: pts.csv", "file: clinic.xlsx\n    sheet: Patients")
                 .replace("file: doses.csv", "file: clinic.xlsx\n    sheet: Dosing")
                 .replace("file: aes.csv", "file: clinic.xlsx\n    sheet: AEs"))


def test_a_missing_workbook_is_one_problem_naming_its_sources(tmp_path):
    spec = write_study(tmp_path, WORKBOOK_SPEC, {})
    (tmp_path / "Clinic.xlsx").write_bytes(b"")
    problems = read(spec)
    assert [(p.code, Path(p.location.file).name, p.message) for p in problems] == [
        ("SRC002", "clinic.xlsx", "source file not found (read by sources pts, doses, aes); "
         "its folder has 'Clinic.xlsx'")]
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec), "--out",
                                           str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.count("source file not found") == 2  # the group's title and its line
    assert result.output.count("clinic.xlsx:") == 1


def test_a_damaged_workbook_is_one_problem(tmp_path):
    spec = write_study(tmp_path, WORKBOOK_SPEC, {})
    (tmp_path / "clinic.xlsx").write_bytes(b"not a zip")
    assert [p.code for p in read(spec)] == ["SRC003"]


def test_each_missing_sheet_is_named_with_the_sheets_there_are(tmp_path):
    spec = write_study(tmp_path, WORKBOOK_SPEC, {})
    wb = openpyxl.Workbook()
    wb.active.title = "Patients"
    for row in ("id,sex,age,consent\n1,Female,40,01-JAN-2012\n").splitlines():
        wb.active.append(row.split(","))
    wb.create_sheet("Adverse events")
    wb.save(tmp_path / "clinic.xlsx")
    assert [(p.code, p.location.sheet, p.message) for p in read(spec)] == [
        ("SRC003", "Dosing", "cannot read the workbook: it has no sheet 'Dosing'; its sheets "
         "are 'Patients', 'Adverse events'"),
        ("SRC003", "AEs", "cannot read the workbook: it has no sheet 'AEs'; its sheets are "
         "'Patients', 'Adverse events'")]


# -- row messages: file, sheet, row, source column, once ------------------------------------
def aes_workbook(tmp_path: Path, rows: list[list], spec_text: str = MINI_SPEC) -> Path:
    text = spec_text.replace("file: aes.csv", "file: aes.xlsx").replace(
        "term: {type: string}", 'term: {header: "Adverse event", type: string}')
    spec = write_study(tmp_path, text, {k: v for k, v in MINI_FILES.items() if k != "aes.csv"})
    wb = openpyxl.Workbook()
    wb.active.title = "AE log"
    wb.active.append(["id", "Adverse event", "onset"])
    for row in rows:
        wb.active.append(row)
    wb.save(tmp_path / "aes.xlsx")
    return spec


def test_a_mapping_problem_names_file_sheet_row_and_source_column(tmp_path):
    spec = aes_workbook(tmp_path, [["1", "Rash", "09-JAN-2012"], ["2", "Rash", "31-FEB-2012"]])
    error = failed_build(spec)
    assert located(error.problems) == [
        ("MAP002", "aes.xlsx", "AE log", 3, "onset", "31-FEB-2012")]
    text = str(error.problems[0])
    assert "aes.xlsx, sheet 'AE log', dataset AE, row 3, field onset" in text


def test_a_cell_mapped_into_two_variables_is_reported_once(tmp_path):
    spec = aes_workbook(tmp_path, [["1", "Éruption", "09-JAN-2012"]])
    error = failed_build(spec)
    assert located(error.problems) == [
        ("MAP010", "aes.xlsx", "AE log", 2, "Adverse event", "Éruption")]
    assert error.problems[0].message.startswith(
        "AE.AETERM, AE.AEDECOD: text has non-ASCII characters")


def test_text_in_a_required_number_column_is_one_error_in_a_whole_run(tmp_path):
    text = MINI_SPEC.replace("dose: {type: number}", "dose: {type: number, required: true}")
    files = {**MINI_FILES, "doses.csv": "id,dose,start,stop\n1,ten,10-JAN-2012,31-JAN-2012\n"
                                        "2,3,15-JAN-2012,20-MAR-2012\n"}
    error = failed_build(write_study(tmp_path, text, files))
    assert located(error.problems) == [("SRC005", "doses.csv", None, 2, "dose", "ten")]


# -- every problem of a run in one run -------------------------------------------------------
def test_problems_of_the_sources_and_of_the_mapping_come_in_one_run(tmp_path):
    files = {
        "pts.csv": "id,sex,age,consent\n1,Female,forty,01-JAN-2012\n2,Mann,50,05-JAN-2012\n",
        "doses.csv": "id,dose,start,stop\n1,3,10-JAN-2012,31-JAN-2012\n"
                     "2,three,15-JAN-2012,20-MAR-2012\n",
        "aes.csv": "id,term,onset\n1,Rash,09-JAN-2012\n2,Rash,32-JAN-2012\n",
    }
    error = failed_build(write_study(tmp_path, MINI_SPEC, files))
    assert isinstance(error, SourceError)
    assert located(error.problems) == [
        ("MAP001", "pts.csv", None, 3, "sex", "Mann"),
        ("MAP002", "aes.csv", None, 3, "onset", "32-JAN-2012"),
        ("SRC005", "doses.csv", None, 3, "dose", "three"),
        ("SRC005", "pts.csv", None, 2, "age", "forty"),
    ]


def test_a_cell_the_reader_reported_is_not_reported_again_by_the_mapping(tmp_path):
    files = {**MINI_FILES,
             "pts.csv": "id,sex,age,consent\n1,Female,40,01-JAN-2012\n1,Female,40,01-JAN-2012\n"
                        "2,Male,50,05-JAN-2012\n",
             "aes.csv": "id,term,onset\n1,Rash,09-JAN-2012\n,Rash,10-JAN-2012\n"}
    error = failed_build(write_study(tmp_path, MINI_SPEC, files))
    # the duplicate patient is not also "more than one DM record" (MAP011), the missing
    # subject id not also "USUBJID missing" (MAP005)
    assert located(error.problems) == [
        ("SRC007", "pts.csv", None, 2, "id", "1"),
        ("SRC007", "pts.csv", None, 3, "id", "1"),
        ("SRC008", "aes.csv", None, 3, "id", None),
    ]


def test_a_source_that_cannot_be_read_stops_before_the_mapping(tmp_path):
    files = {**MINI_FILES, "aes.csv": "id,event,onset\n1,Rash,32-JAN-2012\n",
             "pts.csv": "id,sex,age,consent\n1,Female,forty,01-JAN-2012\n"}
    error = failed_build(write_study(tmp_path, MINI_SPEC, files))
    assert [p.code for p in error.problems] == ["SRC005", "SRC004"]


def test_a_defective_clinic_workbook_gives_every_defect_once_in_one_run(tmp_path):
    """The issue's workbook: one sheet per table, defects on every sheet and at both stages."""
    import datetime as dt

    spec = write_study(tmp_path, WORKBOOK_SPEC.replace(
        "dose: {type: number}", "dose: {type: number, required: true}"), {})
    wb = openpyxl.Workbook()
    sheets = {
        "Patients": [["id", "sex", "age", "consent"], ["1", "Female", 40, "01-JAN-2012"],
                     ["2", "Mal", 50, "05-JAN-2012"], ["2", "Male", 50, "05-JAN-2012"]],
        "Dosing": [["id", "dose", "start", "stop"], ["1", "ten", "10-JAN-2012", "31-JAN-2012"],
                   ["2", 3, dt.datetime(2012, 1, 15), None], ["", 3, "15-JAN-2012", None]],
        "AEs": [["id", "term", "onset"], ["1", "Éruption", "09-JAN-2012"],
                ["2", "Rash\tsevere", "10/01/2012"]],
    }
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(tmp_path / "clinic.xlsx")
    error = failed_build(spec)
    assert located(error.problems) == [
        ("MAP001", "clinic.xlsx", "Patients", 3, "sex", "Mal"),
        ("MAP002", "clinic.xlsx", "AEs", 3, "onset", "10/01/2012"),
        ("MAP010", "clinic.xlsx", "AEs", 2, "term", "Éruption"),
        ("SRC005", "clinic.xlsx", "Dosing", 2, "dose", "ten"),
        ("SRC007", "clinic.xlsx", "Patients", 3, "id", "2"),
        ("SRC007", "clinic.xlsx", "Patients", 4, "id", "2"),
        ("SRC008", "clinic.xlsx", "Dosing", 4, "id", None),
        ("SRC011", "clinic.xlsx", "AEs", 3, "term", "Rash\tsevere"),
    ]
