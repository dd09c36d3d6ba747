"""Stages computed by a forked child (issue 15): the same result as in this process, the
same error when the child fails, and only where a fork is worth it."""

from __future__ import annotations

import os
import sys

import pytest
from click.testing import CliRunner

import cli
from cdisc import forked, pipeline
from cdisc.errors import DerivationError
from cdisc.forked import ForkedCall, worth_forking
from cdisc.formats.folder import read_dataset_folder
from cdisc.validate.define_checks import load_defines
from cdisc.validate.engine import dataset_rules, rule_findings, validate_datasets
from cdisc.workers import use_workers

from helpers import tree_digest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="a child is forked on Linux only")


def test_the_call_is_made_by_a_child_and_its_result_comes_back():
    job = ForkedCall(lambda: (os.getpid(), [1, 2, 3]))
    assert job.in_child
    pid, value = job.result()
    assert pid != os.getpid() and value == [1, 2, 3]
    assert not job.in_child  # the child is ended once it answered


def test_without_a_child_the_call_is_made_here():
    job = ForkedCall(lambda: os.getpid(), use_child=False)
    assert not job.in_child
    assert job.result() == os.getpid()


def test_a_failing_call_raises_here_the_error_it_raises_in_this_process():
    def derive() -> None:
        raise DerivationError.single("ADAM001", "no ADSL", dataset="ADSL")

    job = ForkedCall(derive)
    with pytest.raises(DerivationError) as excinfo:
        job.result()
    assert [p.code for p in excinfo.value.problems] == ["ADAM001"]


def test_a_child_that_dies_is_replaced_by_this_process():
    parent = os.getpid()

    def call() -> int:
        if os.getpid() != parent:
            os._exit(3)  # the forked copy dies without answering
        return 7

    assert ForkedCall(call).result() == 7


def test_a_child_that_hangs_is_given_up(monkeypatch):
    import time

    parent = os.getpid()
    monkeypatch.setattr(forked, "WAIT_SECONDS", 0.5)

    def call() -> str:
        if os.getpid() != parent:
            time.sleep(60)
        return "here"

    started = time.monotonic()
    assert ForkedCall(call).result() == "here"
    assert time.monotonic() - started < 30


def test_a_fork_is_worth_it_only_for_enough_records_in_a_small_run(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    with use_workers(2):
        assert worth_forking(forked.MIN_RECORDS)
        assert not worth_forking(forked.MIN_RECORDS - 1)  # ends before a fork pays
        monkeypatch.setattr(forked, "SMALL_RUN_BYTES", 1)
        assert not worth_forking(10**9)  # a large run keeps to one process's memory
    monkeypatch.setattr(forked, "SMALL_RUN_BYTES", 1 << 40)
    with use_workers(1):
        assert not worth_forking(10**9)  # --workers 1: one process
    monkeypatch.setattr(forked, "can_fork", lambda: False)  # threads running, or not Linux
    with use_workers(2):
        assert not worth_forking(10**9)


def test_a_stage_shown_on_a_terminal_leaves_no_thread_once_it_ends():
    """The command line's progress line is a timer thread; a stage is forked only after the
    one before has ended, and then no such thread may be left (can_fork needs none)."""
    import io
    import threading

    from cdisc.progress import ConsoleProgress, Stages

    before = threading.active_count()
    stages = Stages(ConsoleProgress(show=True, delay=60, stream=io.StringIO()))
    stages.start("sdtm")
    assert threading.active_count() == before + 1
    stages.done()
    assert threading.active_count() == before


# -- validation split around define.xml ---------------------------------------------------------
@pytest.fixture(scope="module")
def example_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("forked") / "out"
    result = pipeline.convert(out_dir=out, workers=1)
    return out, result


def test_rules_run_before_define_xml_exists_give_the_findings_of_a_whole_validation(
        example_output):
    out, _ = example_output
    folder = read_dataset_folder(out)
    frames = {name: frame.copy() for name, frame in folder.frames.items()}
    frames["DM"].loc[0, "SEX"] = "Q"  # not a term of SEX (CV0103)
    frames["TS"].loc[0, "TSPARMCD"] = "ZZZZ"  # a term neither in CT nor in define.xml
    frames["ADSL"].loc[1, "AGE"] = 99.0  # differs from DM (CV0803)
    defines = load_defines(out, frames, folder.files)
    whole = validate_datasets(frames, standard_hint=folder.hints, defines=defines)
    found = rule_findings(frames, dataset_rules(), standard_hint=folder.hints)
    # CV0110 reads define.xml for a term not in CT, the CV12xx rules always: run later
    assert "CV0110" not in found and "CV1202" not in found
    assert found["CV0103"] and found["CV0803"]
    split = validate_datasets(frames, standard_hint=folder.hints, defines=defines, found=found)
    assert split.findings == whole.findings
    assert {"CV0103", "CV0110", "CV0803", "CV1209"} <= {p.code for p in whole.findings}
    assert [r.id for r in split.rules] == [r.id for r in whole.rules]
    # without define.xml, CV0110 also reports the TS terms that the define.xml declares
    bare = validate_datasets(frames, standard_hint=folder.hints)
    assert [p.code for p in bare.findings].count("CV0110") > \
        [p.code for p in whole.findings].count("CV0110") > 0


@pytest.mark.e2e
def test_convert_writes_the_same_bytes_with_its_stages_forked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls: list[int] = []

    def always(records: int) -> bool:
        calls.append(records)
        return True

    monkeypatch.setattr(pipeline, "worth_forking", always)
    parent, made_here = os.getpid(), []
    real_init = ForkedCall.__init__

    def recorded(self, call, use_child=True):  # notes a call made here, not by the child
        def call_noted():
            if os.getpid() == parent:
                made_here.append(call)
            return call()
        real_init(self, call_noted, use_child)

    monkeypatch.setattr(ForkedCall, "__init__", recorded)
    runner = CliRunner()
    forked_run = runner.invoke(cli.main, ["convert", "--out", "forked", "--quiet"])
    assert forked_run.exit_code == 0, forked_run.output
    assert len(calls) == 2  # the RECIST review and the rules on the datasets
    assert made_here == []  # both came from their children
    monkeypatch.setattr(pipeline, "worth_forking", lambda records: False)
    here = runner.invoke(cli.main, ["convert", "--out", "here", "--quiet"])
    assert here.exit_code == 0, here.output
    assert tree_digest(tmp_path / "forked") == tree_digest(tmp_path / "here")
    assert (tmp_path / "forked" / "recist-review.json").stat().st_size > 10_000
