"""Test helpers: tiny specs and sources written to a temporary folder."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def write_study(folder: Path, spec_yaml: str, files: dict[str, str]) -> Path:
    """Write ``spec.yaml`` and source files into ``folder``; return the spec path."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(textwrap.dedent(spec_yaml).lstrip(), encoding="utf-8")
    return spec


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative POSIX path) with the SHA-256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


MINI_SPEC = """
spec_version: 1
study:
  studyid: MINI
  sdtmig_version: "3.4"
  ct_version: "2025-03-28"
  data_cutoff: "2013-01-31"
  created: "2013-02-01T00:00:00"
sources:
  pts:
    file: pts.csv
    subject: id
    key: [id]
    columns:
      id: {type: string, required: true}
      sex: {type: string}
      age: {type: integer}
      consent: {type: date, format: DD-MMM-YYYY}
  doses:
    file: doses.csv
    subject: id
    columns:
      id: {type: string, required: true}
      dose: {type: number}
      start: {type: date, format: DD-MMM-YYYY}
      stop: {type: date, format: DD-MMM-YYYY}
  aes:
    file: aes.csv
    subject: id
    columns:
      id: {type: string, required: true}
      term: {type: string}
      onset: {type: date, format: DD-MMM-YYYY}
study_ct:
  SEX: {codelist: C66731, map: {Female: F, Male: M}}
domains:
  DM:
    records:
      - source: pts
        map:
          USUBJID: {algorithm: usubjid, column: id, zfill: 3}
          SUBJID: {algorithm: assign, column: id, zfill: 3}
          SITEID: {algorithm: hardcode, value: "01"}
          AGE: {algorithm: assign, column: age}
          SEX: {algorithm: assign_ct, column: sex, codelist: SEX}
          COUNTRY: {algorithm: hardcode, value: GBR}
          RFICDTC: {algorithm: assign_datetime, column: consent}
    derive:
      RFSTDTC: {algorithm: subject_date, agg: min, from: [{domain: EX, variable: EXSTDTC}]}
      RFXSTDTC: {algorithm: subject_date, agg: min, from: [{domain: EX, variable: EXSTDTC}]}
      RFXENDTC: {algorithm: subject_date, agg: max, from: [{domain: EX, variable: EXENDTC}]}
  EX:
    records:
      - source: doses
        map:
          USUBJID: {algorithm: usubjid, column: id, zfill: 3}
          EXTRT: {algorithm: hardcode, value: SIROLIMUS}
          EXDOSE: {algorithm: assign, column: dose}
          EXSTDTC: {algorithm: assign_datetime, column: start}
          EXENDTC: {algorithm: assign_datetime, column: stop}
    derive:
      EXSEQ: {algorithm: seq}
      EXSTDY: {algorithm: study_day, dtc: EXSTDTC}
  AE:
    records:
      - source: aes
        map:
          USUBJID: {algorithm: usubjid, column: id, zfill: 3}
          AETERM: {algorithm: assign, column: term}
          AEDECOD: {algorithm: assign, column: term}
          AESTDTC: {algorithm: assign_datetime, column: onset}
    derive:
      AESEQ: {algorithm: seq}
      AESTDY: {algorithm: study_day, dtc: AESTDTC}
      EPOCH: {algorithm: epoch, dtc: AESTDTC}
"""

MINI_FILES = {
    "pts.csv": """
        id,sex,age,consent
        1,Female,40,01-JAN-2012
        2,Male,50,05-JAN-2012
    """,
    "doses.csv": """
        id,dose,start,stop
        1,3,10-JAN-2012,31-JAN-2012
        1,4,01-FEB-2012,29-FEB-2012
        2,3,15-JAN-2012,20-MAR-2012
    """,
    "aes.csv": """
        id,term,onset
        1,Fatigue,09-JAN-2012
        1,Rash,10-JAN-2012
        1,Mucositis oral,UN-FEB-2012
        2,Fatigue,21-MAR-2012
    """,
}
