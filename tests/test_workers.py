"""Jobs side by side (cdisc.workers): results in order, the first failure in order, the
caller's context, and the same files with one thread or several."""

from __future__ import annotations

import contextvars
import threading

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cdisc.model.text import codes_shared, known_codes, text_codes
from cdisc.workers import Job, available_workers, default_workers, run_jobs, use_workers

from helpers import tree_digest


def test_results_come_back_in_the_order_given_whatever_the_weights():
    jobs = [Job(lambda i=i: i * 10, weight=w) for i, w in enumerate([1, 50, 3, 50, 2])]
    assert run_jobs(jobs, workers=2) == [0, 10, 20, 30, 40]
    assert run_jobs(jobs, workers=1) == [0, 10, 20, 30, 40]
    assert run_jobs([], workers=2) == []


def test_the_costliest_jobs_start_first():
    started: list[str] = []
    both = threading.Barrier(2, timeout=10)  # the two running jobs hold both workers

    def job(name: str, wait: bool) -> str:
        started.append(name)
        if wait:
            both.wait()
        return name

    jobs = [Job(lambda: job("small", False), weight=1), Job(lambda: job("big", True), weight=9),
            Job(lambda: job("middle", True), weight=5)]
    assert run_jobs(jobs, workers=2) == ["small", "big", "middle"]
    assert sorted(started[:2]) == ["big", "middle"] and started[2] == "small"


def test_the_first_failure_in_order_is_raised_after_every_job_ran():
    # job 3 fails first in time (job 1 waits for it), yet job 1's error is the one raised,
    # as with one worker; job 2 and job 4 still run
    late = threading.Event()
    ran: list[int] = []

    def first() -> None:
        late.wait(timeout=10)
        ran.append(1)
        raise KeyError("job 1")

    def third() -> None:
        ran.append(3)
        late.set()
        raise ValueError("job 3")

    jobs = [Job(lambda: ran.append(0)), Job(first), Job(lambda: ran.append(2)), Job(third),
            Job(lambda: ran.append(4))]
    with pytest.raises(KeyError, match="job 1"):
        run_jobs(jobs, workers=2)
    assert sorted(ran) == [0, 1, 2, 3, 4]
    late.clear()
    late.set()  # with one worker job 1 must not wait for job 3, which runs after it
    with pytest.raises(KeyError, match="job 1"):
        run_jobs(jobs, workers=1)


def test_jobs_see_the_callers_context_and_share_its_codes():
    flag: contextvars.ContextVar[str] = contextvars.ContextVar("flag", default="unset")
    column = np.array(["M", "F", None, "M"], dtype=object)
    with codes_shared():
        token = flag.set("set by the caller")
        try:
            seen = run_jobs([Job(flag.get), Job(lambda: text_codes(column))], workers=2)
        finally:
            flag.reset(token)
        assert seen[0] == "set by the caller"
        # coded in a job's thread, known to the caller: each column is coded once per run
        assert known_codes(column) is seen[1]
        assert seen[1].codes.tolist() == [0, 1, -1, 0]


def test_use_workers_sets_the_count_for_the_block():
    assert default_workers() == available_workers()
    assert 1 <= available_workers() <= 4
    with use_workers(1):
        assert default_workers() == 1
        with use_workers(None):
            assert default_workers() == available_workers()
    with pytest.raises(ValueError, match="1 or more"):
        use_workers(0)


@pytest.mark.e2e
def test_convert_writes_the_same_bytes_with_one_thread_or_several(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    one = runner.invoke(cli.main, ["convert", "--out", "one", "--workers", "1", "--quiet"])
    assert one.exit_code == 0, one.output
    four = runner.invoke(cli.main, ["convert", "--out", "four", "--workers", "4", "--quiet"])
    assert four.exit_code == 0, four.output
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "four")
    assert len(list((tmp_path / "one" / "sdtm").glob("*.xpt"))) >= 10
    bad = runner.invoke(cli.main, ["convert", "--out", "none", "--workers", "0"])
    assert bad.exit_code == 2 and "--workers" in bad.output
