"""Source reading: CSV and XLSX give the same records, types are checked with locations."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from cdisc.errors import ProblemLog
from cdisc.pipeline import build
from cdisc.sources import read_sources
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, write_study


def test_xlsx_source_gives_the_same_sdtm_as_csv(tmp_path):
    csv_spec = write_study(tmp_path / "csv", MINI_SPEC, MINI_FILES)
    xlsx_dir = tmp_path / "xlsx"
    spec_text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx\n    sheet: AEs")
    xlsx_spec = write_study(xlsx_dir, spec_text, {k: v for k, v in MINI_FILES.items()
                                                  if k != "aes.csv"})
    aes = pd.read_csv(csv_spec.parent / "aes.csv", dtype=str)
    with pd.ExcelWriter(xlsx_dir / "aes.xlsx") as writer:
        aes.to_excel(writer, sheet_name="AEs", index=False)
    _, from_csv = build(csv_spec)
    _, from_xlsx = build(xlsx_spec)
    pd.testing.assert_frame_equal(from_csv.datasets["AE"], from_xlsx.datasets["AE"])
    # sorted by the AE keys: USUBJID, AEDECOD, AESTDTC
    assert from_xlsx.datasets["AE"]["AESTDTC"].tolist() == [
        "2012-01-09", "2012-02", "2012-01-10", "2012-03-21"]


def test_types_required_and_duplicate_keys_are_located(tmp_path):
    files = dict(MINI_FILES)
    files["pts.csv"] = """
        id,sex,age,consent
        1,Female,forty,01-JAN-2012
        1,Male,50,05-JAN-2012
        ,Male,51,05-JAN-2012
    """
    spec = load_spec(write_study(tmp_path, MINI_SPEC, files))
    problems = ProblemLog()
    read_sources(spec, problems)
    found = sorted((p.code, p.location.row, p.location.field, p.location.value)
                   for p in problems)
    assert found == [
        ("SRC005", 2, "age", "forty"),
        ("SRC007", 2, "id", "1"),
        ("SRC007", 3, "id", "1"),
        ("SRC008", 4, "id", None),
    ]


def test_values_are_read_as_text_not_reinterpreted(mini_study):
    spec = load_spec(mini_study)
    (mini_study.parent / "pts.csv").write_text("id,sex,age,consent\n01,NA,40,\n")
    problems = ProblemLog()
    tables = read_sources(spec, problems)
    row = tables["pts"].frame.iloc[0]
    assert (row["id"], row["sex"], row["consent"]) == ("01", "NA", None)


def test_spec_check_command(mini_study):
    result = CliRunner().invoke(cli.main, ["spec", "check", str(mini_study)])
    assert result.exit_code == 0 and "OK (3 domains, 3 sources)" in result.output
    mini_study.write_text(mini_study.read_text().replace("column: term", "column: terms", 1))
    result = CliRunner().invoke(cli.main, ["spec", "check", str(mini_study)])
    assert result.exit_code == 2
    assert "SPEC014" in result.output and "'terms'" in result.output


def test_fast_and_exact_csv_readers_agree(tmp_path):
    from cdisc.resources import example_spec_path
    from cdisc.sources.reader import _read_csv, _read_csv_fast

    spec = load_spec(example_spec_path())
    for source in spec.sources.values():
        fast, fast_rows = _read_csv_fast(source)
        exact, exact_rows = _read_csv(source)
        pd.testing.assert_frame_equal(fast[list(source.columns)], exact[list(source.columns)],
                                      check_dtype=False)
        assert fast_rows == exact_rows
    # a blank line or a quoted line break: only the exact reader knows the lines
    odd = tmp_path / "odd.csv"
    odd.write_text('id,note\n1,"two\nlines"\n\n2,x\n')
    from dataclasses import replace

    source = replace(next(iter(spec.sources.values())), file=odd, columns={})
    assert _read_csv_fast(source) is None
    assert _read_csv(source)[1] == [2, 5]


_CELL = st.text(alphabet=['a', ' ', '"', ',', ';', '\u00e9', '1', "'", '\t'], max_size=5)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=3), max_size=4),
       columns=st.integers(1, 3), delimiter=st.sampled_from([",", ";", "\t"]),
       bom=st.booleans())
def test_fast_reader_reads_any_text_as_the_csv_module_does(tmp_path, rows, columns, delimiter,
                                                           bom):
    """The fast reader (Arrow) gives the exact reader's cells whenever it takes a file, for
    raw lines of quotes, separators and blanks, well formed or not."""
    from cdisc.sources.csvfile import read_csv, read_csv_fast
    from cdisc.spec.model import SourceSpec

    header = [f"h{i}" for i in range(columns)]
    text = "\n".join([delimiter.join(header), *(delimiter.join(r) for r in rows)]) + "\n"
    path = tmp_path / "raw.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    source = SourceSpec("raw", path, subject="h0", columns={}, delimiter=delimiter)
    fast = read_csv_fast(source)
    if fast is None:
        return
    frame, lines = fast
    exact, exact_lines = read_csv(source)  # never refuses what the fast reader took
    assert frame.values.tolist() == exact.values.tolist()
    assert list(frame.columns) == list(exact.columns) == header
    assert lines == exact_lines
    # the codes Arrow's dictionary encoding gives are factorize's, and they hold
    from cdisc.model.text import factorize
    from cdisc.sources.csvfile import read_csv_coded

    _, _, codes = read_csv_coded(source)
    for name in header:
        want_codes, want_distinct = factorize(frame[name].to_numpy(dtype=object))
        assert codes[name].codes.tolist() == want_codes.tolist()
        assert codes[name].distinct.tolist() == want_distinct.tolist()
        assert codes[name].holds
        assert (codes[name].distinct[codes[name].codes] == frame[name].to_numpy()).all()


@pytest.mark.parametrize("text", [
    '"Date of\nBirth",id\n2001,7\n2002,8\n',  # a header cell over two lines
    "h0\n1\n  \n2\n",  # one column: a blank line is no record
    'h0\n""\n', 'h0\n"', 'h0,h1\n"'])  # an empty or unclosed quote at the end
def test_files_the_fast_reader_leaves_to_the_exact_one(tmp_path, text):
    from cdisc.sources.csvfile import read_csv_fast
    from cdisc.spec.model import SourceSpec

    path = tmp_path / "odd.csv"
    path.write_text(text)
    assert read_csv_fast(SourceSpec("odd", path, subject="h0", columns={}, delimiter=",")) \
        is None


def test_a_trailing_comma_never_shifts_cells(tmp_path):
    files = dict(MINI_FILES)
    files["aes.csv"] = "id,term,onset\n1,Fatigue,09-JAN-2012,\n2,Rash,10-JAN-2012,\n"
    _, result = build(write_study(tmp_path / "empty", MINI_SPEC, files))
    assert result.datasets["AE"]["AETERM"].tolist() == ["Fatigue", "Rash"]
    files["aes.csv"] = "id,term,onset\n1,Fatigue,09-JAN-2012,x\n2,Rash,10-JAN-2012,\n"
    problems = ProblemLog()
    read_sources(load_spec(write_study(tmp_path / "text", MINI_SPEC, files)), problems)
    assert [(p.code, p.location.row) for p in problems] == [("SRC009", 2)]


def test_blank_xlsx_rows_are_skipped_and_rows_still_counted(tmp_path):
    spec_text = MINI_SPEC.replace("file: aes.csv", "file: aes.xlsx")
    spec_path = write_study(tmp_path, spec_text, {k: v for k, v in MINI_FILES.items()
                                                  if k != "aes.csv"})
    aes = pd.DataFrame({"id": ["1", "", "2"], "term": ["Fatigue", "", "Rash"],
                        "onset": ["09-JAN-2012", "", "31-FEB-2012"]})
    aes.to_excel(tmp_path / "aes.xlsx", index=False)
    problems = ProblemLog()
    tables = read_sources(load_spec(spec_path), problems)
    assert not problems.errors
    assert tables["aes"].frame["__row__"].tolist() == [2, 4]


@pytest.mark.e2e
def test_source_option_reads_the_files_from_another_folder(tmp_path, mini_study):
    import shutil

    data = tmp_path / "elsewhere"
    data.mkdir()
    for csv in mini_study.parent.glob("*.csv"):
        shutil.move(csv, data / csv.name)
    spec_only = mini_study  # now alone in its folder: the sources are elsewhere
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec_only), "--source",
                                           str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "pts: 2 read, 2 mapped, 0 excluded" in result.output
