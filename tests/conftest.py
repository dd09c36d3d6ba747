"""Fixtures shared by the tests, the Hypothesis profile, and the ``e2e`` marker.

Fast path: ``python -m pytest -m "not e2e"`` runs the unit tests alone (see pyproject).

* The embedded example is converted once per session (:func:`example_output`); tests that
  only read its output use that fixture and are marked ``e2e`` automatically. They must not
  change it: copy the folder (``shutil.copytree``) or the frames (``.copy()``) first; the
  fixture checks at the end of the session that nothing did.
* Hypothesis runs the same examples on every run (``derandomize``) and has no deadline and
  no too-slow health check, so a slow or loaded machine cannot fail a test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

import cdisc.pipeline
import cli
from cdisc.pipeline import ConversionResult

from helpers import MINI_FILES, MINI_SPEC, tree_digest, write_study

# -- Hypothesis --------------------------------------------------------------------------
# "cdisc" (default): reproducible and independent of machine speed. Tests that set their own
# suppress_health_check replace this list, so they name too_slow again.
# "thorough" (HYPOTHESIS_PROFILE=thorough): new random examples, ten times as many.
settings.register_profile(
    "cdisc", deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", settings.get_profile("cdisc"), derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "cdisc"))


# -- markers -----------------------------------------------------------------------------
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads the session's example conversion is an end-to-end test."""
    for item in items:
        if "example_output" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture
def mini_study(tmp_path: Path) -> Path:
    return write_study(tmp_path, MINI_SPEC, MINI_FILES)


@dataclass(frozen=True)
class ExampleOutput:
    """``cdisc convert`` with no options (the embedded example into ./out), run once."""

    cwd: Path  #: the folder the command ran in
    out: Path  #: cwd / "out", the output folder
    result: ConversionResult  #: what cdisc.pipeline.convert returned to the command
    console: str  #: what the command printed (stdout and stderr)
    exit_code: int


@pytest.fixture(scope="session")
def example_output(tmp_path_factory: pytest.TempPathFactory):
    """The embedded example converted once per session, through the command line.

    Read only: copy before changing anything (the output folder or the result's frames).
    """
    cwd = tmp_path_factory.mktemp("example")
    returned: list[ConversionResult] = []
    real = cdisc.pipeline.convert

    def recording(*args, **kwargs) -> ConversionResult:
        returned.append(real(*args, **kwargs))
        return returned[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)  # the header date comes from the spec
        mp.chdir(cwd)
        mp.setattr(cdisc.pipeline, "convert", recording)
        run = CliRunner().invoke(cli.main, ["convert"])
    assert run.exit_code == 0, run.output
    (result,) = returned
    shared = ExampleOutput(cwd, cwd / "out", result, run.output, run.exit_code)
    files = tree_digest(shared.out)
    frames = {name: frame.copy(deep=True) for name, frame in result.sdtm.datasets.items()}
    yield shared
    # no test may have changed what the others read
    assert tree_digest(shared.out) == files, "a test changed the shared example output"
    for name, frame in result.sdtm.datasets.items():
        pd.testing.assert_frame_equal(frame, frames[name], obj=f"shared example {name}")
    assert set(result.sdtm.datasets) == set(frames)
