"""Deliberately broken inputs, killed runs, shuffled sources, reconciliation.

Each broken input goes through the command line (``cdisc convert --spec --out``)
and must give exit status 2, the expected problem code located at the right
spec line/column/JSON path or source file/row/field/value in
``<out>.errors.json``, the grouped table with counts on the console, and no
output: the output folder is not created (or is byte-for-byte what it was) and
no temporary ``.<out>.new-*`` folder is left beside it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import cli
from cdisc.errors import OutputError
from cdisc.output.folder import safe_child, write_marker

from helpers import MINI_FILES, MINI_SPEC, REPO, write_study
from helpers import tree_digest as digest

EXAMPLE = REPO / "mappings" / "pecoma"
RECONCILIATION = re.compile(r"^reconciliation\s+(\S+): (\d+) read, (\d+) mapped, (\d+) excluded$")


# -- helpers -------------------------------------------------------------------
def invoke(spec: Path, out: Path) -> Result:
    return CliRunner().invoke(cli.main, ["convert", "--spec", str(spec), "--out", str(out)])


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.new-*")) + sorted(
        out.parent.glob(f".{out.name}.old-*"))


def run_broken(spec: Path, out: Path) -> tuple[dict[str, Any], str]:
    """A failed run: exit 2, nothing written or changed; returns errors.json and the console."""
    before = digest(out) if out.exists() else None
    result = invoke(spec, out)
    assert result.exit_code == 2, (result.output, result.exception)
    if before is None:
        assert not out.exists()
    else:
        assert digest(out) == before
    assert leftovers(out) == []
    errors = json.loads(out.with_name(out.name + ".errors.json").read_text(encoding="utf-8"))
    problems = errors["problems"]
    counts = Counter(p["code"] for p in problems)
    assert errors["counts"] == dict(sorted(counts.items()))
    assert f"{len(problems)} problem(s) stopped the run" in result.output
    for code, n in counts.items():  # the grouped table: one heading per code, with its count
        assert f"\n{code} ({n}): " in result.output
    assert "Traceback" not in result.output
    return errors, result.output


def find(errors: dict[str, Any], code: str, **where: Any) -> dict[str, Any]:
    """The problem with ``code`` whose location has exactly ``where`` (file: by name)."""
    for problem in errors["problems"]:
        loc = dict(problem["location"])
        if "file" in loc:
            loc["file"] = Path(loc["file"]).name
        if problem["code"] == code and all(loc.get(k) == v for k, v in where.items()):
            return problem
    pytest.fail(f"no {code} at {where} in:\n" + json.dumps(errors["problems"], indent=1))


def line_and_column(text: str, line_has: str, column_at: str | None = None,
                    nth: int = 1) -> dict[str, int]:
    """1-based line of the ``nth`` line containing ``line_has``; column of ``column_at`` in it."""
    hits = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line_has in line]
    number, line = hits[nth - 1]
    where = {"line": number}
    if column_at is not None:
        where["column"] = line.index(column_at) + 1
    return where


def edit(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def copy_example(folder: Path) -> Path:
    """A private copy of the embedded PEComa example; returns its spec."""
    shutil.copytree(EXAMPLE, folder / "pecoma")
    return folder / "pecoma" / "pecoma.yaml"


def csv_records(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for record in csv.reader(handle) if record) - 1


# -- broken specs (located at spec file, line, column, JSON path) ----------------
@dataclass
class SpecCase:
    id: str
    replacements: tuple[tuple[str, str], ...]
    code: str
    json_path: str | None
    line_has: str
    column_at: str | None = None
    nth: int = 1
    message_has: str = ""
    counts: dict[str, int] = field(default_factory=dict)


AE_TERM = "AETERM: {algorithm: assign, column: term}"
SEX_CT = "map: {Female: F, Male: M}"
SITEID = 'SITEID: {algorithm: hardcode, value: "01"}'

SPEC_CASES = [
    SpecCase("yaml-syntax", (("  pts:\n", "  pts: [\n"),), "SPEC001", None,
             "    subject: id", ":", message_has="YAML syntax"),
    SpecCase("yaml-duplicate-key",
             (("      sex: {type: string}\n",
               "      sex: {type: string}\n      sex: {type: string}\n"),),
             "SPEC001", None, "sex: {type: string}", "sex", nth=2, message_has="duplicate key"),
    SpecCase("unknown-algorithm",
             ((AE_TERM, "AETERM: {algorithm: assign_magic, column: term}"),),
             "SPEC002", "$.domains.AE.records[0].map.AETERM.algorithm", "AETERM:", "algorithm",
             message_has="'assign_magic' is not one of"),
    SpecCase("unknown-source-column",
             ((AE_TERM, "AETERM: {algorithm: assign, column: trem}"),),
             "SPEC014", "$.domains.AE.records[0].map.AETERM.column", "AETERM:", "column:",
             message_has="'trem'"),
    SpecCase("variable-not-in-domain",
             ((AE_TERM, AE_TERM + "\n          AEFOO: {algorithm: assign, column: term}"),),
             "SPEC012", "$.domains.AE.records[0].map.AEFOO", "AEFOO:", "AEFOO",
             message_has="AEFOO is not a variable of AE"),
    SpecCase("study-ct-term-not-in-non-extensible-codelist",
             ((SEX_CT, "map: {Female: FEMALE, Male: M}"),),
             "SPEC020", "$.study_ct.SEX.map.Female", "Female: FEMALE", "Female",
             message_has="'FEMALE' is not a term of non-extensible codelist C66731"),
    SpecCase("hardcode-ct-value-not-in-codelist",
             ((SITEID, SITEID + "\n          AGEU: {algorithm: hardcode_ct, value: YRS, "
                                "codelist: AGEU}"),),
             "SPEC016", "$.domains.DM.records[0].map.AGEU.value", "AGEU:", "value:",
             message_has="'YRS' is not a term of"),
    SpecCase("unknown-codelist",
             (("SEX: {algorithm: assign_ct, column: sex, codelist: SEX}",
               "SEX: {algorithm: assign_ct, column: sex, codelist: GENDER}"),),
             "SPEC015", "$.domains.DM.records[0].map.SEX.codelist", "codelist: GENDER",
             "codelist:", message_has="'GENDER'"),
    SpecCase("unknown-source-in-block", (("      - source: aes\n", "      - source: aez\n"),),
             "SPEC011", "$.domains.AE.records[0].source", "source: aez", "source",
             message_has="'aez'"),
    # a dataset name becomes a file name: one that leaves the output folder is refused
    SpecCase("dataset-name-leaves-output-folder", (("  AE:\n", "  ../x:\n"),),
             "SPEC002", "$.domains", "domains:", "domains", message_has="'../x'"),
    SpecCase("control-character", (("  studyid: MINI", "  studyid: MI\x07NI"),),
             "SPEC001", None, "studyid: MI", "\x07", message_has="unacceptable character"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.id)
def test_broken_spec_is_located(tmp_path, case):
    text = edit(MINI_SPEC, *case.replacements)
    spec = write_study(tmp_path, text, MINI_FILES)
    errors, _ = run_broken(spec, tmp_path / "out")
    written = spec.read_text(encoding="utf-8")
    where = line_and_column(written, case.line_has, case.column_at, case.nth)
    if case.json_path:
        where["json_path"] = case.json_path
    problem = find(errors, case.code, file="spec.yaml", **where)
    assert case.message_has in problem["message"]
    assert errors["counts"] == (case.counts or {case.code: 1})


@pytest.mark.e2e
def test_python_object_tag_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "hacked"
    tag = f'!!python/object/apply:os.system ["touch {marker}"]'
    spec = write_study(tmp_path, edit(MINI_SPEC, ("studyid: MINI", f"studyid: {tag}")),
                       MINI_FILES)
    errors, _ = run_broken(spec, tmp_path / "out")
    problem = find(errors, "SPEC001", file="spec.yaml", json_path="$.study.studyid",
                   **line_and_column(spec.read_text(), "studyid:", "studyid"))
    assert "!!python/object/apply:os.system is not allowed" in problem["message"]
    assert errors["counts"] == {"SPEC001": 1}

    # the whole document as a tagged object, and a tag on a block mapping
    for n, text in enumerate([f"{tag}\n", "spec_version: 1\nstudy: !!python/object/new:os.system"
                              f"\n  args: [touch {marker}]\n"]):
        spec = tmp_path / f"whole{n}.yaml"
        spec.write_text(text)
        errors, _ = run_broken(spec, tmp_path / f"out{n}")
        assert errors["counts"] == {"SPEC001": 1}
        assert errors["problems"][0]["location"]["line"] == n + 1
    assert not marker.exists()


@pytest.mark.e2e
def test_yaml_alias_bombs_and_recursive_aliases_are_refused(tmp_path):
    # six levels of ten aliases each: over a million nodes once expanded
    levels = "abcdef"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, c in zip(levels[:-1], levels[1:], strict=True))
    for n, text in enumerate([bomb, "- &x [*x]\n"]):
        spec = tmp_path / f"s{n}.yaml"
        spec.write_text(text)
        errors, _ = run_broken(spec, tmp_path / f"out{n}")
        assert errors["counts"] == {"SPEC001": 1}
        assert errors["problems"][0]["location"]["line"] >= 1


@pytest.mark.e2e
def test_missing_spec_file(tmp_path):
    errors, _ = run_broken(tmp_path / "nowhere.yaml", tmp_path / "out")
    find(errors, "SPEC000", file="nowhere.yaml")


@pytest.mark.e2e
def test_broken_example_spec_is_located(tmp_path):
    spec = copy_example(tmp_path)
    old = "AETERM: {algorithm: assign, column: ae_term}"
    spec.write_text(edit(spec.read_text(), (old, old.replace("ae_term", "ae_trem"))))
    errors, _ = run_broken(spec, tmp_path / "out")
    find(errors, "SPEC014", file="pecoma.yaml",
         json_path="$.domains.AE.records[0].map.AETERM.column",
         **line_and_column(spec.read_text(), "ae_trem", "column:"))
    assert errors["counts"] == {"SPEC014": 1}


# -- broken source records (located at source file, row, field, value) ---------
@dataclass
class RecordCase:
    id: str
    files: dict[str, str]
    code: str
    where: dict[str, Any]
    counts: dict[str, int]
    spec: tuple[tuple[str, str], ...] = ()
    message_has: str = ""


PTS = "id,sex,age,consent\n1,Female,40,01-JAN-2012\n2,Male,50,05-JAN-2012\n"
AES = "id,term,onset\n1,Fatigue,09-JAN-2012\n"
LONG = "Grade 2 " + "x" * 200

RECORD_CASES = [
    RecordCase("missing-source-file", {}, "SRC002", {"file": "nothere.csv"}, {"SRC002": 1},
               spec=(("file: aes.csv", "file: nothere.csv"),)),
    RecordCase("missing-declared-column", {"aes.csv": "id,term\n1,Fatigue\n"}, "SRC004",
               {"file": "aes.csv", "row": 1, "field": "onset"}, {"SRC004": 1}),
    RecordCase("empty-source-file", {"aes.csv": ""}, "SRC003", {"file": "aes.csv"},
               {"SRC003": 1}, message_has="empty"),
    RecordCase("numeric-column-with-text", {"pts.csv": PTS.replace("40", "forty")}, "SRC005",
               {"file": "pts.csv", "row": 2, "field": "age", "value": "forty"}, {"SRC005": 1}),
    # one defect, one error: a missing subject id is SRC008, not also SRC006 "required"
    RecordCase("required-value-missing", {"aes.csv": AES + ",Rash,10-JAN-2012\n"}, "SRC008",
               {"file": "aes.csv", "row": 3, "field": "id"}, {"SRC008": 1}),
    RecordCase("duplicate-subject-id-in-source-key", {"pts.csv": PTS + "2,Male,51,05-JAN-2012\n"},
               "SRC007", {"file": "pts.csv", "row": 4, "field": "id", "value": "2"},
               {"SRC007": 2}),
    RecordCase("unquoted-comma-shifts-cells", {"aes.csv": AES + "1,Rash, mild,10-JAN-2012\n"},
               "SRC009", {"file": "aes.csv", "row": 3, "value": "1,Rash, mild,10-JAN-2012"},
               {"SRC009": 1}),
    RecordCase("declared-column-twice-in-header", {"aes.csv": "id,term,onset,term\n"
                                                   "1,Fatigue,09-JAN-2012,Rash\n"},
               "SRC010", {"file": "aes.csv", "row": 1, "field": "term"}, {"SRC010": 1}),
    RecordCase("unparseable-date", {"aes.csv": AES + "1,Rash,2012/01/10\n"}, "MAP002",
               {"file": "aes.csv", "row": 3, "field": "onset", "value": "2012/01/10",
                "dataset": "AE"}, {"MAP002": 1}, message_has="does not match"),
    RecordCase("impossible-date", {"aes.csv": AES + "1,Rash,30-FEB-2012\n"}, "MAP002",
               {"file": "aes.csv", "row": 3, "field": "onset", "value": "30-FEB-2012"},
               {"MAP002": 1}, message_has="not a real calendar date"),
    RecordCase("value-not-in-study-ct", {"pts.csv": PTS.replace("Male", "male")}, "MAP001",
               {"file": "pts.csv", "row": 3, "field": "sex", "value": "male", "dataset": "DM"},
               {"MAP001": 1}),
    RecordCase("duplicate-subject-in-dm", {"pts.csv": PTS + "2,Male,51,05-JAN-2012\n"},
               "MAP011", {"file": "pts.csv", "row": 4, "field": "id", "value": "MINI-002"},
               {"MAP011": 2}, spec=(("    key: [id]\n", ""),)),
    RecordCase("child-record-without-demographics", {"aes.csv": AES + "7,Rash,10-JAN-2012\n"},
               "MAP008", {"file": "aes.csv", "row": 3, "field": "id", "value": "MINI-007",
                          "dataset": "AE"}, {"MAP008": 1}),
    # messages name the source column; one cell mapped into AETERM and AEDECOD is one problem
    RecordCase("non-ascii-character", {"aes.csv": AES + "1,Érythème,10-JAN-2012\n"}, "MAP010",
               {"file": "aes.csv", "row": 3, "field": "term", "value": "Érythème"},
               {"MAP010": 1}),
    RecordCase("text-over-200-bytes-without-split", {"aes.csv": AES + f"1,{LONG},10-JAN-2012\n"},
               "MAP007", {"file": "aes.csv", "row": 3, "field": "term",
                          "value": LONG[:200] + f"… ({len(LONG)} characters)"},
               {"MAP007": 1}, message_has="split_long_text"),
    # row numbers are file lines: a skipped blank line and a quoted cell over two lines count
    RecordCase("row-after-blank-line", {"aes.csv": AES + "\n1,Rash,30-FEB-2012\n"}, "MAP002",
               {"file": "aes.csv", "row": 4, "value": "30-FEB-2012"}, {"MAP002": 1}),
    RecordCase("row-after-multiline-cell",
               {"aes.csv": 'id,term,onset,note\n1,Fatigue,09-JAN-2012,"two\nlines"\n'
                           '1,Rash,31-APR-2012,x\n'},
               "MAP002", {"file": "aes.csv", "row": 4, "value": "31-APR-2012"}, {"MAP002": 1}),
    # a line break inside a declared cell cannot go into SAS transport text
    RecordCase("line-break-in-a-declared-cell",
               {"aes.csv": 'id,term,onset\n1,"Fatigue,\nsevere",09-JAN-2012\n'},
               "SRC011", {"file": "aes.csv", "row": 2, "field": "term"}, {"SRC011": 1}),
]


@pytest.mark.e2e
@pytest.mark.parametrize("case", RECORD_CASES, ids=lambda c: c.id)
def test_broken_record_is_located(tmp_path, case):
    spec = write_study(tmp_path, edit(MINI_SPEC, *case.spec), {**MINI_FILES, **case.files})
    errors, _ = run_broken(spec, tmp_path / "out")
    problem = find(errors, case.code, **case.where)
    assert case.message_has in problem["message"]
    assert errors["counts"] == case.counts


@pytest.mark.e2e
def test_unknown_visit_in_the_example_is_located(tmp_path):
    spec = copy_example(tmp_path)
    responses = spec.parent / "data" / "responses.csv"
    lines = responses.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[1].startswith("1,WEEK 8,")
    lines[1] = lines[1].replace("WEEK 8", "WEEK 9")
    responses.write_text("".join(lines), encoding="utf-8")
    errors, _ = run_broken(spec, tmp_path / "out")
    find(errors, "MAP009", file="responses.csv", row=2, field="visit", value="WEEK 9",
         dataset="RS")
    assert set(errors["counts"]) == {"MAP009"}  # one per RS record made from that row


# -- several problems at once ----------------------------------------------------
@pytest.mark.e2e
def test_several_spec_problems_are_all_reported(tmp_path):
    text = edit(MINI_SPEC,
                (AE_TERM, "AETERM: {algorithm: assign, column: trem}\n"
                          "          AEFOO: {algorithm: assign, column: term}"),
                (SEX_CT, "map: {Female: FEMALE, Male: MALE}"),
                (SITEID, SITEID + "\n          AGEU: {algorithm: hardcode_ct, value: YRS, "
                                  "codelist: AGEU}"))
    spec = write_study(tmp_path, text, MINI_FILES)
    errors, console = run_broken(spec, tmp_path / "out")
    assert errors["counts"] == {"SPEC012": 1, "SPEC014": 1, "SPEC016": 1, "SPEC020": 2}
    assert "5 problem(s) stopped the run" in console
    find(errors, "SPEC020", file="spec.yaml", json_path="$.study_ct.SEX.map.Male",
         **line_and_column(spec.read_text(), "Male: MALE", "Male: MALE"))


@pytest.mark.e2e
def test_several_source_problems_in_several_files_are_all_reported(tmp_path):
    files = {**MINI_FILES, "pts.csv": PTS.replace("40", "forty") + "2,Male,51,05-JAN-2012\n",
             "aes.csv": "id,term\n1,Fatigue\n", "doses.csv": "id,dose,start,stop\n1,3 mg,,\n"}
    spec = write_study(tmp_path, MINI_SPEC, files)
    errors, _ = run_broken(spec, tmp_path / "out")
    assert errors["counts"] == {"SRC004": 1, "SRC005": 2, "SRC007": 2}
    find(errors, "SRC005", file="pts.csv", row=2, field="age", value="forty")
    find(errors, "SRC005", file="doses.csv", row=2, field="dose", value="3 mg")
    find(errors, "SRC004", file="aes.csv", row=1, field="onset")


@pytest.mark.e2e
def test_several_record_problems_are_all_reported_grouped_and_counted(tmp_path):
    files = {**MINI_FILES,
             "pts.csv": "id,sex,age,consent\n1,female,40,01-JAN-2012\n2,Male,50,31-JUN-2012\n",
             "aes.csv": AES + "1,Fatigué,10-JAN-2012\n9,Rash,10-13-2012\n"}
    spec = write_study(tmp_path, MINI_SPEC, files)
    errors, console = run_broken(spec, tmp_path / "out")
    assert errors["counts"] == {"MAP001": 1, "MAP002": 2, "MAP008": 1, "MAP010": 1}
    find(errors, "MAP001", file="pts.csv", row=2, field="sex", value="female")
    find(errors, "MAP002", file="pts.csv", row=3, field="consent", value="31-JUN-2012")
    find(errors, "MAP002", file="aes.csv", row=4, field="onset", value="10-13-2012")
    find(errors, "MAP008", file="aes.csv", row=4, field="id", value="MINI-009")
    find(errors, "MAP010", file="aes.csv", row=3, field="term", value="Fatigué")
    # the table: codes in order, each heading followed by its located problems
    headings = re.findall(r"^(\w+) \((\d+)\): ", console, flags=re.MULTILINE)
    assert headings == [("MAP001", "1"), ("MAP002", "2"), ("MAP008", "1"), ("MAP010", "1")]
    assert "aes.csv, dataset AE, row 4, field onset, value '10-13-2012'" in console


# -- nothing lost, nothing half-written ----------------------------------------------
def previous_output(folder: Path) -> Path:
    """An output folder as a previous run left it."""
    out = folder / "out"
    (out / "sdtm").mkdir(parents=True)
    (out / "sdtm" / "dm.xpt").write_bytes(b"previous run\x00")
    (out / "run-report.json").write_text("{}\n")
    write_marker(out, [out / "sdtm" / "dm.xpt", out / "run-report.json"])
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("broken", ["spec", "source", "record"])
def test_failed_run_leaves_an_existing_output_folder_as_it_was(tmp_path, broken):
    out = previous_output(tmp_path)
    spec_text, files = MINI_SPEC, dict(MINI_FILES)
    if broken == "spec":
        spec_text = edit(MINI_SPEC, (AE_TERM, "AETERM: {algorithm: assign, column: trem}"))
    elif broken == "source":
        files["pts.csv"] = PTS.replace("40", "forty")
    else:
        files["aes.csv"] = AES + "1,Rash,30-FEB-2012\n"
    errors, _ = run_broken(write_study(tmp_path, spec_text, files), out)
    assert len(errors["problems"]) == 1


@pytest.mark.e2e
def test_failure_while_writing_leaves_the_output_folder_and_no_temporary_folder(
        tmp_path, monkeypatch):
    import cdisc.formats.xpt

    out = previous_output(tmp_path)
    real, written = cdisc.formats.xpt.write_xpt, []

    def write_then_fail(frame, path, **kwargs):
        if written:
            raise OutputError.single("OUT002", "disk full (simulated)", file=str(path))
        real(frame, path, **kwargs)
        written.append(path)

    monkeypatch.setattr(cdisc.formats.xpt, "write_xpt", write_then_fail)
    errors, _ = run_broken(write_study(tmp_path, MINI_SPEC, MINI_FILES), out)
    assert written and errors["counts"] == {"OUT002": 1}


@pytest.mark.e2e
def test_successful_run_replaces_the_output_folder_and_leaves_nothing_beside_it(tmp_path):
    out = previous_output(tmp_path)
    result = invoke(write_study(tmp_path, MINI_SPEC, MINI_FILES), out)
    assert result.exit_code == 0, result.output
    files = digest(out)
    assert sorted(f for f in files if f.startswith("sdtm/") and f.endswith(".xpt")) == [
        "sdtm/ae.xpt", "sdtm/dm.xpt", "sdtm/ex.xpt"]
    assert {"sdtm/dm.json", "sdtm/define.xml", "adam/adsl.xpt"} <= set(files)
    assert "run-report.json" in files
    assert (out / "sdtm" / "dm.xpt").read_bytes() != b"previous run\x00"
    assert leftovers(out) == []
    assert not out.with_name("out.errors.json").exists()


KILL_AFTER_SECOND_DATASET = textwrap.dedent("""
    import os, signal, sys
    import cdisc.formats.xpt
    real, written = cdisc.formats.xpt.write_xpt, []
    def write_then_die(*args, **kwargs):
        real(*args, **kwargs)
        written.append(args[1])
        if len(written) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    cdisc.formats.xpt.write_xpt = write_then_die
    import cli
    sys.argv = ["cdisc", "convert", "--spec", sys.argv[1], "--out", sys.argv[2],
                "--workers", sys.argv[3]]
    cli.main()
""")


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_killed_midway_leaves_the_previous_output_byte_identical(tmp_path, workers):
    spec = write_study(tmp_path, MINI_SPEC, MINI_FILES)
    out = tmp_path / "out"
    assert invoke(spec, out).exit_code == 0
    before = digest(out)
    # new data, so a (wrongly) swapped folder would differ
    (tmp_path / "aes.csv").write_text(AES + "2,Rash,22-MAR-2012\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_SECOND_DATASET, str(spec), str(out),
                           workers], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert digest(out) == before
    # the run did die midway: its staging folder holds the datasets it had written (one
    # thread: the first two in order; two threads: the other may have finished one more)
    (staging,) = tmp_path.glob(".out.new-*")
    if workers == "1":
        assert len(list((staging / "sdtm").glob("*.xpt"))) == 2
    else:
        assert 2 <= len(list(staging.rglob("*.xpt"))) <= 3
    # and the next run still works
    assert invoke(spec, out).exit_code == 0 and digest(out) != before


def test_output_names_are_confined_to_the_output_folder(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    assert safe_child(root, "dm.xpt") == (root / "dm.xpt").resolve()
    for name in ("../x.xpt", "../out2/x.xpt", "/etc/x.xpt", "sdtm/../../x.xpt"):
        with pytest.raises(OutputError) as info:
            safe_child(root, name)
        assert info.value.problems[0].code == "OUT001"


# -- reproducible, and every record accounted for ----------------------------------
def reconciliation(console: str) -> dict[str, tuple[int, int, int]]:
    lines = [RECONCILIATION.match(line) for line in console.splitlines()
             if line.startswith("reconciliation")]
    assert all(lines), console
    found = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in lines}
    assert len(found) == len(lines)  # one line per source
    return found


def shuffle_rows(path: Path, seed: int) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    shuffled = frame.sample(frac=1, random_state=seed)
    if len(frame) > 1 and list(shuffled.index) == list(frame.index):
        shuffled = frame.iloc[::-1]
    shuffled.to_csv(path, index=False)


@pytest.fixture(scope="module")
def example_runs(example_output, tmp_path_factory):
    """The example converted as shipped (the session's shared run: read only), and a copy
    of it converted with every source's rows shuffled."""
    runs = {"as-shipped": (example_output.result.spec.path, example_output.out,
                           example_output.console)}
    folder = tmp_path_factory.mktemp("shuffled")
    spec = copy_example(folder)
    for seed, path in enumerate(sorted((spec.parent / "data").glob("*.csv"))):
        before = path.read_text(encoding="utf-8")
        shuffle_rows(path, seed)
        assert path.read_text(encoding="utf-8") != before or csv_records(path) < 2
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)  # as for the shared run
        result = invoke(spec, folder / "out")
    assert result.exit_code == 0, result.output
    runs["shuffled"] = (spec, folder / "out", result.output)
    return runs


@pytest.mark.e2e
def test_shuffled_source_rows_give_byte_identical_outputs(example_runs):
    _, first, _ = example_runs["as-shipped"]
    _, second, _ = example_runs["shuffled"]
    # every XPT and JSON file (the datasets, recist-review.json, run-report.json, ...)
    compared = [f for f in digest(first) if f.endswith((".xpt", ".json"))]
    assert len(compared) >= 12 and {"recist-review.json", "run-report.json"} <= set(compared)
    one, two = digest(first), digest(second)
    assert {f: one[f] for f in compared} == {f: two.get(f) for f in compared}
    assert sorted(one) == sorted(two)


@pytest.mark.e2e
@pytest.mark.parametrize("run", ["as-shipped", "shuffled"])
def test_example_accounts_for_every_source_record(example_runs, run):
    spec, out, console = example_runs[run]
    lines = reconciliation(console)
    report = json.loads((out / "run-report.json").read_text(encoding="utf-8"))
    assert set(lines) == {r["source"] for r in report["reconciliation"]}
    assert len(lines) == 6
    for entry in report["reconciliation"]:
        read, mapped, excluded = lines[entry["source"]]
        assert (read, mapped, excluded) == (entry["read"], entry["mapped"], entry["excluded"])
        assert read == mapped + excluded
        assert read == csv_records(spec.parent / "data" / entry["file"])
    assert report["exclusions"] == []  # every record of the example is used


@pytest.mark.e2e
def test_every_run_prints_reconciliation_and_names_each_excluded_record(tmp_path):
    # a filtered block, and a declared source that no domain uses
    text = edit(MINI_SPEC,
                ("      - source: aes\n",
                 "      - source: aes\n        where: {column: term, equals: Fatigue}\n"),
                ("  aes:\n", "  notes:\n    file: notes.csv\n    subject: id\n"
                             "    columns: {id: {type: string}, text: {type: string}}\n  aes:\n"))
    files = {**MINI_FILES, "notes.csv": "id,text\n1,seen\n2,seen\n"}
    spec = write_study(tmp_path, text, files)
    result = invoke(spec, tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = reconciliation(result.output)
    assert lines == {"pts": (2, 2, 0), "doses": (3, 3, 0), "aes": (4, 2, 2), "notes": (2, 0, 2)}
    report = json.loads((tmp_path / "out" / "run-report.json").read_text(encoding="utf-8"))
    excluded = {(e["source"], e["row"]): e["reason"] for e in report["exclusions"]}
    assert set(excluded) == {("aes", 3), ("aes", 4), ("notes", 2), ("notes", 3)}
    assert "where" in excluded[("aes", 3)] and "Fatigue" in excluded[("aes", 3)]
    assert excluded[("notes", 2)] == "no mapping uses this record"
