"""SAS XPORT v5 writer/reader: round trips, determinism, transport checks, atomicity."""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdisc.errors import Location, OutputError
from cdisc.formats import xpt
from cdisc.formats.xpt import check_transport, read_xpt, write_xpt

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
CREATED = datetime(2021, 3, 4, 5, 6, 7)
STAMP = b"04MAR21:05:06:07"
STAMP_OFFSETS = (144, 160, 464, 480)  # library created/modified, member created/modified

LABELS = {
    "STUDYID": "Study Identifier",
    "DOMAIN": "Domain Abbreviation",
    "USUBJID": "Unique Subject Identifier",
    "AESEQ": "Sequence Number",
    "AETERM": "Reported Term for the Adverse Event",
    "AESTDY": "Study Day of Start of Adverse Event",
    "TRTSDT": "Date of First Exposure to Treatment",
}


def ae_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "STUDYID": ["CDISC01", "CDISC01", "CDISC01", "CDISC01"],
            "DOMAIN": ["AE", "AE", "AE", "AE"],
            "USUBJID": ["CDISC01-001", "CDISC01-001", None, "CDISC01-002"],
            "AESEQ": [1, 2, 3, 1],
            "AETERM": ["HEADACHE", "N" * 200, "", " LEADING BLANK"],
            "AESTDY": [1.0, np.nan, -3.0, 0.0],
            "TRTSDT": [22000.0, 22000.0, np.nan, 22001.0],
        }
    )


def write_ae(path: Path, df: pd.DataFrame | None = None, **kw: object) -> None:
    args: dict[str, object] = {
        "name": "AE",
        "label": "Adverse Events",
        "column_labels": LABELS,
        "created": CREATED,
    }
    args.update(kw)
    write_xpt(ae_frame() if df is None else df, path, **args)  # type: ignore[arg-type]


def codes(problems: list) -> list[str]:
    return [p.code for p in problems]


# ------------------------------------------------------------- round trip ---


def test_round_trip_through_pandas_and_read_xpt(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    write_ae(path, display_formats={"TRTSDT": "DATE9."})

    # The independent reader: pandas' own XPORT parser.
    got = pd.read_sas(path, format="xport", encoding="ascii")
    assert list(got.columns) == list(LABELS)
    assert len(got) == 4
    assert got["USUBJID"].tolist() == ["CDISC01-001", "CDISC01-001", "", "CDISC01-002"]
    assert got["AETERM"].tolist() == ["HEADACHE", "N" * 200, "", " LEADING BLANK"]
    assert got["AESEQ"].tolist() == [1.0, 2.0, 3.0, 1.0]
    assert got["AESTDY"].iloc[0] == 1.0 and math.isnan(got["AESTDY"].iloc[1])
    assert got["AESTDY"].iloc[2] == -3.0
    assert got["TRTSDT"].iloc[3] == 22001.0 and math.isnan(got["TRTSDT"].iloc[2])

    df, meta = read_xpt(path)
    assert df["AETERM"].tolist() == ["HEADACHE", "N" * 200, "", " LEADING BLANK"]
    assert df["AESTDY"].iloc[3] == 0.0  # a true zero (pandas would give 16**-65)
    assert df["TRTSDT"].iloc[0] == 22000.0  # stays a SAS day count
    assert meta.name == "AE"
    assert meta.label == "Adverse Events"
    assert meta.column_labels == LABELS
    # Longest value, not an allotted length.
    assert meta.char_lengths == {"STUDYID": 7, "DOMAIN": 2, "USUBJID": 11, "AETERM": 200}
    assert meta.display_formats == {"TRTSDT": "DATE9."}
    assert meta.created == CREATED and meta.modified == CREATED


def test_pyreadstat_metadata_of_written_file(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    write_ae(path, display_formats={"TRTSDT": "date9.", "AESTDY": "8."})
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    assert meta.table_name == "AE"
    assert meta.file_label == "Adverse Events"
    assert meta.variable_storage_width["AETERM"] == 200
    assert meta.variable_storage_width["AESEQ"] == 8
    assert meta.original_variable_types["TRTSDT"] == "DATE9"
    assert meta.original_variable_types["AESTDY"] == "8"
    raw = path.read_bytes()
    assert raw[:48] == b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"  # v5, not LIBV8
    assert raw[512:552] == b"Adverse Events".ljust(40)


def test_all_missing_object_column_is_character_of_length_1(tmp_path: Path) -> None:
    df = ae_frame().assign(AEREL=pd.Series([None] * 4, dtype=object))
    labels = {**LABELS, "AEREL": "Causality"}
    assert check_transport(df, name="AE", label="Adverse Events", column_labels=labels) == []
    path = tmp_path / "ae.xpt"
    write_ae(path, df, column_labels=labels)
    got, meta = read_xpt(path)
    assert meta.char_lengths["AEREL"] == 1
    assert got["AEREL"].tolist() == ["", "", "", ""]


def test_object_column_of_numbers_and_blanks_is_numeric(tmp_path: Path) -> None:
    df = ae_frame()
    df["AESTDY"] = pd.Series([63, "", None, 2.5], dtype=object)
    path = tmp_path / "ae.xpt"
    write_ae(path, df)
    got, meta = read_xpt(path)
    assert "AESTDY" not in meta.char_lengths
    assert got["AESTDY"].iloc[0] == 63.0 and got["AESTDY"].iloc[1:3].isna().all()
    assert got["AESTDY"].iloc[3] == 2.5


def test_zero_records(tmp_path: Path) -> None:
    df = ae_frame().iloc[0:0]
    path = tmp_path / "ae.xpt"
    write_ae(path, df)
    got, meta = read_xpt(path)
    assert list(got.columns) == list(LABELS) and len(got) == 0
    assert meta.char_lengths["AETERM"] == 1


def test_numeric_edges_round_trip(tmp_path: Path) -> None:
    values = [0.0, -0.0, 1 / 3, -1e-78, 2.0**248, -(2.0**248), 0.1, 9007199254740992.0]
    # A USUBJID wider than one 80-byte card keeps records unambiguous (module docstring).
    df = pd.DataFrame({"USUBJID": ["S" * 81] * len(values), "AVAL": values})
    labels = {"USUBJID": "Unique Subject Identifier", "AVAL": "Analysis Value"}
    path = tmp_path / "adlb.xpt"
    write_xpt(df, path, name="ADLB", label="Lab Analysis", column_labels=labels, created=CREATED)
    got, _ = read_xpt(path)
    assert got["AVAL"].tolist() == values  # IEEE -> IBM is exact in this range


def test_trailing_blanks_of_labels_are_padding(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    labels = {**LABELS, "AETERM": "Reported Term" + " " * 40}
    assert check(column_labels=labels) == []  # 53 characters, 13 without the padding
    write_ae(path, label=" Adverse Events  ", column_labels=labels)
    meta = read_xpt(path)[1]
    assert meta.label == " Adverse Events"
    assert meta.column_labels["AETERM"] == "Reported Term"


def test_file_mode_follows_umask_not_tempfile_default(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    umask = os.umask(0o022)
    try:
        write_ae(path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------- determinism ---


def test_same_frame_twice_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xpt", tmp_path / "b.xpt"
    write_ae(first)
    time.sleep(1.1)  # the wall clock pyreadstat would stamp has moved on
    write_ae(second)
    assert first.read_bytes() == second.read_bytes()


def test_header_shows_created_and_nothing_else_changes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xpt", tmp_path / "b.xpt"
    write_ae(first)
    write_ae(second, created=datetime(1999, 12, 31, 23, 59, 58))
    a, b = first.read_bytes(), second.read_bytes()
    for offset in STAMP_OFFSETS:
        assert a[offset : offset + 16] == STAMP
        assert b[offset : offset + 16] == b"31DEC99:23:59:58"
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert diff and all(any(o <= i < o + 16 for o in STAMP_OFFSETS) for i in diff)
    assert read_xpt(second)[1].created == datetime(1999, 12, 31, 23, 59, 58)
    # ReadStat parses the same stamp.
    assert pyreadstat.read_xport(str(first), metadataonly=True)[1].creation_time == CREATED


def test_aware_created_is_written_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    write_ae(path, created=datetime(2021, 3, 4, 6, 6, 7, 999, tzinfo=timezone(timedelta(hours=1))))
    assert path.read_bytes()[144:160] == STAMP
    assert read_xpt(path)[1].created == CREATED


def test_created_outside_two_digit_year_window_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ae.xpt"
    with pytest.raises(OutputError) as info:
        write_ae(path, created=datetime(2060, 1, 1))
    assert codes(info.value.problems) == ["XPT_CREATED"]
    assert not path.exists()


# ------------------------------------------------------- transport checks ---


def check(df: pd.DataFrame | None = None, **kw: object) -> list:
    args: dict[str, object] = {"name": "AE", "label": "Adverse Events", "column_labels": LABELS}
    args.update(kw)
    return check_transport(ae_frame() if df is None else df, **args)  # type: ignore[arg-type]


def test_clean_frame_has_no_problems() -> None:
    assert check() == []


def test_dataset_name_too_long() -> None:
    problems = check(name="ADVERSEEV")
    assert codes(problems) == ["XPT_DATASET_NAME_LENGTH"]
    assert problems[0].location == Location(dataset="ADVERSEEV", value="ADVERSEEV")


def test_dataset_name_lower_case() -> None:
    problems = check(name="ae")
    assert codes(problems) == ["XPT_DATASET_NAME_CHARS"]
    assert problems[0].location.dataset == "ae"


def test_dataset_name_must_start_with_letter() -> None:
    assert codes(check(name="1AE")) == ["XPT_DATASET_NAME_CHARS"]
    assert codes(check(name="AE_X")) == ["XPT_DATASET_NAME_CHARS"]


def test_dataset_label_too_long_missing_or_not_ascii() -> None:
    problems = check(label="A" * 41)
    assert codes(problems) == ["XPT_DATASET_LABEL_LENGTH"]
    assert problems[0].location == Location(dataset="AE", value="A" * 41)
    assert check(label="A" * 40) == []
    assert codes(check(label="")) == ["XPT_DATASET_LABEL_MISSING"]
    assert codes(check(label="Événements")) == ["XPT_DATASET_LABEL_ASCII"]


def test_variable_name_problems() -> None:
    df = ae_frame().rename(columns={"AESEQ": "aeseq", "AETERM": "AETERMLONG"})
    labels = {**LABELS, "aeseq": "Sequence Number", "AETERMLONG": "Reported Term"}
    del labels["AESEQ"], labels["AETERM"]
    problems = check(df, column_labels=labels)
    assert codes(problems) == ["XPT_VARIABLE_NAME_CHARS", "XPT_VARIABLE_NAME_LENGTH"]
    assert problems[0].location == Location(dataset="AE", field="aeseq", value="aeseq")
    assert problems[1].location.field == "AETERMLONG"


def test_duplicate_variable_name() -> None:
    df = pd.concat([ae_frame(), ae_frame()[["DOMAIN"]]], axis=1)
    problems = check(df)
    assert codes(problems) == ["XPT_VARIABLE_NAME_DUPLICATE"]
    assert problems[0].location.field == "DOMAIN"


def test_missing_long_and_unknown_variable_labels() -> None:
    labels = {k: v for k, v in LABELS.items() if k != "AESTDY"}
    labels["AETERM"] = "R" * 41
    labels["AEDECOD"] = "Dictionary-Derived Term"
    problems = check(column_labels=labels)
    assert codes(problems) == [
        "XPT_VARIABLE_LABEL_UNKNOWN",
        "XPT_VARIABLE_LABEL_LENGTH",
        "XPT_VARIABLE_LABEL_MISSING",
    ]
    assert problems[0].location == Location(dataset="AE", field="AEDECOD")
    assert problems[1].location == Location(dataset="AE", field="AETERM", value="R" * 41)
    assert problems[2].location == Location(dataset="AE", field="AESTDY")


def test_non_ascii_value_reports_its_record() -> None:
    df = ae_frame()
    df.loc[2, "AETERM"] = "CÉPHALÉE"
    problems = check(df)
    assert codes(problems) == ["XPT_VALUE_ASCII"]
    assert problems[0].location == Location(
        dataset="AE", field="AETERM", record=3, value="CÉPHALÉE"
    )
    assert "U+00C9" in problems[0].message


def test_value_of_201_bytes() -> None:
    df = ae_frame()
    df.loc[3, "AETERM"] = "X" * 201
    problems = check(df)
    assert codes(problems) == ["XPT_VALUE_LENGTH"]
    assert problems[0].location == Location(dataset="AE", field="AETERM", record=4, value="X" * 201)
    assert "201 bytes" in problems[0].message


def test_length_counts_bytes_and_ignores_trailing_blanks() -> None:
    df = ae_frame()
    df.loc[0, "AETERM"] = "X" * 200 + "   "  # trailing blanks are SAS padding
    df.loc[1, "AETERM"] = "é" * 101  # 202 bytes in UTF-8
    problems = check(df)
    assert codes(problems) == ["XPT_VALUE_ASCII", "XPT_VALUE_LENGTH"]
    assert [p.location.record for p in problems] == [2, 2]


def test_control_character_value() -> None:
    df = ae_frame()
    df.loc[0, "AETERM"] = "HEAD\tACHE"
    problems = check(df)
    assert codes(problems) == ["XPT_VALUE_CONTROL"]
    assert problems[0].location.record == 1


def test_text_in_numeric_column_and_other_types() -> None:
    df = ae_frame()
    df["AESEQ"] = pd.Series([1, 2, "three", 4], dtype=object)
    df["AESTDY"] = [True, False, True, True]
    problems = check(df)
    assert codes(problems) == ["XPT_VARIABLE_TYPE", "XPT_VARIABLE_TYPE"]
    assert problems[0].location == Location(dataset="AE", field="AESEQ", record=3, value="three")
    assert problems[1].location == Location(dataset="AE", field="AESTDY")


def test_number_in_mostly_text_column() -> None:
    df = ae_frame()
    df["USUBJID"] = pd.Series(["CDISC01-001", "CDISC01-001", 1002, "CDISC01-002"], dtype=object)
    problems = check(df)
    assert codes(problems) == ["XPT_VARIABLE_TYPE"]
    assert problems[0].location.record == 3
    assert "character variable" in problems[0].message


def test_numbers_xpt_cannot_hold() -> None:
    df = ae_frame()
    df["AESTDY"] = [np.inf, 2.0**249, 1.0, -np.inf]
    df["AESEQ"] = [1, 2**53 + 1, 3, 4]
    problems = check(df)
    assert codes(problems) == ["XPT_NUM_INEXACT", "XPT_NUM_RANGE", "XPT_NUM_RANGE", "XPT_NUM_RANGE"]
    assert [p.location.record for p in problems] == [2, 1, 2, 4]


def test_every_problem_is_reported_at_once() -> None:
    df = ae_frame()
    df.loc[0, "AETERM"] = "X" * 201
    df.loc[1, "USUBJID"] = "SUJET-é"
    labels = {k: v for k, v in LABELS.items() if k != "DOMAIN"}
    problems = check(df, name="adverse", label="L" * 41, column_labels=labels)
    assert sorted(codes(problems)) == sorted(
        [
            "XPT_DATASET_NAME_CHARS",
            "XPT_DATASET_LABEL_LENGTH",
            "XPT_VARIABLE_LABEL_MISSING",
            "XPT_VALUE_ASCII",
            "XPT_VALUE_LENGTH",
        ]
    )


def test_many_offending_records_are_capped_with_a_summary() -> None:
    df = pd.DataFrame({"AETERM": ["é"] * (xpt.MAX_REPORTED_RECORDS + 7)})
    problems = check(df, column_labels={"AETERM": "Reported Term"})
    assert len(problems) == xpt.MAX_REPORTED_RECORDS + 1
    assert problems[-1].location.record is None and "7 more records" in problems[-1].message


def test_write_refuses_a_frame_with_problems_and_writes_nothing(tmp_path: Path) -> None:
    df = ae_frame()
    df.loc[2, "AETERM"] = "CÉPHALÉE"
    df["AESEQ"] = [True, False, True, False]  # a type problem: its format is not judged
    path = tmp_path / "ae.xpt"
    formats = {"AETERM": "DATE9.", "NOPE": "8.", "AESTDY": "DATE", "AESEQ": "8."}
    with pytest.raises(OutputError) as info:
        write_ae(path, df, display_formats=formats)
    assert codes(info.value.problems) == [
        "XPT_VARIABLE_TYPE",
        "XPT_VALUE_ASCII",
        "XPT_FORMAT",
        "XPT_FORMAT_VARIABLE",
        "XPT_FORMAT",
    ]
    assert [p.location.field for p in info.value.problems] == [
        "AESEQ",
        "AETERM",
        "AETERM",
        "NOPE",
        "AESTDY",
    ]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ atomicity ---


def test_failed_verify_leaves_target_untouched(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ae.xpt"
    path.write_bytes(b"previous release")

    real = xpt._read_with_pandas

    def tampered(p: Path) -> pd.DataFrame:
        got = real(p)
        got.loc[1, "AETERM"] = "SOMETHING ELSE"
        return got

    monkeypatch.setattr(xpt, "_read_with_pandas", tampered)
    with pytest.raises(OutputError) as info:
        write_ae(path, verify="full")  # the pandas read-back is part of the full verification
    assert codes(info.value.problems) == ["XPT_VERIFY_VALUE"]
    assert info.value.problems[0].location.record == 2
    assert info.value.problems[0].location.field == "AETERM"
    assert path.read_bytes() == b"previous release"
    assert [p.name for p in tmp_path.iterdir()] == ["ae.xpt"]


def test_failing_writer_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ae.xpt"
    path.write_bytes(b"previous release")

    def broken(fh, **kw: object) -> None:
        fh.write(b"HEADER RECORD half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xpt.enc, "write_members", broken)
    with pytest.raises(OutputError) as info:
        write_ae(path)
    assert codes(info.value.problems) == ["XPT_WRITE_FAILED"]
    assert "disk full" in info.value.problems[0].message
    assert path.read_bytes() == b"previous release"
    assert [p.name for p in tmp_path.iterdir()] == ["ae.xpt"]


def test_header_the_decoder_does_not_accept_is_refused(tmp_path: Path, monkeypatch) -> None:
    real = xpt.enc.header

    def v8(*args: object) -> bytes:
        head = real(*args)  # type: ignore[arg-type]
        return head[:20] + b"LIBV8   " + head[28:]

    monkeypatch.setattr(xpt.enc, "header", v8)
    with pytest.raises(OutputError) as info:
        write_ae(tmp_path / "ae.xpt")
    assert codes(info.value.problems) == ["XPT_VERIFY_HEADER"]
    assert "LIBV8" in info.value.problems[0].message
    assert list(tmp_path.iterdir()) == []


def test_short_records_with_blank_tail_are_written(tmp_path: Path) -> None:
    # Record length 1: the trailing blank records are indistinguishable from the fill,
    # so readers guess the count (pyreadstat 1, pandas 8); the file is valid all the same.
    df = pd.DataFrame({"AEREL": ["Y", "", None]})
    path = tmp_path / "ae.xpt"
    for verify in ("fast", "full"):
        write_xpt(df, path, name="AE", label="AE", column_labels={"AEREL": "Rel"},
                  created=CREATED, verify=verify)
    assert len(path.read_bytes()) == 880 + 80
    assert [p.name for p in tmp_path.iterdir()] == ["ae.xpt"]


def test_read_xpt_rejects_version_8(tmp_path: Path) -> None:
    path = tmp_path / "v8.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": [1.0]}), str(path), table_name="X")
    with pytest.raises(OutputError) as info:
        read_xpt(path)
    assert codes(info.value.problems) == ["XPT_NOT_V5"]
    assert "LIBV8" in info.value.problems[0].message
    assert info.value.problems[0].location.file == str(path)


# ------------------------------------------------------------- property ---

_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)
_FLOAT = st.one_of(
    st.just(math.nan),
    st.floats(
        min_value=-xpt.XPT_NUM_LIMIT,
        max_value=xpt.XPT_NUM_LIMIT,
        exclude_min=True,
        exclude_max=True,
        allow_nan=False,
    ),
)
_INT = st.integers(min_value=-(2**53), max_value=2**53)


@st.composite
def frames(draw: st.DrawFn, *, wide: bool = False) -> pd.DataFrame:
    """Random frames of character, float and integer columns.

    wide=True adds a leading key whose values are over 80 characters, so the
    record is longer than one 80-byte card and no reader can confuse blank
    fields with padding.
    """
    n_rows = draw(st.integers(min_value=1 if wide else 0, max_value=12))
    kinds = draw(st.lists(st.sampled_from(["char", "float", "int"]), min_size=1, max_size=5))
    data: dict[str, pd.Series] = {}
    if wide:
        no_blank = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
        key = st.text(alphabet=no_blank, min_size=81, max_size=200)
        data["KEY"] = pd.Series(draw(st.lists(key, min_size=n_rows, max_size=n_rows)), dtype=object)
    for i, kind in enumerate(kinds):
        if kind == "char":
            values = st.lists(st.one_of(st.none(), _TEXT), min_size=n_rows, max_size=n_rows)
            data[f"C{i}"] = pd.Series(draw(values), dtype=object)
        elif kind == "float":
            values = st.lists(_FLOAT, min_size=n_rows, max_size=n_rows)
            data[f"F{i}"] = pd.Series(draw(values), dtype="float64")
        else:
            values = st.lists(_INT, min_size=n_rows, max_size=n_rows)
            data[f"I{i}"] = pd.Series(draw(values), dtype="int64")
    return pd.DataFrame(data)


def _numbers_match(got: np.ndarray, expected: np.ndarray) -> bool:
    both_nan = np.isnan(got) & np.isnan(expected)
    with np.errstate(invalid="ignore"):
        # Exact, except below 16**-65: XPT stores zero (pandas reads it as 16**-65).
        zero = (np.abs(got) <= xpt.IBM_TINY) & (np.abs(expected) < xpt.IBM_TINY)
        return bool(np.all(both_nan | zero | (got == expected)))


def _assert_round_trip(df: pd.DataFrame, path: Path) -> None:
    read_back, meta = read_xpt(path)
    readers = [read_back]
    if len(df):
        readers.append(pd.read_sas(path, format="xport", encoding="ascii"))
    for got in readers:
        assert list(got.columns) == list(df.columns)
        assert len(got) == len(df)
        for column in df.columns:
            if df[column].dtype == object:
                expected = df[column].fillna("").str.rstrip(" ").tolist()
                assert got[column].tolist() == expected
            else:
                assert _numbers_match(
                    got[column].to_numpy(dtype="float64"), df[column].to_numpy(dtype="float64")
                )
    for column in df.columns:
        if df[column].dtype == object:
            longest = df[column].fillna("").str.rstrip(" ").str.len().max()
            assert meta.char_lengths[column] == max(1, 0 if pd.isna(longest) else int(longest))


def _labels(df: pd.DataFrame) -> dict[str, str]:
    return {c: f"Label of {c}" for c in df.columns}


_PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_PROPERTY
@given(frames(wide=True))
def test_property_wide_frames_round_trip(df: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.xpt"
        write_xpt(df, path, name="X", label="Random", column_labels=_labels(df), created=CREATED)
        _assert_round_trip(df, path)


@_PROPERTY
@given(frames())
def test_property_any_frame_is_written_and_verifies_fully(df: pd.DataFrame) -> None:
    # Never refused: with short records the readers may guess the count wrongly
    # (v5 stores none), which the full verification accepts only where the blank
    # fill explains it; where a record is longer than 80 bytes, they read it back exactly.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.xpt"
        write_xpt(df, path, name="X", label="Random", column_labels=_labels(df), created=CREATED,
                  verify="full")
        with path.open("rb") as fh:
            record = xpt.dec.read_head(fh).record_length
        if record > 80:
            _assert_round_trip(df, path)


# ------------------------------------------------------- CDISC pilot files ---


@pytest.fixture
def pilot() -> Path:
    if not PILOT.is_dir():
        pytest.skip(f"reference XPT files not present at {PILOT}")
    return PILOT


@pytest.mark.parametrize(
    ("stem", "shape", "created"),
    [
        ("adsl", (254, 48), datetime(2012, 10, 15, 22, 56, 22)),
        ("adtte", (254, 26), datetime(2012, 10, 15, 22, 56, 22)),
        ("ae", (1191, 35), datetime(2012, 4, 4, 22, 16, 21)),
        ("dm", (306, 25), datetime(2012, 4, 4, 22, 16, 21)),
        ("ex", (591, 17), datetime(2012, 4, 4, 22, 16, 21)),
    ],
)
def test_read_pilot_files(
    pilot: Path, stem: str, shape: tuple[int, int], created: datetime
) -> None:
    df, meta = read_xpt(pilot / f"{stem}.xpt")
    assert df.shape == shape
    assert meta.name == stem.upper()
    assert meta.label == ""  # the pilot keeps dataset labels in define.xml only
    assert meta.created == created and meta.modified == created
    assert meta.column_labels["STUDYID"] == "Study Identifier"
    assert meta.char_lengths["STUDYID"] == 12
    assert list(meta.column_labels) == list(df.columns)


def test_read_pilot_details(pilot: Path) -> None:
    adsl, meta = read_xpt(pilot / "adsl.xpt")
    assert meta.display_formats["TRTSDT"] == "DATE9."
    assert adsl["TRTSDT"].dtype == np.float64  # SAS day count, not converted
    _, meta = read_xpt(pilot / "ae.xpt")
    assert meta.char_lengths["AETERM"] == 200  # allotted, not the longest value (46)
    adtte, meta = read_xpt(pilot / "adtte.xpt")
    assert (adtte["CNSR"] == 0.0).sum() == 152 and (adtte["CNSR"] == 1.0).sum() == 102
    assert meta.display_formats["AGE"] == "3."


def test_pilot_header_and_namestr_layout_match_ours(pilot: Path, tmp_path: Path) -> None:
    ours = tmp_path / "ae.xpt"
    write_ae(ours)
    theirs = (pilot / "ae.xpt").read_bytes()[:780]
    mine = ours.read_bytes()[:780]
    # Fixed header records, including the 140-byte namestr size in the member header.
    for start, end in [(0, 80), (240, 320), (320, 400), (560, 614)]:
        assert mine[start:end] == theirs[start:end]
    # First namestr (STUDYID, "Study Identifier" in both): every field but the
    # length (bytes 4-5: 12 in the pilot, 7 here) is identical.
    assert mine[640:644] == theirs[640:644]
    assert mine[646:780] == theirs[646:780]
