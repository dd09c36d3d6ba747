"""``cdisc inspect`` and the Python API (issue 13): what they show is what the files hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyreadstat
import pytest
from click.testing import CliRunner

import cdisc
import cdisc.pipeline
from cdisc.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded example converted into a folder of this module's own."""
    out = tmp_path_factory.mktemp("inspect") / "out"
    cdisc.pipeline.convert(out_dir=out)
    return out


def _invoke(*args: str):
    return CliRunner().invoke(main, ["inspect", *args])


def test_xpt_shows_label_counts_and_lengths_as_pyreadstat_reads_them(converted: Path):
    path = converted / "sdtm" / "dm.xpt"
    frame, meta = pyreadstat.read_xport(str(path))
    document = cdisc.inspect(path)
    assert (document["name"], document["label"]) == ("DM", meta.file_label)
    assert document["records"] == len(frame) == 10
    assert [v["name"] for v in document["variables"]] == list(frame.columns)
    by_name = {v["name"]: v for v in document["variables"]}
    assert by_name["USUBJID"]["length"] == meta.variable_storage_width["USUBJID"]
    assert by_name["AGE"] == {"name": "AGE", "label": "Age", "type": "Num",
                              "length": meta.variable_storage_width["AGE"], "format": ""}
    assert by_name["USUBJID"]["type"] == "Char"
    assert [r["USUBJID"] for r in document["rows"]] == list(frame["USUBJID"][:5])

    run = _invoke(str(path), "--rows", "2")
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    assert lines[0].split() == ["dataset", "DM", "Demographics"]
    assert "records    10" in lines
    usubjid = next(line for line in lines if re.match(r"\s*\d+\s+USUBJID\s", line))
    assert usubjid.split()[-2:] == ["Char", str(meta.variable_storage_width["USUBJID"])]
    assert "first 2 of 10 records" in run.output
    assert run.output.count("PECOMA-MTOR-00") == 2


def test_display_formats_of_adam_dates(converted: Path):
    document = cdisc.inspect(converted / "adam" / "adsl.xpt", rows=0)
    _, meta = pyreadstat.read_xport(str(converted / "adam" / "adsl.xpt"), metadataonly=True)
    formats = {v["name"]: v["format"] for v in document["variables"]}
    dated = [name for name, f in meta.original_variable_types.items()
             if (f or "").startswith("DATE")]
    assert dated and all(formats[name].startswith("DATE") for name in dated)
    assert document["rows"] == []


def test_json_parses_and_agrees_with_the_api(converted: Path):
    path = converted / "sdtm" / "ae.json"
    run = _invoke(str(path), "--json")
    assert run.exit_code == 0, run.output
    document = json.loads(run.output)
    assert document == json.loads(json.dumps(cdisc.inspect(path)))
    assert list(document) == ["kind", "path", "file_format", "name", "label", "records",
                              "variables", "rows"]
    assert (document["kind"], document["file_format"], document["name"]) == (
        "dataset", "json", "AE")
    assert document["records"] == cdisc.inspect(converted / "sdtm" / "ae.xpt")["records"]
    assert len(document["rows"]) == 5


def test_a_folder_has_one_line_per_dataset(converted: Path):
    run = _invoke(str(converted))
    assert run.exit_code == 0, run.output
    dm = next(line for line in run.output.splitlines() if line.startswith("DM "))
    assert dm.split()[:2] == ["DM", "Demographics"]
    assert "10" in dm.split() and "sdtm/dm.xpt" in dm
    document = json.loads(_invoke(str(converted), "--json").output)
    assert document["kind"] == "folder"
    names = [d["name"] for d in document["datasets"]]
    assert len(names) == len(set(names)) and {"DM", "AE", "ADSL", "ADTTE"} <= set(names)
    dm_entry = next(d for d in document["datasets"] if d["name"] == "DM")
    assert dm_entry["file"] == "sdtm/dm.xpt" and dm_entry["also"] == ["sdtm/dm.json"]
    assert dm_entry["variables"] == 25
    assert "validation.json" in document["skipped"] and document["problems"] == []


def test_an_escape_in_a_value_is_printed_escaped(converted: Path, tmp_path: Path):
    document = json.loads((converted / "sdtm" / "dm.json").read_text(encoding="utf-8"))
    document["itemGroupOID"] = document.get("itemGroupOID", "IG.DM")
    document["label"] = "Demo\x1b]0;pwned\x07graphics"
    document["rows"][0][2] = "PECOMA\x1b[2J-001"
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    run = _invoke(str(path))
    assert run.exit_code == 0, run.output
    assert "\x1b" not in run.output and "\x07" not in run.output
    assert "PECOMA\\x1b[2J-001" in run.output
    assert "Demo\\x1b]0;pwned\\x07graphics" in run.output
    machine = _invoke(str(path), "--json")
    assert "\x1b" not in machine.output
    assert json.loads(machine.output)["rows"][0]["USUBJID"] == "PECOMA\x1b[2J-001"


def test_an_escape_in_a_csv_value_and_name(tmp_path: Path):
    path = tmp_path / "xx.csv"
    path.write_text("STUDYID,NOTE\x1b[31m\nS1,red\x1b[31malert\n", encoding="utf-8")
    run = _invoke(str(path))
    assert run.exit_code == 0, run.output
    assert "\x1b" not in run.output
    assert "NOTE\\x1b[31m" in run.output and "red\\x1b[31malert" in run.output


@pytest.mark.parametrize("content,suffix", [(b"garbage", ".xpt"), (b"{\"a\": 1}", ".json"),
                                            (b"", ".ndjson"), (b"x", ".sas7bdat")])
def test_an_unreadable_file_exits_2_with_one_line(tmp_path: Path, content: bytes,
                                                  suffix: str):
    path = tmp_path / f"bad\x1b{suffix}"
    path.write_bytes(content)
    run = CliRunner().invoke(main, ["inspect", str(path)])
    assert run.exit_code == 2
    lines = run.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "\x1b" not in run.output
    with pytest.raises(cdisc.errors.CdiscError):
        cdisc.inspect(path)


def test_a_missing_path_exits_2(tmp_path: Path):
    run = _invoke(str(tmp_path / "nope.xpt"))
    assert run.exit_code == 2 and len(run.output.splitlines()) == 1


def test_a_folder_with_an_unreadable_file_lists_it_and_exits_2(converted: Path,
                                                              tmp_path: Path):
    shutil.copy(converted / "sdtm" / "dm.xpt", tmp_path / "dm.xpt")
    (tmp_path / "ae.xpt").write_bytes(b"not xpt")
    run = _invoke(str(tmp_path))
    assert run.exit_code == 2
    assert "DM " in run.output and "ae.xpt" in run.output and "XPT_NOT_V5" in run.output


# --- the Python API ------------------------------------------------------------------------

def _readme_api_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_api_example_runs(tmp_path: Path):
    code = _readme_api_example()
    assert "cdisc.convert(" in code and "cdisc.validate(" in code
    assert "cdisc.inspect(" in code and "cdisc.adam(" in code
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Demographics 10" in run.stdout
    assert (tmp_path / "study-out" / "sdtm" / "dm.xpt").is_file()
    assert (tmp_path / "adam-out" / "adam" / "adsl.xpt").is_file()


def test_import_cdisc_is_light_and_the_api_names_survive_subpackage_imports():
    code = ("import sys, cdisc; heavy = [m for m in ('pandas', 'cdisc.pipeline', 'click') "
            "if m in sys.modules]; assert not heavy, heavy; "
            "import cdisc.validate, cdisc.adam, cdisc.pipeline; "
            "import cdisc.validate as v; "
            "assert callable(cdisc.validate) and callable(cdisc.adam); "
            "assert v.validate_folder is sys.modules['cdisc.validate'].validate_folder; "
            "assert cdisc.adam.derive_adam is sys.modules['cdisc.adam'].derive_adam")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr


def test_api_options_as_the_cli_spells_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    seen = {}

    def fake_convert(spec_path, **kwargs):
        seen.update(kwargs, spec_path=spec_path)
        return "result"

    monkeypatch.setattr(cdisc.pipeline, "convert", fake_convert)
    assert cdisc.convert("s.yaml", "src", tmp_path, format="xpt", ct_version="x") == "result"
    assert seen == {"spec_path": "s.yaml", "source_dir": "src", "out_dir": tmp_path,
                    "formats": ("xpt",), "ct_version": "x"}


def test_validate_of_the_api_is_the_command(converted: Path):
    result = cdisc.validate(converted / "sdtm")
    assert not result.has_errors
    assert {d.name for d in result.datasets} >= {"DM", "AE"}
