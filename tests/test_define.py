"""define.xml 2.1: generated from the dataset model, read back, and checked by ``cdisc validate``.

* The example's SDTM define.xml (and the ADaM one) is valid against the official
  Define-XML 2.1 XSD package (the ``defineutils`` dependency's copy, else
  ``../shared/reference``; skipped when neither is there), covers every dataset
  and variable written, has value-level metadata for TR, RS, TU and SUPP--
  (ADTTE/ADRS by PARAMCD), origins and methods from the provenance, and
  codelists with the terms used and their NCI codes.
* The official examples parse with our reader and pass the consistency
  checks against datasets made from themselves.
* A define.xml with a dataset removed, a wrong length or a term missing from a
  codelist gets one located finding each; the valid one gets none.
* define.html renders through the CDISC stylesheet.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from cdisc.formats import define_xml
from cdisc.formats.define_xml import DEF_NS, ODM_NS, read_define, schema_errors
from cdisc.output.define import build_define, regenerate_define, render_html, write_define
from cdisc.output.folder import MARKER, write_marker
from cdisc.output.writers import write_datasets
from cdisc.pipeline import build
from cdisc.resources import example_spec_path
from cdisc.validate import validate_datasets, validate_folder
from cdisc.validate.define_checks import DataFile, load_define

from helpers import SHARED

EXAMPLES = SHARED / "reference" / "define-xml-2.1" / "examples"
NS = {"odm": ODM_NS, "def": DEF_NS}


def schema_folder() -> Path | None:
    """The XSD package of the dependency, else the shared reference copy, else None."""
    if define_xml.schema_available():
        return None  # schema_errors' default
    shared = SHARED / "reference" / "define-xml-2.1" / "schema"
    if (shared / "cdisc-define-2.1" / "define2-1-0.xsd").is_file():
        return shared
    pytest.skip("no Define-XML 2.1 schema: install defineutils or provide ../shared/reference")


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    spec, result = build()
    return spec, result


@pytest.fixture(scope="module")
def written(example):
    """The example's datasets with records, as the pipeline writes them."""
    _, result = example
    return [t for t in result.tables.values() if len(t)]


@pytest.fixture(scope="module")
def sdtm_xml(example, written) -> bytes:
    spec, _ = example
    return build_define(written, standard="SDTM", study=spec.study, spec=spec)


@pytest.fixture(scope="module")
def doc(sdtm_xml):
    return read_define(sdtm_xml)


@pytest.fixture(scope="module")
def out_folder(example, written, tmp_path_factory) -> Path:
    """An output folder (marker, sdtm/*.xpt, sdtm/define.xml): read only, copy to change."""
    spec, _ = example
    root = tmp_path_factory.mktemp("define") / "out"
    (root / "sdtm").mkdir(parents=True)
    files = write_datasets(written, root / "sdtm", created=spec.study.created)
    files += write_define(root / "sdtm", written, standard="SDTM", study=spec.study, spec=spec)
    write_marker(root, files)
    return root


def _tree(xml: bytes) -> etree._ElementTree:
    return etree.fromstring(xml).getroottree()


def _one(tree: etree._ElementTree, xpath: str) -> etree._Element:
    found = tree.xpath(xpath, namespaces=NS)
    assert len(found) == 1, (xpath, len(found))
    return found[0]


# --- the generated define.xml -------------------------------------------------------


def test_sdtm_define_is_valid_against_the_define_xml_21_schema(sdtm_xml):
    errors = schema_errors(sdtm_xml, folder=schema_folder())
    assert errors == [], errors[:5]


def test_the_define_is_read_back_with_the_stylesheet_instruction(sdtm_xml, doc):
    head = sdtm_xml[:200].decode()
    assert head.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>' in head
    assert doc.define_version == "2.1.0" and doc.context == "Submission"
    assert doc.study_name == "PECOMA-MTOR"
    assert doc.creation == "2013-02-01T00:00:00"  # the study's created, not the clock
    standards = {(s.name, s.type, s.version, s.publishing_set) for s in doc.standards}
    assert ("SDTMIG", "IG", "3.4", None) in standards
    assert ("CDISC/NCI", "CT", "2025-03-28", "SDTM") in standards


def test_define_covers_every_dataset_and_variable_written(written, doc):
    assert set(doc.datasets) == {t.name for t in written}
    for table in written:
        described = doc.datasets[table.name]
        assert described.names == table.meta.names
        assert described.label == table.label
        assert described.leaf == f"{table.name.lower()}.xpt"
        assert described.keys == tuple(k for k in table.meta.keys if k in table.frame)
        for meta in table.meta.variables:
            variable = described.variable(meta.name)
            assert variable.label == meta.label
            if meta.datatype == "Char" and variable.datatype == "text":
                assert variable.length == meta.length, meta.name
            assert (variable.datatype in ("integer", "float")) == meta.is_numeric, meta.name
            assert variable.mandatory == (meta.core == "Req")
    assert doc.datasets["DM"].dataset_class == "SPECIAL PURPOSE"
    assert doc.datasets["TR"].dataset_class == "FINDINGS"
    assert doc.datasets["SUPPDM"].dataset_class == "RELATIONSHIP"


def test_an_independent_reader_sees_the_same_define(sdtm_xml, doc, tmp_path):
    """odmlib (MIT, by an author of Define-XML) loads it into its Define-XML 2.1 model."""
    loader_mod = pytest.importorskip("odmlib.loader")
    define_loader = pytest.importorskip("odmlib.define_loader")
    path = tmp_path / "define.xml"
    path.write_bytes(sdtm_xml)
    loader = loader_mod.ODMLoader(define_loader.XMLDefineLoader(
        model_package="define_2_1", ns_uri=DEF_NS))
    loader.open_odm_document(str(path))
    mdv = loader.MetaDataVersion()
    assert [g.Name for g in mdv.ItemGroupDef] == list(doc.datasets)
    items = {i.OID: i for i in mdv.ItemDef}
    for dataset in doc.datasets.values():
        for variable in define_xml.iter_variables(dataset):
            item = items[variable.oid]
            assert (item.Name, item.DataType) == (variable.name, variable.datatype)
            assert (int(item.Length) if item.Length else None) == variable.length
    assert {c.OID for c in mdv.CodeList} == set(doc.codelists)
    assert {m.OID for m in mdv.MethodDef} == set(doc.methods)


def test_the_same_datasets_give_the_same_bytes(example, written, sdtm_xml):
    spec, _ = example
    again = build_define(list(reversed(written)), standard="SDTM", study=spec.study, spec=spec)
    assert again == sdtm_xml


def test_a_column_is_made_distinct_as_python_compares_text():
    """pandas' drop_duplicates takes "M\\x00" for "M" (it hashes text up to a NUL): the
    define would then give SEX the length of "M"."""
    from cdisc.output import define

    distinct = define._unique(pd.Series(["M", "M\x00", "M", None, "F"], name="SEX"))
    assert distinct.tolist() == ["M", "M\x00", "F"]
    assert define._char_type(pd.Series(["M", "M\x00"]), iso=False).length == 2


def test_a_key_column_mixing_numbers_and_booleans_keeps_each_records_text():
    """A hash takes True, 1 and 1.0 for one value; the text of each record is its own."""
    from types import SimpleNamespace

    from cdisc.model import text
    from cdisc.output import define

    frame = pd.DataFrame({"K": pd.Series([True, 1, 1.0, 2, 2.0, "x"], dtype=object)})
    writer = SimpleNamespace(frame=frame, _texts={}, _rows={})
    with text.codes_shared():
        got = define._DatasetWriter.text_of(writer, "K").tolist()
    assert got == ["True", "1", "1.0", "2", "2.0", "x"]


def test_a_column_has_values_wherever_its_first_value_is():
    from cdisc.output import define

    late = [None] * 2000 + ["x"]  # beyond the records looked at first
    assert define._has_values(pd.Series(late))
    assert define._has_values(pd.Series(["  ", None, "y"]))  # a blank first value
    assert define._has_values(pd.Series([None, 1], dtype=object))
    assert not define._has_values(pd.Series(["  ", None, ""] * 700))
    assert not define._has_values(pd.Series([None] * 3000, dtype=object))


def _where(item) -> tuple[str, ...]:
    return tuple(f"{c.variable}={'+'.join(c.values)}" for w in item.where for c in w.checks)


def test_value_level_metadata_per_test_code_and_qnam(doc, example):
    _, result = example
    tr = doc.datasets["TR"]
    orres = tr.variable("TRORRES")
    # each record block that hardcodes TRTESTCD (through condition cases too) is a where clause
    assert [_where(i) for i in orres.value_list] == [
        ("TRTESTCD=LPERP",), ("TRTESTCD=LDIAM",), ("TRTESTCD=TUMSTATE",), ("TRTESTCD=SUMDIAM",)]
    by_test = {_where(i)[0]: i.variable for i in orres.value_list}
    assert by_test["TRTESTCD=LDIAM"].datatype in ("integer", "float")
    assert by_test["TRTESTCD=TUMSTATE"].datatype == "text"
    assert by_test["TRTESTCD=SUMDIAM"].origins[0].type == "Derived"
    assert by_test["TRTESTCD=LDIAM"].origins[0].type == "Collected"
    stresc = {_where(i)[0]: i.variable for i in tr.variable("TRSTRESC").value_list}
    assert stresc["TRTESTCD=TUMSTATE"].codelist.values >= {"PRESENT", "ABSENT"}
    assert stresc["TRTESTCD=LDIAM"].codelist is None  # a number, not a tumour state
    assert tr.variable("TRSTRESC").codelist is None
    # RS: one where clause per test; NEWLPROG answers Y/N, the others are responses
    rs = {_where(i)[0]: i.variable for i in doc.datasets["RS"].variable("RSSTRESC").value_list}
    assert set(rs) == {f"RSTESTCD={t}" for t in set(result.tables["RS"].frame["RSTESTCD"])}
    assert rs["RSTESTCD=NEWLPROG"].codelist.oid == "CL.NY"
    assert rs["RSTESTCD=OVRLRESP"].codelist.oid == "CL.ONCRSR"
    assert [_where(i) for i in doc.datasets["TU"].variable("TUORRES").value_list] == [
        ("TUTESTCD=TUMIDENT",)]
    # SUPPQUAL: QVAL per QNAM, labelled with QLABEL, with the origin the spec gives
    supp = doc.datasets["SUPPDM"].variable("QVAL").value_list
    qnams = {_where(i)[0].split("=")[1]: i.variable for i in supp}
    assert set(qnams) == set(result.tables["SUPPDM"].frame["QNAM"])
    assert qnams["PRIMSITE"].label == "Primary Tumour Site"
    assert qnams["METPRES"].codelist.oid == "CL.NY"
    assert qnams["PRCHEDTC"].datatype in ("date", "partialDate")
    assert qnams["WHOPS"].origins[0].type == "Collected"
    aetoxver = doc.datasets["SUPPAE"].variable("QVAL").value_list[0].variable
    assert aetoxver.origins[0].type == "Assigned"


def test_origins_follow_the_provenance(doc):
    dm, tr = doc.datasets["DM"], doc.datasets["TR"]
    assert dm.variable("STUDYID").origins[0].type == "Protocol"
    assert dm.variable("DOMAIN").origins[0].type == "Assigned"
    sex = dm.variable("SEX").origins[0]
    assert (sex.type, sex.source, sex.description) == ("Collected", "Investigator",
                                                       "Source: patients.sex")
    assert dm.variable("RFICDTC").origins[0].type == "Collected"  # assign_datetime
    assert dm.variable("AGEU").origins[0].type == "Assigned"  # hardcode_ct
    for name in ("USUBJID", "RFSTDTC", "DTHFL", "ARMCD"):
        assert dm.variable(name).origins[0].type == "Derived", name
    for name in ("TRSEQ", "TRDY", "EPOCH"):
        assert tr.variable(name).origins[0].type == "Derived", name
    # a variable made one way in one block and another way in others lists both
    assert [o.type for o in tr.variable("TRTESTCD").origins] == ["Derived", "Assigned"]
    # an Expected variable nobody collected
    assert doc.datasets["AE"].variable("AELLT").origins[0].type == "Not Available"


def test_methods_say_how_each_derived_variable_is_made(doc):
    def method(dataset: str, variable: str) -> str:
        return doc.methods[f"MT.{dataset}.{variable}"]

    assert "TRDTC - DM.RFSTDTC + 1" in method("TR", "TRDY")
    assert "no study day 0" in method("TR", "TRDY")
    assert "1, 2, 3" in method("AE", "AESEQ") and "AEDECOD" in method("AE", "AESEQ")
    epoch = method("EX", "EPOCH")
    assert all(word in epoch for word in ("SCREENING", "TREATMENT", "FOLLOW-UP", "EXSTDTC"))
    assert "earliest of EX.EXSTDTC" in method("DM", "RFSTDTC")
    assert "patients.treatment = 'Temsirolimus'" in method("DM", "ARMCD")
    assert "padded with leading zeros to 3" in method("DM", "USUBJID")
    sumdiam = doc.methods["MT.TR.TRORRES.SUMDIAM"]
    assert "sum of tumour_measurements.diameter_mm" in sumdiam
    # every MethodOID points at a MethodDef, every derived variable has one
    for dataset in doc.datasets.values():
        for variable in define_xml.iter_variables(dataset):
            if variable.method_oid:
                assert variable.method_oid in doc.methods


def test_codelists_hold_the_terms_used_with_nci_codes(doc, example):
    _, result = example
    sex = doc.codelists["CL.SEX"]
    assert sex.nci_code == "C66731"
    assert {t.coded_value for t in sex.terms} == set(result.tables["DM"].frame["SEX"])
    assert {(t.coded_value, t.decode, t.nci_code) for t in sex.terms} >= {
        ("F", "Female", "C16576")}
    ny = doc.codelists["CL.NY"]
    assert {t.coded_value for t in ny.terms} <= {"Y", "N"}  # not NA/U: unused, undeclared
    testcd = doc.codelists["CL.TRTESTCD"]
    assert {(t.coded_value, t.decode) for t in testcd.terms} >= {("LDIAM", "Longest Diameter")}
    assert all(t.nci_code for t in testcd.terms)
    arm = doc.codelists["CL.ARMCD"]  # sponsor codelist decoded by ARM
    assert {t.decode for t in arm.terms} == set(result.tables["DM"].frame["ARM"])
    # every value of a variable with a codelist is a term of it (a dictionary, such as
    # AEDECOD's CTCAE 4.0, names its terms instead of listing them)
    for name, table in result.tables.items():
        if not len(table):
            continue
        for variable in doc.datasets[name].variables:
            if variable.codelist is not None and not variable.codelist.external:
                values = set(table.frame[variable.name].dropna().astype(str))
                assert values <= variable.codelist.values, (name, variable.name)


def test_comments_become_comment_defs(example, written):
    spec, _ = example
    xml = build_define(written, standard="SDTM", study=spec.study, spec=spec,
                       comments={"DM": "One record per patient of the case series.",
                                 "DM.RACE": "Race was not collected."})
    doc = read_define(xml)
    assert doc.comments[doc.datasets["DM"].comment_oid] == (
        "One record per patient of the case series.")
    race = doc.comments[doc.datasets["DM"].variable("RACE").comment_oid]
    assert race.startswith("Race was not collected.")
    assert schema_errors(xml, folder=schema_folder()) == []


def test_define_html_renders_through_the_stylesheet(sdtm_xml):
    if define_xml.stylesheet_path() is None:
        pytest.skip("the define2-1 stylesheet (defineutils) is not installed")
    html = render_html(sdtm_xml).decode("utf-8")
    assert "PECOMA-MTOR" in html and "Tumor/Lesion Results" in html
    assert "TRTESTCD" in html and "LDIAM" in html


# --- cdisc validate with a define.xml -------------------------------------------------


def _define_findings(folder: Path) -> list:
    return [p for p in validate_folder(folder).findings if p.code.startswith("CV12")]


def test_the_written_folder_passes_the_define_checks(out_folder):
    assert (out_folder / "sdtm" / "define.xml").is_file()
    assert (out_folder / "sdtm" / "define2-1.xsl").is_file() == (
        define_xml.stylesheet_path() is not None)
    assert _define_findings(out_folder) == []


def _edit(folder: Path, change) -> Path:
    path = folder / "sdtm" / "define.xml"
    tree = etree.parse(str(path))
    change(tree)
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    return path


def _drop_dataset(tree):
    group = _one(tree, "//odm:ItemGroupDef[@Name='AE']")
    group.getparent().remove(group)


def _wrong_length(tree):
    _one(tree, "//odm:ItemDef[@OID='IT.DM.SITEID']").set("Length", "5")


def _drop_term(tree):
    item = _one(tree, "//odm:CodeList[@OID='CL.SEX']/*[@CodedValue='F']")
    item.getparent().remove(item)


@pytest.mark.parametrize("change, code, where", [
    (_drop_dataset, "CV1202", {"dataset": "AE", "file": "sdtm/ae.xpt"}),
    (_wrong_length, "CV1206", {"dataset": "DM", "field": "SITEID", "file": "sdtm/define.xml"}),
    (_drop_term, "CV1209", {"dataset": "DM", "field": "SEX", "value": "F",
                            "file": "sdtm/dm.xpt"}),
], ids=["dataset removed", "wrong length", "term missing"])
def test_a_defect_in_define_xml_is_one_located_finding(out_folder, tmp_path, change, code,
                                                       where):
    folder = tmp_path / "out"
    shutil.copytree(out_folder, folder)
    _edit(folder, change)
    findings = _define_findings(folder)
    assert [p.code for p in findings] == [code], [str(p) for p in findings]
    location = findings[0].location
    for key, value in where.items():
        assert getattr(location, key) == value, (key, str(findings[0]))
    if location.file == "sdtm/define.xml":
        assert location.line  # the line of the ItemDef
    if code == "CV1209":
        assert location.record is not None


def test_a_define_xml_that_is_not_schema_valid_is_reported_by_line(out_folder, tmp_path):
    schema_folder()
    if not define_xml.schema_available():
        pytest.skip("validate_folder uses the installed schema only")
    folder = tmp_path / "out"
    shutil.copytree(out_folder, folder)
    _edit(folder, lambda t: _one(t, "//odm:ItemDef[@OID='IT.DM.AGE']").set("DataType", "number"))
    findings = _define_findings(folder)
    assert {p.code for p in findings} == {"CV1201"}
    assert findings[0].location.file == "sdtm/define.xml" and findings[0].location.line


def test_a_define_xml_that_is_not_xml_is_one_finding(out_folder, tmp_path):
    folder = tmp_path / "out"
    shutil.copytree(out_folder, folder)
    (folder / "sdtm" / "define.xml").write_text("<ODM><broken></ODM>", encoding="utf-8")
    findings = _define_findings(folder)
    assert [p.code for p in findings] == ["CV1201"]
    assert findings[0].location.line == 1


def test_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    xml = (f'<?xml version="1.0"?><!DOCTYPE ODM [<!ENTITY x SYSTEM "file://{secret}">]>'
           f'<ODM xmlns="{ODM_NS}"><Study OID="S"><GlobalVariables><StudyName>&x;</StudyName>'
           '</GlobalVariables><MetaDataVersion OID="M" Name="M"/></Study></ODM>')
    doc = read_define(xml.encode())
    assert "TOP SECRET" not in (doc.study_name or "")


# --- regenerating for an existing folder ---------------------------------------------


def test_regenerate_define_for_an_existing_folder(out_folder, tmp_path):
    folder = tmp_path / "out"
    shutil.copytree(out_folder, folder)
    original = (folder / "sdtm" / "define.xml").read_bytes()
    for name in ("define.xml", "define.html", "define2-1.xsl"):
        (folder / "sdtm" / name).unlink(missing_ok=True)
    written = regenerate_define(folder / "sdtm", example_spec_path())
    assert written == folder / "sdtm" / "define.xml"
    # described from the files alone, it is the define.xml of the run
    assert written.read_bytes() == original
    assert "sdtm/define.xml" in (folder / MARKER).read_text(encoding="utf-8")


# --- ADaM -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adam(example):
    derive_adam = pytest.importorskip("cdisc.adam").derive_adam
    spec, result = example
    datasets = derive_adam(result.tables, getattr(spec, "adam", None))
    return build_define(datasets.values(), standard="ADaM", study=spec.study, spec=spec), datasets


def test_adam_define_is_valid_and_describes_parameters(adam):
    xml, datasets = adam
    assert schema_errors(xml, folder=schema_folder()) == []
    doc = read_define(xml)
    assert set(doc.datasets) == set(datasets)
    assert doc.datasets["ADSL"].purpose == "Analysis" and not doc.datasets["ADSL"].repeating
    adtte = doc.datasets["ADTTE"]
    assert adtte.dataset_class == "BASIC DATA STRUCTURE" and adtte.subclasses == (
        "TIME-TO-EVENT",)
    params = set(datasets["ADTTE"].frame["PARAMCD"])
    for name in ("AVAL", "CNSR"):
        items = adtte.variable(name).value_list
        assert {_where(i)[0] for i in items} == {f"PARAMCD={p}" for p in params}, name
        for item in items:
            assert item.variable.origins[0].type == "Derived"
    cnsr = [m for oid, m in doc.methods.items() if oid.startswith("MT.ADTTE.CNSR.")]
    assert cnsr and all("CNSR = 0 when ADT is an event date" in m for m in cnsr)
    copied = doc.datasets["ADSL"].variable("SEX").origins[0]
    assert (copied.type, copied.description) == ("Predecessor", "DM.SEX")
    trtsdt = doc.datasets["ADSL"].variable("TRTSDT")
    assert trtsdt.datatype == "integer" and trtsdt.display_format == "DATE9."


def test_regenerate_define_for_an_adam_folder(example, adam, tmp_path):
    spec, result = example
    xml, datasets = adam
    (tmp_path / "sdtm").mkdir()
    (tmp_path / "adam").mkdir()
    write_datasets([t for t in result.tables.values() if len(t)], tmp_path / "sdtm",
                   created=spec.study.created)
    write_datasets(datasets.values(), tmp_path / "adam", created=spec.study.created)
    # provenance from deriving ADaM again from ../sdtm; values, labels, lengths from the files
    assert regenerate_define(tmp_path / "adam", example_spec_path()).read_bytes() == xml
    assert _define_findings(tmp_path) == []


# --- the official examples ---------------------------------------------------------------


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("defineV21-*.xml")) if EXAMPLES.is_dir() else []


def _data_from(dataset: define_xml.Dataset) -> DataFile:
    """Datasets as a define.xml describes them: its labels and lengths, its codelist terms."""
    plain = [v for v in dataset.variables if not v.value_list]
    terms = {v.name: [t.coded_value for t in v.codelist.terms] for v in plain
             if v.codelist is not None and v.codelist.terms}
    rows = max((len(t) for t in terms.values()), default=1)
    columns = {}
    for v in dataset.variables:
        values = terms.get(v.name)
        numeric = v.datatype in ("integer", "float")
        if values:
            cells = [values[i % len(values)] for i in range(rows)]
            columns[v.name] = (pd.to_numeric(pd.Series(cells)) if numeric
                               else pd.Series(cells, dtype=object))
        else:
            columns[v.name] = pd.Series([float("nan") if numeric else None] * rows,
                                        dtype="float64" if numeric else object)
    frame = pd.DataFrame(columns)
    lengths = {v.name: v.length or 1 for v in dataset.variables if v.datatype not in
               ("integer", "float")}
    return DataFile(dataset.name, dataset.leaf or f"{dataset.name.lower()}.xpt", frame,
                    dataset.label, {v.name: v.label for v in dataset.variables}, lengths)


@pytest.mark.skipif(not _examples(), reason="../shared/reference (official examples) is absent")
@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_official_examples_parse_and_agree_with_themselves(path):
    doc = read_define(path)
    assert doc.datasets and doc.codelists and doc.methods
    for dataset in doc.datasets.values():
        assert dataset.variables and dataset.label
        for variable in dataset.variables:
            assert variable.name and variable.datatype
    if path.name == "defineV21-SDTM.xml":
        lb = doc.datasets["LB"].variable("LBORRES")
        assert len(lb.value_list) == 8 and lb.value_list[0].where[0].checks[0].variable == \
            "LBTESTCD"
        assert doc.codelists["CL.SEX"].nci_code == "C66731"
    data = {name: _data_from(ds) for name, ds in doc.datasets.items()}
    define = load_define(path.name, path, data, schema_folder=schema_folder())
    result = validate_datasets({name: d.frame for name, d in data.items()}, defines=[define])
    findings = [p for p in result.findings if p.code.startswith("CV12")]
    assert findings == [], [str(p) for p in findings[:5]]


def test_a_method_reads_the_same_whatever_the_order_of_its_arguments_in_the_spec():
    """A spec imported from a workbook lists a mapping's keys in another order: the
    define.xml method text follows the algorithm's declared argument order instead."""
    from cdisc.output.define import _Builder

    as_written = {"source": "response", "column": "overall_response", "date": "scan_date",
                  "codelist": "ONCRSR"}
    reordered = {k: as_written[k] for k in ("codelist", "column", "date", "source")}
    text = _Builder._generic_text("best_response", as_written)
    assert text == _Builder._generic_text("best_response", reordered)
    assert text == ("Best response (source: response; column: overall_response; "
                    "date: scan_date; codelist: ONCRSR).")
