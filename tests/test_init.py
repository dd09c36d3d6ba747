"""cdisc init: a commented starter spec from a clinic's spreadsheets (issue 13)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

import cli
from cdisc import standards
from cdisc.errors import SpecError
from cdisc.sources.profile import profile_column, profile_file, profile_sources
from cdisc.spec import load_spec
from cdisc.spec.starter import normalise_header, roles_of, spec_name, starter_spec, starter_yaml


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


SMALL = {
    "Patients": [["Patient ID", "Gender", "DOB"], ["P01", "female", "02/13/1950"],
                 ["P02", "Male", "11/UN/1948"]],
    "Toxicity": [["Patient ID", "Toxicity", "Grade", "Onset"],
                 ["P01", "Nausea", "G1", "03/02/2011"], ["P01", "Rash", "g2", "03/20/2011"]],
}

EXPECTED = """\
# Starter mapping spec written by `cdisc init` from small.xlsx.
#
# It maps what the column headers and values made clear; check every line. Fill in
# each TODO value (`cdisc convert` lists those left, with their lines) and each
# commented TODO variable you have data for. The format is docs/spec-format.md;
# `cdisc spec check` checks the spec without converting.
spec_version: 1
study:
  studyid: 'TODO: the study identifier, STUDYID (letters, digits, - or _)'
  sdtmig_version: '3.4'
  ct_version: '{ct}' # the CDISC CT shipped with cdisc-convert
  data_cutoff: 'TODO: the data cut-off date, YYYY-MM-DD'
  created: 'TODO: the date and time stamped in every output file, YYYY-MM-DDThh:mm:ss'
sources:
  # small.xlsx, sheet 'Patients': 2 record(s), 3 column(s)
  patients:
    file: small.xlsx
    sheet: Patients
    subject: patient_id
    key: [patient_id]
    columns:
      # -> DM.SUBJID; 2 value(s): P01, P02
      patient_id: {{header: Patient ID, type: string, required: true}}
      # -> DM.SEX; 2 value(s): female, Male
      gender: {{header: Gender, type: string}}
      # -> DM.BRTHDTC; 2 date(s); month first: '02/13/1950' in 'DOB'; unknown parts written UN
      dob: {{header: DOB, type: date, format: MM/DD/YYYY}}
  # small.xlsx, sheet 'Toxicity': 2 record(s), 4 column(s)
  toxicity:
    file: small.xlsx
    sheet: Toxicity
    subject: patient_id
    columns:
      # 1 value(s): P01
      patient_id: {{header: Patient ID, type: string, required: true}}
      # -> AE.AETERM; 2 value(s): Nausea, Rash
      toxicity: {{header: Toxicity, type: string}}
      # -> AE.AETOXGR; 2 value(s): G1, g2
      grade: {{header: Grade, type: string}}
      # -> AE.AESTDTC; 2 date(s); month first: '03/20/2011' in 'Onset'
      onset: {{header: Onset, type: date, format: MM/DD/YYYY}}
study_ct:
  # Sex (C66731, not extensible): the values of patients.gender -> the CDISC submission value
  SEX:
    codelist: C66731
    map: {{female: F, Male: M}}
domains:
  # Demographics (SDTMIG 3.4, Special-Purpose)
  DM:
    records:
      - source: patients
        map:
          # not filled from the data (Req needs a value, Exp may stay empty):
          # TODO RFSTDTC (Exp): Subject Reference Start Date/Time
          # TODO RFENDTC (Exp): Subject Reference End Date/Time
          # TODO RFXSTDTC (Exp): Date/Time of First Study Treatment
          # TODO RFXENDTC (Exp): Date/Time of Last Study Treatment
          # TODO RFICDTC (Exp): Date/Time of Informed Consent
          # TODO RFPENDTC (Exp): Date/Time of End of Participation
          # TODO DTHDTC (Exp): Date/Time of Death
          # TODO DTHFL (Exp): Subject Death Flag
          # TODO SITEID (Req): Study Site Identifier
          # TODO AGE (Exp): Age
          # TODO AGEU (Exp): Age Units
          # TODO RACE (Exp): Race
          # TODO ARMCD (Exp): Planned Arm Code
          # TODO ARM (Exp): Description of Planned Arm
          # TODO ACTARMCD (Exp): Actual Arm Code
          # TODO ACTARM (Exp): Description of Actual Arm
          # TODO ARMNRS (Exp): Reason Arm and/or Actual Arm is Null
          # TODO ACTARMUD (Exp): Description of Unplanned Actual Arm
          # TODO COUNTRY (Req): Country
          USUBJID: {{algorithm: usubjid, column: patient_id}}
          SUBJID: {{algorithm: assign, column: patient_id}}
          SEX: {{algorithm: assign_ct, column: gender, codelist: SEX}}
          BRTHDTC: {{algorithm: assign_datetime, column: dob}}
  # Adverse Events (SDTMIG 3.4, Events)
  AE:
    records:
      - source: toxicity
        map:
          # not filled from the data (Req needs a value, Exp may stay empty):
          # TODO AELLT (Exp): Lowest Level Term
          # TODO AELLTCD (Exp): Lowest Level Term Code
          # TODO AEDECOD (Req): Dictionary-Derived Term
          # TODO AEPTCD (Exp): Preferred Term Code
          # TODO AEHLT (Exp): High Level Term
          # TODO AEHLTCD (Exp): High Level Term Code
          # TODO AEHLGT (Exp): High Level Group Term
          # TODO AEHLGTCD (Exp): High Level Group Term Code
          # TODO AEBODSYS (Exp): Body System or Organ Class
          # TODO AEBDSYCD (Exp): Body System or Organ Class Code
          # TODO AESOC (Exp): Primary System Organ Class
          # TODO AESOCCD (Exp): Primary System Organ Class Code
          # TODO AESER (Exp): Serious Event
          # TODO AEACN (Exp): Action Taken with Study Treatment
          # TODO AEREL (Exp): Causality
          # TODO AEENDTC (Exp): End Date/Time of Adverse Event
          USUBJID: {{algorithm: usubjid, column: patient_id}}
          AETERM: {{algorithm: assign, column: toxicity}}
          AETOXGR:
            algorithm: extract
            column: grade
            pattern: (?:g|gr|grade)\\s*([1-5])
            ignore_case: true
          AESTDTC: {{algorithm: assign_datetime, column: onset}}
    derive:
      AESEQ: {{algorithm: seq}}
"""


def fill_todos(text: str) -> str:
    return (text.replace("'TODO: the study identifier, STUDYID (letters, digits, - or _)'",
                         "SMALL")
            .replace("'TODO: the data cut-off date, YYYY-MM-DD'", "'2012-01-01'")
            .replace("'TODO: the date and time stamped in every output file, "
                     "YYYY-MM-DDThh:mm:ss'", "'2012-01-02T00:00:00'"))


def test_the_starter_of_a_small_workbook_is_exactly_this(tmp_path):
    workbook(tmp_path / "small.xlsx", SMALL)
    result = run("init", "--source", str(tmp_path / "small.xlsx"), "--out",
                 str(tmp_path / "spec.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"starter         {tmp_path / 'spec.yaml'}: 2 source(s), 2 domain(s), "
        "3 TODO value(s) to fill in")
    text = (tmp_path / "spec.yaml").read_text(encoding="utf-8")
    ct = standards.ct_versions()["SDTM CT"]
    assert text == EXPECTED.format(ct=ct)


def test_convert_on_the_untouched_starter_lists_what_is_missing(tmp_path):
    workbook(tmp_path / "small.xlsx", SMALL)
    assert run("init", "--source", str(tmp_path / "small.xlsx"), "--out",
               str(tmp_path / "spec.yaml")).exit_code == 0
    result = run("convert", "--spec", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "3 problem(s) stopped the run:" in result.output
    lines = [line.strip() for line in result.output.splitlines() if "at $.study" in line]
    assert [re.sub(r"^.*spec\.yaml:", "", line) for line in lines] == [
        "9:3, at $.study.studyid: still to fill in: the study identifier, STUDYID (letters, "
        "digits, - or _)",
        "12:3, at $.study.data_cutoff: still to fill in: the data cut-off date, YYYY-MM-DD",
        "13:3, at $.study.created: still to fill in: the date and time stamped in every output "
        "file, YYYY-MM-DDThh:mm:ss"]
    assert not (tmp_path / "o").exists()
    check = run("spec", "check", str(tmp_path / "spec.yaml"))
    assert check.exit_code == 2 and "SPEC070" in check.output


def test_the_starter_with_its_todos_filled_is_a_valid_spec(tmp_path):
    workbook(tmp_path / "small.xlsx", SMALL)
    assert run("init", "--source", str(tmp_path / "small.xlsx"), "--out",
               str(tmp_path / "spec.yaml")).exit_code == 0
    filled = tmp_path / "filled.yaml"
    filled.write_text(fill_todos((tmp_path / "spec.yaml").read_text(encoding="utf-8")),
                      encoding="utf-8")
    spec = load_spec(filled)
    assert list(spec.domains) == ["DM", "AE"]
    assert spec.sources["patients"].columns["patient_id"].header == "Patient ID"


def test_init_never_replaces_a_file_without_force(tmp_path):
    workbook(tmp_path / "small.xlsx", SMALL)
    out = tmp_path / "spec.yaml"
    out.write_text("my own spec\n", encoding="utf-8")
    refused = run("init", "--source", str(tmp_path / "small.xlsx"), "--out", str(out))
    assert refused.exit_code == 2
    assert "OUT040" in refused.output and "--force" in refused.output
    assert out.read_text(encoding="utf-8") == "my own spec\n"
    forced = run("init", "--source", str(tmp_path / "small.xlsx"), "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8").startswith("# Starter mapping spec")
    assert not list(tmp_path.glob(".*.tmp"))


# --- what the profile sees ---------------------------------------------------------------


def test_an_ambiguous_day_month_order_is_a_todo_with_a_comment(tmp_path):
    workbook(tmp_path / "clinic.xlsx", {
        "Patients": [["Subject", "Sex", "Date of birth"], ["1", "F", "03/04/1950"],
                     ["2", "M", "12/11/1960"]]})
    starter = starter_spec(profile_sources(tmp_path / "clinic.xlsx"), tmp_path / "s.yaml")
    birth = starter.document["sources"]["patients"]["columns"]["date_of_birth"]
    assert birth["format"] == ("TODO: DD/MM/YYYY or MM/DD/YYYY: every day and month in this "
                               "file is 12 or less, so the data do not say which comes first")
    comment = starter.eol[("sources", "patients", "columns", "date_of_birth")]
    assert "day/month order not decided: every day and month in this file is 12 or less" in comment
    assert starter.todos == 4


def test_one_day_over_12_decides_the_order_of_every_date_in_the_file(tmp_path):
    workbook(tmp_path / "clinic.xlsx", {
        "Patients": [["Patient", "Consent date"], ["1", "01/02/2019"], ["2", "25/03/2019"]],
        "Treatment": [["Patient", "Drug", "Start"], ["1", "X", "03/04/2019"]]})
    tables = profile_file(tmp_path / "clinic.xlsx")
    start = tables[1].columns[2]
    assert (start.formats, start.order) == (("DD/MM/YYYY",), "DD/MM")
    assert start.order_evidence == "day first: '25/03/2019' in 'Consent date'"


def test_dates_with_unknown_parts_ongoing_and_excel_cells():
    column, _ = profile_column("Stop", ["12/05/2012", "UN/06/2012", "ongoing", "Ongoing", None])
    assert (column.type, column.formats, column.unknown_parts, column.other_texts) == (
        "date", ("DD/MM/YYYY",), ("UN",), ("ongoing", "Ongoing"))
    cells, _ = profile_column("Scan date", [dt.datetime(2019, 3, 25), dt.datetime(2019, 5, 2)])
    assert (cells.type, cells.formats, cells.excel_dates) == ("date", ("YYYY-MM-DD",), 2)
    years, _ = profile_column("Year of birth", ["1956", "1949"])
    assert (years.type, years.formats) == ("date", ("YYYY",))
    counts, _ = profile_column("Visits", ["1956", "1949"])
    assert counts.type == "integer"
    mixed, _ = profile_column("DOB", ["14/02/1956", "1949"])
    assert mixed.formats == ("DD/MM/YYYY", "YYYY")
    ids, _ = profile_column("Code", ["007", "012"])
    assert ids.type == "string"  # leading zeros: an identifier, not a number


def test_csv_folder_with_semicolons_latin1_and_decimal_commas(tmp_path):
    (tmp_path / "patients.csv").write_bytes(
        "Patient no;Sex;Weight\n1;Féminin;61,5\n2;M;80\n".encode("cp1252"))
    (tmp_path / "readme.txt").write_text("notes", encoding="utf-8")
    profile = profile_sources(tmp_path)
    (table,) = profile.tables
    assert (table.delimiter, table.encoding) == (";", "cp1252")
    assert [c.type for c in table.columns] == ["integer", "string", "number"]
    assert table.columns[2].decimal_comma
    assert profile.skipped == ("readme.txt: not a CSV or XLSX file",)
    starter = starter_spec(profile, tmp_path / "spec.yaml")
    source = starter.document["sources"]["patients"]
    assert (source["delimiter"], source["encoding"], source["decimal"]) == (";", "cp1252", ",")
    assert starter.document["study_ct"]["SEX"]["map"] == {
        "Féminin": "TODO: the submission value of 'Féminin' in Sex (C66731)", "M": "M"}


def test_headers_of_any_spelling_find_their_role():
    assert normalise_header("Dose (mg)") == ("dose", "mg")
    assert normalise_header("  Study No. ") == ("study no", None)
    assert roles_of("STUDY NO.") == ("subject",)
    assert roles_of("Serious?") == ("serious",)
    assert roles_of("date-of-birth") == ("birth_date",)
    assert roles_of("Site") == ("site", "lesion_site")
    assert roles_of("Primary site") == ()
    assert spec_name("Dose (mg)") == "dose_mg"
    assert spec_name("Study No.", ["study_no"]) == "study_no_2"
    assert spec_name("1st dose") == "c_1st_dose"


@pytest.mark.skipif(not (Path(__file__).parents[1] / "mappings/tutorial/clinic.xlsx").exists(),
                    reason="the tutorial workbook is not in this checkout")
def test_the_tutorial_workbook_gives_a_spec_that_loads_once_filled(tmp_path):
    source = Path(__file__).parents[1] / "mappings/tutorial/clinic.xlsx"
    spec = tmp_path / "my_study.yaml"
    result = run("init", "--source", str(source), "--out", str(spec))
    assert result.exit_code == 0, result.output
    text = spec.read_text(encoding="utf-8")
    assert "studyid: 'TODO" in text
    assert "EXENRTPT:" in text and "AETOXGR:\n            algorithm: extract" in text
    filled = tmp_path / "filled.yaml"
    filled.write_text(fill_todos(text), encoding="utf-8")
    try:
        loaded = load_spec(filled)
    except SpecError as exc:  # pragma: no cover - shows what is wrong
        raise AssertionError(str(exc.problems)) from None
    assert set(loaded.domains) == {"DM", "EX", "AE", "DS", "TU", "TR", "RS"}
    assert loaded.study_ct["SEX"].map == {"female": "F", "Female": "F", "M": "M", "Male": "M",
                                          "F": "F"}
    yaml_again = starter_yaml(starter_spec(profile_sources(source), spec))
    assert yaml_again == text  # the same files give the same starter


def test_a_starter_can_be_finished_in_excel(tmp_path):
    import openpyxl

    workbook(tmp_path / "small.xlsx", SMALL)
    assert run("init", "--source", str(tmp_path / "small.xlsx"), "--out",
               str(tmp_path / "spec.yaml")).exit_code == 0
    exported = run("spec", "export", str(tmp_path / "spec.yaml"), "--out",
                   str(tmp_path / "spec.xlsx"))
    assert exported.exit_code == 0, exported.output
    book = openpyxl.load_workbook(tmp_path / "spec.xlsx")
    filled = {"study.studyid": "SMALL", "study.data_cutoff": "2012-01-01",
              "study.created": "2012-01-02T00:00:00"}
    for row in book["Study"].iter_rows(min_row=2):
        if row[0].value in filled:
            row[2].value = filled[row[0].value]
    book.save(tmp_path / "spec.xlsx")
    imported = run("spec", "import", str(tmp_path / "spec.xlsx"), "--out",
                   str(tmp_path / "finished.yaml"))
    assert imported.exit_code == 0, imported.output
    assert load_spec(tmp_path / "finished.yaml").study.studyid == "SMALL"
