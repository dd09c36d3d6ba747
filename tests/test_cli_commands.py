"""cdisc adam, cdisc report and cdisc define on the example's output (issues 10, 11)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import cli
from cdisc.resources import example_spec_path

pytestmark = pytest.mark.e2e


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def test_adam_from_a_folder_of_sdtm_gives_what_convert_derived(example_output, tmp_path):
    sdtm = tmp_path / "sdtm"
    shutil.copytree(example_output.out / "sdtm", sdtm)
    result = run("adam", "--sdtm", str(sdtm), "--out", str(tmp_path / "out"),
                 "--spec", str(example_spec_path()))
    assert result.exit_code == 0, result.output
    for name in ("adsl.xpt", "adrs.xpt", "adtte.xpt"):
        assert (tmp_path / "out" / "adam" / name).read_bytes() == (
            example_output.out / "adam" / name).read_bytes(), name
    assert (tmp_path / "out" / "summary" / "summary.html").is_file()


def test_adam_from_sdtm_csv(example_output, tmp_path):
    import pandas as pd

    sdtm = tmp_path / "sdtm"
    sdtm.mkdir()
    for name in ("dm", "ex", "ds", "rs", "suppex"):
        frame = pd.read_sas(example_output.out / "sdtm" / f"{name}.xpt", format="xport",
                            encoding="ascii")
        frame.to_csv(sdtm / f"{name}.csv", index=False)
    result = run("adam", "--sdtm", str(sdtm), "--out", str(tmp_path / "out"),
                 "--format", "xpt")
    assert result.exit_code in (0, 1), result.output  # default rules; findings allowed
    adsl = pd.read_sas(tmp_path / "out" / "adam" / "adsl.xpt", format="xport", encoding="ascii")
    assert len(adsl) == 10
    assert not list((tmp_path / "out" / "adam").glob("*.json"))


def test_report_with_the_spss_interval(example_output, tmp_path):
    result = run("report", str(example_output.out / "adam"), "--out", str(tmp_path / "rep"),
                 "--median-ci", "spss", "--landmark", "1y", "--landmark", "2y")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["options"]["median_ci"] == "spss"
    assert "0.3–4.5" in (tmp_path / "rep" / "summary.html").read_text(encoding="utf-8")
    bad = run("report", str(example_output.out / "adam"), "--out", str(tmp_path / "r2"),
              "--landmark", "soon")
    assert bad.exit_code == 2


def test_define_regenerates_the_same_define_xml(example_output, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(example_output.out, out)
    (out / "sdtm" / "define.xml").unlink()
    result = run("define", "--data", str(out / "sdtm"), "--spec", str(example_spec_path()))
    assert result.exit_code == 0, result.output
    assert (out / "sdtm" / "define.xml").read_bytes() == (
        example_output.out / "sdtm" / "define.xml").read_bytes()
    assert run("validate", str(out)).exit_code == 0
