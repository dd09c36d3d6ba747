"""The summary drawn by a forked worker is the summary drawn here (issue 15), and the files of
a staged output are synced together before the folder is published."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pandas as pd
import pytest

from cdisc.adam import derive_adam
from cdisc.errors import DerivationError, OutputError
from cdisc.formats import atomic
from cdisc.output import summary_job
from cdisc.output.folder import staged_output, write_marker
from cdisc.output.summary import render_summary, write_files
from cdisc.output.summary_job import SummaryJob
from cdisc.pipeline import build

pytestmark = pytest.mark.skipif(not summary_job.can_fork(),
                                reason="a worker is forked on Linux only")


@pytest.fixture(scope="module")
def adam() -> dict[str, pd.DataFrame]:
    spec, sdtm = build()
    return {name: table.frame for name, table in derive_adam(sdtm.tables, spec.adam).items()}


def test_the_worker_draws_the_same_bytes_as_this_process(adam):
    here = render_summary(adam, title="PEComa")
    with SummaryJob() as job:
        assert job.in_worker
        job.submit(adam, title="PEComa")
        there = job.result()
    assert list(there) == list(here) == ["km-os.png", "km-pfs.png", "km-dor.png", "km-tot.png",
                                         "swimmer.png", "summary.json", "summary.md",
                                         "summary.html"]
    assert there == here
    assert threading.active_count() == 1  # the sender thread is done, a later fork is safe


def test_without_a_worker_the_summary_is_drawn_here(adam, tmp_path):
    job = SummaryJob(use_worker=False)
    assert not job.in_worker
    job.submit(adam, title="PEComa")
    written = write_files(job.result(), tmp_path / "summary")
    assert [p.name for p in written][:1] == ["km-os.png"]
    assert (tmp_path / "summary" / "summary.json").read_bytes() == \
        render_summary(adam, title="PEComa")["summary.json"]


def test_a_worker_that_dies_is_replaced_by_this_process(adam, monkeypatch):
    monkeypatch.setattr(summary_job, "_warm_up", lambda: os._exit(3))  # the forked copy dies
    with SummaryJob() as job:
        job.submit(adam, title="PEComa")
        assert job.result() == render_summary(adam, title="PEComa")


def test_a_worker_that_hangs_is_given_up_and_the_summary_drawn_here(adam, monkeypatch):
    import time

    monkeypatch.setattr(summary_job, "WAIT_SECONDS", 0.5)
    monkeypatch.setattr(summary_job, "_warm_up", lambda: time.sleep(60))  # never answers
    started = time.monotonic()
    with SummaryJob() as job:
        job.submit(adam, title="PEComa")
        assert job.result() == render_summary(adam, title="PEComa")
    assert time.monotonic() - started < 30


def test_an_error_in_the_data_is_raised_here_with_its_problems(adam):
    broken = {**adam, "ADTTE": adam["ADTTE"].drop(columns=["CNSR"])}
    with SummaryJob() as job, pytest.raises(DerivationError) as excinfo:
        job.submit(broken)
        job.result()
    assert [p.code for p in excinfo.value.problems] == ["SUM001"]
    assert excinfo.value.problems[0].location.field == "CNSR"


def test_a_job_never_submitted_ends_its_worker():
    job = SummaryJob()
    process = job._child.process
    assert process is not None and process.is_alive()
    job.close()
    assert not process.is_alive()
    with pytest.raises(RuntimeError):
        job.result()


# -- files synced together ---------------------------------------------------------------------
def test_files_of_a_staged_output_are_synced_before_it_is_published(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "out"
    with staged_output(out) as staging:
        (staging / "sdtm").mkdir()
        atomic.write_atomic(staging / "sdtm" / "dm.json", b"{}")
        atomic.write_atomic(staging / "run-report.json", b"{}")
        assert synced == []  # nothing one by one inside the block
        write_marker(staging, [staging / "sdtm" / "dm.json", staging / "run-report.json"])
    names = {Path(p).name for p in synced}
    assert {"dm.json", "run-report.json", "sdtm"} <= names  # the files and their folders
    assert (out / "sdtm" / "dm.json").read_bytes() == b"{}"
    synced.clear()
    atomic.write_atomic(tmp_path / "alone.json", b"[]")  # outside a block: before the rename
    assert [Path(p).name.split(".")[1] for p in synced[:1]] == ["alone"]  # .alone.json.*.tmp
    assert [Path(p).name for p in synced[1:]] == [tmp_path.name]


def test_a_file_that_cannot_be_synced_fails_the_staged_output(tmp_path, monkeypatch):
    def refuse(path: Path):
        return OSError(5, "Input/output error"), path

    monkeypatch.setattr(atomic, "_sync_file", refuse)
    out = tmp_path / "out"
    with pytest.raises(OutputError) as excinfo, staged_output(out) as staging:
        atomic.write_atomic(staging / "dm.json", b"{}")
        write_marker(staging, [staging / "dm.json"])
    assert excinfo.value.problems[0].code == atomic.WRITE_FAILED
    assert "Input/output error" in excinfo.value.problems[0].message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_the_worker_is_sent_only_what_the_summary_reads(adam):
    """ADRS (a record per subject and assessment) goes to the worker with the few
    variables the summary reads; the summary is the same, byte for byte."""
    from cdisc.output.summary import READS, summary_inputs

    sent = summary_inputs(adam)
    assert list(sent["ADRS"].columns) == [c for c in adam["ADRS"].columns if c in READS["ADRS"]]
    assert len(sent["ADRS"].columns) < len(adam["ADRS"].columns)
    assert sent["ADSL"] is adam["ADSL"] and sent["ADTTE"] is adam["ADTTE"]
    assert render_summary(sent, title="PEComa") == render_summary(adam, title="PEComa")
