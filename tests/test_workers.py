"""Jobs side by side (cdisc.workers): results in order, the first failure in order, the
caller's context, and the same files with one thread or several."""

from __future__ import annotations

import contextvars
import signal
import threading

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cdisc.formats import atomic
from cdisc.model.text import codes_shared, known_codes, text_codes
from cdisc.workers import (
    Job,
    Stopped,
    available_workers,
    default_workers,
    run_jobs,
    stop_if_asked,
    use_workers,
)

from helpers import tree_digest


def test_results_come_back_in_the_order_given_whatever_the_weights():
    jobs = [Job(lambda i=i: i * 10, weight=w) for i, w in enumerate([1, 50, 3, 50, 2])]
    assert run_jobs(jobs, workers=2) == [0, 10, 20, 30, 40]
    assert run_jobs(jobs, workers=1) == [0, 10, 20, 30, 40]
    assert run_jobs([], workers=2) == []


def test_the_heaviest_start_first_and_never_more_than_the_heaviest_is_in_flight():
    lock = threading.Lock()
    started: list[int] = []
    load, peak = [0], [0]

    def job(weight: int) -> int:
        with lock:
            started.append(weight)
            load[0] += weight
            peak[0] = max(peak[0], load[0])
        threading.Event().wait(0.02)  # so that jobs overlap when they may
        with lock:
            load[0] -= weight
        return weight

    weights = [1, 9, 5, 4, 3, 0]
    assert run_jobs([Job(lambda w=w: job(w), weight=w) for w in weights], workers=2) == weights
    assert sorted(started[:2]) == [0, 9]  # the light job beside the heaviest
    assert peak[0] <= 9  # the heaviest ran with nothing heavy beside it
    assert run_jobs([Job(lambda w=w: job(w), weight=w) for w in weights], workers=4) == weights
    assert peak[0] <= 9


def test_the_first_failure_in_order_is_raised_and_the_jobs_after_it_dropped():
    # job 3 fails first in time (job 1 waits for it), yet job 1's error is the one raised,
    # as with one worker; job 2 still runs, job 4 (after a failure) never starts
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
    assert sorted(ran) == [0, 1, 2, 3]
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


def test_an_interrupted_stage_stops_its_running_jobs_before_it_returns():
    # Ctrl-C reaches the main thread while a job runs; the job stops at its next check,
    # so nothing is still writing when the caller cleans up
    started, seen = threading.Event(), []

    def long_job() -> None:
        started.set()
        try:
            for _ in range(3000):  # at most 30 s; stops within one step once asked
                stop_if_asked()
                threading.Event().wait(0.01)
        except Stopped:
            seen.append("stopped")
            raise

    def interrupt() -> None:
        started.wait(timeout=10)
        threading.Event().wait(0.2)  # the main thread back to waiting for the jobs
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    later = []
    # the later jobs are as heavy as the long one, so they wait for it to end
    jobs = [Job(long_job, weight=3), Job(interrupt)] + [
        Job(lambda: later.append(1), weight=3) for _ in range(20)]
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, workers=2)
    assert seen == ["stopped"]  # ended before run_jobs returned
    assert later == []  # the jobs not started when it was interrupted never ran
    stop_if_asked()  # outside a stopped stage: nothing to raise


def test_a_failed_sync_names_the_first_file_by_name_whatever_wrote_first(tmp_path,
                                                                      monkeypatch):
    files = [tmp_path / name for name in ("c.xpt", "a.xpt", "b.xpt")]
    for file in files:
        file.write_bytes(b"x")
    monkeypatch.setattr(atomic, "_sync_file", lambda path: (OSError(5, "I/O error"), path))
    with pytest.raises(Exception) as raised:
        atomic.sync_all(files)
    assert "a.xpt" in str(raised.value.problems[0])


def test_the_sort_memo_keeps_only_a_frames_own_columns():
    import pandas as pd

    from cdisc.model.text import CodesMemo
    from cdisc.sdtm.engine import _coded_in_order, _text_rank

    memo = CodesMemo()
    numbers = pd.Series([2.0, 1.0, None])  # a Char variable holding numbers
    assert _text_rank(numbers, memo).tolist() == [2, 1, 0]  # missing sorts as ""
    assert _coded_in_order(pd.Series(["b", "a"], dtype="string"), np.arange(2), memo) \
        .tolist() == ["b", "a"]
    texts = pd.Series(["b", "a", "b"], dtype=object)
    assert _text_rank(texts, memo).tolist() == [1, 0, 1]
    # the arrays made for one call are not kept alive; the frame's own column is
    assert [values is texts.to_numpy() for values, _ in memo._text.values()] == [True]


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


def test_the_command_keeps_one_malloc_heap_unless_the_user_chose(monkeypatch):
    import platform
    import sys

    from cdisc.heap import one_heap

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert one_heap() is False  # the user's setting stands
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert one_heap() is True


def test_the_heap_is_trimmed_between_stages_on_glibc():
    import platform
    import sys

    from cdisc.heap import trim_heap

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert trim_heap() is glibc or not glibc
