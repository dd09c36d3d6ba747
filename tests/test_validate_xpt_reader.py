"""The validator's XPT reader: the whole-column decoder gives pyreadstat's frame, or hands over.

``read_xpt`` decodes with :func:`cdisc.formats.xpt_decode.read_as_readstat` and
falls back to pyreadstat for what that decoder refuses. Every test compares the
two readers on the same file: frames equal value for value (missing values,
dtypes, column order, record count) and the same metadata.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cdisc.formats import xpt
from cdisc.formats import xpt_decode as dec
from cdisc.formats.xpt import read_xpt, write_xpt
from cdisc.formats.xpt_encode import SPECIAL_MISSING

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
CREATED = datetime(2021, 3, 4, 5, 6, 7)


def write(path: Path, df: pd.DataFrame, formats: dict[str, str] | None = None) -> Path:
    write_xpt(df, path, name="T", label="Test data", column_labels={c: f"{c} label" for c in df},
              created=CREATED, display_formats=formats)
    return path


def pyreadstat_frame(path: Path) -> pd.DataFrame:
    return pyreadstat.read_xport(str(path), disable_datetime_conversion=True)[0]


def assert_same_as_pyreadstat(path: Path, *, decoded: bool = True) -> pd.DataFrame:
    """read_xpt equals pyreadstat (frame and metadata); ``decoded``: without falling back."""
    frame, meta = read_xpt(path)
    pd.testing.assert_frame_equal(frame, pyreadstat_frame(path), check_exact=True)
    assert isinstance(frame.index, pd.RangeIndex)
    assert meta == xpt._read_with_pyreadstat(path, meta.created, meta.modified)[1]
    if decoded:
        dec.read_as_readstat(path)  # raises LayoutError if read_xpt fell back
    else:
        with pytest.raises(dec.LayoutError):
            dec.read_as_readstat(path)
    return frame


def test_edge_values_read_as_pyreadstat_reads_them(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "TEXT": ["", "a", "  leading", "trailing  ", "x" * 200, "mid  dle", "A"],
        "NUM": pd.Series([np.nan, -0.0, 2.0**53, 1e-78, 7e74, -1.5, SPECIAL_MISSING["A"]],
                         dtype=object),
        "OTHER": [None, "", "z", "z", "z", "z", "z"],
        "DAYS": [0.0, 1.0, -1.0, np.nan, 22000.0, 3.25, 1e10],
        "SPEC": pd.Series([SPECIAL_MISSING["_"], SPECIAL_MISSING["Z"], 1.0, 2.0, 3.0, 4.0, 5.0],
                          dtype=object),
    })
    frame = assert_same_as_pyreadstat(write(tmp_path / "t.xpt", df,
                                            {"DAYS": "DATE9.", "NUM": "8.2"}))
    assert frame["TEXT"].tolist()[:4] == ["", "a", "  leading", "trailing"]
    assert frame["OTHER"].tolist()[:2] == ["", ""]
    assert frame["NUM"].isna().tolist() == [True, False, False, False, False, False, True]
    assert frame["SPEC"].isna().tolist()[:3] == [True, True, False]
    assert read_xpt(tmp_path / "t.xpt")[1].display_formats == {"NUM": "8.2", "DAYS": "DATE9."}


def test_each_distinct_text_is_one_object(tmp_path: Path) -> None:
    df = pd.DataFrame({"SITE": ["S1", "S2"] * 50})
    frame = read_xpt(write(tmp_path / "t.xpt", df))[0]
    assert len({id(v) for v in frame["SITE"]}) == 2  # memory: a pointer per row, not a str


@pytest.mark.parametrize("shape", ["only text", "only numbers", "no records"])
def test_frames_of_one_type_or_no_records(tmp_path: Path, shape: str) -> None:
    df = {"only text": pd.DataFrame({"A": ["x", "y"], "B": ["", "z"]}),
          "only numbers": pd.DataFrame({"A": [1.0, np.nan], "B": [2.0, 3.0]}),
          "no records": pd.DataFrame({"A": pd.Series([], dtype=object),
                                      "B": pd.Series([], dtype=float)})}[shape]
    frame = assert_same_as_pyreadstat(write(tmp_path / "t.xpt", df))
    assert list(frame.columns) == ["A", "B"] and len(frame) == len(df)


@pytest.mark.parametrize("length", [10, 30, 80, 100])
def test_trailing_blank_records_are_dropped_as_readstat_drops_them(tmp_path: Path,
                                                                   length: int) -> None:
    # a v5 file has no record count: ReadStat keeps every whole record up to the last
    # one that is not all blanks (blank records before it stay)
    df = pd.DataFrame({"X": ["A" * length, "", "B" * length, "", "", ""]})
    frame = assert_same_as_pyreadstat(write(tmp_path / "t.xpt", df))
    assert len(frame) == 3
    assert dec.readstat_records(np.full((4, length), 0x20, dtype=np.uint8)) == 0


def _patched(path: Path, row: int, variable: str, raw: bytes) -> Path:
    with path.open("rb") as fh:
        layout = dec.read_head(fh)
    field = next(f for f in layout.fields if f.name == variable)
    data = bytearray(path.read_bytes())
    at = layout.data_offset + row * layout.record_length + field.position
    data[at:at + len(raw)] = raw
    out = path.with_name(f"patched-{row}-{raw.hex()}.xpt")
    out.write_bytes(bytes(data))
    return out


@pytest.fixture
def written(tmp_path: Path) -> Path:
    return write(tmp_path / "t.xpt", pd.DataFrame({"X": ["abc", "def", "ghi"],
                                                   "N": [1.0, 2.0, 3.0]}))


def test_every_zero_fraction_reads_as_readstat_reads_it(written: Path) -> None:
    # ReadStat: a zero fraction is 0 after a zero first byte and missing after any
    # other first byte (negative zero 0x80 included), not only after '.', '_', 'A'-'Z'
    for first in (0x00, 0x80, 0x2E, 0x41, 0x5F, 0x01, 0x7F, 0xFF):
        frame = assert_same_as_pyreadstat(_patched(written, 0, "N", bytes([first]) + bytes(7)))
        assert np.isnan(frame["N"].iat[0]) == (first != 0x00)


def test_numbers_readstat_converts_its_own_way_go_to_pyreadstat(written: Path) -> None:
    # not normalised (first hex digit 0), and 56 significant bits (a double holds 53):
    # ReadStat's conversion truncates where an exact one rounds
    for raw in (bytes([0x41, 0x01]) + bytes(6), bytes([0x41]) + b"\xff" * 7):
        frame = assert_same_as_pyreadstat(_patched(written, 1, "N", raw), decoded=False)
        assert frame["N"].iat[2] == 3.0


@pytest.mark.parametrize("raw", [b"a\x00b", b"a\tb", b"a\x7fb", b"ab\x00"])
def test_text_beyond_printable_ascii_goes_to_pyreadstat(written: Path, raw: bytes) -> None:
    frame = assert_same_as_pyreadstat(_patched(written, 1, "X", raw), decoded=False)
    assert frame["X"].iat[0] == "abc"


def test_text_pyreadstat_cannot_decode_is_its_error(written: Path) -> None:
    with pytest.raises(xpt.OutputError, match="XPT_READ_FAILED"):
        read_xpt(_patched(written, 1, "X", b"\xe9t\xe9"))


def test_a_second_member_goes_to_pyreadstat(tmp_path: Path, written: Path) -> None:
    other = write(tmp_path / "u.xpt", pd.DataFrame({"X": ["zzz"], "N": [9.0]}))
    both = tmp_path / "both.xpt"
    both.write_bytes(written.read_bytes() + other.read_bytes()[3 * dec.CARD:])
    with pytest.raises(dec.LayoutError, match="second member"):
        dec.read_as_readstat(both)
    frame = read_xpt(both)[0]
    pd.testing.assert_frame_equal(frame, pyreadstat_frame(both), check_exact=True)


def test_random_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    words = np.array(["", "A", "BB", "  C", "D  D", "2012-03-04", "x" * 40], dtype=object)
    for trial in range(5):
        n = int(rng.integers(0, 300))
        df = pd.DataFrame({
            "T1": rng.choice(words, n), "T2": rng.choice(words[:3], n),
            "N1": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1e6, n).round(3)),
            "N2": rng.integers(-(2**40), 2**40, n).astype(float)})
        assert_same_as_pyreadstat(write(tmp_path / f"r{trial}.xpt", df))


# ------------------------------------------------------- CDISC pilot files ---


@pytest.fixture(scope="module")
def pilot() -> Path:
    if not PILOT.is_dir():
        pytest.skip("../shared/reference/cdiscpilot01 is not available")
    return PILOT


@pytest.mark.parametrize("stem", ["adsl", "adtte", "ae", "dm", "ex"])
def test_sas_written_pilot_files_read_as_pyreadstat_reads_them(pilot: Path, stem: str) -> None:
    frame = assert_same_as_pyreadstat(pilot / f"{stem}.xpt")
    assert len(frame) > 0
