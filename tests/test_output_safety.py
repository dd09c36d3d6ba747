"""The output folder never costs the user a file (issue 8: data loss), and the run's exit
codes say what happened (interrupt, closed pipe, unwritable output).

Each test states one behaviour a user relies on; the property test at the end points
``--out`` at every folder of a generated study tree and proves that no file outside the
output folder is ever removed or changed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from cdisc.errors import CdiscError, OutputError
from cdisc.output.folder import MARKER, check_output_target, write_marker
from cdisc.pipeline import convert

from helpers import MINI_FILES, MINI_SPEC, REPO, write_study

SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), os.environ.get("PYTHONPATH", "")])}


def snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file and symlink below ``root`` (except below ``skip``), with its content hash."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirs[:] = []
            continue
        for name in [*files, *[d for d in dirs if (here / d).is_symlink()]]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        for name in dirs:
            found.setdefault((here / name).relative_to(root).as_posix() + "/", "dir")
    return found


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, list(args))
    return result.exit_code, result.output


def study(tmp_path: Path) -> Path:
    """A user's study folder: the spec, the sources, and a file of their own."""
    folder = tmp_path / "study"
    spec = write_study(folder, MINI_SPEC, MINI_FILES)
    (folder / "notes.txt").write_text("my notes\n")
    return spec


# -- refused targets: exit 2, one clear problem, nothing touched ---------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("target", ["study folder", "parent of the study", "spec file",
                                    "cwd", "parent of cwd", "root"])
def test_an_output_folder_that_holds_the_study_is_refused(tmp_path, monkeypatch, target):
    spec = study(tmp_path)
    monkeypatch.chdir(tmp_path / "study")
    out = {"study folder": spec.parent, "parent of the study": tmp_path,
           "spec file": spec, "cwd": Path("."), "parent of cwd": Path(".."),
           "root": Path("/")}[target]
    before = snapshot(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec), "--out", str(out))
    assert code == 2, output
    # the spec file is refused by the option's own check ("... is a file"), the rest by ours
    assert ("OUT010" in output and "nothing was changed" in output) or "is a file" in output
    assert "Traceback" not in output
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_source_folder_given_apart_from_the_spec_is_protected_too(tmp_path):
    spec = study(tmp_path)
    data = tmp_path / "elsewhere" / "data"
    data.mkdir(parents=True)
    for name in MINI_FILES:
        os.replace(spec.parent / name, data / name)
    before = snapshot(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec), "--source", str(data),
                           "--out", str(tmp_path / "elsewhere"))
    assert code == 2 and "OUT010" in output
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_symlink_as_output_folder_is_refused_and_its_target_kept(tmp_path):
    spec = study(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("years of work")
    (tmp_path / "out").symlink_to(precious)
    before = snapshot(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert code == 2 and "symbolic link" in output
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_folder_with_files_we_did_not_write_is_refused(tmp_path):
    spec = study(tmp_path)
    out = tmp_path / "results"
    out.mkdir()
    (out / "analysis.R").write_text("library(survival)\n")
    before = snapshot(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec), "--out", str(out))
    assert code == 2 and "no .cdisc-output.json marker" in output
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_file_added_to_an_earlier_output_is_never_deleted(tmp_path):
    spec = study(tmp_path)
    out = tmp_path / "out"
    assert run_cli("convert", "--spec", str(spec), "--out", str(out))[0] == 0
    (out / "sdtm" / "my-derived.csv").write_text("kept\n")
    before = snapshot(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec), "--out", str(out))
    assert code == 2 and "sdtm/my-derived.csv" in output
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_an_earlier_output_of_ours_and_an_empty_folder_are_replaced(tmp_path):
    spec = study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("convert", "--spec", str(spec), "--out", str(out))[0] == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["generator"] == "cdisc-convert"
    assert "sdtm/dm.xpt" in marker["files"] and "run-report.json" in marker["files"]
    assert run_cli("convert", "--spec", str(spec), "--out", str(out))[0] == 0


@pytest.mark.e2e
def test_a_path_under_a_regular_file_is_one_clear_error(tmp_path):
    spec = study(tmp_path)
    code, output = run_cli("convert", "--spec", str(spec),
                           "--out", str(spec.parent / "notes.txt" / "out"))
    assert code == 2 and "OUT010" in output and "is a file" in output
    assert "Traceback" not in output


def test_a_mount_point_is_refused():
    mounts = [p for p in ("/proc", "/sys", "/dev") if os.path.ismount(p)]
    if not mounts:
        pytest.skip("no mount point to test with")
    with pytest.raises(OutputError) as info:
        check_output_target(mounts[0])
    assert "mount point" in info.value.problems[0].message


@pytest.mark.e2e
def test_an_unwritable_output_location_is_one_clear_error(tmp_path, monkeypatch):
    spec = study(tmp_path)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    code, output = run_cli("convert", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert code == 2, output
    assert "OUT011" in output and "Read-only file system" in output
    assert "Traceback" not in output


# -- leftovers of killed runs ----------------------------------------------------------------
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def moved_aside(tmp_path: Path) -> Path:
    """An output a run killed between the two renames of its swap left only aside."""
    backup = tmp_path / f".out.old-{dead_pid()}-abc"
    (backup / "sdtm").mkdir(parents=True)
    (backup / "sdtm" / "dm.xpt").write_text("previous output")
    write_marker(backup, [backup / "sdtm" / "dm.xpt"])
    return backup


@pytest.mark.e2e
def test_a_failing_run_puts_back_an_output_a_killed_run_moved_aside(tmp_path):
    spec = study(tmp_path)
    spec.write_text(spec.read_text().replace("column: term", "column: trem"))
    backup = moved_aside(tmp_path)
    code, _ = run_cli("convert", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert code == 2  # the spec is broken; the output still comes back
    assert (tmp_path / "out" / "sdtm" / "dm.xpt").read_text() == "previous output"
    assert not backup.exists()


def test_validate_puts_back_an_output_a_killed_run_moved_aside(tmp_path):
    backup = moved_aside(tmp_path)
    run_cli("validate", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sdtm" / "dm.xpt").read_text() == "previous output"
    assert not backup.exists()


@pytest.mark.e2e
def test_a_leftover_that_is_not_ours_is_never_removed(tmp_path):
    spec = study(tmp_path)
    lookalike = tmp_path / f".out.new-{dead_pid()}-mine"
    lookalike.mkdir()
    (lookalike / "data.csv").write_text("a user's file\n")
    assert run_cli("convert", "--spec", str(spec), "--out", str(tmp_path / "out"))[0] == 0
    assert (lookalike / "data.csv").read_text() == "a user's file\n"


@pytest.mark.e2e
def test_two_runs_at_the_same_moment_leave_one_complete_output_and_no_leftovers(tmp_path):
    spec = study(tmp_path)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cdisc", "convert", "--spec", str(spec), "--out", str(out)]
    runs = [subprocess.Popen(command, cwd=tmp_path, env=SUBPROCESS_ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    marker = json.loads((out / MARKER).read_text())
    assert sorted(marker["files"]) == sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
        and p.name != MARKER)


# -- exit codes: interrupt, closed pipe ---------------------------------------------------
@pytest.mark.e2e
def test_ctrl_c_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    import cdisc.pipeline
    from cdisc.__main__ import run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cdisc.pipeline, "load_spec", interrupted)
    monkeypatch.setattr(sys, "argv", ["cdisc", "convert", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "cdisc", "convert", "--out",
                             str(tmp_path / "out")], cwd=tmp_path, env=SUBPROCESS_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # past the interpreter's start (slow under load): in our imports or the run
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0 and not err:
        # The example converts in about 1.5 s once installed: a signal that lands while
        # the finished run is shutting down is never handled. The output is then whole.
        assert (tmp_path / "out" / ".cdisc-output.json").is_file()
        pytest.skip("the run finished before the interrupt was handled")
    assert proc.returncode == 130, err
    assert err == "interrupted\n"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging folder left


@pytest.mark.e2e
def test_a_closed_pipe_ends_quietly(tmp_path):
    out = tmp_path / "out"
    assert run_cli("convert", "--spec", str(study(tmp_path)), "--out", str(out))[0] == 0
    proc = subprocess.Popen([sys.executable, "-m", "cdisc", "validate", str(out)],
                            cwd=tmp_path, env=SUBPROCESS_ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head -0`: the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert err == ""


@pytest.mark.e2e
def test_the_command_ends_without_teardown_keeping_its_status_and_output(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "cdisc", "convert", "--spec",
                           str(study(tmp_path)), "--out", str(out)], cwd=tmp_path,
                          env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("validation ")  # flushed before the end
    assert (out / MARKER).is_file()
    refused = subprocess.run([sys.executable, "-m", "cdisc", "validate", str(tmp_path / "no")],
                             cwd=tmp_path, env=SUBPROCESS_ENV, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "VAL001" in refused.stderr


def test_an_uncaught_error_leaves_the_end_to_the_interpreter():
    from cdisc.__main__ import _exit_now

    assert _exit_now([None]) is None  # no status chosen: returns, the process goes on


def test_no_top_level_module_named_cli_is_installed():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "py-modules" not in config["tool"]["setuptools"]
    assert config["project"]["scripts"]["cdisc"] == "cdisc.__main__:main"


# -- the property: no file outside the output folder is ever removed or changed -----------
def study_tree(root: Path) -> tuple[Path, list[Path]]:
    """A user's tree: study/{spec.yaml, data/*.csv, docs/}, a sibling project, symlinks."""
    data = root / "study" / "data"
    spec = write_study(data, MINI_SPEC, MINI_FILES)
    spec = spec.replace(root / "study" / "spec.yaml")
    spec.write_text(spec.read_text().replace("file: ", "file: data/"))
    (root / "study" / "docs").mkdir()
    (root / "study" / "docs" / "protocol.txt").write_text("protocol\n")
    (root / "other").mkdir()
    (root / "other" / "results.csv").write_text("x\n1\n")
    (root / "link-to-study").symlink_to(root / "study")
    (root / "link-to-data").symlink_to(data)
    (root / "link-to-other").symlink_to(root / "other")
    targets = [root, root / "study", data, root / "study" / "docs", root / "other",
               root / "link-to-study", root / "link-to-data", root / "link-to-other",
               root / "study" / "spec.yaml", root / "new-out", data / "out",
               root / "study" / "out", root / "link-to-study" / "out2"]
    return spec, targets


@pytest.mark.e2e
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(choice=st.integers(min_value=0, max_value=12),
       cwd=st.sampled_from(["root", "study", "data", "other"]),
       relative=st.booleans())
def test_no_file_outside_the_output_folder_is_ever_removed_or_changed(choice, cwd, relative):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        spec, targets = study_tree(root)
        here = {"root": root, "study": root / "study", "data": root / "study" / "data",
                "other": root / "other"}[cwd]
        out = targets[choice]
        given_out = Path(os.path.relpath(out, here)) if relative else out
        before = snapshot(root)
        previous = os.getcwd()
        os.chdir(here)
        try:
            convert(spec, out_dir=given_out)
            written = Path(os.path.abspath(given_out)).resolve()
        except CdiscError:
            written = None
        finally:
            os.chdir(previous)
        after = snapshot(root)
        if written is None:
            assert after == before
        else:
            # the run may only have created its own folder; everything else is as it was
            assert written.name in ("new-out", "out", "out2")
            assert {k: v for k, v in after.items()
                    if not (root / k).resolve().is_relative_to(written)} == {
                k: v for k, v in before.items()
                if not (root / k).resolve().is_relative_to(written)}
            assert (written / "sdtm" / "dm.xpt").is_file()


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=40)


@given(_JSON)
def test_reports_written_in_pieces_are_the_bytes_written_whole(payload: object) -> None:
    """Large JSON reports are encoded and written a piece at a time (the RECIST review of
    100,000 subjects is hundreds of megabytes): the file is the one json_bytes makes."""
    from cdisc.formats import atomic

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(atomic, "_PART_CHARS", 7)
        assert b"".join(atomic.json_parts(payload)) == atomic.json_bytes(payload)


_ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
              st.dates()),  # a date has no JSON type: written as its text
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.floats(),
                                  st.booleans(), st.none()), inner, max_size=6)),
    max_leaves=60)


@given(_ANY_JSON, st.integers(0, 4))
def test_the_report_encoder_writes_what_json_dumps_writes(payload: object, streamed: int,
                                                          ) -> None:
    """json_parts renders with its own recursion (the standard library's indenting encoder
    is pure Python): NaN, infinities, -0.0, big integers, tuples, keys that are numbers,
    booleans or None, objects written as text, and lists and objects handed on an item at
    a time give the bytes of json.dumps(indent=2)."""
    from cdisc.formats import atomic

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(atomic, "_STREAMED_ITEMS", streamed)
        assert b"".join(atomic.json_parts(payload)) == atomic.json_bytes(payload)


def test_a_failing_piece_leaves_no_file(tmp_path: Path) -> None:
    from cdisc.formats.atomic import write_atomic_parts

    target = tmp_path / "report.json"
    target.write_bytes(b"old")

    def pieces():
        yield b"{"
        raise OutputError.single("TEST", "a check of the next piece failed")

    with pytest.raises(OutputError):
        write_atomic_parts(target, pieces())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


_CELL = {
    "text": st.one_of(st.none(), st.text(max_size=12)),
    "int": st.one_of(st.none(), st.integers(-10**20, 10**20)),
    "float": st.one_of(st.none(), st.floats(allow_nan=False)),
    "bool": st.one_of(st.none(), st.booleans()),
    "mixed": st.one_of(st.none(), st.text(max_size=4), st.integers(), st.floats(allow_nan=False)),
}


@st.composite
def _records_frames(draw: st.DrawFn):
    import pandas as pd

    rows = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(sorted(_CELL)), max_size=5))
    data = {f"C{i}é" if i % 2 else f"C{i}": pd.Series(
        draw(st.lists(_CELL[kind], min_size=rows, max_size=rows)), dtype=object)
        for i, kind in enumerate(kinds)}
    return pd.DataFrame(data, index=range(rows))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_records_frames(), st.integers(1, 5))
def test_records_rendered_by_column_are_what_json_dumps_writes(frame, rows_per_part) -> None:
    """The RECIST review's rows (JsonRecords) are rendered a column at a time; the text is
    json.dumps(indent=2) of the rows as dicts, at any nesting and part size."""
    from cdisc.formats import atomic

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(atomic.JsonRecords, "ROWS", rows_per_part)
        payload = {"before": {"a": [1, None]}, "rows": atomic.JsonRecords(frame), "after": "x"}
        plain = {**payload, "rows": frame.to_dict(orient="records")}
        assert b"".join(atomic.json_parts(payload)) == atomic.json_bytes(plain)
        assert atomic.json_bytes(payload) == atomic.json_bytes(plain)
