"""Excel specification workbooks: cdisc spec export / import (issue 13)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import cli
from cdisc.errors import SpecError
from cdisc.limits import DEFAULT_LIMITS
from cdisc.resources import example_spec_path
from cdisc.spec.loader import _read_spec, _yaml_text_to_document
from cdisc.spec.workbook import (
    P21_CODELISTS,
    P21_VARIABLES,
    WorkbookError,
    document_yaml,
    export_workbook,
    format_path,
    parse_path,
    read_workbook_bytes,
    rule_sheets,
    same,
    workbook_bytes,
)

from helpers import MINI_FILES, MINI_SPEC, tree_digest, write_study

CREATED = datetime(2013, 2, 1)


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.fixture(scope="module")
def pecoma_xlsx() -> bytes:
    """The example's workbook, exported once for the tests that only read it."""
    return export_workbook(example_spec_path())


def document_of(path: Path) -> dict:
    document, _ = _yaml_text_to_document(_read_spec(path, DEFAULT_LIMITS), str(path))
    return document


def round_trip(document: dict) -> dict:
    return read_workbook_bytes(workbook_bytes(rule_sheets(document), CREATED), "spec.xlsx")


# --- the example ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_export_then_import_of_the_example_converts_to_byte_identical_output(
        example_output, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    workbook, spec = tmp_path / "pecoma.xlsx", tmp_path / "imported.yaml"
    exported = run("spec", "export", str(example_spec_path()), "--out", str(workbook))
    assert exported.exit_code == 0, exported.output
    imported = run("spec", "import", str(workbook), "--out", str(spec))
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "out"
    converted = run("convert", "--spec", str(spec), "--source",
                    str(example_spec_path().parent), "--out", str(out))
    assert converted.exit_code == 0, converted.output
    original = tree_digest(example_output.out)
    assert len(original) > 60
    assert tree_digest(out) == original  # sha256 of every output file


def test_the_example_document_comes_back_exactly_and_the_bytes_are_stable(pecoma_xlsx):
    document = document_of(example_spec_path())
    data = export_workbook(example_spec_path())
    assert pecoma_xlsx == data  # fixed timestamps: same bytes
    back = read_workbook_bytes(data, "pecoma.xlsx")
    assert same(back, document)
    assert list(back["domains"]) == list(document["domains"])
    assert list(back["sources"]["patients"]["columns"]) == list(
        document["sources"]["patients"]["columns"])
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["About", "Define", "Study", "Datasets", "Variables", "ValueLevel",
                               "Codelists", "Methods", "Sources", "Blocks", "Mappings",
                               "Visits", "Rules"]
    variables = list(book["Variables"].iter_rows(values_only=True))
    assert list(variables[0]) == P21_VARIABLES
    sex = next(r for r in variables if r[1] == "DM" and r[2] == "SEX")
    row = dict(zip(P21_VARIABLES, sex, strict=True))
    assert (row["Label"], row["Mandatory"], row["Codelist"], row["Origin"], row["Source"]) == (
        "Sex", "Yes", "SEX", "Collected", "Investigator")
    assert row["Developer Notes"] == "block 1 (patients): assign_ct column=sex codelist=SEX"
    codelists = [dict(zip([*P21_CODELISTS, "Collected Value"], r, strict=True))
                 for r in book["Codelists"].iter_rows(min_row=2, values_only=True)]
    female = next(r for r in codelists if r["ID"] == "SEX" and r["Collected Value"] == "Female")
    assert (female["Term"], female["NCI Codelist Code"], female["NCI Term Code"],
            female["Decoded Value"]) == ("F", "C66731", "C16576", "Female")
    mappings = list(book["Mappings"].iter_rows(values_only=True))
    usubjid = next(r for r in mappings if r[0] == "DM" and r[3] == "USUBJID")
    assert usubjid == ("DM", 1, "map", "USUBJID", "usubjid", "patient_id", None, None, None,
                       None, '{"zfill": 3}')
    rules = {r[0]: r[1:] for r in book["Rules"].iter_rows(min_row=2, values_only=True)}
    assert rules["recist.confirm"] == ("boolean", False)
    assert rules["adam.adtte.parameters[0].paramcd"] == ("text", "OS")
    book.close()


def test_imported_yaml_reads_like_a_hand_written_spec(tmp_path, pecoma_xlsx):
    (tmp_path / "spec.xlsx").write_bytes(pecoma_xlsx)
    result = run("spec", "import", str(tmp_path / "spec.xlsx"), "--out",
                 str(tmp_path / "spec.yaml"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "spec.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Mapping specification imported from spec.xlsx")
    assert "      - source: patients\n" in text
    assert "          USUBJID: {algorithm: usubjid, column: patient_id, zfill: 3}\n" in text
    # YAML 1.1 readers would take Y/Yes/No as booleans: quoted, as the shipped spec has them
    assert 'map: {"Yes": "Y", "No": "N"}' in text
    assert result.output.strip().endswith("spec.yaml: OK (7 domains, 6 sources)")


# --- values the tables cannot hold go to Rules ------------------------------------------


def test_values_without_a_column_survive_through_rules():
    document = {
        "spec_version": 1,
        "study": {"studyid": "S1", "created": "2013-02-01T00:00:00", "empty": "",
                  "nothing": None, "when": date(2013, 1, 31),
                  "stamp": datetime(2013, 1, 31, 10, 30), "big": 2**60,
                  "tiny": 3.0000000000000004, "eight": 8.0},
        "sources": {"pts": {"file": "a.csv", "subject": "id", "key": ["id", "odd, name"],
                            "delimiter": ";", "future_option": {"x": [1, 2]},
                            "columns": {"id": {"type": "string", "required": True},
                                        "d": {"type": "date", "format": ["DD/MM/YYYY", "YYYY"]},
                                        "weird": {"type": "string", "format": "[brackets]"},
                                        "e": {}}}},
        "study_ct": {"SEX": {"codelist": "C66731", "map": {"female": "F", "=1+2": "M"}},
                     "EMPTY": {"codelist": "NY", "map": {}}},
        "visits": {"WEEK 8": 8, "HALF": 1.5, "EIGHT": 8.0},
        "domains": {"DM": {"label": "Demo", "records": [
            {"source": "pts", "where": {"column": "d", "equals": date(2013, 1, 1)},
             "map": {"USUBJID": {"algorithm": "usubjid", "column": "id", "zfill": 3},
                     "AGE": {"algorithm": "hardcode", "value": 42},
                     "BRTHDTC": {"algorithm": "hardcode", "value": date(1950, 1, 1)}},
             "extra": []}],
            "derive": {"RFSTDTC": {"algorithm": "subject_date", "agg": "min",
                                   "from": [{"domain": "EX", "variable": "EXSTDTC"}]}}}},
        "adam": {"adsl": {"flags": {"SAFFL": {"where": {"all": [{"column": "EXDOSE",
                                                                 "is_missing": False}]}}}},
                 "list_of_lists": [[1, [2, {}]], []]},
        "visits_weird": {'key "with" quotes': 1, "0": 2, "a.b": 3, "[x]": 4},
    }
    back = round_trip(document)
    assert same(back, document)
    assert isinstance(back["visits"]["EIGHT"], float) and isinstance(back["visits"]["WEEK 8"], int)
    assert back["study"]["tiny"] == 3.0000000000000004 and back["study"]["big"] == 2**60


def test_paths_name_every_key_and_item():
    for parts in [("visits", "WEEK 8"), ("adam", "adtte", "parameters", 0, "events", 1, "date"),
                  ("x", 'a "quoted" key', 0, 12, "y"), ("submission", "explanations", "CV0405"),
                  ("a", "", "b"), ("a", "0")]:
        assert parse_path(format_path(parts)) == parts
    assert format_path(("visits", "WEEK 8")) == 'visits."WEEK 8"'
    assert format_path(("a", "b", 0, "c")) == "a.b[0].c"


def test_text_that_looks_like_a_formula_is_written_as_text(mini_study, tmp_path):
    text = mini_study.read_text(encoding="utf-8").replace(
        "studyid: MINI", 'studyid: MINI\n  title: "=HYPERLINK(\\"http://x\\",\\"y\\")"')
    mini_study.write_text(text, encoding="utf-8")
    data = export_workbook(mini_study)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert not any(re.search(rb"<f[ >]", xml) for xml in sheets)  # no formula anywhere
    book = openpyxl.load_workbook(io.BytesIO(data))
    study = {r[0].value: r[2] for r in book["Study"].iter_rows(min_row=2)}
    assert study["study.title"].value == '=HYPERLINK("http://x","y")'
    assert study["study.title"].data_type == "s"


# --- a workbook that is wrong -------------------------------------------------------------------


def _bad_workbook(tmp_path: Path, data: bytes, edit) -> Path:
    book = openpyxl.load_workbook(io.BytesIO(data))
    edit(book)
    path = tmp_path / "bad.xlsx"
    book.save(path)
    return path


def _cell(book, sheet: str, row: int, header: str):
    headers = [c.value for c in book[sheet][1]]
    return book[sheet].cell(row=row, column=headers.index(header) + 1)


def test_every_problem_of_a_workbook_is_reported_at_its_sheet_row_and_column(tmp_path,
                                                                            pecoma_xlsx):
    def edit(book):
        _cell(book, "Mappings", 3, "Arguments").value = '{"zfill": 3'
        _cell(book, "Mappings", 4, "Column").value = "=A1"
        _cell(book, "Mappings", 5, "Section").value = "mapp"
        _cell(book, "Sources", 3, "File").value = "data/other.csv"
        _cell(book, "Rules", 3, "Path").value = "adam..x"
        _cell(book, "Visits", 2, "VISITNUM").value = "zero"
        _cell(book, "Codelists", 2, "Term").value = None

    path = _bad_workbook(tmp_path, pecoma_xlsx, edit)
    with pytest.raises(WorkbookError) as caught:
        read_workbook_bytes(path, str(path))
    found = {(p.code, p.location.sheet, p.location.row, p.location.field)
             for p in caught.value.problems}
    assert found == {
        ("XLS004", "Mappings", 3, "Arguments"),
        ("XLS004", "Mappings", 4, "Column"),
        ("XLS004", "Mappings", 5, "Section"),
        ("XLS005", "Sources", 3, "File"),
        ("XLS004", "Rules", 3, "Path"),
        ("XLS004", "Visits", 2, "VISITNUM"),
        ("XLS004", "Codelists", 2, "Term"),
    }
    assert all(p.location.file == str(path) for p in caught.value.problems)
    assert isinstance(caught.value, SpecError)


def test_a_missing_sheet_lists_the_sheets_there_are(tmp_path, pecoma_xlsx):
    path = _bad_workbook(tmp_path, pecoma_xlsx, lambda book: book.remove(book["Mappings"]))
    result = run("spec", "import", str(path), "--out", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2
    assert "XLS002" in result.output
    assert "the workbook has no sheet 'Mappings'" in result.output
    assert "its sheets are 'About', 'Define', 'Study'" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_not_a_workbook(tmp_path):
    (tmp_path / "x.xlsx").write_text("spec_version: 1\n", encoding="utf-8")
    result = run("spec", "import", str(tmp_path / "x.xlsx"), "--out", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2
    assert "XLS001" in result.output and "not an XLSX workbook" in result.output


# --- files the user names are never replaced silently -----------------------------------


def test_export_and_import_never_replace_a_file_without_force(tmp_path, pecoma_xlsx):
    out = tmp_path / "spec.xlsx"
    out.write_bytes(b"mine")
    refused = run("spec", "export", str(example_spec_path()), "--out", str(out))
    assert refused.exit_code == 2
    assert "OUT040" in refused.output and "--force" in refused.output
    assert out.read_bytes() == b"mine"
    forced = run("spec", "export", str(example_spec_path()), "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == pecoma_xlsx
    spec = tmp_path / "spec.yaml"
    spec.write_text("mine\n", encoding="utf-8")
    refused = run("spec", "import", str(out), "--out", str(spec))
    assert refused.exit_code == 2 and spec.read_text(encoding="utf-8") == "mine\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_invalid_spec_is_not_exported(tmp_path):
    spec = write_study(tmp_path, MINI_SPEC.replace("studyid: MINI", "studyid: 'bad id!'"),
                       MINI_FILES)
    result = run("spec", "export", str(spec), "--out", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 2 and "SPEC002" in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_document_yaml_loads_back_as_the_same_document(tmp_path):
    document = document_of(example_spec_path())
    path = tmp_path / "again.yaml"
    path.write_text(document_yaml(document, "header"), encoding="utf-8")
    assert same(document_of(path), document)
