"""Problems found in review: each now a located problem, never silent or a traceback."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc.errors import SpecError
from cdisc.pipeline import build
from cdisc.spec import load_spec
from cdisc.text import decimals, number_text

from helpers import MINI_FILES, MINI_SPEC, write_study


def spec_problems(tmp_path, text, files=MINI_FILES):
    with pytest.raises(SpecError) as info:
        load_spec(write_study(tmp_path, text, files))
    return {(p.code, p.location.json_path) for p in info.value.problems}


def test_supp_needs_seq(tmp_path):
    text = MINI_SPEC.replace(
        "          AESTDTC: {algorithm: assign_datetime, column: onset}\n",
        "          AESTDTC: {algorithm: assign_datetime, column: onset}\n        supp:\n"
        "          AEX: {algorithm: assign, column: term, label: X, origin: CRF}\n"
    ).replace("      AESEQ: {algorithm: seq}\n", "")
    assert spec_problems(tmp_path, text) == {("SPEC025", "$.domains.AE")}


def test_dm_reference_dates_must_be_derived_for_dy_and_epoch(tmp_path):
    text = MINI_SPEC.replace(
        "      RFSTDTC: {algorithm: subject_date, agg: min, from: [{domain: EX, variable: "
        "EXSTDTC}]}\n", "")
    assert spec_problems(tmp_path, text) == {
        ("SPEC019", "$.domains.EX.derive.EXSTDY"), ("SPEC019", "$.domains.AE.derive.AESTDY")}


def test_a_spec_without_dm_is_refused(tmp_path):
    text = MINI_SPEC[:MINI_SPEC.index("  DM:\n")] + MINI_SPEC[MINI_SPEC.index("  EX:\n"):]
    text = text.replace("      EXSTDY: {algorithm: study_day, dtc: EXSTDTC}\n", "")
    text = text.replace("      AESTDY: {algorithm: study_day, dtc: AESTDTC}\n", "").replace(
        "      EPOCH: {algorithm: epoch, dtc: AESTDTC}\n", "")
    assert spec_problems(tmp_path, text) == {("SPEC028", "$.domains")}


def test_assigning_a_collected_date_to_a_dtc_variable_is_refused(tmp_path):
    text = MINI_SPEC.replace("AESTDTC: {algorithm: assign_datetime, column: onset}",
                             "AESTDTC: {algorithm: assign, column: onset}")
    assert spec_problems(tmp_path, text) == {("SPEC027", "$.domains.AE.records[0].map.AESTDTC")}


def test_study_options_are_checked(tmp_path):
    text = MINI_SPEC.replace('ct_version: "2025-03-28"', 'ct_version: "2023-12-15"')
    assert spec_problems(tmp_path, text) == {("SPEC029", "$.study.ct_version")}
    text = MINI_SPEC.replace('created: "2013-02-01T00:00:00"', 'created: "2013-02-30T00:00:00"')
    assert spec_problems(tmp_path / "c", text) == {("SPEC030", "$.study.created")}


@pytest.mark.e2e
def test_unexpected_exception_exits_2_not_1(tmp_path, monkeypatch):
    import cdisc.pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cdisc.pipeline, "map_sources", broken)
    result = CliRunner().invoke(cli.main, ["convert", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    errors = json.loads((tmp_path / "out.errors.json").read_text())
    assert errors["counts"] == {"INTERNAL": 1}
    assert not (tmp_path / "out").exists()


def test_a_blank_join_key_matches_nothing(tmp_path):
    files = dict(MINI_FILES)
    files["pts.csv"] = "id,sex,age,consent\n1,,40,01-JAN-2012\n2,Male,50,05-JAN-2012\n"
    files["extra.csv"] = "code,site\n,99\nMale,02\n"
    extra = ("  extra:\n    file: extra.csv\n    subject: site\n    columns:\n"
             "      code: {type: string}\n      site: {type: string}\n")
    join = "        join: [{source: extra, on: sex, right_on: code, required: false}]\n"
    site = ("SITEID: {algorithm: coalesce, of: [{algorithm: assign, column: extra.site}, "
            '{algorithm: hardcode, value: "01"}]}')
    text = (MINI_SPEC.replace("  doses:\n", extra + "  doses:\n", 1)
            .replace("      - source: pts\n", "      - source: pts\n" + join, 1)
            .replace('SITEID: {algorithm: hardcode, value: "01"}', site))
    _, result = build(write_study(tmp_path, text, files))
    # patient 1 has no sex: it must not pick up the row whose code is blank (site 99)
    assert result.datasets["DM"]["SITEID"].tolist() == ["01", "02"]


def test_numbers_become_text_without_noise_or_overflow():
    values = pd.Series([3.0, 2.5, 1e20, 99999999999999999.0, float("nan"), 121.3])
    assert number_text(values).tolist() == ["3", "2.5", "1e+20", "1e+17", None, "121.3"]
    assert decimals(pd.Series([62.0, 24.1, 35.25])) == 2


def test_sumdiam_keeps_the_precision_of_its_lesions(tmp_path):
    import shutil

    from cdisc.resources import example_spec_path

    study = tmp_path / "study"
    shutil.copytree(example_spec_path().parent, study)
    csv = study / "data" / "tumour_measurements.csv"
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    first = frame.index[(frame["patient_id"] == "1") & (frame["visit"] == "BASELINE")
                        & (frame["lesion_id"] == "T02")][0]
    frame.loc[first, "diameter_mm"] = "24.1"
    frame.to_csv(csv, index=False)
    _, result = build(study / "pecoma.yaml")
    tr = result.datasets["TR"]
    base = tr[(tr["USUBJID"] == "PECOMA-MTOR-001") & (tr["TRTESTCD"] == "SUMDIAM")
              & (tr["VISIT"] == "BASELINE")]
    assert base["TRORRES"].tolist() == ["109.1"]


def test_aggregate_first_is_the_earliest_whatever_the_row_order(tmp_path):
    import shutil

    from cdisc.resources import example_spec_path

    results = []
    for order in ("as_is", "reversed"):
        study = tmp_path / order
        shutil.copytree(example_spec_path().parent, study)
        csv = study / "data" / "tumour_measurements.csv"
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        t03 = (frame["patient_id"] == "1") & (frame["visit"] == "WEEK 8") & (
            frame["lesion_id"] == "T03")
        frame.loc[t03, ["assessment_date", "method"]] = ["08-APR-2009", "MRI"]
        (frame[::-1] if order == "reversed" else frame).to_csv(csv, index=False)
        _, result = build(study / "pecoma.yaml")
        tr = result.datasets["TR"]
        week8 = tr[(tr["USUBJID"] == "PECOMA-MTOR-001") & (tr["TRTESTCD"] == "SUMDIAM")
                   & (tr["VISIT"] == "WEEK 8")]
        results.append(week8[["TRDTC", "TRMETHOD"]].values.tolist())
        warned = [p for p in result.problems if p.code == "MAP012"]
        assert {p.location.field for p in warned} == {"assessment_date", "method"}
    assert results[0] == results[1] == [["2009-04-06", "CT SCAN"]]


@pytest.mark.e2e
def test_an_output_error_names_the_final_file_not_the_staging_folder(mini_study, tmp_path,
                                                                      monkeypatch):
    import cdisc.formats.xpt
    import cdisc.pipeline
    from cdisc.errors import OutputError

    def failing(frame, path, **kwargs):
        raise OutputError.single("XPT_VERIFY_ROWS", "read back differs", file=str(path))

    monkeypatch.setattr(cdisc.formats.xpt, "write_xpt", failing)
    out = tmp_path / "out"
    with pytest.raises(OutputError) as info:
        cdisc.pipeline.convert(mini_study, out_dir=out)  # AE is the first dataset written
    assert info.value.problems[0].location.file == str(out.resolve() / "sdtm" / "ae.xpt")


def test_infinite_numbers_and_numeric_visits(tmp_path):
    from cdisc.errors import ProblemLog
    from cdisc.sdtm.primitives import visitnum
    from cdisc.sdtm.registry import MappingContext
    from cdisc.sources import read_sources

    files = dict(MINI_FILES)
    files["doses.csv"] = "id,dose,start,stop\n1,inf,10-JAN-2012,31-JAN-2012\n"
    spec = load_spec(write_study(tmp_path, MINI_SPEC + "visits: {'1': 1, '2': 2}\n", files))
    problems = ProblemLog()
    read_sources(spec, problems)
    assert [(p.code, p.location.row, p.location.value) for p in problems] == [
        ("SRC005", 2, "inf")]
    ctx = MappingContext(spec, {}, ProblemLog())
    visits = visitnum(pd.DataFrame({"v": pd.Series([1.0, 2.0], dtype="Float64")}), ctx,
                      column="v")
    assert visits.tolist() == [1.0, 2.0] and not ctx.problems.errors


def test_unused_columns_are_a_notice_and_late_dates_a_warning(tmp_path):
    files = dict(MINI_FILES)
    files["aes.csv"] = "id,term,onset\n1,Fatigue,09-JAN-2012\n2,Rash,10-FEB-2013\n"
    text = MINI_SPEC.replace("      onset: {type: date, format: DD-MMM-YYYY}\n",
                             "      onset: {type: date, format: DD-MMM-YYYY}\n"
                             "      grade: {type: integer}\n")
    files["aes.csv"] = files["aes.csv"].replace("id,term,onset\n", "id,term,onset,grade\n")
    files["aes.csv"] = files["aes.csv"].replace("2012\n", "2012,1\n").replace("2013\n",
                                                                              "2013,2\n")
    spec = load_spec(write_study(tmp_path, text, files))
    assert [(p.code, p.location.json_path) for p in spec.notices] == [
        ("SPEC031", "$.sources.aes.columns.grade")]
    _, result = build(spec.path)
    late = [p for p in result.problems if p.code == "MAP013"]
    assert [(p.location.row, p.location.field, p.location.value) for p in late] == [
        (3, "onset", "2013-02-10")]  # the source column the date was collected in


def test_ig_length_limits_shorter_than_200_are_checked(example_output):
    from cdisc.validate import validate_datasets

    dm = example_output.result.sdtm.datasets["DM"].copy()  # shared: change a copy only
    dm.loc[0, "ARMCD"] = "SIROLIMUS-3-5MG-ORAL-DAILY"  # 26 characters; ARMCD is at most 20
    found = validate_datasets({"DM": dm}, standard_hint="SDTM")
    hits = [(p.code, p.location.field, p.location.record) for p in found.findings
            if p.code == "CV0102"]
    assert hits == [("CV0102", "ARMCD", 1)]


@pytest.mark.e2e
def test_an_empty_dataset_is_not_written(tmp_path):
    from cdisc.pipeline import convert

    files = dict(MINI_FILES)
    files["aes.csv"] = "id,term,onset\n"
    result = convert(write_study(tmp_path, MINI_SPEC, files), out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "sdtm" / "ae.xpt").exists()
    assert [(p.code, p.location.dataset) for p in result.warnings if p.code == "OUT003"] == [
        ("OUT003", "AE")]


def test_condition_values_must_be_able_to_match_their_column(tmp_path):
    text = MINI_SPEC.replace(
        "      - source: aes\n        map:",
        "      - source: aes\n        where: {any: [{column: term, equals: true}, "
        "{column: id, in: [1, 2]}]}\n        map:", 1)
    text = text.replace("AGE: {algorithm: assign, column: age}",
                        "AGE:\n            algorithm: condition\n            cases:\n"
                        "              - when: {column: age, equals: old}\n"
                        "                then: {algorithm: hardcode, value: 99}\n"
                        "            else: {algorithm: assign, column: age}")
    found = spec_problems(tmp_path, text)
    assert found == {("SPEC032", "$.domains.AE.records[0].where"),
                     ("SPEC032", "$.domains.DM.records[0].map.AGE.cases[0].when")}


def test_a_number_in_a_condition_matches_the_text_of_a_file():
    from cdisc.sdtm.conditions import evaluate_condition

    frame = pd.DataFrame({"visit": ["3", "3.5", None]})
    assert evaluate_condition({"column": "visit", "in": [3.0, 3.5]}, frame).tolist() == [
        True, True, False]


def test_an_unknown_recist_evaluator_is_a_finding_not_silence(example_output):
    from cdisc.adam.recist import RecistOptions, recist_review

    result = example_output.result.sdtm  # shared and read only: recist_review only reads it
    review = recist_review(result.datasets, RecistOptions(evaluator="RADIOLOGIST 1"))
    (finding,) = review.findings
    assert finding.code == "RECIST003" and "INVESTIGATOR" in finding.message
    accepted = recist_review(result.datasets, RecistOptions(evaluator="ACCEPTED"))
    assert [p.code for p in accepted.findings] == ["RECIST003"]
