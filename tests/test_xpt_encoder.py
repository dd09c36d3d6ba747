"""Our XPT v5 encoder against pyreadstat, byte for byte; its decoder; cheap verification.

pyreadstat (ReadStat) stays the independent reference: every frame here is written
both ways -- ``write_xpt`` (our encoder) and ``pyreadstat.write_xport(
file_format_version=5)`` on the same prepared columns, its wall-clock header
datetimes patched to ``created`` as the old writer did -- and the bytes must be
identical; then the data must read back the same through pandas.read_sas and
pyreadstat (``verify="full"``).
"""

from __future__ import annotations

import io
import math
import struct
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdisc.errors import OutputError
from cdisc.formats import xpt
from cdisc.formats import xpt_decode as dec
from cdisc.formats import xpt_encode as enc
from cdisc.formats.xpt import SPECIAL_MISSING, check_transport, read_xpt, write_xpt
from cdisc.model import text

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
CREATED = datetime(2021, 3, 4, 5, 6, 7)
STAMP = b"04MAR21:05:06:07"
STAMP_OFFSETS = (144, 160, 464, 480)


def labels_of(df: pd.DataFrame) -> dict[str, str]:
    return {c: f"Label of {c}" for c in df.columns}


def reference_bytes(df: pd.DataFrame, tmp: Path, *, name: str = "X", label: str = "Random",
                    column_labels: dict[str, str] | None = None,
                    formats: dict[str, str] | None = None) -> bytes:
    """What pyreadstat writes for the columns write_xpt would write, stamps set to CREATED."""
    column_labels = column_labels or labels_of(df)
    plan = xpt.prepare_xpt(df, name=name, label=label, column_labels=column_labels,
                           created=CREATED, display_formats=formats)
    frame = pd.DataFrame({c.name: c.values for c in plan.columns})
    path = tmp / "reference.xpt"
    pyreadstat.write_xport(frame, str(path), file_label=plan.label,
                           column_labels=[v.label for v in plan.variables], table_name=name,
                           file_format_version=5, variable_format=plan.formats or None)
    raw = bytearray(path.read_bytes())
    for offset in STAMP_OFFSETS:
        raw[offset:offset + 16] = STAMP
    return bytes(raw)


def ours(df: pd.DataFrame, tmp: Path, *, name: str = "X", label: str = "Random",
         column_labels: dict[str, str] | None = None, formats: dict[str, str] | None = None,
         verify: str = "full") -> bytes:
    path = tmp / "ours.xpt"
    write_xpt(df, path, name=name, label=label, column_labels=column_labels or labels_of(df),
              created=CREATED, display_formats=formats, verify=verify)  # type: ignore[arg-type]
    return path.read_bytes()


def assert_same_bytes(df: pd.DataFrame, tmp: Path, **kw: object) -> bytes:
    mine = ours(df, tmp, **kw)  # type: ignore[arg-type]
    theirs = reference_bytes(df, tmp, **kw)  # type: ignore[arg-type]
    if mine != theirs:
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b) \
            if len(mine) == len(theirs) else min(len(mine), len(theirs))
        pytest.fail(f"bytes differ from pyreadstat at {first} (sizes {len(mine)}, "
                    f"{len(theirs)}): ours {mine[first:first + 16]!r}, "
                    f"pyreadstat {theirs[first:first + 16]!r}")
    return mine


# --------------------------------------------------------- byte equality ---

EDGES = [
    0.0, -0.0, 1.0, -1.0, 1 / 3, 0.1, -0.1, 1e-300, -1e-300, 2.0**53, -(2.0**53),
    16.0**-65, -(16.0**-65), np.nextafter(16.0**-65, 0), np.nextafter(16.0**-65, 1),
    2.0**-257, 2.0**-258, 2.0**-259, 2.0**-261, 5e-324, 2.0**-1022, 2.0**248,
    np.nextafter(2.0**249, 0), -np.nextafter(2.0**249, 0), 1e74, 22000.0, np.nan,
]


def test_numeric_edges_are_byte_identical(tmp_path: Path) -> None:
    df = pd.DataFrame({"AVAL": EDGES, "SIGN": [math.copysign(1, v) for v in EDGES]})
    assert_same_bytes(df, tmp_path)


@pytest.mark.parametrize("value", [1e300, -1e300, 2.0**249, np.inf, -np.inf, 1e308])
def test_values_beyond_the_writable_range_encode_as_readstat_saturates(value: float,
                                                                       tmp_path: Path) -> None:
    # write_xpt refuses them (XPT_NUM_RANGE); the encoder itself matches ReadStat.
    with pytest.raises(OutputError) as info:
        ours(pd.DataFrame({"A": [value]}), tmp_path)
    assert [p.code for p in info.value.problems] == ["XPT_NUM_RANGE"]
    path = tmp_path / "ref.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": [value]}), str(path), file_format_version=5)
    assert enc.encode_numbers(np.array([value])).tobytes() == path.read_bytes()[-80:-72]


def test_encoder_matches_readstat_on_random_bit_patterns(tmp_path: Path) -> None:
    rng = np.random.default_rng(20240601)
    bits = rng.integers(0, 2**64 - 1, 4000, dtype=np.uint64, endpoint=True)
    values = bits.view(np.float64)  # every exponent, NaN payloads, subnormals, infinities
    path = tmp_path / "ref.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": values}), str(path), file_format_version=5)
    data = path.read_bytes()[-len(values) * 8:]
    assert enc.encode_numbers(values).tobytes() == data


def test_missing_values_empty_and_200_byte_strings(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "USUBJID": ["S-1", None, "", "  ", "S-5"],
        "AETERM": ["N" * 200, "", None, "HEADACHE ", " LEADING"],
        "AESTDY": [1.0, np.nan, None, -3.0, 0.0],
        "AESEQ": pd.array([1, None, 3, 4, 5], dtype="Int64"),
    })
    assert_same_bytes(df, tmp_path)
    got, meta = read_xpt(tmp_path / "ours.xpt")
    assert meta.char_lengths == {"USUBJID": 3, "AETERM": 200}
    assert got["AETERM"].tolist() == ["N" * 200, "", "", "HEADACHE", " LEADING"]


def test_zero_row_dataset(tmp_path: Path) -> None:
    df = pd.DataFrame({"STUDYID": pd.Series([], dtype=object),
                       "AVAL": pd.Series([], dtype=float)})
    raw = assert_same_bytes(df, tmp_path)
    assert len(raw) % 80 == 0 and raw.endswith(enc._header_record(b"OBS"))


def test_only_character_and_only_numeric_columns(tmp_path: Path) -> None:
    chars = pd.DataFrame({"A": ["x", "yy", None], "B": ["", "", ""], "C": ["p" * 81] * 3})
    assert_same_bytes(chars, tmp_path)
    nums = pd.DataFrame({"A": [1.0, 2.0, np.nan], "B": np.arange(3), "C": [0.5] * 3})
    assert_same_bytes(nums, tmp_path)


def test_labels_and_formats(tmp_path: Path) -> None:
    df = pd.DataFrame({"TRTSDT": [22000.0, np.nan], "AVAL": [1.25, 2.5], "AGE": [63.0, 70.0],
                       "PARAM": ["Overall Survival", "Progression Free Survival"],
                       "N": [1.0, 2.0], "BEST": [3.0, 4.0]})
    labels = {"TRTSDT": "Date of First Exposure to Treatment", "AVAL": "Analysis Value",
              "AGE": "Age", "PARAM": "P" * 40, "N": "n", "BEST": "Best"}
    formats = {"TRTSDT": "date9.", "AVAL": "8.2", "AGE": "3.", "PARAM": "$CHAR40.",
               "BEST": "BEST12.", "N": "BEST."}
    raw = assert_same_bytes(df, tmp_path, column_labels=labels, formats=formats,
                            label="Time-to-Event Analysis Dataset")
    with (tmp_path / "ours.xpt").open("rb") as fh:
        layout = dec.read_head(fh)
    assert [f.format for f in layout.fields] == ["DATE9.", "8.2", "3.", "$CHAR40.", "BEST.",
                                                 "BEST12."]
    assert layout.label == "Time-to-Event Analysis Dataset"
    assert raw[512:552] == b"Time-to-Event Analysis Dataset".ljust(40)


def test_chunk_boundaries_do_not_change_the_bytes(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(7)
    text = np.array(["a", "bbb", "", "c" * 30, None], dtype=object)
    df = pd.DataFrame({"T": text[rng.integers(0, len(text), 997)],
                       "N": rng.standard_normal(997)})
    whole = ours(df, tmp_path)
    for chunk_bytes in (1, 37, 800):  # one record, a few, many per chunk
        monkeypatch.setattr(enc, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(enc.rows_per_chunk, "__defaults__", (chunk_bytes,))
        assert ours(df, tmp_path, verify="fast") == whole
    assert whole == reference_bytes(df, tmp_path)


def test_background_and_inline_writes_give_the_same_bytes() -> None:
    variables = [enc.Variable("A", "a", "num", 8), enc.Variable("B", "b", "char", 3)]
    chunks = [[np.arange(5.0), np.array(["x", "y", "z", "", "w"], dtype=object)]] * 3
    outputs = []
    for background in (True, False):
        buffer = io.BytesIO()
        records, size = enc.write_members(buffer, name="T", label="t", variables=variables,
                                          stamp=STAMP, chunks=chunks, background=background)
        assert (records, size) == (15, len(buffer.getvalue()))
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]


# ------------------------------------------------------------- property ---

_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)
_FLOAT = st.one_of(
    st.just(math.nan), st.just(-0.0), st.sampled_from(EDGES),
    st.floats(min_value=-xpt.XPT_NUM_LIMIT, max_value=xpt.XPT_NUM_LIMIT, exclude_min=True,
              exclude_max=True, allow_nan=False))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n_rows = draw(st.integers(min_value=0, max_value=30))
    kinds = draw(st.lists(st.sampled_from(["char", "float", "int"]), min_size=1, max_size=6))
    data: dict[str, pd.Series] = {}
    for i, kind in enumerate(kinds):
        if kind == "char":
            values = st.lists(st.one_of(st.none(), st.just(""), _TEXT), min_size=n_rows,
                              max_size=n_rows)
            data[f"C{i}"] = pd.Series(draw(values), dtype=object)
        elif kind == "float":
            data[f"F{i}"] = pd.Series(draw(st.lists(_FLOAT, min_size=n_rows, max_size=n_rows)),
                                      dtype="float64")
        else:
            ints = st.integers(min_value=-(2**53), max_value=2**53)
            data[f"I{i}"] = pd.Series(draw(st.lists(ints, min_size=n_rows, max_size=n_rows)),
                                      dtype="int64")
    return pd.DataFrame(data)


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])
@given(frames())
def test_property_random_frames_are_byte_identical_and_read_back(df: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # verify="full": pandas and pyreadstat read every value back (within their counting
        # rules for short records), after our own decoder has checked the whole file
        assert_same_bytes(df, Path(folder))
        got, _ = dec.read_xport(Path(folder) / "ours.xpt", records=len(df))
        for column in df.columns:
            if df[column].dtype == object:
                assert got[column].tolist() == df[column].fillna("").str.rstrip(" ").tolist()
            else:
                expected = df[column].to_numpy(dtype="float64")
                assert xpt._numbers_match(got[column], expected).all()


# ---------------------------------------------------- special missing values ---


def test_special_missing_values(tmp_path: Path) -> None:
    codes = ["A", "Z", "_"]
    df = pd.DataFrame({"AVAL": pd.Series([1.5, SPECIAL_MISSING["A"], None, SPECIAL_MISSING["Z"],
                                          SPECIAL_MISSING["_"], 2.0], dtype=object),
                       "ID": ["a", "b", "c", "d", "e", "f"]})
    assert check_transport(df, name="X", label="L", column_labels=labels_of(df)) == []
    mine = ours(df, tmp_path)  # verify="full": pandas and pyreadstat read them as NaN
    # pyreadstat cannot write special missing values: its file has "." where ours has the code
    plain = df.assign(AVAL=[1.5, np.nan, np.nan, np.nan, np.nan, 2.0])
    theirs = reference_bytes(plain, tmp_path)
    diff = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
    assert [mine[i:i + 1].decode() for i in diff] == codes and all(theirs[i] == 0x2E
                                                                    for i in diff)
    with (tmp_path / "ours.xpt").open("rb") as fh:
        layout = dec.read_head(fh)
        block = next(dec.iter_records(fh, layout, 6, 100))[1]
    values, found = dec.decode_numbers(block[:, :8])
    assert [chr(c) if c else "" for c in found] == ["", "A", "", "Z", "_", ""]
    assert values[0] == 1.5 and np.isnan(values[1:5]).all()
    assert pd.read_sas(tmp_path / "ours.xpt", format="xport")["AVAL"].isna().sum() == 4


def test_special_missing_in_a_text_column_is_a_type_problem() -> None:
    df = pd.DataFrame({"A": pd.Series(["x", "y", "z", SPECIAL_MISSING["B"]], dtype=object)})
    problems = check_transport(df, name="X", label="L", column_labels={"A": "a"})
    assert [(p.code, p.location.record) for p in problems] == [("XPT_VARIABLE_TYPE", 4)]


# ------------------------------------------------------ truncated numerics ---


def test_truncated_numeric_lengths_read_the_same_everywhere(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 1 / 3, np.nan, 12345.678, 0.0, 1e10, -7.0])
    variables = [enc.Variable(f"N{k}", f"n{k}", "num", k) for k in range(3, 9)]
    path = tmp_path / "t.xpt"
    with path.open("wb") as fh:
        enc.write_members(fh, name="T", label="t", variables=variables, stamp=STAMP,
                          chunks=[[values] * len(variables)])
    ours_read, _ = dec.read_xport(path, records=len(values))
    by_pandas = pd.read_sas(path, format="xport")
    by_readstat = pyreadstat.read_xport(str(path))[0]
    for variable in variables:
        mine = ours_read[variable.name]
        assert xpt._numbers_match(by_pandas[variable.name].to_numpy(), mine).all()
        assert xpt._numbers_match(by_readstat[variable.name].to_numpy(), mine).all()
    assert (ours_read["N8"][~np.isnan(values)] == values[~np.isnan(values)]).all()


# ------------------------------------------------------------ verification ---


def short_dm() -> pd.DataFrame:
    """8 DM records of 70 bytes: 560 bytes, exactly 7 cards; the last ends in blank fields."""
    n = 8
    arm = ["Pbo", "Xan_Hi", "Xan_Lo"] * 3
    name = {"Pbo": "Placebo", "Xan_Hi": "Xanomeline High Dose", "Xan_Lo": "Xanomeline Low Dose"}
    return pd.DataFrame({
        "STUDYID": ["CDISCPILOT01"] * n, "DOMAIN": ["DM"] * n,
        "USUBJID": [f"01-701-{1015 + i}" for i in range(n)],
        "SUBJID": [f"{1015 + i}" for i in range(n)], "SITEID": ["701"] * n,
        "AGE": np.arange(63.0, 63 + n), "SEX": list("FMFMFMFM"), "COUNTRY": ["USA"] * n,
        "ARMCD": arm[:n - 1] + [""], "ARM": [name[a] for a in arm[:n - 1]] + [None]})


@pytest.mark.parametrize("verify", ["fast", "full"])
def test_valid_dm_whose_last_card_ends_in_blank_fields_is_written(tmp_path: Path,
                                                                  verify: str) -> None:
    # Was refused with XPT_VERIFY_ROWS: pandas counts 7 records (it takes every blank
    # 8-byte word of the last card for padding), pyreadstat 8.
    df = short_dm()
    path = tmp_path / "dm.xpt"
    write_xpt(df, path, name="DM", label="Demographics", column_labels=labels_of(df),
              created=CREATED, verify=verify)  # type: ignore[arg-type]
    with path.open("rb") as fh:
        assert dec.read_head(fh).record_length == 70
    assert len(pd.read_sas(path, format="xport")) == 7  # the reader's guess ...
    assert len(pyreadstat.read_xport(str(path))[0]) == 8
    got, _ = dec.read_xport(path, records=8)  # ... and what was written
    assert got["ARM"].tolist() == df["ARM"].fillna("").tolist()
    assert path.read_bytes() == reference_bytes(df, tmp_path, name="DM", label="Demographics")


def test_fast_verification_reports_a_changed_value(tmp_path: Path, monkeypatch) -> None:
    real = enc.encode_records

    def corrupt(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        block = real(*args, **kwargs)
        block[1, 0] ^= 0x01  # first byte of record 2: in USUBJID
        block[2, 13] ^= 0x40  # inside AVAL (bytes 12-19) of record 3
        return block

    monkeypatch.setattr(enc, "encode_records", corrupt)
    df = pd.DataFrame({"USUBJID": ["S" * 12] * 4, "AVAL": [1.0, 2.0, 3.0, 4.0]})
    path = tmp_path / "x.xpt"
    path.write_bytes(b"previous")
    with pytest.raises(OutputError) as info:
        write_xpt(df, path, name="X", label="X", column_labels=labels_of(df), created=CREATED)
    found = [(p.code, p.location.field, p.location.record) for p in info.value.problems]
    assert found == [("XPT_VERIFY_VALUE", "USUBJID", 2), ("XPT_VERIFY_VALUE", "AVAL", 3)]
    assert "decoder reads back 'RSSSSSSSSSSS'" in info.value.problems[0].message
    assert path.read_bytes() == b"previous" and len(list(tmp_path.iterdir())) == 1
    # USUBJID above repeats its value (coded: checked against its distinct values' bytes);
    # all distinct, each record's value is converted and compared
    df = pd.DataFrame({"USUBJID": [f"S{i}" * 4 for i in range(4)], "AVAL": [1.0] * 4})
    plan = xpt.prepare_xpt(df, name="X", label="X", column_labels=labels_of(df),
                           created=CREATED)
    assert plan.columns[0].table is None
    with pytest.raises(OutputError) as info:
        write_xpt(df, path, name="X", label="X", column_labels=labels_of(df), created=CREATED)
    assert [(p.code, p.location.record) for p in info.value.problems][0] == (
        "XPT_VERIFY_VALUE", 2)


def test_fast_verification_checks_the_count_against_what_was_encoded(tmp_path: Path,
                                                                     monkeypatch) -> None:
    real = enc.encode_records
    monkeypatch.setattr(enc, "encode_records", lambda *args: real(*args)[:-1])
    df = pd.DataFrame({"A": ["x" * 100] * 3})
    with pytest.raises(OutputError) as info:
        write_xpt(df, tmp_path / "x.xpt", name="X", label="X", column_labels={"A": "a"},
                  created=CREATED)
    assert [p.code for p in info.value.problems] == ["XPT_VERIFY_ROWS"]
    assert "2 records encoded, the frame has 3" in info.value.problems[0].message


def test_fast_verification_reads_the_header_independently(tmp_path: Path, monkeypatch) -> None:
    real = enc.namestr

    def shifted(variable, number, position):  # noqa: ANN001, ANN202
        return real(variable, number, position + (1 if number == 2 else 0))

    monkeypatch.setattr(enc, "namestr", shifted)
    df = pd.DataFrame({"A": ["xy"], "B": ["z"]})
    with pytest.raises(OutputError) as info:
        write_xpt(df, tmp_path / "x.xpt", name="X", label="X", column_labels=labels_of(df),
                  created=CREATED)
    assert [p.code for p in info.value.problems] == ["XPT_VERIFY_HEADER"]
    assert "variable 2 is at byte 3" in info.value.problems[0].message


def test_verify_modes() -> None:
    with pytest.raises(ValueError, match="verify must be one of"):
        write_xpt(pd.DataFrame({"A": [1.0]}), Path("never.xpt"), name="X", label="X",
                  column_labels={"A": "a"}, created=CREATED, verify="none")  # type: ignore


# ------------------------------------------------------ vectorised checks ---


def _reference_text_problems(values: list[object]) -> tuple[list[tuple[str, int]], int]:
    """The text checks one value at a time: (code, record) in report order, and the width."""
    text = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in values]
    stripped = [t.rstrip(" ") for t in text]
    found = [("XPT_VALUE_ASCII", i + 1) for i, t in enumerate(text) if not t.isascii()]
    found += [("XPT_VALUE_CONTROL", i + 1) for i, t in enumerate(text)
              if any(ord(c) < 0x20 or ord(c) == 0x7F for c in t)]
    found += [("XPT_VALUE_LENGTH", i + 1) for i, t in enumerate(stripped)
              if len(t.encode("utf-8")) > 200]
    return found, max([1, *(len(t.encode("utf-8")) for t in stripped)])


_ANY_TEXT = st.one_of(
    st.none(), st.just(math.nan), st.just(""), st.just(" " * 3),
    st.text(alphabet=st.sampled_from([" ", "a", "\t", "\x00", "\x7f", "é", "Z", "~"]),
            max_size=8),
    st.text(alphabet=st.sampled_from(["a", " "]), min_size=195, max_size=205))


@settings(max_examples=150)
@given(st.lists(_ANY_TEXT, max_size=25))
def test_property_text_checks_match_a_per_value_reference(values: list[object]) -> None:
    s = pd.Series(values, dtype=object)
    problems = check_transport(pd.DataFrame({"A": s}), name="X", label="L",
                               column_labels={"A": "a"})
    expected, width = _reference_text_problems(values)
    assert [(p.code, p.location.record) for p in problems] == expected
    if not expected:
        column = xpt._plan(pd.DataFrame({"A": s}), name="X", label="L",
                           column_labels={"A": "a"})[1][0]
        assert column.width == width


def test_text_checks_slice_long_columns(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(xpt, "_SLICE", 7)
    values: list[object] = ["ok"] * 30
    values[3], values[15], values[22], values[29] = "tab\there", "x" * 201, "é", "last  "
    problems = check_transport(pd.DataFrame({"A": values}), name="X", label="L",
                               column_labels={"A": "a"})
    assert [(p.code, p.location.record) for p in problems] == [
        ("XPT_VALUE_ASCII", 23), ("XPT_VALUE_CONTROL", 4), ("XPT_VALUE_LENGTH", 16)]
    # missing values across slices that do not fall on bytes of the missing-value bits
    values = [None if i % 5 in (0, 3) else f"v{i}" for i in range(41)] + ["w" * 9 + "  "]
    df = pd.DataFrame({"A": pd.Series(values, dtype=object)})
    assert_same_bytes(df, tmp_path)
    got, meta = read_xpt(tmp_path / "ours.xpt")
    assert got["A"].tolist() == [v.rstrip() if v else "" for v in values]
    assert meta.char_lengths == {"A": 9}



def test_coded_and_converted_text_give_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    """A repeating text column is written from its distinct values' bytes (the plan's
    table); with no budget for tables each value is converted: the same file."""
    rng = np.random.default_rng(11)
    pool = np.array(["a", "bb ", "", "c" * 40, None, "trailing   ", "x" * 200], dtype=object)
    df = pd.DataFrame({"T": pool[rng.integers(0, len(pool), 3001)],
                       "U": [f"id{i}" for i in range(3001)],  # all distinct: never coded
                       "N": rng.standard_normal(3001)})
    plan = xpt.prepare_xpt(df, name="X", label="L", column_labels=labels_of(df),
                           created=CREATED)
    assert plan.columns[0].table is not None and plan.columns[1].table is None
    assert plan.columns[0].positions.dtype == np.int8  # the codes: -1 is the blank entry
    coded = assert_same_bytes(df, tmp_path)
    monkeypatch.setattr(xpt, "CODED_BYTES", 0)
    plan = xpt.prepare_xpt(df, name="X", label="L", column_labels=labels_of(df),
                           created=CREATED)
    assert all(c.table is None for c in plan.columns)
    assert ours(df, tmp_path) == coded


def test_codes_the_run_holds_cost_the_plan_only_its_table(tmp_path: Path, monkeypatch) -> None:
    """Inside codes_shared the run keeps each column's codes anyway: the plan uses them as
    its positions and charges only the distinct values' bytes, so every repeating column
    of a long dataset is coded however many there are (at 100,000 subjects TR has a
    dozen of 4 million records); outside, the codes are the plan's own and charged."""
    rng = np.random.default_rng(5)
    pool = np.array(["PR", "SD", None, "PD  ", "NOT EVALUABLE"], dtype=object)
    df = pd.DataFrame({name: pool[rng.integers(0, len(pool), 5000)] for name in "ABCD"})
    table_bytes = len(pool) * len("NOT EVALUABLE")  # each column's table, at most
    monkeypatch.setattr(xpt, "CODED_BYTES", 4 * table_bytes + 5000)  # one column's codes
    loose = xpt.prepare_xpt(df, name="X", label="L", column_labels=labels_of(df),
                            created=CREATED)
    assert [c.table is not None for c in loose.columns] == [True, False, False, False]
    expected = ours(df, tmp_path)
    with text.codes_shared():
        held = xpt.prepare_xpt(df, name="X", label="L", column_labels=labels_of(df),
                               created=CREATED)
        assert all(c.table is not None for c in held.columns)
        assert all(c.positions is text.known_codes(df[c.name].to_numpy()).codes
                   for c in held.columns)
        assert ours(df, tmp_path) == expected


def test_text_differing_after_a_nul_is_not_taken_for_the_same_value() -> None:
    """pandas.factorize hashes all-text arrays as C strings, which end at a NUL; the
    checks run once per distinct value, so "A" must not hide "A\x00" and "A\x00B"."""
    df = pd.DataFrame({"A": ["A", "A\x00", "A\x00B", "A"]})
    problems = check_transport(df, name="X", label="L", column_labels={"A": "a"})
    assert [(p.code, p.location.record) for p in problems] == [
        ("XPT_VALUE_CONTROL", 2), ("XPT_VALUE_CONTROL", 3)]

# ------------------------------------------------------- the decoder itself ---


def test_decoder_reads_pyreadstat_files_as_pyreadstat_does(tmp_path: Path) -> None:
    df = pd.DataFrame({"A": EDGES, "B": [f"v{i}" * (i % 5) for i in range(len(EDGES))]})
    path = tmp_path / "r.xpt"
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name="R",
                           file_label="Ref", column_labels=["a", "b"],
                           variable_format={"A": "DATE9."})
    got, layout = dec.read_xport(path, records=len(df))
    theirs, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    assert (layout.name, layout.label, layout.sas_version, layout.os_name) == (
        "R", "Ref", "6.06", "bsd4.2")
    assert [f.format for f in layout.fields] == ["DATE9.", ""]
    assert xpt._numbers_match(got["A"], theirs["A"].to_numpy()).all()
    assert got["B"].tolist() == theirs["B"].tolist()


def test_decoder_refuses_other_layouts() -> None:
    with pytest.raises(dec.LayoutError, match="LIBV8"):
        dec.read_layout(b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!" + b"0" * 800)
    with pytest.raises(dec.LayoutError, match="record 1"):
        dec.read_layout(b"x" * 800)


# --------------------------------------------------------- CDISC pilot files ---


@pytest.fixture
def pilot() -> Path:
    if not PILOT.is_dir():
        pytest.skip(f"reference XPT files not present at {PILOT}")
    return PILOT


@pytest.mark.parametrize("stem", ["adsl", "adtte", "ae", "dm", "ex"])
def test_pilot_files_read_and_rewritten_give_the_same_data(pilot: Path, stem: str,
                                                           tmp_path: Path) -> None:
    original, meta = read_xpt(pilot / f"{stem}.xpt")
    with (pilot / f"{stem}.xpt").open("rb") as fh:
        layout = dec.read_head(fh)
    decoded, _ = dec.read_xport(pilot / f"{stem}.xpt", records=len(original))
    for column in original.columns:  # our decoder reads SAS's own file as pyreadstat does
        if original[column].dtype == object:
            assert decoded[column].tolist() == original[column].tolist(), column
        else:
            assert xpt._numbers_match(decoded[column], original[column].to_numpy()).all()
    assert [f.name for f in layout.fields] == list(original.columns)

    path = tmp_path / f"{stem}.xpt"
    label = meta.label or f"{stem.upper()} dataset"  # the pilot keeps labels in define.xml
    write_xpt(original, path, name=meta.name, label=label, column_labels=meta.column_labels,
              created=meta.created, display_formats=meta.display_formats, verify="full")
    again, meta2 = read_xpt(path)
    pd.testing.assert_frame_equal(again, original)
    assert meta2.column_labels == meta.column_labels
    assert meta2.display_formats == meta.display_formats
    # and the same bytes as pyreadstat would have written
    assert path.read_bytes() == reference_bytes(
        original, tmp_path, name=meta.name, label=label, column_labels=meta.column_labels,
        formats=meta.display_formats).replace(
            _stamp(CREATED), _stamp(meta.created))


def _stamp(moment: datetime) -> bytes:
    return xpt._sas_stamp(moment)


def test_namestr_struct_matches_ts140() -> None:
    record = enc.namestr(enc.Variable("AVAL", "Analysis Value", "num", 8, "8.2"), 3, 24)
    assert len(record) == 140
    fields = struct.unpack(">hhhh8s40s8shhh2s8shhi52s", record)
    assert fields[:4] == (1, 0, 8, 3) and fields[4] == b"AVAL    "
    assert fields[6:10] == (b"        ", 8, 2, 1) and fields[14] == 24


def test_a_hash_that_merges_values_does_not_hide_them(tmp_path: Path, monkeypatch) -> None:
    """The checks and the coded bytes work per distinct value; if the hash took two values
    for one (pandas' factorize takes "M\\x00" for "M"), each record is its own value."""
    def merging(values):
        codes, distinct = pd.factorize(np.asarray(values, dtype=object))
        return codes, np.asarray(distinct, dtype=object)

    monkeypatch.setattr(text, "factorize", merging)  # what text_codes codes with
    df = pd.DataFrame({"A": ["M", "M\x00", "M", "F"]})
    problems = check_transport(df, name="X", label="L", column_labels={"A": "a"})
    assert [(p.code, p.location.record) for p in problems] == [("XPT_VALUE_CONTROL", 2)]
    df = pd.DataFrame({"A": ["M", "M ", "M", "F"] * 3})  # no NUL: coded as usual, same bytes
    assert assert_same_bytes(df, tmp_path) == ours(df, tmp_path)
