"""SAS and Dataset-JSON files as sources (issue 11): existing SAS datasets re-mapped."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pandas as pd
import pytest

from cdisc.formats.dataset_json import write_dataset_json
from cdisc.formats.xpt import write_xpt
from cdisc.model import Dataset, resolve_metadata
from cdisc.pipeline import build

SPEC = """
spec_version: 1
study:
  studyid: REMAP
  sdtmig_version: "3.4"
  ct_version: "2025-03-28"
  data_cutoff: "2013-01-31"
  created: "2013-02-01T00:00:00"
sources:
  legacy:
    file: {file}
    subject: PT
    key: [PT]
    columns:
      PT: {{type: string, required: true}}
      SEXC: {{type: string}}
      AGEY: {{type: integer}}
study_ct:
  SEX: {{codelist: C66731, map: {{Female: F, Male: M}}}}
domains:
  DM:
    records:
      - source: legacy
        map:
          USUBJID: {{algorithm: usubjid, column: PT, zfill: 3}}
          SUBJID: {{algorithm: assign, column: PT, zfill: 3}}
          SITEID: {{algorithm: hardcode, value: "01"}}
          AGE: {{algorithm: assign, column: AGEY}}
          SEX: {{algorithm: assign_ct, column: SEXC, codelist: SEX}}
          COUNTRY: {{algorithm: hardcode, value: GBR}}
"""

LEGACY = pd.DataFrame({"PT": ["1", "2", "3"], "SEXC": ["Female", "Male", ""],
                       "AGEY": [40.0, 51.0, float("nan")]})


def remap(tmp_path, file: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC.format(file=file)).lstrip(), encoding="utf-8")
    return build(spec)[1].datasets["DM"]


def check(dm: pd.DataFrame) -> None:
    assert dm["USUBJID"].tolist() == ["REMAP-001", "REMAP-002", "REMAP-003"]
    assert dm["SEX"].tolist() == ["F", "M", None]
    assert dm["AGE"].tolist()[:2] == [40, 51] and pd.isna(dm["AGE"].iloc[2])


def test_an_xpt_file_is_a_source(tmp_path):
    write_xpt(LEGACY, tmp_path / "legacy.xpt", name="LEGACY", label="Legacy extract",
              column_labels={"PT": "Patient", "SEXC": "Sex", "AGEY": "Age"},
              created=pd.Timestamp("2013-01-01").to_pydatetime())
    check(remap(tmp_path, "legacy.xpt"))


def test_a_dataset_json_file_is_a_source(tmp_path):
    meta = resolve_metadata("LEGACY", LEGACY, None, label="Legacy extract")
    labels = {"PT": "Patient", "SEXC": "Sex", "AGEY": "Age"}
    meta = replace(meta, variables=tuple(replace(v, label=labels[v.name])
                                         for v in meta.variables))
    write_dataset_json(Dataset(meta, LEGACY), tmp_path / "legacy.json",
                       created=pd.Timestamp("2013-01-01").to_pydatetime())
    check(remap(tmp_path, "legacy.json"))


def test_a_sas7bdat_file_is_read_through_pyreadstat(tmp_path, monkeypatch):
    # pyreadstat reads sas7bdat but cannot write it: stand in for the file's contents
    import pyreadstat

    (tmp_path / "legacy.sas7bdat").write_bytes(b"stand-in")
    monkeypatch.setattr(pyreadstat, "read_sas7bdat", lambda *a, **k: (LEGACY.copy(), None))
    check(remap(tmp_path, "legacy.sas7bdat"))


def test_an_unreadable_dataset_is_one_located_error(tmp_path):
    from cdisc.errors import SourceError

    (tmp_path / "legacy.xpt").write_bytes(b"not a transport file")
    with pytest.raises(SourceError) as info:
        remap(tmp_path, "legacy.xpt")
    problem = info.value.problems[0]
    assert problem.code == "SRC003" and problem.location.file.endswith("legacy.xpt")
