"""The validator: the example is clean, each corruption is caught by its rule at its record.

The example is converted once per session (conftest ``example_output``, read only).
SDTM corruptions are made on a copy of its datasets; TU/TR/RS and ADSL/ADTTE are small
frames built here, so these tests do not depend on the oncology and ADaM mappings other
modules produce.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc import standards
from cdisc.errors import CdiscError, Severity
from cdisc.formats.xpt import read_xpt, write_xpt
from cdisc.validate import all_rules, to_json, validate_datasets, validate_folder, write_reports
from cdisc.validate.report import JSON_NAME, XLSX_NAME

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdiscpilot01"
SAS_EPOCH = datetime(1960, 1, 1)


@pytest.fixture(scope="module")
def example(example_output) -> Path:
    """The example's output folder (shared: read only)."""
    assert example_output.result.validation is not None
    return example_output.out


def sdtm(out: Path) -> dict[str, pd.DataFrame]:
    return {p.stem.upper(): read_xpt(p)[0] for p in sorted((out / "sdtm").glob("*.xpt"))}


# --- the example -------------------------------------------------------------------------


def test_example_converts_with_zero_errors(example):
    report = json.loads((example / JSON_NAME).read_text())
    assert report["summary"]["error"] == 0, [f for f in report["findings"]
                                             if f["severity"] == "error"]
    assert (example / XLSX_NAME).is_file()
    names = {d["name"]: d for d in report["datasets"]}
    assert names["DM"] == {"name": "DM", "records": 10, "standard": "SDTM",
                           "file": "sdtm/dm.xpt"}
    # The shipped files validate as the in-memory datasets did, and no rule crashed.
    again = validate_folder(example)
    assert again.summary == report["summary"]
    assert not [p for p in again.findings if p.code == "CV0000"]


# --- SDTM corruptions of the example -------------------------------------------------------


def _set(frame: pd.DataFrame, record: int, variable: str, value) -> str:
    """Set a value at a 1-based record (the column becomes object if need be); its USUBJID."""
    if not isinstance(value, float):
        frame[variable] = frame[variable].astype(object)
    frame.at[record - 1, variable] = value
    return frame.at[record - 1, "USUBJID"]


def _corrupt_sdtm(d: dict[str, pd.DataFrame]) -> list[tuple[str, str, int | None, str | None]]:
    """Break the example in many ways; return (rule, dataset, record, USUBJID) expected."""
    exp: list[tuple[str, str, int | None, str | None]] = []
    dm, ae, ds, ex = d["DM"], d["AE"], d["DS"], d["EX"]
    supp_ae, supp_dm = d["SUPPAE"], d["SUPPDM"]
    # schema: datatype, length, non-extensible CT, ISO 8601, Req/Exp presence, Req null, unknown
    exp.append(("CV0101", "DM", 3, _set(dm, 3, "AGE", "twenty six")))
    exp.append(("CV0102", "AE", 2, _set(ae, 2, "AETERM", "x" * 201)))
    exp.append(("CV0103", "DM", 4, _set(dm, 4, "SEX", "Female")))
    u = _set(ae, 4, "AEENDTC", "28/10/2011")
    exp += [("CV0104", "AE", 4, u), ("CV0303", "AE", 4, u)]  # AEENDY from a non-date
    d["DS"] = ds = ds.drop(columns=["DSDECOD"])
    exp.append(("CV0105", "DS", None, None))
    exp.append(("CV0108", "EX", 6, _set(ex, 6, "EXTRT", "")))
    # AESHOSP goes too: with AESER gone its "Y" would be a serious event without AESER
    d["AE"] = ae = ae.drop(columns=["AESER", "AESHOSP"]).assign(AEXTRA="x")
    exp += [("CV0109", "AE", None, None), ("CV0106", "AE", None, None)]
    # subjects: one DM record each, known to DM, --SEQ unique
    d["DM"] = dm = pd.concat([dm, dm.iloc[[9]]], ignore_index=True)
    exp.append(("CV0201", "DM", 11, dm.at[10, "USUBJID"]))
    seq = ae.at[6, "AESEQ"]
    owner = ae.at[6, "USUBJID"]
    exp.append(("CV0202", "AE", 7, _set(ae, 7, "USUBJID", "PECOMA-MTOR-999")))
    orphan = supp_ae.index[(supp_ae["USUBJID"] == owner)
                           & (supp_ae["IDVARVAL"] == str(int(seq)))][0] + 1
    exp.append(("CV0604", "SUPPAE", int(orphan), owner))  # its qualifier lost its parent
    exp.append(("CV0203", "EX", 2, _set(ex, 2, "EXSEQ", 1.0)))
    # ... which orphans the SUPPEX record of EXSEQ 2 (records follow EX's order)
    exp.append(("CV0604", "SUPPEX", 2, ex.at[1, "USUBJID"]))
    # dates: study day 0, wrong study day, day of a partial date, real dates, order, exposure
    exp.append(("CV0301", "AE", 1, _set(ae, 1, "AESTDY", 0.0)))
    exp.append(("CV0302", "DS", 3, _set(ds, 3, "DSSTDY", float(ds.at[2, "DSSTDY"] + 5))))
    exp.append(("CV0303", "AE", 10, _set(ae, 10, "AESTDTC", "2011-09")))
    u = _set(ds, 5, "DSSTDTC", "2009-09-31")
    exp += [("CV0304", "DS", 5, u), ("CV0303", "DS", 5, u)]
    u = _set(ex, 8, "EXENDTC", "2010-12-01")
    exp += [("CV0305", "EX", 8, u), ("CV0302", "EX", 8, u)]
    u = _set(ex, 10, "EXSTDTC", "2011-05-01")
    exp += [("CV0306", "EX", 10, u), ("CV0302", "EX", 10, u), ("CV0307", "DM", 3, u)]
    # death
    exp.append(("CV0501", "DM", 1, _set(dm, 1, "DTHFL", "")))
    exp.append(("CV0503", "DM", 2, _set(dm, 2, "DTHFL", "N")))
    exp.append(("CV0502", "DM", 5, _set(dm, 5, "DTHDTC", "")))
    # SUPPQUAL
    exp.append(("CV0604", "SUPPAE", 3, _set(supp_ae, 3, "IDVARVAL", "99")))
    exp.append(("CV0603", "SUPPAE", 5, _set(supp_ae, 5, "IDVAR", "AEXXX")))
    exp.append(("CV0605", "SUPPDM", 2, _set(supp_dm, 2, "QNAM", supp_dm.at[0, "QNAM"])))
    # generic: ASCII, and a dataset we do not know still gets the subject checks
    exp.append(("CV0005", "AE", 11, _set(ae, 11, "AETERM", "Naus\u00e9a")))
    exp.append(("CV0005", "AE", 12, _set(ae, 12, "AETERM", "Rash\x07")))  # a control character
    d["XX"] = pd.DataFrame({"STUDYID": "PECOMA-MTOR", "DOMAIN": "XX",
                            "USUBJID": ["PECOMA-MTOR-001", "NOBODY"], "XXSEQ": [1.0, 1.0],
                            "bad_name": ["a", "b"]})
    exp += [("CV0001", "XX", None, None), ("CV0003", "XX", None, None),
            ("CV0202", "XX", 2, "NOBODY")]
    return exp


@pytest.fixture(scope="module")
def sdtm_corrupted(example):
    datasets = sdtm(example)
    expected = _corrupt_sdtm(datasets)
    return validate_datasets(datasets), expected


def _found(result, rule, dataset, record, usubjid) -> bool:
    return any(p.code == rule and p.location.dataset == dataset and p.location.record == record
               and p.location.usubjid == usubjid for p in result.findings)


def test_sdtm_corruptions_are_each_reported_at_their_record(sdtm_corrupted):
    result, expected = sdtm_corrupted
    missing = [e for e in expected if not _found(result, *e)]
    assert not missing, missing
    families = {r.family for r in all_rules() if r.id in {e[0] for e in expected}}
    assert families >= {"schema", "subjects", "dates", "death", "suppqual", "generic"}
    assert len({e[0] for e in expected}) >= 15


def test_sdtm_corruptions_cause_no_stray_errors(sdtm_corrupted):
    result, expected = sdtm_corrupted
    wanted = {(rule, ds, rec) for rule, ds, rec, _ in expected}
    stray = [p for p in result.findings if p.severity is Severity.ERROR
             and (p.code, p.location.dataset, p.location.record) not in wanted]
    assert not stray, [str(p) for p in stray]


def test_ct_finding_suggests_the_submission_value(sdtm_corrupted):
    result, _ = sdtm_corrupted
    (sex,) = [p for p in result.findings if p.code == "CV0103"]
    assert "'F'" in sex.message and sex.location.field == "SEX"


# --- TU/TR/RS and ADSL/ADTTE built here ------------------------------------------------------


def _sas(iso: str) -> float:
    return float((datetime.fromisoformat(iso) - SAS_EPOCH).days)


def _onco_adam(dm: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], list]:
    s1, s2, s3 = dm["USUBJID"].iloc[:3]
    base = {"STUDYID": "PECOMA-MTOR"}
    tu = pd.DataFrame({**base, "DOMAIN": "TU",
                       "USUBJID": [s1, s1, s1, s2, s2], "TUSEQ": [1.0, 2.0, 3.0, 1.0, 2.0],
                       "TULNKID": ["T01", "T02", "NT01", "T01", "T01"],
                       "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                       "TUEVAL": "INVESTIGATOR"})
    tr = pd.DataFrame({**base, "DOMAIN": "TR", "USUBJID": [s1, s1, s1, s2],
                       "TRSEQ": [1.0, 2.0, 3.0, 1.0], "TRLNKID": ["T01", "T02", "T09", "T01"],
                       "TRLNKGRP": ["V1", "V1", "V2", "V1"], "TRTESTCD": "LDIAM",
                       "TRTEST": "Longest Diameter", "TRORRES": ["10", "12", "9", "30"]})
    rs = pd.DataFrame({**base, "DOMAIN": "RS", "USUBJID": [s1, s1, s2],
                       "RSSEQ": [1.0, 2.0, 1.0], "RSLNKGRP": ["V1", "V9", "V1"],
                       "RSTESTCD": "OVRLRESP", "RSTEST": "Overall Response",
                       "RSORRES": ["SD", "SD", "PR"]})
    adsl = dm[["STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "RACE",
               "ARM"]].assign(TRT01P=dm["ARM"], TRTSDT=[_sas(x) for x in dm["RFXSTDTC"]])
    adsl.loc[2, "AGE"] += 1
    adsl.loc[3, "SEX"] = "M"
    adsl = pd.concat([adsl, adsl.iloc[[0]], adsl.iloc[[1]].assign(USUBJID="PECOMA-MTOR-777")],
                     ignore_index=True)
    start = _sas("2009-02-09")
    subjects = [s1, *dm["USUBJID"].iloc[:9], "PECOMA-MTOR-888"]  # record 2 repeats 1
    adtte = pd.DataFrame({
        **base, "USUBJID": subjects,
        "PARAMCD": ["OS", "OS", "OS", "OS", "OS", "OS", "OS", "OS", "OS", "PFS", "OS"],
        "PARAM": "Overall Survival", "STARTDT": start,
        "ADT": [start + 100, start + 100, start + 9, start + 9, start - 6, start + 39,
                start + 9, start + 9, start + 9, start + 9, start + 9],
        "AVAL": [101.0, 101, 10, 10, -5, 50, 10, 10, 10, 10, 10],
        "CNSR": [0.0, 0, 2, -1, 0, 0, 0, 1, 0, 0, 0],
        "EVNTDESC": ["DEATH", "DEATH", "", "DEATH", "DEATH", "DEATH", "", "", "DEATH",
                     "PROGRESSION", "DEATH"],
        "CNSDTDSC": ["", "", "LAST CONTACT", "", "", "", "", "", "", "", ""],
        "SRCDOM": ["DS", "", "", "", "", "", "", "", "AE", "ADSL", ""],
        "SRCVAR": ["DSSTDTC", "", "", "", "", "", "", "", "AESTDTC", "NOSUCH", ""],
        "SRCSEQ": [1.0, None, None, None, None, None, None, None, 99.0, None, None],
    })
    u = list(adtte["USUBJID"])
    expected = [
        ("CV0703", "TU", 5, s2), ("CV0701", "TR", 3, s1), ("CV0702", "RS", 2, s1),
        ("CV0803", "ADSL", 3, s3), ("CV0803", "ADSL", 4, dm["USUBJID"].iat[3]),
        ("CV0801", "ADSL", 11, s1), ("CV0802", "ADSL", 12, "PECOMA-MTOR-777"),
        ("CV0901", "ADTTE", 2, u[1]), ("CV0903", "ADTTE", 3, u[2]),
        ("CV0902", "ADTTE", 4, u[3]), ("CV0904", "ADTTE", 5, u[4]),
        ("CV0906", "ADTTE", 5, u[4]), ("CV0905", "ADTTE", 6, u[5]),
        ("CV0907", "ADTTE", 7, u[6]), ("CV0908", "ADTTE", 8, u[7]),
        ("CV0909", "ADTTE", 9, u[8]), ("CV0909", "ADTTE", 10, u[9]),
        ("CV0804", "ADTTE", 11, "PECOMA-MTOR-888"),
    ]
    return {"TU": tu, "TR": tr, "RS": rs, "ADSL": adsl, "ADTTE": adtte}, expected


@pytest.fixture(scope="module")
def onco_adam(example):
    datasets = sdtm(example)
    extra, expected = _onco_adam(datasets["DM"])
    return validate_datasets({**datasets, **extra}), expected


def test_oncology_and_adam_corruptions_are_each_reported(onco_adam):
    result, expected = onco_adam
    missing = [e for e in expected if not _found(result, *e)]
    assert not missing, missing
    assert not [p for p in result.findings if p.code == "CV0000"]


def test_valid_adam_records_raise_nothing(onco_adam):
    result, _ = onco_adam
    # ADTTE record 1 is sound: its source DS record exists, AVAL = ADT - STARTDT + 1.
    assert not [p for p in result.findings if p.location.dataset == "ADTTE"
                and p.location.record == 1]
    datasets = {p.location.dataset for p in result.findings}
    assert {"ADSL", "ADTTE", "TU", "TR", "RS"} <= datasets
    standards_of = {d.name: d.standard for d in result.datasets}
    assert standards_of["ADTTE"] == "ADaM" and standards_of["TR"] == "SDTM"


# --- reports ---------------------------------------------------------------------------------


def test_reports_are_reproducible_and_complete(sdtm_corrupted, tmp_path):
    result, _ = sdtm_corrupted
    first = write_reports(result, tmp_path / "a")
    second = write_reports(result, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert [p.name for p in first] == ["validation.json", "validation.xlsx", "validation.html"]
    payload = json.loads(first[0].read_text())
    assert list(payload) == ["tool", "run", "standards", "severities", "datasets", "summary",
                             "rules", "findings"]
    assert payload == json.loads(json.dumps(to_json(result), default=str))
    assert set(payload["findings"][0]) == {"rule", "severity", "dataset", "usubjid",
                                           "variable", "value", "record", "message"}
    assert sum(r["count"] for r in payload["rules"]) == len(payload["findings"])
    from openpyxl import load_workbook

    wb = load_workbook(first[1])
    assert wb.sheetnames == ["Validation Summary", "Dataset Summary", "Issue Summary",
                             "Details", "Rules"]
    assert wb["Details"].max_row == len(result.findings) + 1
    assert wb.properties.created == wb.properties.modified


def test_every_rule_has_an_id_severity_and_citation():
    rules = all_rules()
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.id.startswith("CV") and len(r.id) == 6 and r.citation and r.message


# --- CLI -----------------------------------------------------------------------------------


def test_cli_exit_0_on_the_example(example, tmp_path):
    run = CliRunner().invoke(cli.main, ["validate", str(example), "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert (tmp_path / JSON_NAME).is_file() and (tmp_path / XLSX_NAME).is_file()


def test_cli_exit_1_on_errors(example, tmp_path):
    folder = tmp_path / "study"
    # the XPT files alone: a changed dm.xpt beside the original dm.json would be VAL006
    shutil.copytree(example / "sdtm", folder / "sdtm", ignore=shutil.ignore_patterns(
        "*.json", "define*"))
    dm, meta = read_xpt(folder / "sdtm" / "dm.xpt")
    dm.loc[1, "DTHFL"] = "N"
    write_xpt(dm, folder / "sdtm" / "dm.xpt", name="DM", label=meta.label,
              column_labels=meta.column_labels, created=meta.created)
    run = CliRunner().invoke(cli.main, ["validate", str(folder), "--out", str(tmp_path / "r")])
    assert run.exit_code == 1, run.output
    assert "CV0503" in run.output
    report = json.loads((tmp_path / "r" / JSON_NAME).read_text())
    (finding,) = [f for f in report["findings"] if f["rule"] == "CV0503"]
    assert finding["record"] == 2 and finding["dataset"] == "DM"
    assert {d["file"] for d in report["datasets"]} >= {"sdtm/dm.xpt"}


def test_cli_exit_2_when_the_run_fails(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli.main, ["validate", str(tmp_path / "nowhere")]).exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(cli.main, ["validate", str(empty)]).exit_code == 2
    (empty / "broken.xpt").write_bytes(b"not a transport file" * 40)
    run = runner.invoke(cli.main, ["validate", str(empty)])
    assert run.exit_code == 2 and "broken.xpt" in run.output
    with pytest.raises(CdiscError):
        validate_folder(empty)


@pytest.mark.e2e
def test_convert_writes_outputs_and_exits_1_when_validation_finds_errors(
        mini_study, tmp_path, monkeypatch):
    import cdisc.pipeline as pipeline

    real = pipeline.validate_datasets

    def with_error(datasets, **kw):  # a dead subject without DTHFL 'Y' (CV0501)
        broken = {**datasets, "DM": datasets["DM"].assign(DTHDTC="2012-12-01", DTHFL=None)}
        return real(broken, **kw)

    monkeypatch.setattr(pipeline, "validate_datasets", with_error)
    out = tmp_path / "out"
    run = CliRunner().invoke(cli.main, ["convert", "--spec", str(mini_study), "--out", str(out)])
    assert run.exit_code == 1, run.output
    assert (out / "sdtm" / "dm.xpt").is_file()
    report = json.loads((out / JSON_NAME).read_text())
    assert report["summary"]["error"] >= 1
    assert {f["rule"] for f in report["findings"]} >= {"CV0501"}


# --- the public CDISC pilot (SDTMIG 3.1.2 + ADaM) ------------------------------------------


@pytest.mark.skipif(not PILOT.is_dir(), reason="../shared/reference/cdiscpilot01 is absent")
def test_pilot_is_reported_not_crashed(tmp_path):
    run = CliRunner().invoke(cli.main, ["validate", str(PILOT), "--out", str(tmp_path)])
    assert run.exit_code in (0, 1), run.output
    report = json.loads((tmp_path / JSON_NAME).read_text())
    assert {d["name"] for d in report["datasets"]} == {"ADSL", "ADTTE", "AE", "DM", "EX"}
    assert {d["standard"] for d in report["datasets"] if d["name"].startswith("AD")} == {"ADaM"}
    assert not [f for f in report["findings"] if f["rule"] == "CV0000"]
    assert all(not Path(d["file"]).is_absolute() for d in report["datasets"])
    # Known findings of the pilot data: SDTMIG 3.1.2 DM lacks the 3.4 Expected ARMNRS.
    assert any(f["rule"] == "CV0109" and f["variable"] == "ARMNRS" for f in report["findings"])


def test_rule_constants_are_controlled_terms():
    # Values the rules test for (rather than read from a variable's codelist) are real terms.
    from cdisc.validate.rules import adtte, death

    assert death.YES in standards.codelist("NY").terms
    assert adtte.DAYS in standards.codelist("UNIT").terms
