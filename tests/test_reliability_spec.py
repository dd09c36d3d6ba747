"""Issue #8 (Reliability), spec and dates: hostile or unlucky input gives ONE located problem.

Each test names the item of the issue it covers. A failure is a single
:class:`SpecError` problem (exit 2 through the command line, never a traceback),
located at the spec file with line and column where one exists:

* nesting deeper than ``limits.spec_depth`` (400 nested brackets were a
  2,975-line RecursionError);
* a number longer than ``limits.spec_number_digits`` (a 5,000-digit integer was a
  traceback), and ``.nan`` / ``.inf`` / ``1e400`` (``spec check`` said OK);
* a spec that is not a regular file (``/dev/zero``, a FIFO: read forever) or is
  larger than ``limits.spec_bytes``;
* ``SOURCE_DATE_EPOCH`` out of range (a traceback) or not a number (ignored), and
  ``created`` outside the years an XPT header holds (caught only by the writer);
* a ``usubjid_separator`` that is not printable ASCII (caught only at output);
* year 0000 (``UN-JAN-0000`` was written as ``0000-01``) and seconds 60-99 (caught
  only by the validator), rejected at mapping with the source row; dates outside
  pandas' 1677-2262 (``31-DEC-9999``) are real dates, with study days and EPOCH;
* a date format that can never match (``DD/MM/YYY``) is a spec error at its line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc.errors import CdiscError, SpecError
from cdisc.limits import Limits
from cdisc.pipeline import build
from cdisc.sdtm.dates import check_format, iso_period, iso_to_date, study_day, to_iso8601
from cdisc.sdtm.derivations import epoch
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, REPO, write_study

CREATED_LINE = '  created: "2013-02-01T00:00:00"\n'


# -- helpers -------------------------------------------------------------------
def spec_file(folder: Path, text: str = MINI_SPEC, files: dict[str, str] = MINI_FILES) -> Path:
    return write_study(folder, text, files)


def raw_spec(folder: Path, text: str) -> Path:
    """A spec file holding exactly ``text`` (no dedent), beside the mini study's sources."""
    path = spec_file(folder)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def the_problem(path: Path, **kwargs) -> tuple[str, object]:
    """The one problem loading ``path`` gives: (code, location)."""
    with pytest.raises(SpecError) as info:
        load_spec(path, **kwargs)
    problems = info.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0].code, problems[0]


def spec_check(path: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``cdisc spec check`` through the command line: exit code and everything printed."""
    result = CliRunner().invoke(cli.main, ["spec", "check", str(path)], env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, output


def check_in_subprocess(path: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``spec check`` in a child process with a time and memory bound (the old code hung)."""
    def bound_memory() -> None:  # pragma: no cover - runs in the child
        import resource

        four_gb = 4 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (four_gb, four_gb))

    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "spec", "check", path],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        preexec_fn=bound_memory if os.name == "posix" else None,
    )


# -- 1. nesting depth ------------------------------------------------------------
def test_400_nested_brackets_are_one_located_spec001(tmp_path):
    path = raw_spec(tmp_path, "spec_version: 1\nstudy: " + "[" * 400 + "]" * 400 + "\n")
    code, problem = the_problem(path)
    assert code == "SPEC001"
    limit = Limits().spec_depth
    # the first node too deep: the map is level 1, so bracket number `limit` opens level limit+1
    assert (problem.location.line, problem.location.column) == (2, len("study: ") + limit)
    assert f"more than {limit} deep" in problem.message
    assert "--limit spec_depth=" in problem.message
    exit_code, output = spec_check(path)
    assert exit_code == 2 and "SPEC001" in output
    assert output.count("\n") < 20  # one problem, not a 2,975-line traceback


def test_deep_block_nesting_is_located_too(tmp_path):
    text = "spec_version: 1\nstudy:\n" + "".join(
        "  " * level + f"k{level}:\n" for level in range(1, 100)) + "  " * 100 + "leaf: 1\n"
    code, problem = the_problem(raw_spec(tmp_path, text))
    assert code == "SPEC001" and problem.location.line is not None
    assert problem.location.line == 2 + Limits().spec_depth


def test_the_depth_limit_can_be_raised_and_lowered(tmp_path):
    path = raw_spec(tmp_path, "spec_version: 1\nstudy: " + "[" * 10 + "]" * 10 + "\n")
    code, problem = the_problem(path, limits=Limits(spec_depth=5))
    assert code == "SPEC001" and "more than 5 deep" in problem.message
    with pytest.raises(SpecError) as info:
        load_spec(path, limits=Limits(spec_depth=64))
    # nesting accepted: only the schema complains (`study` is no list, sources missing)
    assert {p.code for p in info.value.problems} == {"SPEC002"}


def test_nesting_built_up_through_aliases_is_bounded_too(tmp_path):
    lines = ["spec_version: 1", "l0: &l0 " + "[" * 40 + "]" * 40]
    lines += [f"l{i}: &l{i} " + "[" * 40 + f"*l{i - 1}" + "]" * 40 for i in range(1, 30)]
    code, problem = the_problem(raw_spec(tmp_path, "\n".join(lines) + "\n"))
    assert code == "SPEC001" and "more than 64 deep" in problem.message
    assert problem.location.line is not None and problem.location.json_path.startswith("$.l1[0]")


def test_depth_beyond_pythons_stack_is_a_located_spec001_not_a_recursion_error(tmp_path):
    path = raw_spec(tmp_path, "spec_version: 1\nstudy: " + "[" * 5000 + "]" * 5000 + "\n")
    code, problem = the_problem(path, limits=Limits(spec_depth=1_000_000))
    assert code == "SPEC001"
    assert problem.location.line == 2 and problem.location.column is not None
    assert "nested too deeply" in problem.message


# -- 2. numbers -------------------------------------------------------------------
def test_5000_digit_integer_is_refused_at_its_line(tmp_path):
    text = MINI_SPEC.replace("visits:", "x:") + "visits: {BASELINE: " + "9" * 5000 + "}\n"
    path = spec_file(tmp_path, text)
    code, problem = the_problem(path)
    assert code == "SPEC033"
    assert problem.location.line == line_of(path, "visits: {BASELINE: 999")
    assert problem.location.column == len("visits: {BASELINE: ") + 1
    assert "5000 digits" in problem.message and "--limit spec_number_digits=" in problem.message
    assert len(problem.message) < 300  # the number itself is not echoed
    exit_code, output = spec_check(path)
    assert exit_code == 2 and "SPEC033" in output


@pytest.mark.parametrize("number", ["0x" + "f" * 5000, "1." + "0" * 5000, "-" + "1" * 41])
def test_other_long_numbers_are_refused(tmp_path, number):
    path = spec_file(tmp_path, MINI_SPEC + f"visits: {{BASELINE: {number}}}\n")
    code, problem = the_problem(path)
    assert code == "SPEC033" and problem.location.line == line_of(path, "visits:")


def test_number_digit_limit_is_the_configured_one(tmp_path):
    path = spec_file(tmp_path, MINI_SPEC + "visits: {BASELINE: 123456}\n")
    code, problem = the_problem(path, limits=Limits(spec_number_digits=5))
    assert code == "SPEC033" and "at most 5" in problem.message
    assert load_spec(path).visits == {"BASELINE": 123456}


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "1e400", "-1e400"])
def test_non_finite_visit_numbers_are_refused_at_their_line(tmp_path, value):
    path = spec_file(tmp_path, MINI_SPEC + f"visits:\n  BASELINE: 0\n  WEEK 8: {value}\n")
    code, problem = the_problem(path)
    assert code == "SPEC033"
    assert (problem.location.line, problem.location.column) == (
        line_of(path, "WEEK 8:"), len("  WEEK 8: ") + 1)
    assert "not a finite number" in problem.message
    exit_code, output = spec_check(path)  # `spec check` said OK for NaN and 1e400
    assert exit_code == 2 and "SPEC033" in output and "OK" not in output


def test_finite_numbers_and_quoted_text_still_load(tmp_path):
    path = spec_file(tmp_path, MINI_SPEC + 'visits: {BASELINE: 0, WEEK 8: 8.5, BIG: 1e300}\n')
    assert load_spec(path).visits == {"BASELINE": 0, "WEEK 8": 8.5, "BIG": 1e300}


def test_an_impossible_unquoted_yaml_date_is_located_not_a_traceback(tmp_path):
    path = spec_file(tmp_path, MINI_SPEC.replace('data_cutoff: "2013-01-31"',
                                                 "data_cutoff: 2013-02-30"))
    code, problem = the_problem(path)
    assert code == "SPEC001" and problem.location.line == line_of(path, "data_cutoff:")


# -- 3. what the spec file is ---------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_spec_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    # first in a child with a timeout: opening the FIFO would block for ever
    done = check_in_subprocess(str(fifo))
    assert done.returncode == 2 and "SPEC000" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    code, problem = the_problem(fifo)
    assert code == "SPEC000" and "FIFO" in problem.message


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_as_spec_is_refused(tmp_path):
    # first in a child with a memory bound: reading /dev/zero never ends
    done = check_in_subprocess("/dev/zero")
    assert done.returncode == 2 and "SPEC000" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    code, problem = the_problem(Path("/dev/zero"))
    assert code == "SPEC000" and "device" in problem.message


def test_a_folder_as_spec_is_refused(tmp_path):
    code, problem = the_problem(tmp_path)
    assert code == "SPEC000" and "folder" in problem.message


def test_a_spec_over_spec_bytes_is_refused_naming_the_limit(tmp_path):
    path = spec_file(tmp_path)
    size = path.stat().st_size
    code, problem = the_problem(path, limits=Limits(spec_bytes=size - 1))
    assert code == "SPEC000"
    assert f"larger than {size - 1} bytes" in problem.message
    assert "--limit spec_bytes=N" in problem.message
    assert load_spec(path, limits=Limits(spec_bytes=size)).study.studyid == "MINI"


def test_a_spec_over_the_default_spec_bytes_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(Limits().spec_bytes + 1)  # a hole: only the size is looked at
    code, problem = the_problem(path)
    assert code == "SPEC000" and "spec_bytes" in problem.message


def test_crlf_and_cr_line_ends_still_read_as_before(tmp_path):
    path = spec_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert load_spec(path).study.studyid == "MINI"
    path.write_bytes(text.replace("\n", "\r").encode("utf-8"))
    assert load_spec(path).study.studyid == "MINI"


# -- 4. created and SOURCE_DATE_EPOCH -------------------------------------------------------
@pytest.mark.parametrize("value", ["99999999999999999", "9" * 5000, "-99999999999",
                                   "2840140800"])
def test_source_date_epoch_out_of_range_is_one_error_naming_it(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    path = spec_file(tmp_path)
    code, problem = the_problem(path)
    assert code == "SPEC030" and "SOURCE_DATE_EPOCH" in problem.message
    assert problem.location.field == "SOURCE_DATE_EPOCH"
    assert len(str(problem.location.value)) < 300
    exit_code, output = spec_check(path, env={"SOURCE_DATE_EPOCH": value})
    assert exit_code == 2 and "SOURCE_DATE_EPOCH" in output


@pytest.mark.parametrize("value", ["abc", "1.5", "1e9", "0x10", "²"])
def test_non_numeric_source_date_epoch_is_an_error_not_ignored(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    code, problem = the_problem(spec_file(tmp_path))
    assert code == "SPEC030" and "whole number of seconds" in problem.message


@pytest.mark.parametrize("value, expected", [
    ("1362096000", "2013-03-01T00:00:00"),
    (" 1362096000 ", "2013-03-01T00:00:00"),
    ("-315619200", "1960-01-01T00:00:00"),
    ("2840140799", "2059-12-31T23:59:59"),
    ("", "2013-02-01T00:00:00"),  # empty: unset, the spec's created
])
def test_valid_source_date_epoch_still_wins(tmp_path, monkeypatch, value, expected):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert load_spec(spec_file(tmp_path)).study.created.isoformat() == expected


@pytest.mark.parametrize("created", ["2100-01-01T00:00:00", "2060-01-01", "1959-12-31T23:59:59",
                                     "0001-01-01"])
def test_created_outside_the_xpt_years_is_refused_at_its_line(tmp_path, monkeypatch, created):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    path = spec_file(tmp_path, MINI_SPEC.replace("2013-02-01T00:00:00", created))
    code, problem = the_problem(path)
    assert code == "SPEC030"
    assert problem.location.line == line_of(path, "created:")
    assert problem.location.json_path == "$.study.created"
    assert "1960-2059" in problem.message


@pytest.mark.parametrize("created", ["1960-01-01T00:00:00", "2059-12-31T23:59:59"])
def test_created_at_the_edges_of_the_xpt_years_loads(tmp_path, monkeypatch, created):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    path = spec_file(tmp_path, MINI_SPEC.replace("2013-02-01T00:00:00", created))
    assert load_spec(path).study.created.isoformat() == created


# -- 5. usubjid_separator ---------------------------------------------------------------------
@pytest.mark.parametrize("separator", ['"\\e"', '"\\t"', '"\\x7f"', '"é"', '"\\0"'])
def test_non_printable_ascii_separator_is_refused_at_its_line(tmp_path, separator):
    text = MINI_SPEC.replace(CREATED_LINE, CREATED_LINE + f"  usubjid_separator: {separator}\n")
    path = spec_file(tmp_path, text)
    code, problem = the_problem(path)
    assert code == "SPEC034"
    assert problem.location.line == line_of(path, "usubjid_separator:")
    exit_code, output = spec_check(path)
    assert exit_code == 2 and "SPEC034" in output


@pytest.mark.parametrize("separator", ['"/"', '"-"', '"_"', '" "', '""'])
def test_printable_separators_still_load(tmp_path, separator):
    text = MINI_SPEC.replace(CREATED_LINE, CREATED_LINE + f"  usubjid_separator: {separator}\n")
    load_spec(spec_file(tmp_path, text))


# -- 6. dates -------------------------------------------------------------------------------------
def convert(values, formats=("DD-MMM-YYYY",)):
    iso, problems = to_iso8601(pd.Series(values, dtype=object), list(formats))
    return iso.tolist(), problems["reason"].reindex(range(len(values))).tolist()


def test_year_0000_is_rejected_whatever_the_precision():
    iso, reasons = convert(["UN-JAN-0000", "00-JAN-0000", "01-JAN-0000", "UN-UNK-0000"])
    assert iso == [None] * 4
    assert set(reasons) == {"year 0000 does not exist (years are 0001-9999)"}
    iso, reasons = convert(["0000"], ["YYYY"])
    assert iso == [None] and reasons[0].startswith("year 0000")


@pytest.mark.parametrize("value, reason", [
    ("12-MAR-2011 10:00:99", "second is not 0-59"),
    ("12-MAR-2011 10:00:60", "second is not 0-59"),
    ("12-MAR-2011 10:60:00", "minute is not 0-59"),
    ("12-MAR-2011 24:00:00", "hour is not 0-23"),
])
def test_impossible_times_are_rejected_at_conversion(value, reason):
    assert convert([value], ["DD-MMM-YYYY hh:mm:ss"]) == ([None], [reason])


def test_valid_seconds_are_kept_and_padded():
    iso, reasons = convert(["12-MAR-2011 10:00:59", "12-MAR-2011 10:00:5.5",
                            "12-MAR-2011 10:00:59.999"], ["DD-MMM-YYYY hh:mm:ss"])
    assert iso == ["2011-03-12T10:00:59", "2011-03-12T10:00:05.5", "2011-03-12T10:00:59.999"]
    assert reasons == [pd.NA] * 3


def test_99_seconds_is_a_mapping_error_at_the_source_row(tmp_path):
    text = MINI_SPEC.replace("onset: {type: date, format: DD-MMM-YYYY}",
                             "onset: {type: datetime, format: [DD-MMM-YYYY hh:mm:ss, DD-MMM-YYYY]}")
    files = dict(MINI_FILES)
    files["aes.csv"] = files["aes.csv"].replace("1,Rash,10-JAN-2012", "1,Rash,10-JAN-2012 10:00:99")
    path = spec_file(tmp_path, text, files)
    with pytest.raises(CdiscError) as info:
        build(path)
    (problem,) = [p for p in info.value.problems if p.severity == "error"]
    assert problem.code == "MAP002" and "second is not 0-59" in problem.message
    assert Path(problem.location.file).name == "aes.csv"
    assert problem.location.row == 3 and problem.location.field == "onset"


def test_dates_outside_the_pandas_range_are_real_dates():
    iso, reasons = convert(["31-DEC-9999", "01-JAN-0001", "10-OCT-1582", "29-FEB-1600",
                            "29-FEB-1700", "29-FEB-2400", "UN-DEC-9999"])
    assert iso == ["9999-12-31", "0001-01-01", "1582-10-10", "1600-02-29", None, "2400-02-29",
                   "9999-12"]
    assert reasons[4] == "is not a real calendar date"
    assert [r for i, r in enumerate(reasons) if i != 4] == [pd.NA] * 6


def days_of(dates: pd.Series) -> list[str]:
    return dates.to_numpy().astype("datetime64[D]").astype(str).tolist()


def test_study_day_period_and_epoch_work_outside_the_pandas_range():
    dates = pd.Series(["9999-12-31", "0001-01-01", "1582-10-10", "0001", "9999-12", None])
    reference = pd.Series(["0001-01-01"] * 6)
    days = [(date(9999, 12, 31) - date(1, 1, 1)).days + 1, 1,
            (date(1582, 10, 10) - date(1, 1, 1)).days + 1]  # proleptic Gregorian, as ISO 8601
    assert study_day(dates, reference).tolist() == [*days, pd.NA, pd.NA, pd.NA]
    assert days_of(iso_to_date(dates))[:3] == ["9999-12-31", "0001-01-01", "1582-10-10"]
    start, end = iso_period(pd.Series(["0001", "9999-12", "1582-10-10", "0000", "2012-13"]))
    assert days_of(start)[:3] == ["0001-01-01", "9999-12-01", "1582-10-10"]
    assert days_of(end)[:3] == ["0001-12-31", "9999-12-31", "1582-10-10"]
    assert start[3:].isna().all() and end[3:].isna().all()
    dm = pd.DataFrame({"USUBJID": ["A"], "RFXSTDTC": ["1582-10-10"], "RFXENDTC": ["9999-12-30"]})
    tgt = pd.DataFrame({"USUBJID": ["A"] * 4, "D": ["0001-01-01", "1582-10", "9999-12-31", "5000"]})
    assert epoch(tgt, SimpleNamespace(domains={"DM": dm}, codes=None), dtc="D").tolist() == [
        "SCREENING", None, "FOLLOW-UP", "TREATMENT"]


@pytest.mark.e2e
def test_a_study_with_far_dates_converts_without_a_traceback(tmp_path):
    files = dict(MINI_FILES)
    files["aes.csv"] = (files["aes.csv"].replace("21-MAR-2012", "31-DEC-9999")
                        .replace("09-JAN-2012", "10-OCT-1582"))
    files["doses.csv"] = files["doses.csv"].replace("15-JAN-2012", "01-JAN-0001")
    path = spec_file(tmp_path, MINI_SPEC, files)
    _, result = build(path)
    ae = result.datasets["AE"].set_index("AESTDTC")
    assert ae.loc["9999-12-31", "AESTDY"] == 3652059  # from RFSTDTC 0001-01-01
    assert ae.loc["9999-12-31", "EPOCH"] == "FOLLOW-UP"
    assert ae.loc["1582-10-10", "EPOCH"] == "SCREENING"
    out = tmp_path / "out"
    run = CliRunner().invoke(cli.main, ["convert", "--spec", str(path), "--out", str(out)])
    assert "Traceback" not in run.output and run.exit_code in (0, 1), run.output
    assert (out / "sdtm" / "ae.xpt").exists()


# -- 7. date formats ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, words", [
    ("DD/MM/YYY", "'YYY', which is not a token"),
    ("dd-MMM-yyyy", "'dd', which is not a token"),
    ("DD-MMM-YYYY HH:mm", "'HH', which is not a token"),
    ("DD-MMMM-YYYY", "'M', which is not a token"),
    ("DD/MM", "a month needs a year"),
    ("DD-YYYY", "a day (DD) needs a month"),
    ("YYYY-mm-DD", "a day (DD) needs a month"),
    ("mm:ss", "minutes (mm) need the hour"),
    ("DD-MMM-YYYY hh", "an hour (hh) needs the minutes"),
    ("MMM-YYYY hh:mm", "a time needs a complete date"),
])
def test_format_that_can_never_work_is_explained(fmt, words):
    why = check_format(fmt)
    assert why is not None and words in why


@pytest.mark.parametrize("fmt", [
    "DD-MMM-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "YYYY", "MMM-YYYY", "MM/YYYY",
    "YYYY-MM-DDThh:mm", "YYYY-MM-DDThh:mm:ss", "DD-MMM-YYYY hh:mm", "DD-MMM-YYYY hh:mm:ss",
    "hh:mm", "hh:mm:ss", "DDMMMYYYY", "YYYYMMDD", "DD.MM.YYYY", "DD MMM YYYY at hh:mm",
    "Date: DD-MMM-YYYY", "hh:mm hrs",
])
def test_documented_and_usual_formats_are_accepted(fmt):
    assert check_format(fmt) is None


def test_bad_date_format_is_a_spec_error_at_its_line(tmp_path):
    text = MINI_SPEC.replace("consent: {type: date, format: DD-MMM-YYYY}",
                             "consent: {type: date, format: DD/MM/YYY}")
    path = spec_file(tmp_path, text)
    code, problem = the_problem(path)
    assert code == "SPEC021"
    assert problem.location.line == line_of(path, "DD/MM/YYY")
    assert problem.location.json_path == "$.sources.pts.columns.consent.format"
    exit_code, output = spec_check(path)
    assert exit_code == 2 and "SPEC021" in output


def test_bad_date_format_in_a_list_is_located_at_the_item(tmp_path):
    text = MINI_SPEC.replace("consent: {type: date, format: DD-MMM-YYYY}", textwrap.indent(
        "consent:\n  type: date\n  format:\n    - DD-MMM-YYYY\n    - DD/MM/YYY\n", " " * 6
    ).strip())
    path = spec_file(tmp_path, text)
    code, problem = the_problem(path)
    assert code == "SPEC021"
    assert problem.location.line == line_of(path, "- DD/MM/YYY")
    assert problem.location.json_path == "$.sources.pts.columns.consent.format[1]"
