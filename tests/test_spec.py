"""Spec errors: every problem reported, each with file, line, column and JSON path."""

from __future__ import annotations

import pytest

from cdisc.errors import SpecError
from cdisc.resources import example_spec_path
from cdisc.spec import load_spec

from helpers import MINI_FILES, MINI_SPEC, write_study


def problems_of(tmp_path, spec_text, files=MINI_FILES):
    path = write_study(tmp_path, spec_text, files)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return path, info.value.problems


def test_the_shipped_example_spec_is_valid():
    spec = load_spec(example_spec_path())
    assert spec.study.studyid == "PECOMA-MTOR"
    assert list(spec.domains) == ["DM", "EX", "AE", "DS", "TU", "TR", "RS"]
    assert spec.notices == ()


def test_mini_spec_is_valid(mini_study):
    spec = load_spec(mini_study)
    assert spec.sources["pts"].columns["consent"].formats == ("DD-MMM-YYYY",)
    assert spec.study.created.isoformat() == "2013-02-01T00:00:00"


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    _, problems = problems_of(tmp_path, "spec_version: 1\nstudy: {studyid: X\nsources: []\n")
    (problem,) = problems
    assert problem.code == "SPEC001"
    assert problem.location.line == 3 and problem.location.column is not None


def test_duplicate_key_is_an_error(tmp_path):
    _, problems = problems_of(tmp_path, "spec_version: 1\nspec_version: 1\n")
    assert problems[0].code == "SPEC001" and problems[0].location.line == 2


def test_schema_errors_are_all_reported_with_lines(tmp_path):
    text = (MINI_SPEC
            .replace("AGE: {algorithm: assign, column: age}",
                     "AGE: {algorithm: asign, column: age}")
            .replace("SITEID: {algorithm: hardcode, value: \"01\"}",
                     "SITEID: {algorithm: hardcode}")
            .replace('data_cutoff: "2013-01-31"', 'data_cutoff: "31/01/2013"'))
    path, problems = problems_of(tmp_path, text)
    lines = path.read_text().splitlines()
    found = {p.location.json_path: p for p in problems}
    assert set(found) == {
        "$.study.data_cutoff",
        "$.domains.DM.records[0].map.AGE.algorithm",
        "$.domains.DM.records[0].map.SITEID",
    }
    age = found["$.domains.DM.records[0].map.AGE.algorithm"]
    assert "AGE: {algorithm: asign" in lines[age.location.line - 1]
    assert "'asign' is not one of" in age.message
    siteid = found["$.domains.DM.records[0].map.SITEID"]
    assert "'value' is a required property" in siteid.message
    assert all(p.location.file == str(path) for p in problems)


def test_semantic_errors_name_the_node(tmp_path):
    text = (MINI_SPEC
            .replace("AGE: {algorithm: assign, column: age}",
                     "AGE: {algorithm: assign, column: agee}")
            .replace("COUNTRY: {algorithm: hardcode, value: GBR}",
                     "COUNTRYX: {algorithm: hardcode, value: GBR}")
            .replace("SEX: {codelist: C66731, map: {Female: F, Male: M}}",
                     "SEX: {codelist: C66731, map: {Female: F, Male: MALE}}")
            .replace("EXTRT: {algorithm: hardcode, value: SIROLIMUS}",
                     "EXTRT: {algorithm: hardcode_ct, value: SIROLIMUS, codelist: NOPE}")
            .replace("      - source: aes", "      - source: adverse_events"))
    path, problems = problems_of(tmp_path, text)
    by_code = {(p.code, p.location.json_path) for p in problems}
    assert by_code == {
        ("SPEC014", "$.domains.DM.records[0].map.AGE.column"),
        ("SPEC012", "$.domains.DM.records[0].map.COUNTRYX"),
        ("SPEC020", "$.study_ct.SEX.map.Male"),
        ("SPEC015", "$.domains.EX.records[0].map.EXTRT.codelist"),
        ("SPEC011", "$.domains.AE.records[0].source"),
    }
    lines = path.read_text().splitlines()
    for p in problems:
        assert p.location.line is not None
        key = p.location.json_path.rsplit(".", 1)[-1].split("[")[0]
        assert key in lines[p.location.line - 1], (p, lines[p.location.line - 1])


def test_derivation_in_a_record_block_is_rejected(tmp_path):
    text = MINI_SPEC.replace("AGE: {algorithm: assign, column: age}", "AGE: {algorithm: seq}")
    _, problems = problems_of(tmp_path, text)
    assert [(p.code, p.location.json_path) for p in problems] == [
        ("SPEC013", "$.domains.DM.records[0].map.AGE.algorithm")]


def test_bad_date_format_and_datetime_on_text_column(tmp_path):
    text = (MINI_SPEC.replace("consent: {type: date, format: DD-MMM-YYYY}",
                              "consent: {type: date, format: DAY-MONTH}")
            .replace("AETERM: {algorithm: assign, column: term}",
                     "AETERM: {algorithm: assign_datetime, column: term}"))
    _, problems = problems_of(tmp_path, text)
    assert {(p.code, p.location.json_path) for p in problems} == {
        ("SPEC021", "$.sources.pts.columns.consent.format"),
        ("SPEC022", "$.domains.AE.records[0].map.AETERM.column"),
    }


def test_what_a_derivation_reads_from_dm_must_be_in_the_spec(tmp_path):
    # epoch declares needs DM.RFXSTDTC and DM.RFXENDTC; study_day DM.RFSTDTC
    text = MINI_SPEC.replace(
        "      RFXENDTC: {algorithm: subject_date, agg: max, from: [{domain: EX, variable: "
        "EXENDTC}]}\n", "")
    _, problems = problems_of(tmp_path, text)
    assert [(p.code, p.location.json_path) for p in problems] == [
        ("SPEC019", "$.domains.AE.derive.EPOCH")]
    assert "epoch reads DM.RFXENDTC" in problems[0].message


def test_references_inside_nested_arguments_are_located(tmp_path):
    text = (MINI_SPEC
            .replace("AETERM: {algorithm: assign, column: term}",
                     "AETERM: {algorithm: lookup, source: pts, column: gender, right_on: nope}")
            .replace("AEDECOD: {algorithm: assign, column: term}",
                     "AEDECOD: {algorithm: condition, cases: [{when: {column: trem, equals: A}, "
                     "then: {algorithm: hardcode_ct, value: ORALLY, codelist: ROUTE}}], "
                     "else: {algorithm: coalesce, of: [{algorithm: assign, column: term}, "
                     "{algorithm: assign_ct, column: term, codelist: NOPE}]}}")
            .replace("from: [{domain: EX, variable: EXSTDTC}]}\n      RFXSTDTC",
                     "from: [{domain: EX, variable: EXSTDTC}, {domain: CM, variable: "
                     "CMSTDTC}]}\n      RFXSTDTC"))
    _, problems = problems_of(tmp_path, text)
    assert [(p.code, p.location.json_path) for p in problems] == [
        ("SPEC018", "$.domains.DM.derive.RFSTDTC.from[1].domain"),
        ("SPEC014", "$.domains.AE.records[0].map.AETERM.column"),
        ("SPEC014", "$.domains.AE.records[0].map.AETERM.right_on"),
        ("SPEC014", "$.domains.AE.records[0].map.AEDECOD.cases[0].when"),
        ("SPEC016", "$.domains.AE.records[0].map.AEDECOD.cases[0].then.value"),
        ("SPEC015", "$.domains.AE.records[0].map.AEDECOD.else.of[1].codelist"),
    ]
    assert "column 'gender' is not a column of 'pts'" in problems[1].message
