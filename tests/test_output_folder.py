"""The staged output folder: killed runs' leftovers are cleaned up or restored."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cli
from cdisc.output.folder import staged_output, write_marker

from helpers import MINI_FILES, MINI_SPEC, write_study


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def ours(folder, **files):
    """A folder as a run of ours leaves it: the files and the marker listing them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    write_marker(folder, [folder / name for name in files])
    return folder


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    out = ours(tmp_path / "out", **{"old.txt": "previous run"})
    stale = ours(tmp_path / f".out.new-{dead_pid()}-abc123", **{"dm.xpt": "half written"})
    with staged_output(out) as staging:
        (staging / "new.txt").write_text("this run")
        write_marker(staging, [staging / "new.txt"])
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == [".cdisc-output.json", "new.txt"]


def test_a_run_killed_mid_swap_gets_its_previous_output_back(tmp_path):
    out = tmp_path / "out"
    # out/ had been moved aside, then kill
    backup = ours(tmp_path / f".out.old-{dead_pid()}-xyz789", **{"dm.xpt": "previous run"})
    with pytest.raises(RuntimeError), staged_output(out):
        raise RuntimeError("this run fails too")
    assert (out / "dm.xpt").read_text() == "previous run"
    assert not backup.exists()


def test_a_live_runs_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "out"
    live = tmp_path / f".out.new-{os.getpid()}-live"
    live.mkdir()
    with staged_output(out) as staging:
        (staging / "x.txt").write_text("x")
    assert live.exists()


@pytest.mark.e2e
def test_a_failed_mapping_run_still_prints_the_reconciliation(tmp_path):
    files = dict(MINI_FILES)
    files["aes.csv"] = """
        id,term,onset
        1,Fatigue,31-FEB-2012
        2,Rash,10-JAN-2012
    """
    spec = write_study(tmp_path, MINI_SPEC, files)
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec), "--out",
                                           str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "reconciliation  aes: 2 read, 2 mapped, 0 excluded" in result.output
    assert "MAP002" in result.output
