"""Issue #13: sources as hospital systems and other countries' spreadsheets write them.

Headers of any text (a spec-side name with ``header:``), CSV dialects declared
or recognised (separator, encoding, decimal comma, thousands), dates in declared
patterns with unknown parts, Excel date cells and year-only birth dates. Every
file is generated here, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from cdisc.errors import ProblemLog, SpecError
from cdisc.pipeline import build
from cdisc.resources import example_spec_path
from cdisc.sources import read_sources
from cdisc.sources.dialect import normalise_numbers, sniff_delimiter
from cdisc.spec import load_spec
from cdisc.spec.dateformats import check_format, render

from helpers import MINI_FILES, MINI_SPEC, write_study

#: the mini study's patients as a clinic keeps them: awkward headers, DD/MM/YYYY dates
CLINIC_PTS = MINI_SPEC.replace("""    subject: id
    key: [id]
    columns:
      id: {type: string, required: true}
      sex: {type: string}
      age: {type: integer}
      consent: {type: date, format: DD-MMM-YYYY}""", """    subject: study_no
    key: [study_no]
    columns:
      study_no: {header: "Study No.", type: string, required: true}
      sex: {header: "Sex (M/F)", type: string}
      age: {header: "Age (years)", type: integer}
      consent: {header: "Date of consent", type: date, format: DD/MM/YYYY}""").replace(
    "USUBJID: {algorithm: usubjid, column: id, zfill: 3}\n          SUBJID: "
    "{algorithm: assign, column: id, zfill: 3}",
    "USUBJID: {algorithm: usubjid, column: study_no, zfill: 3}\n          SUBJID: "
    "{algorithm: assign, column: study_no, zfill: 3}")
CLINIC_HEADER = ["Study No.", "Sex (M/F)", "Age (years)", "Date of consent"]
CLINIC_ROWS = [["1", "Female", "40", "01/01/2012"], ["2", "Male", "50", "05/01/2012"]]


def clinic(tmp_path: Path, data: bytes, spec_text: str = CLINIC_PTS,
           name: str = "pts.csv") -> Path:
    files = {k: v for k, v in MINI_FILES.items() if k != "pts.csv"}
    spec = write_study(tmp_path, spec_text.replace("file: pts.csv", f"file: {name}"), files)
    (tmp_path / name).write_bytes(data)
    return spec


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8",
              newline: str = "\r\n") -> bytes:
    return newline.join(delimiter.join(r) for r in rows).encode(encoding) + newline.encode(
        encoding)


def with_source_keys(spec_text: str, keys: str) -> str:
    """``keys`` (YAML lines) added to the pts source."""
    return spec_text.replace("    file: pts", f"{keys}\n    file: pts", 1)


def read(spec_path: Path) -> tuple[dict, ProblemLog]:
    problems = ProblemLog()
    tables = read_sources(load_spec(spec_path), problems)
    return tables, problems


def found(problems: ProblemLog) -> list[tuple]:
    return [(p.code, Path(p.location.file).name, p.location.sheet, p.location.row,
             p.location.field, p.location.value) for p in problems]


# -- any header: a spec-side name and header: -------------------------------------------
def test_awkward_headers_are_read_through_their_spec_side_names(tmp_path):
    spec = clinic(tmp_path, csv_bytes([CLINIC_HEADER, *CLINIC_ROWS]))
    tables, problems = read(spec)
    assert not list(problems)
    frame = tables["pts"].frame
    assert list(frame.columns) == ["study_no", "sex", "age", "consent", "__source__", "__row__"]
    assert frame["study_no"].tolist() == ["1", "2"]
    assert frame["age"].tolist() == [40, 50]
    _, result = build(spec)
    dm = result.datasets["DM"]
    assert dm["USUBJID"].tolist() == ["MINI-001", "MINI-002"]
    assert dm["RFICDTC"].tolist() == ["2012-01-01", "2012-01-05"]


def test_a_header_may_also_be_the_column_name_itself(tmp_path):
    """Without header: the name is the header, whatever it holds (a blank, brackets)."""
    text = (MINI_SPEC.replace("age: {type: integer}", '"Age (years)": {type: integer}')
            .replace("AGE: {algorithm: assign, column: age}",
                     'AGE: {algorithm: assign, column: "Age (years)"}'))
    spec = clinic(tmp_path, b"id,sex,Age (years),consent\n1,Female,40,01-JAN-2012\n", text)
    tables, problems = read(spec)
    assert not problems.errors and tables["pts"].frame["Age (years)"].tolist() == [40]


def test_a_subject_column_named_with_blanks_needs_no_header(tmp_path):
    """Any name without '.' is a column name, subject and key included (issue #13)."""
    text = (CLINIC_PTS.replace('study_no: {header: "Study No.", type',
                               '"Patient ID": {type')
            .replace("subject: study_no\n    key: [study_no]",
                     'subject: "Patient ID"\n    key: ["Patient ID"]')
            .replace("column: study_no", 'column: "Patient ID"'))
    rows = [["Patient ID", *CLINIC_HEADER[1:]], *CLINIC_ROWS]
    spec = clinic(tmp_path, csv_bytes(rows), text)
    _, result = build(spec)
    assert result.datasets["DM"]["USUBJID"].tolist() == ["MINI-001", "MINI-002"]


def test_the_existing_spec_format_loads_unchanged():
    spec = load_spec(example_spec_path())
    patients = spec.sources["patients"]
    assert patients.columns["patient_id"].header == "patient_id"
    assert (patients.delimiter, patients.encoding, patients.decimal, patients.thousands) == (
        None, None, ".", None)


@pytest.mark.parametrize("change, code, message", [
    ('study_no: {header: "Study No.", type: string, required: true}',
     "SPEC038", "column name 'Study No.' cannot be used: '.' separates a joined source from "
     "its column (source.column). Name the column for the spec and give its header, e.g. "
     "study_no: {header: 'Study No.', type: string}"),
    ('sex: {header: "Study No.", type: string}',
     "SPEC038", "columns 'study_no' and 'sex' both read the header 'Study No.': declare it once"),
])
def test_column_names_a_spec_cannot_use_are_refused_at_spec_check(tmp_path, change, code,
                                                                   message):
    text = CLINIC_PTS
    if change.startswith("study_no"):
        text = text.replace(change, '"Study No.": {type: string, required: true}').replace(
            "subject: study_no\n    key: [study_no]",
            'subject: "Study No."\n    key: ["Study No."]')
    else:
        text = text.replace('sex: {header: "Sex (M/F)", type: string}', change)
    spec = clinic(tmp_path, csv_bytes([CLINIC_HEADER, *CLINIC_ROWS]), text)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert [(p.code, p.message) for p in caught.value.problems if p.code == code] == [
        (code, message)]
    assert caught.value.problems[0].location.line is not None


def test_subject_named_by_its_header_says_to_use_the_spec_name(tmp_path):
    text = CLINIC_PTS.replace("subject: study_no", 'subject: "Study No."')
    spec = clinic(tmp_path, csv_bytes([CLINIC_HEADER, *CLINIC_ROWS]), text)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert [p.message for p in caught.value.problems] == [
        "column 'Study No.' is used as subject/key but not declared under columns; "
        "'Study No.' is the header of column 'study_no': name that"]


# -- separators ----------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("declared", [False, True])
def test_every_separator_is_read_declared_or_recognised(tmp_path, delimiter, declared):
    rows = [CLINIC_HEADER, ["1", "Female", "40", "01/01/2012"], ["2", "Male", "", "05/01/2012"]]
    text = CLINIC_PTS
    if declared:
        text = with_source_keys(text, f"    delimiter: {delimiter!r}".replace("'\\t'", '"\\t"'))
    spec = clinic(tmp_path, csv_bytes(rows, delimiter), text)
    assert load_spec(spec).sources["pts"].delimiter == (delimiter if declared else None)
    tables, problems = read(spec)
    assert not list(problems)
    frame = tables["pts"].frame
    assert frame["sex"].tolist() == ["Female", "Male"]
    assert frame["age"].tolist() == [40, pd.NA]
    assert frame["__row__"].tolist() == [2, 3]


def test_the_separator_is_the_one_that_finds_the_declared_headers():
    # a comma inside a header name does not make the comma the separator
    assert sniff_delimiter("id;Dose (mg, total);unit, text", ["id", "Dose (mg, total)"]) == ";"
    assert sniff_delimiter("id,sex", ["id", "sex"]) == ","
    assert sniff_delimiter("id\tsex", ["id", "sex"]) == "\t"
    assert sniff_delimiter("a|b|c", ["x"]) == "|"  # no header found: the most cells


def test_a_quoted_cell_with_the_separator_and_a_line_break_is_one_cell(tmp_path):
    data = (b'Study No.;Sex (M/F);Age (years);Date of consent;Notes\r\n'
            b'1;"Female; self-reported";40;01/01/2012;"two\r\nlines"\r\n'
            b'2;Male;50;05/01/2012;\r\n')
    spec = clinic(tmp_path, data)
    tables, problems = read(spec)
    assert not problems.errors
    frame = tables["pts"].frame
    assert frame["sex"].tolist() == ["Female; self-reported", "Male"]
    assert frame["__row__"].tolist() == [2, 4]  # record 2 starts on line 4
    # a line break inside a declared cell is kept out of SDTM (XPT cannot hold it)
    data = data.replace(b'"Female; self-reported"', b'"Female\r\nself-reported"')
    (tmp_path / "pts.csv").write_bytes(data)
    _, problems = read(spec)
    assert [(p.code, p.location.row, p.location.field) for p in problems.errors] == [
        ("SRC011", 2, "Sex (M/F)")]


# -- encodings -------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, declared", [
    ("utf-8", None), ("utf-8-sig", None), ("utf-16", None), ("utf-16-be", None),
    ("utf-32", None), ("latin-1", "latin-1"), ("cp1252", "cp1252"), ("utf-16-le", "utf-16-le"),
])
def test_text_encodings(tmp_path, encoding, declared):
    rows = [CLINIC_HEADER, ["1", "Männlich", "40", "01/01/2012"],
            ["2", "Féminin", "50", "05/01/2012"]]
    data = csv_bytes(rows, ";", encoding)
    if encoding == "utf-16-be":  # with its byte order mark, as Excel writes it
        data = b"\xfe\xff" + data
    text = CLINIC_PTS if declared is None else with_source_keys(
        CLINIC_PTS, f"    encoding: {declared}")
    spec = clinic(tmp_path, data, text)
    tables, problems = read(spec)
    assert not list(problems)
    frame = tables["pts"].frame
    assert frame["study_no"].tolist() == ["1", "2"]  # no byte order mark in the first name
    assert frame["sex"].tolist() == ["Männlich", "Féminin"]


def test_bytes_that_are_not_utf8_are_refused_with_the_line_and_a_hint(tmp_path):
    rows = [CLINIC_HEADER, ["1", "Female", "40", "01/01/2012"],
            ["2", "Männlich", "50", "05/01/2012"]]
    spec = clinic(tmp_path, csv_bytes(rows, ",", "cp1252"))
    _, problems = read(spec)
    assert found(problems) == [("SRC022", "pts.csv", None, 3, None, None)]
    assert next(iter(problems)).message == (
        "the text cannot be read as utf-8: byte 0xE4 at line 3 is not utf-8; the file is in "
        "another encoding: declare it in the spec, e.g. encoding: cp1252 (Windows, Western "
        "European) or encoding: latin-1; or save it as UTF-8")


def test_a_declared_encoding_the_byte_order_mark_contradicts_is_refused(tmp_path):
    spec = clinic(tmp_path, csv_bytes([CLINIC_HEADER, *CLINIC_ROWS], ",", "utf-16"),
                  with_source_keys(CLINIC_PTS, "    encoding: latin-1"))
    _, problems = read(spec)
    assert [(p.code, p.location.row, p.message) for p in problems] == [(
        "SRC022", 1, "the file starts with a UTF-16 byte order mark but the spec declares "
        "encoding 'latin-1': remove encoding: from the spec, or save the file in the declared "
        "encoding")]


@pytest.mark.parametrize("keys, file, message", [
    ("    encoding: klingon", "pts.csv",
     "'klingon' is not a text encoding Python knows; e.g. utf-8, latin-1, cp1252, utf-16"),
    ("    encoding: base64", "pts.csv",
     "'base64' is not a text encoding Python knows; e.g. utf-8, latin-1, cp1252, utf-16"),
    ("    delimiter: ';'", "pts.xlsx",
     "delimiter: applies to CSV files only; 'pts.xlsx' is not one"),
    ("    decimal: ','\n    thousands: ','", "pts.csv",
     "the thousands separator and the decimal mark are both ','"),
    ("    decimal: ','", "pts.xpt", "decimal:/thousands: apply to numbers written as text (CSV, "
     "XLSX); a SAS or Dataset-JSON file stores numbers as numbers"),
])
def test_dialect_keys_that_cannot_apply_are_refused_at_spec_check(tmp_path, keys, file,
                                                                  message):
    spec = clinic(tmp_path, b"", with_source_keys(CLINIC_PTS, keys), name=file)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert [(p.code, p.message) for p in caught.value.problems] == [("SPEC039", message)]


# -- numbers: decimal comma, thousands ---------------------------------------------------
def test_decimal_comma_and_thousands_separators(tmp_path):
    text = with_source_keys(MINI_SPEC, "    decimal: ','\n    thousands: '.'").replace(
        "file: doses.csv", "file: doses.csv\n    decimal: ','\n    thousands: ' '")
    files = {**MINI_FILES,
             "pts.csv": "id;sex;age;consent\n1;Female;1.040;01-JAN-2012\n2;Male;50;05-JAN-2012\n",
             "doses.csv": "id;dose;start;stop\n1;2,5;10-JAN-2012;31-JAN-2012\n"
                          "1;1 234,75;01-FEB-2012;29-FEB-2012\n2;-0,5e2;15-JAN-2012;20-MAR-2012\n"}
    tables, problems = read(write_study(tmp_path, text, files))
    assert not list(problems)
    assert tables["pts"].frame["age"].tolist() == [1040, 50]
    assert tables["doses"].frame["dose"].tolist() == [2.5, 1234.75, -50.0]


@pytest.mark.parametrize("cell", ["1.5", "12.34,5", "1,234,5", "2,5.", "ten", "1 234"])
def test_a_number_not_written_in_the_declared_notation_is_an_error(tmp_path, cell):
    text = MINI_SPEC.replace("file: doses.csv", "file: doses.csv\n    decimal: ','\n"
                             "    thousands: '.'")
    files = {**MINI_FILES, "doses.csv": f"id;dose;start;stop\n1;{cell};10-JAN-2012;\n"}
    tables, problems = read(write_study(tmp_path, text, files))
    assert found(problems) == [("SRC005", "doses.csv", None, 2, "dose", cell)]
    assert next(iter(problems)).message == (
        "expected a number written with the decimal mark ',', thousands separator '.'")
    assert tables["doses"].frame["dose"].isna().all()


def test_normalise_numbers_leaves_the_default_notation_and_stored_numbers_alone():
    values = pd.Series(["1,5", "2.5", None])
    assert normalise_numbers(values, ".", None) is values
    written = pd.Series([True, False, True]).to_numpy()  # the second a number Excel stored
    assert normalise_numbers(values, ",", None, written).tolist() == ["1.5", "2.5", None]
    assert normalise_numbers(values, ",", None).tolist() == ["1.5", None, None]


def test_decimal_comma_applies_to_xlsx_text_cells_not_to_stored_numbers(tmp_path):
    text = MINI_SPEC.replace("file: doses.csv", "file: doses.xlsx\n    decimal: ','\n"
                             "    thousands: '.'")
    spec = write_study(tmp_path, text, {k: v for k, v in MINI_FILES.items()
                                        if k != "doses.csv"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "dose", "start", "stop"])
    ws.append(["1", "2,5", "10-JAN-2012", None])   # text cell, decimal comma
    ws.append(["1", 2.5, "01-FEB-2012", None])     # a number Excel stores: not re-read
    ws.append(["2", "1.234", "15-JAN-2012", None])  # text with a thousands separator
    wb.save(tmp_path / "doses.xlsx")
    tables, problems = read(spec)
    assert not list(problems)
    assert tables["doses"].frame["dose"].tolist() == [2.5, 2.5, 1234.0]


# -- dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, cells, iso", [
    ("DD/MM/YYYY", ["04/03/2012", "??/03/2012", "UN/UN/2012", "UNK/03/2012", "4/3/2012"],
     ["2012-03-04", "2012-03", "2012", "2012-03", "2012-03-04"]),
    ("MM/DD/YYYY", ["04/03/2012", "03/??/2012", "??/??/2012"],
     ["2012-04-03", "2012-03", "2012"]),
    ("DD-MMM-YYYY", ["04-mar-2012", "??-MAR-2012", "UN-UNK-2012"],
     ["2012-03-04", "2012-03", "2012"]),
    ("YYYY-MM-DD", ["2012-03-04", "2012-??-??", "????-??-??"], ["2012-03-04", "2012", None]),
])
def test_dates_in_a_declared_pattern_with_unknown_parts(tmp_path, fmt, cells, iso):
    text = MINI_SPEC.replace("onset: {type: date, format: DD-MMM-YYYY}",
                             f"onset: {{type: date, format: {fmt}}}")
    body = "".join(f"1,Fatigue {i},{cell}\n" for i, cell in enumerate(cells))
    spec = write_study(tmp_path, text, {**MINI_FILES, "aes.csv": "id,term,onset\n" + body})
    _, result = build(spec)
    ae = result.datasets["AE"].sort_values("AETERM")
    assert ae["AESTDTC"].tolist() == iso


def test_day_and_month_are_never_swapped_silently(tmp_path):
    """13/02/2012 is no MM/DD/YYYY date: an error at its row, not 2013-02-12 or 2012-02-13."""
    text = MINI_SPEC.replace("onset: {type: date, format: DD-MMM-YYYY}",
                             "onset: {type: date, format: MM/DD/YYYY}")
    spec = write_study(tmp_path, text, {**MINI_FILES,
                                        "aes.csv": "id,term,onset\n1,Rash,13/02/2012\n"})
    with pytest.raises(Exception) as caught:
        build(spec)
    assert [(p.code, p.location.row, p.location.field, p.location.value)
            for p in caught.value.problems] == [("MAP002", 2, "onset", "13/02/2012")]


def test_year_only_birth_dates_are_partial_brthdtc(tmp_path):
    text = (MINI_SPEC.replace("consent: {type: date, format: DD-MMM-YYYY}",
                              "consent: {type: date, format: DD-MMM-YYYY}\n"
                              "      birth: {type: date, format: [DD/MM/YYYY, YYYY]}")
            .replace("RFICDTC: {algorithm: assign_datetime, column: consent}",
                     "RFICDTC: {algorithm: assign_datetime, column: consent}\n"
                     "          BRTHDTC: {algorithm: assign_datetime, column: birth}"))
    files = {**MINI_FILES, "pts.csv": "id,sex,age,consent,birth\n1,Female,40,01-JAN-2012,1956\n"
                                      "2,Male,50,05-JAN-2012,03/07/1961\n"}
    _, result = build(write_study(tmp_path, text, files))
    assert result.datasets["DM"]["BRTHDTC"].tolist() == ["1956", "1961-07-03"]


def test_the_date_language_refuses_misspelt_tokens_and_documents_every_token():
    assert check_format("DD/MM/YYY").startswith("format 'DD/MM/YYY' has 'YYY', which is not")
    assert check_format("DD/MM") == ("format 'DD/MM': a month needs a year (YYYY); the tokens "
                                     "are YYYY (year), MMM (month name), MM (month number), DD "
                                     "(day), hh (hour), mm (minute), ss (second); case matters: "
                                     "MM is the month, mm the minute")
    docs = (Path(__file__).resolve().parents[1] / "docs" / "spec-format.md").read_text()
    for token in ("`YYYY`", "`MMM`", "`MM`", "`DD`", "`hh`", "`mm`", "`ss`", "`UN`", "`UK`",
                  "`UNK`", "`UNKN`", "`NK`", "`??`", "`????`"):
        assert token in docs, token


def test_render_writes_a_date_as_its_format_describes():
    assert render("DD/MM/YYYY", dt.date(2012, 3, 4)) == "04/03/2012"
    assert render("MM/DD/YYYY", dt.date(2012, 3, 4)) == "03/04/2012"
    assert render("DD-MMM-YYYY hh:mm", dt.datetime(2012, 3, 4, 9, 5)) == "04-MAR-2012 09:05"
    assert render("hh:mm:ss", dt.time(7, 3, 2, 500000)) == "07:03:02.5"


# -- Excel date cells --------------------------------------------------------------------
def excel_study(tmp_path: Path, cells: list, fmt: str, kind: str = "date") -> Path:
    text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx\n    sheet: AEs").replace(
        "onset: {type: date, format: DD-MMM-YYYY}", f"onset: {{type: {kind}, format: {fmt}}}")
    spec = write_study(tmp_path, text, {k: v for k, v in MINI_FILES.items() if k != "aes.csv"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "AEs"
    ws.append(["id", "term", "onset"])
    for i, cell in enumerate(cells):
        ws.append(["1", f"Rash {i}", cell])
    wb.save(tmp_path / "aes.xlsx")
    return spec


def test_excel_date_cells_are_dates_in_the_declared_format(tmp_path):
    cells = [dt.datetime(2012, 3, 4), "05/03/2012", dt.datetime(2012, 3, 6, 0, 0)]
    spec = excel_study(tmp_path, cells, "DD/MM/YYYY")
    tables, problems = read(spec)
    assert not list(problems)
    assert tables["aes"].frame["onset"].tolist() == ["04/03/2012", "05/03/2012", "06/03/2012"]
    _, result = build(spec)
    assert sorted(result.datasets["AE"]["AESTDTC"]) == ["2012-03-04", "2012-03-05",
                                                        "2012-03-06"]


def test_excel_date_time_cells_take_the_format_that_holds_their_parts(tmp_path):
    cells = [dt.datetime(2012, 3, 4, 9, 30), dt.datetime(2012, 3, 5), "06/03/2012 10:00"]
    spec = excel_study(tmp_path, cells, "[DD/MM/YYYY hh:mm, DD/MM/YYYY]", "datetime")
    tables, problems = read(spec)
    assert not list(problems)
    assert tables["aes"].frame["onset"].tolist() == ["04/03/2012 09:30", "05/03/2012",
                                                     "06/03/2012 10:00"]
    _, result = build(spec)
    assert sorted(result.datasets["AE"]["AESTDTC"]) == ["2012-03-04T09:30", "2012-03-05",
                                                        "2012-03-06T10:00"]


def test_an_excel_time_of_day_no_declared_format_holds_is_an_error(tmp_path):
    spec = excel_study(tmp_path, [dt.datetime(2012, 3, 4, 9, 30)], "DD/MM/YYYY")
    tables, problems = read(spec)
    assert found(problems) == [("SRC023", "aes.xlsx", "AEs", 2, "onset", "2012-03-04T09:30:00")]
    assert next(iter(problems)).message == (
        "the cell is an Excel date (2012-03-04T09:30:00) but no declared format of this date "
        "column (DD/MM/YYYY) holds exactly its parts; declare one that does (e.g. type "
        "datetime, format DD/MM/YYYY hh:mm)")
    assert tables["aes"].frame["onset"].isna().all()  # reported once, then missing
