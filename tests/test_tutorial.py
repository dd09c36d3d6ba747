"""docs/tutorial.md, run command by command: what it shows is what the commands print."""

from __future__ import annotations

import difflib
import importlib.util
import shutil
import sys

import pytest

from helpers import REPO

pytestmark = pytest.mark.e2e

spec = importlib.util.spec_from_file_location("tutorial", REPO / "tools" / "tutorial.py")
tutorial = importlib.util.module_from_spec(spec)
sys.modules["tutorial"] = tutorial  # dataclasses look their module up there
spec.loader.exec_module(tutorial)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    if shutil.which("cdisc") is None:
        pytest.skip("the cdisc command is not installed")
    folder = tmp_path_factory.mktemp("tutorial")
    text = tutorial.DOC.read_text(encoding="utf-8")
    return text, tutorial.replay(text, folder), folder


def test_every_command_prints_what_the_tutorial_shows(replayed):
    text, fresh, _ = replayed
    stale = "".join(difflib.unified_diff(text.splitlines(keepends=True),
                                         fresh.splitlines(keepends=True),
                                         "docs/tutorial.md", "as run now"))
    assert not stale, f"the tutorial is out of date (python tools/tutorial.py --update):\n{stale}"


def test_the_finished_spec_converts_with_no_validation_errors(replayed):
    import json
    _, _, folder = replayed
    report = json.loads((folder / "out" / "validation.json").read_text(encoding="utf-8"))
    assert report["summary"] == {"error": 0, "warning": 0, "notice": 0}
    assert report["findings"] == []
    datasets = {d["name"] if isinstance(d, dict) else d for d in report["datasets"]}
    assert {"DM", "EX", "AE", "DS", "TU", "TR", "RS", "ADSL", "ADRS", "ADTTE"} <= datasets


def test_the_shown_edits_are_the_diff_from_the_starter_to_the_shipped_spec(replayed):
    text, _, _ = replayed
    diff = [b for b in tutorial.blocks(text) if b.kind == "diff"]
    assert len(diff) == 1 and diff[0].lines[0].startswith("--- angio.yaml")
