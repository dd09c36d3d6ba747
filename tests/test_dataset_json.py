"""Dataset-JSON 1.1 (issue 11): codec, writers, reader, folders of several formats.

The golden pairs in ``../shared/reference/dataset-json/`` (the same data as
SAS-written XPT and Dataset-JSON, with the Dataset-JSON schema) are the
independent answer; those tests skip when ``../shared/`` is absent.
"""

from __future__ import annotations

import doctest
import json
import math
import shutil
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cdisc.errors import CdiscError, OutputError
from cdisc.formats import READERS, dataset_json
from cdisc.formats.dataset_json import (
    Header,
    column_types,
    decode,
    encode,
    is_dataset_json,
    read_dataset_json,
    write_dataset_json,
)
from cdisc.formats.folder import read_dataset_folder
from cdisc.formats.xpt import read_xpt, write_xpt
from cdisc.model import Dataset, DatasetMeta, VariableMeta, oids, text
from cdisc.output.writers import WRITERS, formats_for, write_datasets

from helpers import SHARED

GOLDEN = SHARED / "reference" / "dataset-json"
PAIRS = ("sdtm-dm", "sdtm-ae", "adam-adtte")
CREATED = datetime(2024, 11, 11, 15, 9, 14)

needs_golden = pytest.mark.skipif(not (GOLDEN / "schema-dataset.schema.json").is_file(),
                                  reason="../shared/reference/dataset-json is absent")


# -- helpers -----------------------------------------------------------------------------
def dataset_of(frame: pd.DataFrame, name: str = "XX", *, keys: tuple[str, ...] = (),
               formats: dict[str, str] | None = None, label: str = "Test dataset",
               standard: str = "", version: str = "") -> Dataset:
    formats = formats or {}
    variables = []
    for order, column in enumerate(frame.columns, start=1):
        numeric = pd.api.types.is_numeric_dtype(frame[column].dtype)
        length = 8 if numeric else max(
            [len(str(v).encode()) for v in frame[column] if isinstance(v, str)] + [1])
        variables.append(VariableMeta(column, f"Label of {column}", "Num" if numeric else "Char",
                                      length, order, display_format=formats.get(column)))
    return Dataset(DatasetMeta(name, label, standard=standard, version=version, keys=keys,
                               variables=tuple(variables)), frame)


def xpt_dataset(pair: str) -> tuple[Dataset, dict]:
    """The golden XPT as our model sees it: labels, lengths and formats from its header,
    keys from the golden JSON's keySequence (XPT has no keys)."""
    frame, meta = read_xpt(GOLDEN / f"{pair}.xpt")
    golden = json.loads((GOLDEN / f"{pair}.json").read_text(encoding="utf-8"))
    keyed = sorted((c["keySequence"], c["name"]) for c in golden["columns"] if "keySequence" in c)
    variables = tuple(
        VariableMeta(c, meta.column_labels[c], "Char" if c in meta.char_lengths else "Num",
                     meta.char_lengths.get(c, 8), order,
                     display_format=meta.display_formats.get(c))
        for order, c in enumerate(frame.columns, start=1))
    dsmeta = DatasetMeta(meta.name, meta.label or golden["label"],
                         keys=tuple(n for _, n in keyed), variables=variables)
    return Dataset(dsmeta, frame), golden


def schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((GOLDEN / "schema-dataset.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def ndjson_document(data: bytes) -> dict:
    """An NDJSON file as the one JSON document it represents (to validate it)."""
    lines = data.decode("utf-8").splitlines()
    document = json.loads(lines[0])
    document["rows"] = [json.loads(line) for line in lines[1:]]
    return document


# -- golden pairs ------------------------------------------------------------------------
@needs_golden
@pytest.mark.parametrize("pair", PAIRS)
def test_reader_reads_golden_json_to_the_data_of_its_xpt(pair):
    expected, _meta = read_xpt(GOLDEN / f"{pair}.xpt")
    frame, meta = read_dataset_json(GOLDEN / f"{pair}.json")
    pd.testing.assert_frame_equal(frame, expected)
    golden = json.loads((GOLDEN / f"{pair}.json").read_text(encoding="utf-8"))
    assert meta.records == golden["records"] == len(frame)
    assert meta.item_group_oid == golden["itemGroupOID"]
    assert [c.item_oid for c in meta.columns] == [c["itemOID"] for c in golden["columns"]]
    assert READERS[".json"](GOLDEN / f"{pair}.json")[1] == golden["name"]


@needs_golden
@pytest.mark.parametrize("pair", PAIRS)
def test_writer_given_the_xpt_writes_schema_valid_json_that_reads_back_equal(pair, tmp_path):
    dataset, golden = xpt_dataset(pair)
    validator = schema_validator()
    for ndjson in (False, True):
        path = tmp_path / f"{pair}.{'ndjson' if ndjson else 'json'}"
        size = write_dataset_json(dataset, path, created=CREATED, ndjson=ndjson)
        data = path.read_bytes()
        assert size == len(data) and data == encode(dataset, created=CREATED, ndjson=ndjson,
                                                    header=Header())
        document = ndjson_document(data) if ndjson else json.loads(data)
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, errors[:3]
        frame, _meta = read_dataset_json(path)
        pd.testing.assert_frame_equal(frame, dataset.frame)
        # the same values as the SAS-side Dataset-JSON, and the same types for numbers
        assert document["rows"] == golden["rows"]
        types = {c["name"]: (c["dataType"], c.get("targetDataType")) for c in golden["columns"]}
        for column in document["columns"]:
            if column["dataType"] != "string":
                assert (column["dataType"], column.get("targetDataType")) == \
                    types[column["name"]], column
            assert column["itemOID"] == oids.item_oid(golden["name"], column["name"])
        keys = {c["name"]: c.get("keySequence") for c in golden["columns"]}
        assert {c["name"]: c.get("keySequence") for c in document["columns"]} == keys


@needs_golden
def test_golden_adtte_numeric_dates_are_date_with_target_integer(tmp_path):
    dataset, _golden = xpt_dataset("adam-adtte")
    document = json.loads(encode(dataset, created=CREATED))
    trtsdt = next(c for c in document["columns"] if c["name"] == "TRTSDT")
    assert trtsdt == {"itemOID": "IT.ADTTE.TRTSDT", "name": "TRTSDT",
                      "label": "Date of First Exposure to Treatment", "dataType": "date",
                      "targetDataType": "integer", "displayFormat": "DATE9."}
    assert document["rows"][0][9] == "2014-01-02"


@needs_golden
def test_example_datasets_validate_against_the_schema(example_datasets, tmp_path):
    validator = schema_validator()
    for dataset in example_datasets:
        for ndjson in (False, True):
            data = encode(dataset, created=CREATED, ndjson=ndjson,
                          header=Header(metadata_ref="define.xml"))
            document = ndjson_document(data) if ndjson else json.loads(data)
            errors = list(validator.iter_errors(document))
            assert not errors, (dataset.name, errors[:3])


# -- the example -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def example_datasets():
    from cdisc.pipeline import build

    return [t for t in build()[1].tables.values() if len(t)]


def test_example_round_trips_in_every_format(example_datasets, tmp_path):
    created = datetime(2013, 2, 1)
    written = write_datasets(example_datasets, tmp_path, created=created,
                             formats=("xpt", "json", "ndjson"))
    assert len(written) == 3 * len(example_datasets)
    for dataset in example_datasets:
        xpt_frame, _ = read_xpt(tmp_path / f"{dataset.name.lower()}.xpt")
        for suffix in (".json", ".ndjson"):
            frame, meta = read_dataset_json(tmp_path / f"{dataset.name.lower()}{suffix}")
            pd.testing.assert_frame_equal(frame, xpt_frame)
            assert meta.name == dataset.name and meta.label == dataset.label
            assert meta.dataset_meta(frame).keys == dataset.meta.keys
            assert [c.item_oid for c in meta.columns] == [
                oids.item_oid(dataset.name, v) for v in dataset.meta.names]
            assert meta.item_group_oid == oids.item_group_oid(dataset.name)
            study = dataset.frame["STUDYID"].iloc[0]
            assert meta.attributes["studyOID"] == oids.study_oid(study)
            assert meta.attributes["metaDataVersionOID"] == oids.metadata_version_oid(
                study, dataset.meta.standard, dataset.meta.version)


def test_validation_findings_are_the_same_on_json_as_on_xpt(example_datasets, tmp_path):
    from cdisc.validate.engine import validate_folder

    datasets = {d.name: d for d in example_datasets}
    dm, ae = datasets["DM"], datasets["AE"]
    frame = dm.frame.copy()
    frame.loc[0, "SEX"] = "X"
    frame.loc[1, "RFSTDTC"] = "2012-13-45"
    frame.loc[2, "AGE"] = -5.0
    frame.loc[3, "USUBJID"] = None
    datasets["DM"] = Dataset(dm.meta, frame)
    frame = ae.frame.copy()
    frame.loc[0, "AESTDY"] = 0.0
    frame.loc[1, "AETERM"] = None
    datasets["AE"] = Dataset(ae.meta, frame)
    results = {}
    for fmt in ("xpt", "json", "ndjson"):
        folder = tmp_path / fmt
        folder.mkdir()
        write_datasets(datasets.values(), folder, created=datetime(2013, 2, 1), formats=(fmt,))
        results[fmt] = [(p.code, p.message, p.location.dataset, p.location.field,
                         p.location.record, p.location.value)
                        for p in validate_folder(folder).findings]
    assert len(results["xpt"]) > 10
    assert results["json"] == results["xpt"]
    assert results["ndjson"] == results["xpt"]


# -- values ------------------------------------------------------------------------------
def tricky_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S1", "S1", "S1", "S1", "S1", "S1"],
        "TEXT": ["plain", "", None, "N" * 200, "trailing  ", 'quote " back \\ slash'],
        "NUM": [1e-300, 1e300, -0.0, 0.1, 1 / 3, np.nan],
        "INT": [2.0**53, -(2.0**53), 0.0, 7.0, np.nan, -12.0],
        "BIG": [2.0**53 + 2, 1.0, 2.0, 3.0, 4.0, 5.0],  # beyond 2**53: written as a double
        "ADT": [0.0, -1.0, 22000.0, np.nan, -138061.0, 2936549.0],  # 1960-01-01 .. 9999-12-31
        "ADTM": [0.0, 1.7e9, np.nan, 86399.0, -1.0, 12.0],
        "ATM": [0.0, 86399.0, 3600.0, np.nan, 61.0, 43200.0],
        "AENDTC": ["2012-11-30", "2012-11", "2013", None, "", "2012-11-30"],
        "ASTDTC": ["2012-11-30T10:11", "2012-11-30", None, "", "2012", "2012-11-30T10:11:12"],
    })


TRICKY_FORMATS = {"ADT": "DATE9.", "ADTM": "DATETIME20.", "ATM": "TIME8."}


def test_tricky_values_round_trip_exactly():
    dataset = dataset_of(tricky_frame(), formats=TRICKY_FORMATS, keys=("STUDYID", "TEXT"))
    data = encode(dataset, created=CREATED)
    document = json.loads(data)
    types = {c["name"]: (c["dataType"], c.get("targetDataType")) for c in document["columns"]}
    assert types == {"STUDYID": ("string", None), "TEXT": ("string", None),
                     "NUM": ("double", None), "INT": ("integer", None), "BIG": ("double", None),
                     "ADT": ("date", "integer"), "ADTM": ("datetime", "integer"),
                     "ATM": ("time", "integer"), "AENDTC": ("date", None),
                     "ASTDTC": ("datetime", None)}
    rows = document["rows"]
    text = data.decode("utf-8")
    # numbers exactly, shortest form; whole numbers without ".0"; missing as null
    assert [r[2] for r in rows] == [1e-300, 1e300, 0, 0.1, 1 / 3, None]
    assert "1e-300" in text and "1e+300" in text and "0.3333333333333333" in text
    assert [r[3] for r in rows] == [2**53, -(2**53), 0, 7, None, -12]
    assert "9007199254740992" in text and "9007199254740992.0" not in text
    assert rows[0][4] == 2.0**53 + 2 and isinstance(rows[0][4], float)
    assert [r[5] for r in rows] == ["1960-01-01", "1959-12-31", "2020-03-26", None,
                                    "1582-01-01", "9999-12-31"]
    assert [r[6] for r in rows] == ["1960-01-01T00:00:00", "2013-11-13T22:13:20", None,
                                    "1960-01-01T23:59:59", "1959-12-31T23:59:59",
                                    "1960-01-01T00:00:12"]
    assert [r[7] for r in rows] == ["00:00:00", "23:59:59", "01:00:00", None, "00:01:01",
                                    "12:00:00"]
    # text: null for missing, "" kept, trailing blanks dropped (as XPT), 200 bytes intact
    assert [r[1] for r in rows] == ["plain", "", None, "N" * 200, "trailing",
                                    'quote " back \\ slash']
    frame, meta = decode(data)
    expected = tricky_frame()
    for column in ("TEXT", "AENDTC", "ASTDTC"):
        expected[column] = expected[column].fillna("").str.rstrip(" ")
    pd.testing.assert_frame_equal(frame, expected)
    assert math.copysign(1, frame["NUM"][2]) == 1  # negative zero is written as 0, as XPT
    keep_null, _ = decode(data, missing_text=None)
    assert keep_null["TEXT"][2] is None and keep_null["TEXT"][1] == ""
    assert meta.dataset_meta(frame).keys == ("STUDYID", "TEXT")
    assert [v.datatype for v in meta.dataset_meta(frame).variables] == \
        ["Char", "Char", "Num", "Num", "Num", "Num", "Num", "Num", "Char", "Char"]


def test_dates_that_are_not_whole_days_stay_numbers():
    frame = pd.DataFrame({"ADT": [22000.5, 1.0], "TRTSDT": [1e7, 2.0], "ATM": [90000.0, 1.0]})
    dataset = dataset_of(frame, formats={"ADT": "DATE9.", "TRTSDT": "E8601DA.",
                                         "ATM": "TIME8."})
    document = json.loads(encode(dataset, created=CREATED))
    assert [(c["dataType"], c.get("targetDataType"), c["displayFormat"])
            for c in document["columns"]] == [("double", None, "DATE9."),
                                              ("integer", None, "E8601DA."),
                                              ("integer", None, "TIME8.")]
    pd.testing.assert_frame_equal(decode(encode(dataset, created=CREATED))[0], frame)


def test_column_types_is_the_shared_decision():
    assert column_types(VariableMeta("AESTDTC", "x", "Char", 10, 1),
                        pd.Series(["2012-01-02", None])) == ("date", None)
    assert column_types(VariableMeta("AESTDTC", "x", "Char", 16, 1),
                        pd.Series(["2012-01-02T10:00", "UNK"])) == ("string", None)
    assert column_types(VariableMeta("AVAL", "x", "Num", 8, 1),
                        pd.Series([np.nan, np.nan])) == ("integer", None)
    assert dataset_json.sas_temporal_kind("$CHAR20.") is None
    assert doctest.testmod(dataset_json).failed == 0
    assert doctest.testmod(oids).failed == 0


@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none()),
                min_size=1, max_size=20))
def test_any_double_round_trips_bit_for_bit(values):
    frame = pd.DataFrame({"X": pd.Series(values, dtype="float64")})
    got, _ = decode(encode(dataset_of(frame), created=CREATED))
    want = frame["X"].to_numpy()
    have = got["X"].to_numpy()
    assert ((have == want) | (np.isnan(have) & np.isnan(want))).all()
    # bit for bit, except that negative zero is written as 0
    same_bits = have.view(np.int64) == np.where(want == 0, 0.0, want).view(np.int64)
    assert (same_bits | np.isnan(want)).all()


@given(st.lists(st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))),
                          st.none()), min_size=1, max_size=10))
@example(["A", "A\x00", "A\x00B"])  # equal as C strings: pandas.factorize merges them
def test_any_text_round_trips(values):
    frame = pd.DataFrame({"T": pd.Series(values, dtype=object)})
    got, _ = decode(encode(dataset_of(frame), created=CREATED), missing_text=None)
    assert got["T"].tolist() == [None if v is None else v.rstrip(" ") for v in values]
    got, _ = decode(encode(dataset_of(frame), created=CREATED, ndjson=True), ndjson=True,
                    missing_text=None)
    assert got["T"].tolist() == [None if v is None else v.rstrip(" ") for v in values]


def test_ndjson_is_metadata_then_one_row_per_line():
    dataset = dataset_of(tricky_frame(), formats=TRICKY_FORMATS)
    data = encode(dataset, created=CREATED, ndjson=True)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 1 + len(tricky_frame()) + 1
    metadata = json.loads(lines[0])
    assert "rows" not in metadata and metadata["records"] == 6
    assert list(metadata)[:2] == ["datasetJSONCreationDateTime", "datasetJSONVersion"]
    assert [json.loads(line) for line in lines[1:-1]] == json.loads(
        encode(dataset, created=CREATED))["rows"]
    frame, _ = decode(data, ndjson=True)
    pd.testing.assert_frame_equal(frame, decode(encode(dataset, created=CREATED))[0])


def test_same_bytes_every_time_and_no_clock():
    dataset = dataset_of(tricky_frame(), formats=TRICKY_FORMATS)
    first = encode(dataset, created=CREATED)
    time.sleep(1.1)
    assert encode(dataset_of(tricky_frame(), formats=TRICKY_FORMATS), created=CREATED) == first
    document = json.loads(first)
    assert document["datasetJSONCreationDateTime"] == "2024-11-11T15:09:14"
    aware = datetime(2024, 11, 11, 15, 9, 14, 999, tzinfo=UTC)
    assert json.loads(encode(dataset, created=aware))["datasetJSONCreationDateTime"] == \
        "2024-11-11T15:09:14Z"
    # the specification's attribute order
    assert list(document) == ["datasetJSONCreationDateTime", "datasetJSONVersion", "studyOID",
                              "itemGroupOID", "records", "name", "label", "columns", "rows"]
    assert list(document["columns"][0]) == ["itemOID", "name", "label", "dataType", "length"]
    keyed = json.loads(encode(dataset_of(tricky_frame(), formats=TRICKY_FORMATS,
                                         keys=("STUDYID",)), created=CREATED))
    assert list(keyed["columns"][0]) == ["itemOID", "name", "label", "dataType", "length",
                                         "keySequence"]
    assert list(keyed["columns"][5]) == ["itemOID", "name", "label", "dataType",
                                         "targetDataType", "displayFormat"]


def test_header_attributes_in_specification_order():
    dataset = dataset_of(tricky_frame(), standard="ADaMIG", version="1.3")
    header = Header(file_oid="F.1", db_last_modified=datetime(2024, 1, 2, 3, 4, 5),
                    originator="Sponsor", source_system=("cdisc-convert", "0.1.0"),
                    metadata_ref="define.xml")
    document = json.loads(encode(dataset, created=CREATED, header=header))
    assert list(document)[:13] == [
        "datasetJSONCreationDateTime", "datasetJSONVersion", "fileOID", "dbLastModifiedDateTime",
        "originator", "sourceSystem", "studyOID", "metaDataVersionOID", "metaDataRef",
        "itemGroupOID", "records", "name", "label"]
    assert document["metaDataVersionOID"] == "MDV.S1.ADaMIG.1.3"
    assert document["sourceSystem"] == {"name": "cdisc-convert", "version": "0.1.0"}
    _frame, meta = decode(json.dumps(document))
    assert meta.attributes["metaDataRef"] == "define.xml"


def test_empty_dataset_round_trips():
    frame = pd.DataFrame({"A": pd.Series([], dtype=object), "N": pd.Series([], dtype=float)})
    data = encode(dataset_of(frame), created=CREATED)
    document = json.loads(data)
    assert document["records"] == 0 and document["rows"] == []
    got, _ = decode(data)
    assert list(got.columns) == ["A", "N"] and len(got) == 0 and got["N"].dtype == "float64"


# -- refusals ----------------------------------------------------------------------------
def codes(excinfo) -> set[str]:
    return {p.code for p in excinfo.value.problems}


def test_writer_refuses_what_it_cannot_write_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "xx.json"
    path.write_bytes(b"old")
    frame = pd.DataFrame({"N": [1.0, np.inf], "T": ["a", "b"]})
    bad = dataset_of(frame)
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(bad, path, created=CREATED)
    assert codes(excinfo) == {"DSJ_ENCODE"}
    assert excinfo.value.problems[0].location.record == 2
    meta = bad.meta
    text_in_num = Dataset(DatasetMeta("XX", "x", variables=(
        VariableMeta("N", "n", "Num", 8, 1), VariableMeta("T", "t", "Num", 8, 2))), frame)
    with pytest.raises(OutputError):
        write_dataset_json(text_in_num, path, created=CREATED)
    numbers_in_char = Dataset(DatasetMeta("XX", "x", variables=(
        VariableMeta("N", "n", "Char", 8, 1), VariableMeta("T", "t", "Char", 8, 2))),
        pd.DataFrame({"N": [1, "a"], "T": ["a", "b"]}, dtype=object))
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(numbers_in_char, path, created=CREATED)
    assert excinfo.value.problems[0].location.record == 1
    no_meta = Dataset(DatasetMeta("XX", "x", variables=meta.variables[1:]), frame)
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(no_meta, path, created=CREATED)
    assert "does not describe" in excinfo.value.problems[0].message
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xx.json"]  # no temporary left


@pytest.mark.parametrize("ndjson", [False, True])
def test_writer_verifies_the_bytes_it_wrote(tmp_path, monkeypatch, ndjson):
    dataset = dataset_of(pd.DataFrame({"N": [1.0, 2.0]}))
    real = dataset_json._rows_bytes

    def corrupt(parts, rows):  # a serialiser that gets one row wrong
        return real(parts, rows).replace(b"[2]", b"[3]")

    monkeypatch.setattr(dataset_json, "_rows_bytes", corrupt)
    path = tmp_path / ("xx.ndjson" if ndjson else "xx.json")
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, path, created=CREATED, ndjson=ndjson)
    assert codes(excinfo) == {"DSJ_VERIFY"}
    assert excinfo.value.problems[0].location.record == 2
    assert "[3]" in excinfo.value.problems[0].message
    assert not path.exists()


def test_fast_verification_parses_a_sample_of_the_rows_full_all_of_them(tmp_path, monkeypatch):
    dataset = dataset_of(pd.DataFrame({"N": np.arange(3000, dtype=float)}))
    sampled = np.linspace(0, 2999, dataset_json.SAMPLED_ROWS).astype(int)
    unsampled = next(i for i in range(3000) if i not in set(sampled.tolist()))
    real = dataset_json._rows_bytes

    def corrupt(parts, rows):  # one row the sample does not parse
        return real(parts, rows).replace(f"\n[{unsampled}]".encode(),
                                         f"\n[{unsampled + 0.5}]".encode())

    monkeypatch.setattr(dataset_json, "_rows_bytes", corrupt)
    write_dataset_json(dataset, tmp_path / "fast.json", created=CREATED)  # not seen
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, tmp_path / "full.json", created=CREATED, verify="full")
    assert excinfo.value.problems[0].location.record == unsampled + 1
    assert not (tmp_path / "full.json").exists()


@pytest.mark.parametrize("change", [
    lambda text: text.replace(b"\n[7]", b"\n[7],\n[7]"),  # a row too many
    lambda text: text.replace(b",\n[7]", b""),  # a row too few
])
def test_fast_verification_counts_every_row(tmp_path, monkeypatch, change):
    dataset = dataset_of(pd.DataFrame({"N": np.arange(3000, dtype=float)}))
    real = dataset_json._rows_bytes
    monkeypatch.setattr(dataset_json, "_rows_bytes",
                        lambda parts, rows: change(real(parts, rows)))
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, tmp_path / "xx.json", created=CREATED)
    assert codes(excinfo) == {"DSJ_VERIFY"}
    assert "where rows 1-3000 were encoded, not 3000" in excinfo.value.problems[0].message


@pytest.mark.parametrize("full", [False, True])
def test_a_chunk_with_anything_after_its_last_separator_is_refused(full):
    dataset = dataset_of(pd.DataFrame({"N": np.arange(4, dtype=float)}))
    check = dataset_json._Check(dataset, [], dataset_json._Layout("", ",\n", "", 4),
                                name="xx.json", full=full)
    with pytest.raises(OutputError) as excinfo:
        check.rows(0, 2, b'[0],\n[1],\nJUNK')  # two rows, then bytes of no row
    problem = excinfo.value.problems[0]
    assert (problem.code, problem.location.record) == ("DSJ_VERIFY", 2)
    assert "text after record 2" in problem.message


def test_fast_verification_finds_a_row_without_its_separator(tmp_path, monkeypatch):
    """A row the sample does not parse, left without the comma after it: the file would
    not be JSON, and the writer says which record."""
    dataset = dataset_of(pd.DataFrame({"N": np.arange(3000, dtype=float)}))
    assert 7 not in dataset_json._Check(dataset, [], dataset_json._Layout("", ",\n", "", 3000),
                                        name="xx.json", full=False).sampled
    real = dataset_json._rows_bytes
    monkeypatch.setattr(dataset_json, "_rows_bytes",
                        lambda parts, rows: real(parts, rows).replace(b"[7],\n", b"[7] \n"))
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, tmp_path / "xx.json", created=CREATED)
    problem = excinfo.value.problems[0]
    assert problem.code == "DSJ_VERIFY" and problem.location.record == 8
    assert "does not separate record 8" in problem.message
    assert not (tmp_path / "xx.json").exists()


def test_writer_verifies_each_column_as_a_reader_decodes_it(tmp_path, monkeypatch):
    frame = pd.DataFrame({"ADT": [18000.0, 18001.0, np.nan], "X": ["a ", "b", None]})
    dataset = dataset_of(frame, formats={"ADT": "DATE9."})
    real = dataset_json._temporal_strings

    def wrong_date(values, kind):  # an encoder bug the bytes alone cannot show
        text = real(values, kind)
        text[1] = "1999-12-31"
        return text

    monkeypatch.setattr(dataset_json, "_temporal_strings", wrong_date)
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, tmp_path / "xx.json", created=CREATED)
    problem = excinfo.value.problems[0]
    assert (problem.code, problem.location.field, problem.location.record) == (
        "DSJ_VERIFY", "ADT", 2)
    assert problem.location.value == 18001.0
    assert not (tmp_path / "xx.json").exists()


@pytest.mark.parametrize("wrong", [2.75, "2.5"])  # another number; text (does not decode)
def test_numbers_are_verified_once_per_distinct_value_and_located_by_record(
        tmp_path, monkeypatch, wrong):
    frame = pd.DataFrame({"N": [1.5, 2.5, 1.5, 2.5, np.nan]})
    real = dataset_json._json_numbers

    def corrupt(values):  # the second distinct number encoded wrongly
        out = real(values)
        out[1] = wrong
        return out

    monkeypatch.setattr(dataset_json, "_json_numbers", corrupt)
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset_of(frame), tmp_path / "xx.json", created=CREATED)
    records = [p.location.record for p in excinfo.value.problems if p.location.record]
    assert records[:2] == [2, 4] and {p.code for p in excinfo.value.problems} == {"DSJ_VERIFY"}
    assert not (tmp_path / "xx.json").exists()


def good_document() -> dict:
    return json.loads(encode(dataset_of(tricky_frame(), formats=TRICKY_FORMATS),
                             created=CREATED))


@pytest.mark.parametrize("change, code", [
    (lambda d: d.update(datasetJSONVersion="1.0.0"), "DSJ_NOT_DATASET_JSON"),
    (lambda d: d.pop("datasetJSONVersion"), "DSJ_NOT_DATASET_JSON"),
    (lambda d: d.pop("itemGroupOID"), "DSJ_METADATA"),
    (lambda d: d.update(records=99), "DSJ_ROWS"),
    (lambda d: d["rows"][2].pop(), "DSJ_ROWS"),
    (lambda d: d["columns"][2].update(dataType="number"), "DSJ_METADATA"),
    (lambda d: d["columns"][1].update(name="STUDYID"), "DSJ_METADATA"),
    (lambda d: d["rows"][1].__setitem__(2, "1.5"), "DSJ_VALUE"),
    (lambda d: d["rows"][1].__setitem__(2, True), "DSJ_VALUE"),
    (lambda d: d["rows"][1].__setitem__(1, 5), "DSJ_VALUE"),
    (lambda d: d["rows"][1].__setitem__(5, "2014-02"), "DSJ_VALUE"),
    (lambda d: d["rows"][1].__setitem__(5, "2014-02-30"), "DSJ_VALUE"),
    (lambda d: d["rows"][1].__setitem__(6, "2014-02-03T10:11:12+01:00"), "DSJ_VALUE"),
])
def test_decoder_refuses_with_located_problems(change, code):
    document = good_document()
    change(document)
    with pytest.raises(CdiscError) as excinfo:
        decode(json.dumps(document), source="xx.json")
    assert code in codes(excinfo)
    assert all(p.location.file == "xx.json" for p in excinfo.value.problems)


def test_decoder_reads_what_other_writers_may_write():
    document = good_document()
    document["columns"][2].update(dataType="decimal", targetDataType="decimal")
    document["rows"] = [[*row[:2], None if row[2] is None else repr(float(row[2])), *row[3:]]
                        for row in document["rows"]]
    document["rows"][3][2] = "1,000.5"  # a thousands separator is allowed in decimals
    frame, _ = decode(json.dumps(document, indent=4))
    assert frame["NUM"].tolist()[:4] == [1e-300, 1e300, 0.0, 1000.5]
    document["rows"][0][3] = 5.0  # a float where an integer is declared is still the number
    assert decode(json.dumps(document))[0]["INT"][0] == 5.0


def test_decoder_reads_booleans_and_uris_as_sas_would_hold_them():
    document = {"datasetJSONCreationDateTime": "2024-01-01T00:00:00",
                "datasetJSONVersion": "1.1", "itemGroupOID": "IG.X", "records": 3, "name": "X",
                "label": "", "columns": [
                    {"itemOID": "IT.X.B", "name": "B", "label": "b", "dataType": "boolean"},
                    {"itemOID": "IT.X.U", "name": "U", "label": "u", "dataType": "URI"}],
                "rows": [[True, "https://x"], [False, None], [None, ""]]}
    frame, meta = decode(json.dumps(document))
    assert frame["B"].tolist()[:2] == [1.0, 0.0] and math.isnan(frame["B"][2])
    assert frame["U"].tolist() == ["https://x", "", ""]
    assert [v.datatype for v in meta.dataset_meta(frame).variables] == ["Num", "Char"]


def test_decoder_locates_bad_json():
    with pytest.raises(CdiscError) as excinfo:
        decode(b'{"datasetJSONVersion": "1.1.0",\n "records": }', source="x.json")
    assert codes(excinfo) == {"DSJ_NOT_JSON"}
    assert excinfo.value.problems[0].location.line == 2
    data = encode(dataset_of(pd.DataFrame({"N": [1.0, 2.0]})), created=CREATED, ndjson=True)
    with pytest.raises(CdiscError) as excinfo:
        decode(data.replace(b"[2]", b"[2,"), ndjson=True)
    assert excinfo.value.problems[0].location.line == 3
    with pytest.raises(CdiscError):
        decode(data.replace(b"[2]", b"[2],[3]"), ndjson=True)
    with pytest.raises(CdiscError) as excinfo:
        decode(b"\xff\xfe{}")
    assert codes(excinfo) == {"DSJ_NOT_JSON"}


def test_column_types_follow_the_metadata_not_the_dtype(tmp_path):
    frame = pd.DataFrame({"C": [np.nan, np.nan], "N": pd.array([1, None], dtype="Int64"),
                          "O": pd.Series([1, None], dtype=object)})
    dataset = Dataset(DatasetMeta("XX", "x", variables=(
        VariableMeta("C", "c", "Char", 1, 1), VariableMeta("N", "n", "Num", 8, 2),
        VariableMeta("O", "o", "Num", 8, 3))), frame)
    write_dataset_json(dataset, tmp_path / "xx.json", created=CREATED)
    document = json.loads((tmp_path / "xx.json").read_bytes())
    assert [c["dataType"] for c in document["columns"]] == ["string", "integer", "integer"]
    assert document["rows"] == [[None, 1, 1], [None, None, None]]


# -- sniffing and folders ----------------------------------------------------------------
def test_sniff_tells_dataset_json_from_report_json(tmp_path):
    dataset = dataset_of(tricky_frame())
    (tmp_path / "xx.json").write_bytes(encode(dataset, created=CREATED))
    (tmp_path / "xx.ndjson").write_bytes(encode(dataset, created=CREATED, ndjson=True))
    late = good_document()
    late = {"rows": late.pop("rows"), "padding": "x" * 100_000, **late}  # the key comes late
    (tmp_path / "late.json").write_text(json.dumps(late))
    (tmp_path / "report.json").write_text(json.dumps({"findings": ["x"] * 50_000,
                                                      "note": "datasetJSONVersion"}))
    (tmp_path / "nested.json").write_text(json.dumps({"a": {"datasetJSONVersion": "1.1.0"}}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "garbage.json").write_bytes(b"\xff\xfe not json")
    (tmp_path / "empty.json").write_bytes(b"")
    verdicts = {p.name: is_dataset_json(p) for p in sorted(tmp_path.iterdir())}
    assert verdicts == {"empty.json": False, "garbage.json": False, "late.json": True,
                        "list.json": False, "nested.json": False, "report.json": False,
                        "xx.json": True, "xx.ndjson": True}
    assert read_dataset_json(tmp_path / "late.json")[1].name == "XX"
    for name in ("xx.json", "xx.ndjson"):
        meta = dataset_json.read_metadata(tmp_path / name)
        assert meta.records == 6 and [c.label for c in meta.columns][:2] == [
            "Label of STUDYID", "Label of TEXT"]
        assert meta.columns[1].length == 200


def test_folder_with_xpt_json_ndjson_and_reports(tmp_path, example_datasets):
    out = tmp_path / "out"
    (out / "sdtm").mkdir(parents=True)
    chosen = [d for d in example_datasets if d.name in ("DM", "AE", "SUPPDM")]
    write_datasets(chosen, out / "sdtm", created=datetime(2013, 2, 1),
                   formats=formats_for("both"))
    write_datasets(chosen[:1], out / "sdtm", created=datetime(2013, 2, 1), formats=("ndjson",))
    for report in ("validation.json", "run-report.json", "recist-review.json", "summary.json",
                   ".cdisc-output.json"):
        (out / report).write_text(json.dumps({"summary": {"errors": 0}, "files": ["dm.json"]}))
    folder = read_dataset_folder(out)
    assert sorted(folder.frames) == ["AE", "DM", "SUPPDM"]
    assert folder.files["DM"] == "sdtm/dm.xpt"  # XPT is preferred
    assert sorted(folder.also["DM"]) == ["sdtm/dm.json", "sdtm/dm.ndjson"]
    assert folder.hints["DM"] == "sdtm"
    assert sorted(folder.skipped) == ["recist-review.json", "run-report.json", "summary.json",
                                      "validation.json"]
    pd.testing.assert_frame_equal(folder.frames["AE"], read_xpt(out / "sdtm" / "ae.xpt")[0])
    # a JSON-only folder reads the same frames
    json_only = tmp_path / "json"
    shutil.copytree(out, json_only, ignore=shutil.ignore_patterns("*.xpt"))
    frames = read_dataset_folder(json_only).frames
    for name, frame in folder.frames.items():
        pd.testing.assert_frame_equal(frames[name], frame)


def test_folder_confirms_our_json_copies_without_parsing_their_rows(tmp_path, monkeypatch,
                                                                   example_datasets):
    """A dataset in XPT and Dataset-JSON is read once, from the XPT; a copy this writer
    wrote is confirmed by re-encoding (no parse of its rows); a copy written otherwise
    (another layout, "" where the XPT has a blank) is read in full and compared."""
    chosen = [d for d in example_datasets if d.name in ("DM", "AE")]
    write_datasets(chosen, tmp_path, created=CREATED, formats=("xpt", "json", "ndjson"))
    real = dataset_json.decode
    parsed: list[str] = []

    def counted(data, **kw):
        parsed.append(kw.get("source", ""))
        return real(data, **kw)

    monkeypatch.setattr(dataset_json, "decode", counted)
    folder = read_dataset_folder(tmp_path)
    assert parsed == [] and sorted(folder.also["AE"]) == ["ae.json", "ae.ndjson"]
    # another writer's layout: the same data, indented; and "" where our writer has null
    dm = tmp_path / "dm.json"
    document = json.loads(dm.read_bytes())
    dm.write_text(json.dumps(document, indent=1))
    ae = tmp_path / "ae.json"
    text = ae.read_text()
    rows, columns = json.loads(text)["rows"], json.loads(text)["columns"]
    i, j = next((i, j) for i, row in enumerate(rows) for j, value in enumerate(row)
                if value is None and columns[j]["dataType"] == "string")
    line = json.dumps(rows[i], separators=(",", ":"), ensure_ascii=False)
    rows[i][j] = ""
    ae.write_text(text.replace(line, json.dumps(rows[i], separators=(",", ":"),
                                                ensure_ascii=False), 1))
    folder = read_dataset_folder(tmp_path)
    assert sorted(source.rsplit("/", 1)[-1] for source in parsed) == ["ae.json", "dm.json"]
    assert sorted(folder.also["DM"]) == ["dm.json", "dm.ndjson"]
    # and a copy that differs is still VAL006
    document["rows"][0][document["columns"].index(next(
        c for c in document["columns"] if c["name"] == "USUBJID"))] = "CHANGED"
    dm.write_text(json.dumps(document))
    with pytest.raises(CdiscError) as excinfo:
        read_dataset_folder(tmp_path)
    assert codes(excinfo) == {"VAL006"} and "CHANGED" in excinfo.value.problems[0].message


def test_folder_refuses_formats_that_disagree_and_duplicates(tmp_path):
    frame = pd.DataFrame({"STUDYID": ["S1", "S1"], "AGE": [50.0, 60.0]})
    dataset = dataset_of(frame, name="DM", label="Demographics")
    write_datasets([dataset], tmp_path, created=CREATED, formats=("xpt",))
    changed = frame.copy()
    changed.loc[1, "AGE"] = 61.0
    write_datasets([dataset_of(changed, name="DM", label="Demographics")], tmp_path,
                   created=CREATED, formats=("json",))
    with pytest.raises(CdiscError) as excinfo:
        read_dataset_folder(tmp_path)
    [problem] = excinfo.value.problems
    assert problem.code == "VAL006" and problem.location.file == "dm.json"
    assert "61" in problem.message and "dm.xpt" in problem.message
    (tmp_path / "dm.json").unlink()
    (tmp_path / "other").mkdir()
    shutil.copy(tmp_path / "dm.xpt", tmp_path / "other" / "dm.xpt")
    with pytest.raises(CdiscError) as excinfo:
        read_dataset_folder(tmp_path)
    assert codes(excinfo) == {"VAL003"}


def test_folder_of_reports_only_has_no_datasets(tmp_path):
    (tmp_path / "validation.json").write_text('{"summary": {}}')
    with pytest.raises(CdiscError) as excinfo:
        read_dataset_folder(tmp_path)
    assert codes(excinfo) == {"VAL002"}


def test_folder_reports_a_broken_dataset_json(tmp_path):
    data = encode(dataset_of(tricky_frame()), created=CREATED)
    (tmp_path / "xx.json").write_bytes(data[:-40])  # truncated
    with pytest.raises(CdiscError) as excinfo:
        read_dataset_folder(tmp_path)
    assert codes(excinfo) == {"DSJ_NOT_JSON"}
    assert excinfo.value.problems[0].location.file == "xx.json"


# -- writers -----------------------------------------------------------------------------
def test_writers_registered_by_format(tmp_path):
    assert {name: (w.format, w.suffix) for name, w in WRITERS.items()} == {
        "xpt": ("xpt", ".xpt"), "json": ("json", ".json"), "ndjson": ("ndjson", ".ndjson")}
    assert formats_for("both") == ("xpt", "json") and formats_for("json") == ("json",)
    with pytest.raises(OutputError):
        formats_for("sas7bdat")
    dataset = dataset_of(pd.DataFrame({"STUDYID": ["S1"], "AGE": [50.0]}), name="DM",
                         label="Demographics")
    paths = write_datasets([dataset], tmp_path, created=CREATED, formats=("xpt", "json"),
                           metadata_ref="define.xml")
    assert [p.name for p in paths] == ["dm.xpt", "dm.json"]
    document = json.loads((tmp_path / "dm.json").read_bytes())
    assert document["metaDataRef"] == "define.xml"
    assert document["sourceSystem"]["name"] == "cdisc-convert"
    assert WRITERS["json"].metadata_ref is None  # the registered writer is not changed


def test_both_formats_code_each_text_column_once(tmp_path, monkeypatch):
    """write_datasets codes a text column once for XPT and Dataset-JSON; outside it (or
    for another array) the codes are made again."""
    calls = []
    real = text.factorize
    monkeypatch.setattr(text, "factorize", lambda values: calls.append(len(values))
                        or real(values))
    frame = pd.DataFrame({"STUDYID": ["S1"] * 3, "USUBJID": ["S1-1", "S1-2", "S1-1"],
                          "AGE": [50.0, 61.0, 50.0]})
    dataset = dataset_of(frame, name="DM", label="Demographics")
    write_datasets([dataset], tmp_path, created=CREATED, formats=formats_for("both"))
    assert calls == [3, 3]  # STUDYID and USUBJID, once each
    assert read_xpt(tmp_path / "dm.xpt")[0]["USUBJID"].tolist() == ["S1-1", "S1-2", "S1-1"]
    assert json.loads((tmp_path / "dm.json").read_bytes())["rows"][1] == ["S1", "S1-2", 61]
    with text.codes_shared():
        first = text.text_codes(frame["USUBJID"].to_numpy(dtype=object))
        assert text.text_codes(frame["USUBJID"].to_numpy(dtype=object)) is first
        assert not first.codes.flags.writeable  # shared: nobody may change them
        assert text.text_codes(frame["USUBJID"].to_numpy(dtype=object).copy()) is not first
    assert text.text_codes(frame["USUBJID"].to_numpy(dtype=object)) is not first


def test_json_writer_leaves_the_xpt_bytes_alone(tmp_path):
    frame = pd.DataFrame({"STUDYID": ["S1"], "AGE": [50.0]})
    dataset = dataset_of(frame, name="DM", label="Demographics")
    write_xpt(frame, tmp_path / "alone.xpt", name="DM", label="Demographics",
              column_labels=dataset.meta.labels, created=CREATED)
    write_datasets([dataset], tmp_path, created=CREATED, formats=formats_for("both"))
    assert (tmp_path / "dm.xpt").read_bytes() == (tmp_path / "alone.xpt").read_bytes()


@pytest.mark.parametrize("ndjson", [False, True])
def test_chunked_writing_gives_the_bytes_of_one_piece(tmp_path, monkeypatch, ndjson):
    """Rows are encoded, checked and written a chunk at a time; the file is the one
    :func:`encode` makes whole, and a bad row in a later chunk stops the write."""
    frame = pd.DataFrame({"N": np.arange(1000, dtype=float),
                          "T": [f"t{i % 7}" if i % 5 else None for i in range(1000)]})
    dataset = dataset_of(frame)
    whole = encode(dataset, created=CREATED, ndjson=ndjson, header=Header())
    monkeypatch.setattr(dataset_json, "CHUNK_ROWS", 64)
    path = tmp_path / "chunked.json"
    for verify in ("fast", "full"):
        assert write_dataset_json(dataset, path, created=CREATED, ndjson=ndjson,
                                  verify=verify) == len(whole)
        assert path.read_bytes() == whole
    monkeypatch.setattr(dataset_json, "ROW_BYTES", 40)  # assembled a few rows at a time
    assert write_dataset_json(dataset, path, created=CREATED, ndjson=ndjson) == len(whole)
    assert path.read_bytes() == whole
    real = dataset_json._rows_bytes

    def corrupt(parts, rows):  # row 901 (record 902), in the 15th chunk
        return real(parts, rows).replace(b'[901,"t5"]', b'[901,"t6"]')

    monkeypatch.setattr(dataset_json, "_rows_bytes", corrupt)
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset, path, created=CREATED, ndjson=ndjson, verify="full")
    assert excinfo.value.problems[0].location.record == 902
    assert path.read_bytes() == whole  # the earlier file is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunked.json"]  # no temporary


def test_text_columns_are_verified_per_distinct_value_and_their_codes_checked(tmp_path,
                                                                             monkeypatch):
    """Text is checked once per distinct value; that the records' codes take each one to
    its own value is checked too, so a hash that merges two values (pandas' factorize
    takes "M\\x00" for "M") is caught, not written."""
    frame = pd.DataFrame({"SEX": ["M", "M\x00", "F", "M"]})
    path = tmp_path / "dm.json"
    write_dataset_json(dataset_of(frame), path, created=CREATED)
    assert json.loads(path.read_bytes())["rows"] == [["M"], ["M\x00"], ["F"], ["M"]]

    def merging(values):
        codes, distinct = pd.factorize(np.asarray(values, dtype=object))
        return codes, np.asarray(distinct, dtype=object)

    monkeypatch.setattr(text, "factorize", merging)  # what text_codes codes with
    with pytest.raises(OutputError) as excinfo:
        write_dataset_json(dataset_of(frame), tmp_path / "merged.json", created=CREATED)
    problem = excinfo.value.problems[0]
    assert (problem.code, problem.location.field, problem.location.record) == (
        "DSJ_VERIFY", "SEX", 2)
    assert not (tmp_path / "merged.json").exists()
