"""Standards metadata: the maintained tables, the generated schemas and the loader."""

from __future__ import annotations

import csv
import doctest
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from jsonschema import Draft202012Validator

from cdisc import standards
from cdisc.errors import StandardsError
from cdisc.standards import codelist, dataset, dataset_schema, known_datasets

ROOT = Path(__file__).resolve().parent.parent
# Read-only reference exports beside the checkout; only the cross-check uses them.
REFERENCE = ROOT.parent / "shared" / "reference" / "standards"

VARIABLE_COUNTS = {
    "DM": 32,
    "EX": 39,  # 37 of the IG + EXENRTPT/EXENTPT (SDTMIG 3.4 section 2.5)
    "AE": 60,
    "DS": 16,
    "TU": 31,
    "TR": 32,
    "RS": 46,
    "SUPPQUAL": 10,
    "TS": 11,
    "TA": 10,
    "TE": 7,
    "TV": 9,
    "TI": 8,
    "SV": 16,
    "SE": 13,
    "ADSL": 154,
    "ADTTE": 36,
    "ADRS": 28,
}


def _build_schemas() -> ModuleType:
    path = ROOT / "tools" / "build_schemas.py"
    spec = importlib.util.spec_from_file_location("build_schemas", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --- the loader ----------------------------------------------------------------


def test_module_docstring_example_holds() -> None:
    result = doctest.testmod(standards)
    assert result.attempted > 0 and result.failed == 0


def test_known_datasets() -> None:
    assert known_datasets() == sorted(VARIABLE_COUNTS)


@pytest.mark.parametrize(("name", "count"), sorted(VARIABLE_COUNTS.items()))
def test_variable_counts(name: str, count: int) -> None:
    ds = dataset(name)
    assert len(ds.variables) == count
    assert [v.order for v in ds.variables] == list(range(1, count + 1))


def test_dm_in_ig_order() -> None:
    dm = dataset("dm")
    assert dm.names[:4] == ("STUDYID", "DOMAIN", "USUBJID", "SUBJID")
    assert dm.names[-2:] == ("DMDTC", "DMDY")
    assert (dm.standard, dm.version, dm.dataset_class) == ("SDTMIG", "3.4", "Special-Purpose")
    assert dm.define_class == "SPECIAL PURPOSE"
    assert dm.keys == ("STUDYID", "USUBJID")
    sex = dm.variable("SEX")
    assert (sex.label, sex.datatype, sex.core, sex.role) == (
        "Sex",
        "Char",
        "Req",
        "Record Qualifier",
    )
    assert dm.variable("AGE").is_numeric
    assert dm.variable("BRTHDTC").iso8601 == "datetime"


def test_keys() -> None:
    assert dataset("AE").keys == ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC")
    assert dataset("TR").keys == (
        "STUDYID",
        "USUBJID",
        "TRTESTCD",
        "TREVAL",
        "VISITNUM",
        "TRDTC",
        "TRLNKID",
    )
    assert dataset("ADTTE").keys == ("STUDYID", "USUBJID", "PARAMCD")
    for name in known_datasets():
        ds = dataset(name)
        assert all(ds.has(k) for k in ds.keys), name


def test_aesev_closed_codelist() -> None:
    aesev = dataset("AE").variable("AESEV")
    assert aesev.codelist == "C66769"
    cl = codelist(aesev.codelist)
    assert cl.short_name == "AESEV" and not cl.extensible
    assert list(cl.terms) == ["MILD", "MODERATE", "SEVERE"]
    assert cl.terms["MILD"].code == "C41338"
    assert dataset_schema("AE")["properties"]["AESEV"]["enum"] == [
        "MILD",
        "MODERATE",
        "SEVERE",
        None,
    ]


def test_codelist_by_short_name_and_code() -> None:
    sex = codelist("SEX")
    assert sex is codelist("c66731")
    assert (sex.name, sex.source, sex.version) == ("Sex", "SDTM CT", "2025-03-28")
    assert sex.terms["F"].preferred_term == "Female"
    assert sex.terms["U"].synonyms == ("U", "UNK", "Unknown")
    assert codelist("NY").code == "C66742"
    assert codelist("DATEFL").source == "ADaM CT"
    assert codelist("BDSSC").terms["TIME-TO-EVENT"].code == "C165637"


def test_extensible_codelist_has_no_enum() -> None:
    assert codelist("UNIT").extensible
    assert "enum" not in dataset_schema("TR")["properties"]["TRORRESU"]


def test_dsdecod_uses_disposition_event_codelist() -> None:
    dsdecod = dataset("DS").variable("DSDECOD")
    assert dsdecod.codelist == "C66727"
    assert dsdecod.codelists == ("C66727", "C114118", "C150811")
    assert codelist("NCOMPLT").code == "C66727"


def test_supp_datasets_take_suppqual_structure() -> None:
    suppae = dataset("suppae")
    assert suppae.name == "SUPPAE"
    assert suppae.label == "Supplemental Qualifiers for AE"
    assert suppae.names == dataset("SUPPQUAL").names
    assert suppae.keys == ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM")
    schema = dataset_schema("SUPPDM")
    assert schema["x-cdisc"]["label"] == "Supplemental Qualifiers for DM"
    validator = Draft202012Validator(schema)
    record = {
        "STUDYID": "S1",
        "RDOMAIN": "DM",
        "USUBJID": "S1-01",
        "IDVAR": None,
        "IDVARVAL": None,
        "QNAM": "RACEOTH",
        "QLABEL": "Race, Other",
        "QVAL": "X",
        "QORIG": "CRF",
        "QEVAL": None,
    }
    assert validator.is_valid(record)
    assert not validator.is_valid(record | {"RDOMAIN": "AE"})


def test_dataset_schema_is_a_copy() -> None:
    dataset_schema("DM")["properties"].clear()
    assert "SEX" in dataset_schema("DM")["properties"]


@pytest.mark.parametrize("name", ["XX", "SUPP", "SUPPADSL", "ADAE", ""])
def test_unknown_dataset(name: str) -> None:
    with pytest.raises(StandardsError) as err:
        dataset(name)
    problem = err.value.problems[0]
    assert problem.code == "STD001" and problem.location.dataset == name


def test_unknown_variable() -> None:
    with pytest.raises(StandardsError) as err:
        dataset("DM").variable("AETERM")
    assert err.value.problems[0].code == "STD002"


@pytest.mark.parametrize("code", ["C99999", "NOPE", "C96777"])  # C96777 not shipped
def test_unknown_codelist(code: str) -> None:
    with pytest.raises(StandardsError) as err:
        codelist(code)
    assert err.value.problems[0].code == "STD003"


def test_adtte_tte_variables() -> None:
    adtte = dataset("ADTTE")
    assert adtte.subclass == "TIME-TO-EVENT"
    assert adtte.define_class == "BASIC DATA STRUCTURE"
    cnsr = adtte.variable("CNSR")
    assert (cnsr.datatype, cnsr.core) == ("Num", "Req")
    assert "CNSR" in dataset_schema("ADTTE")["required"]
    for name in ("STARTDT", "ADT", "TRTSDT"):
        var = adtte.variable(name)
        assert (var.datatype, var.display_format) == ("Num", "DATE9.")
    assert adtte.variable("STARTDTF").codelist == "C81223"
    for name in ("PARAM", "PARAMCD", "PARCAT1", "AVAL", "EVNTDESC", "CNSDTDSC", "SRCSEQ"):
        assert adtte.has(name), name


def test_adsl_has_the_variables_we_derive() -> None:
    adsl = dataset("ADSL")
    needed = [
        "STUDYID",
        "USUBJID",
        "SUBJID",
        "SITEID",
        "AGE",
        "AGEU",
        "SEX",
        "RACE",
        "ETHNIC",
        "ARM",
        "ACTARM",
        "TRT01P",
        "TRT01A",
        "TRTSDT",
        "TRTEDT",
        "TRTDURD",
        "SAFFL",
        "ITTFL",
        "EFFFL",
        "DTHFL",
        "DTHDT",
        "DTHCAUS",
        "LSTALVDT",
        "RANDDT",
        "EOSSTT",
        "DCSREAS",
    ]
    assert [n for n in needed if not adsl.has(n)] == []
    assert adsl.variable("TRTSDTM").display_format == "DATETIME20."
    assert adsl.variable("TRTSTM").display_format == "TIME8."
    assert adsl.variable("TRTDURD").display_format is None
    assert adsl.variable("EOSSTT").codelist == "C124296"


def test_adam_schema_allows_sponsor_and_further_period_variables() -> None:
    validator = Draft202012Validator(dataset_schema("ADSL"))
    base = {
        "STUDYID": "S1",
        "USUBJID": "S1-01",
        "SUBJID": "01",
        "SITEID": "1",
        "AGE": 60,
        "AGEU": "YEARS",
        "SEX": "F",
        "RACE": "WHITE",
        "ARM": "A",
        "TRT01P": "A",
    }
    assert validator.is_valid(base)
    assert validator.is_valid(base | {"TRT02P": "B", "MYFLAG": "Y"})
    assert not validator.is_valid(base | {"TRT02PN": "two"})  # typed like TRTxxPN
    assert not validator.is_valid(base | {"lower": 1})  # not an XPT variable name
    assert not validator.is_valid(base | {"SAFFL": "X"})  # population flags are Y/N


def test_sdtm_record_validation() -> None:
    validator = Draft202012Validator(dataset_schema("DM"))
    record = {
        "STUDYID": "S1",
        "DOMAIN": "DM",
        "USUBJID": "S1-01",
        "SUBJID": "01",
        "RFSTDTC": "2012-07",
        "SITEID": "1",
        "SEX": "F",
        "COUNTRY": "USA",
        "AGE": 52,
    }
    assert validator.is_valid(record)
    assert not validator.is_valid(record | {"SEX": "Female"})
    assert not validator.is_valid(record | {"DOMAIN": "AE"})
    assert not validator.is_valid(record | {"RFSTDTC": "15/07/2012"})
    assert not validator.is_valid(record | {"AGE": "52"})
    assert not validator.is_valid(record | {"XXNONSTD": "1"})  # goes to SUPPDM instead
    assert not validator.is_valid({k: v for k, v in record.items() if k != "SEX"})


# --- ISO 8601 patterns ------------------------------------------------------------

ACCEPTED_DATETIMES = [
    "2012",
    "2012-07",
    "2012-07-15",
    "2012-07-15T10",
    "2012-07-15T10:30",
    "2012-07-15T10:30:00",
    "2012-07-15T10:30:00.123",
    "2012-07-15T10:30+02:00",
    "2012-07-01/2012-07-15",  # the IG allows intervals in --DTC
    # A regex cannot know month lengths: an impossible day passes here and is
    # rejected by the date converter (cdisc.sdtm.dates), not by the schema.
    "2012-02-30",
]
REJECTED_DATETIMES = [
    "2012-13-01",
    "15/07/2012",
    "2012-7-15",
    "12-07-15",
    "2012-07-15T25:00",
    "2012-07-15T10:60",
    "2012-07-15T",
    "2012-07-15 10:30",
    "2012---15",  # SDTM dash placeholders are not supported
    "2012\n",
    "",
]
ACCEPTED_DURATIONS = ["P3D", "PT2H", "P1Y2M10DT2H30M", "P2W", "PT0.5H", "-P2M", "-PT15M"]
REJECTED_DURATIONS = ["P", "PT", "3D", "P1DT", "P1D2Y", "2 days", "P3D\n"]


def _pattern(dataset_name: str, variable: str) -> str:
    pattern = dataset(dataset_name).variable(variable).pattern
    assert pattern is not None
    return pattern


@pytest.mark.parametrize("value", ACCEPTED_DATETIMES)
def test_datetime_accepted(value: str) -> None:
    assert re.search(_pattern("AE", "AESTDTC"), value)
    assert Draft202012Validator(dataset_schema("AE")).is_valid(_ae(AESTDTC=value))


@pytest.mark.parametrize("value", REJECTED_DATETIMES)
def test_datetime_rejected(value: str) -> None:
    assert not re.search(_pattern("AE", "AESTDTC"), value)
    assert not Draft202012Validator(dataset_schema("AE")).is_valid(_ae(AESTDTC=value))


@pytest.mark.parametrize("value", ACCEPTED_DURATIONS)
def test_duration_accepted(value: str) -> None:
    assert re.search(_pattern("AE", "AEDUR"), value)


@pytest.mark.parametrize("value", REJECTED_DURATIONS)
def test_duration_rejected(value: str) -> None:
    assert not re.search(_pattern("AE", "AEDUR"), value)


def _ae(**values: object) -> dict[str, object]:
    return {
        "STUDYID": "S1",
        "DOMAIN": "AE",
        "USUBJID": "S1-01",
        "AESEQ": 1,
        "AETERM": "Rash",
        "AEDECOD": "Rash",
    } | values


def test_pattern_kinds_follow_variable_names() -> None:
    for name in known_datasets():
        for var in dataset(name).variables:
            dtc = var.name.endswith("DTC")
            dur = var.name.endswith(("DUR", "ELTM", "EVLINT"))
            assert (var.iso8601 == "datetime") == dtc, (name, var.name)
            assert (var.iso8601 == "duration") == dur, (name, var.name)
            assert (var.pattern is None) == (var.iso8601 is None)


# --- generated files and tables ---------------------------------------------------


def test_generated_files_are_current(tmp_path: Path) -> None:
    build = _build_schemas()
    assert build.main(["--out", str(tmp_path)]) == 0
    shipped = ROOT / "schemas"
    generated = sorted(build.generated_files(tmp_path))
    assert generated == sorted(build.generated_files(shipped)), "stale or missing schema files"
    for rel in generated:
        assert (tmp_path / rel).read_bytes() == (shipped / rel).read_bytes(), (
            f"schemas/{rel} is out of date: run python tools/build_schemas.py"
        )


def test_schemas_are_valid_draft_2020_12() -> None:
    for name in known_datasets():
        schema = dataset_schema(name)
        Draft202012Validator.check_schema(schema)
        x = schema["x-cdisc"]
        assert list(schema["properties"]) == list(dataset(name).names)
        assert x["keys"] == list(dataset(name).keys)
        assert set(schema["required"]) == {
            v.name for v in dataset(name).variables if v.core == "Req"
        }


def test_every_shipped_codelist_reference_resolves_or_is_known_missing() -> None:
    # Codelists the IG names that are absent from the reference CT exports we
    # copied from; extend codelists.tsv to close this list.
    missing = {
        "C111110",
        "C118971",
        "C150811",
        "C158113",
        "C170443",
        "C171445",  # SV.SVCNTMOD (CNTMODE)
        "C96777",
    }
    referenced = {
        code for name in known_datasets() for v in dataset(name).variables for code in v.codelists
    }
    assert referenced - set(standards.known_codelists()) == missing


def test_ct_versions() -> None:
    assert standards.ct_versions() == {
        "SDTM CT": "2025-03-28",
        "ADaM CT": "2025-09-26",
        "Define-XML CT": "2025-09-26",
    }


def test_no_runtime_path_to_reference_material() -> None:
    shipped = [ROOT / "cdisc" / "standards.py", ROOT / "tools" / "build_schemas.py"]
    shipped += sorted((ROOT / "schemas").rglob("*.json"))
    shipped += sorted((ROOT / "schemas" / "metadata").iterdir())
    for path in shipped:
        assert "work/shared" not in path.read_text(encoding="utf-8"), path


#: datasets whose variables the reference extract lacks: their rows cite the SDTMIG section
NOT_IN_REFERENCE = {"TV": "7.3.1", "TI": "7.4.1"}


def test_datasets_not_in_the_reference_cite_the_ig() -> None:
    with (ROOT / "schemas" / "metadata" / "variables.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] in NOT_IN_REFERENCE]
    assert {r["dataset"] for r in rows} == set(NOT_IN_REFERENCE)
    for r in rows:
        assert f"SDTMIG 3.4 section {NOT_IN_REFERENCE[r['dataset']]}" in r["source"]


def _timing_added(name: str) -> set[str]:
    """Timing variables a domain table of the IG does not list, added under section 2.5."""
    with (ROOT / "schemas" / "metadata" / "variables.csv").open(encoding="utf-8") as fh:
        return {r["name"] for r in csv.DictReader(fh)
                if r["dataset"] == name and r["source"].startswith("SDTMIG 3.4 section 2.5")}


def test_timing_variables_added_under_section_2_5_are_like_their_ig_siblings() -> None:
    # SDTMIG 3.4 section 2.5: "Any Timing variables are permissible for use in any
    # submission dataset based on a general observation class"; EX lists no --ENRTPT
    assert _timing_added("EX") == {"EXENRTPT", "EXENTPT"}
    ex, ae = dataset("EX"), dataset("AE")
    for suffix in ("ENRTPT", "ENTPT"):
        mine, sibling = ex.variable(f"EX{suffix}"), ae.variable(f"AE{suffix}")
        assert (mine.label, mine.datatype, mine.core, mine.role, mine.codelist) == (
            sibling.label, sibling.datatype, sibling.core, sibling.role, sibling.codelist)
    assert ex.names[-3:] == ("EXRFTDTC", "EXENRTPT", "EXENTPT")


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference exports not available")
def test_sdtm_variables_match_reference() -> None:
    with (REFERENCE / "sdtmig-3.4-variables.csv").open(encoding="utf-8-sig", newline="") as fh:
        reference = {(r["Dataset Name"], r["Variable Name"]): r for r in csv.DictReader(fh)}
    for name in known_datasets():
        ds = dataset(name)
        if ds.standard != "SDTMIG" or name in NOT_IN_REFERENCE:
            continue
        added = _timing_added(name)
        assert len(ds.variables) == sum(1 for d, _ in reference if d == name) + len(added)
        for var in ds.variables:
            if var.name in added:
                continue
            ref = reference[(name, var.name)]
            assert (var.label, var.datatype, var.core, var.role, var.order) == (
                ref["Variable Label"],
                ref["Type"],
                ref["Core"],
                ref["Role"],
                int(ref["Variable Order"]),
            )
            assert " ".join(var.codelists) == " ".join(
                c.strip() for c in ref["CDISC CT Codelist Code(s)"].split(";") if c.strip()
            )


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference exports not available")
def test_adam_variables_match_reference() -> None:
    structures = {
        "ADaMIG 1.3 ADSL": "Subject-Level Analysis Dataset",
        "ADaMIG 1.3 BDS": "Basic Data Structure",
    }
    with (REFERENCE / "adamig-1.3-variables.csv").open(encoding="utf-8-sig", newline="") as fh:
        reference = {(r["Data Structure Name"], r["Variable Name"]): r for r in csv.DictReader(fh)}
    table = ROOT / "schemas" / "metadata" / "variables.csv"
    with table.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] in structures]
    assert len(rows) > 150
    for row in rows:
        ref = reference[(structures[row["source"]], row["ig_name"])]
        var = dataset(row["dataset"]).variable(row["name"])
        assert (var.datatype, var.core, var.codelist or "") == (
            ref["Type"],
            ref["Core"],
            ref["CDISC CT Codelist Code(s)"],
        ), row["name"]
        # Placeholders instantiated for one period/group: xx -> 01, y -> 1.
        generic = re.sub(r"\b(xx|zz)\b", "01", re.sub(r"\b[yw]\b", "1", ref["Variable Label"]))
        assert var.label == generic


def test_adam_pattern_properties_agree_with_listed_variables() -> None:
    for name in ("ADSL", "ADTTE"):
        schema = dataset_schema(name)
        for pattern, generic in schema["patternProperties"].items():
            matches = [p for p in schema["properties"] if re.search(pattern, p)]
            assert matches, pattern
            for prop in matches:
                assert schema["properties"][prop]["type"] == generic["type"], (pattern, prop)
