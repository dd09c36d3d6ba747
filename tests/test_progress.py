"""Progress on stages, --quiet and --verbose (issue 13)."""

from __future__ import annotations

import io
import re
import time

import pytest
from click.testing import CliRunner

import cdisc.pipeline
import cli
from cdisc import progress
from cdisc.progress import ConsoleProgress, Stages


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stages_end_the_one_before():
    seen: list[tuple[str, str]] = []
    stages = Stages(lambda stage, event: seen.append((stage, event)))
    stages.start("spec")
    stages.start("sources")
    stages.done()
    stages.done()  # nothing running: nothing to end
    assert seen == [("spec", "start"), ("spec", "end"), ("sources", "start"),
                    ("sources", "end")]
    Stages(None).start("spec")  # no callback: nothing happens


def test_a_slow_stage_on_a_terminal_gets_a_line_and_its_time():
    stream, clock = io.StringIO(), Clock()
    shown = ConsoleProgress(show=True, delay=0, stream=stream, clock=clock)
    shown("sdtm", "start")
    clock.now += 2.34
    shown("sdtm", "end")
    assert stream.getvalue() == "sdtm            ...\nsdtm            done (2.3 s)\n"


def test_a_quick_stage_gets_no_line():
    stream = io.StringIO()
    shown = ConsoleProgress(show=True, delay=5, stream=stream)
    shown("spec", "start")
    shown("spec", "end")
    shown.close()
    time.sleep(0.01)
    assert stream.getvalue() == ""


def test_verbose_prints_every_stage_time_and_hidden_progress_prints_nothing():
    stream, clock = io.StringIO(), Clock()
    verbose = ConsoleProgress(show=False, verbose=True, stream=stream, clock=clock)
    for stage, seconds in (("spec", 0.5), ("sources", 0.25)):
        verbose(stage, "start")
        clock.now += seconds
        verbose(stage, "end")
    assert stream.getvalue() == ("time            spec          0.50 s\n"
                                 "time            sources       0.25 s\n")
    assert verbose.timings == {"spec": 0.5, "sources": 0.25}
    silent = io.StringIO()
    hidden = ConsoleProgress(show=False, stream=silent)
    hidden("spec", "start")
    hidden("spec", "end")
    assert silent.getvalue() == ""


# --- the command line --------------------------------------------------------------------


@pytest.mark.e2e
def test_quiet_prints_only_the_final_summary_line(mini_study, tmp_path):
    result = CliRunner().invoke(cli.main, ["convert", "-q", "--spec", str(mini_study),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code in (0, 1), result.output
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    assert re.fullmatch(r"validation +\d+ datasets: \d+ error\(s\), \d+ warning\(s\), "
                        r"\d+ notice\(s\): see validation.json", line)


@pytest.mark.e2e
def test_quiet_on_the_group_and_errors_still_shown(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(cli.main, ["-q", "convert", "--spec", str(missing),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "SPEC000" in result.stderr and "spec file not found" in result.stderr


@pytest.mark.e2e
def test_no_progress_when_stderr_is_not_a_terminal(mini_study, tmp_path):
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(mini_study),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code in (0, 1), result.output
    assert "..." not in result.stderr and "done (" not in result.stderr
    assert "time " not in result.stderr


@pytest.mark.e2e
def test_progress_on_a_terminal_and_times_with_verbose(mini_study, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(progress, "SLOW_STAGE_SECONDS", 0)  # every stage counts as slow
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(mini_study),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code in (0, 1), result.output
    stages = re.findall(r"^(\w+) +\.\.\.$", result.stderr, re.M)
    assert stages == ["spec", "sources", "sdtm", "adam", "write", "validate", "reports",
                      "summary"]
    assert len(re.findall(r"^\w+ +done \(\d+\.\d s\)$", result.stderr, re.M)) == len(stages)
    verbose = CliRunner().invoke(cli.main, ["-v", "convert", "--spec", str(mini_study),
                                            "--out", str(tmp_path / "out2")])
    times = re.findall(r"^time +(\w+) +\d+\.\d\d s$", verbose.stderr, re.M)
    assert times == stages


def test_quiet_and_verbose_exclude_each_other(tmp_path):
    result = CliRunner().invoke(cli.main, ["-q", "convert", "-v", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--quiet and --verbose exclude each other" in result.output


@pytest.mark.e2e
def test_the_pipeline_reports_its_stages(mini_study, tmp_path, monkeypatch):
    seen: list[tuple[str, str]] = []
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    cdisc.pipeline.convert(mini_study, out_dir=tmp_path / "out", formats=("xpt",),
                           progress=lambda stage, event: seen.append((stage, event)))
    starts = [stage for stage, event in seen if event == "start"]
    assert starts == ["spec", "sources", "sdtm", "adam", "write", "validate", "reports",
                      "summary"]
    assert [stage for stage, event in seen if event == "end"] == starts


def test_validate_quiet_prints_the_summary_line_only(example_output):
    result = CliRunner().invoke(cli.main, ["validate", str(example_output.out), "--quiet"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("validation      ") and "datasets:" in line
