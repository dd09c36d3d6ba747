"""A six-patient clinic spreadsheet as a hospital keeps it, mapped with the spec
language for real spreadsheets: recode/extract, case-insensitive CT maps, AGE from
a (partial) birth date, "ongoing" stop dates, text from several columns."""

from __future__ import annotations

CLINIC_SPEC = """
spec_version: 1
study:
  studyid: CLINIC
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
      birth: {type: date, format: [DD/MM/YYYY, YYYY]}
  doses:
    file: doses.csv
    subject: id
    columns:
      id: {type: string, required: true}
      cycle: {type: integer}
      day: {type: integer}
      dose: {type: number}
      start: {type: date, format: DD/MM/YYYY}
      stop: {type: date, format: DD/MM/YYYY}
  aes:
    file: aes.csv
    subject: id
    columns:
      id: {type: string, required: true}
      term: {type: string}
      grade: {type: string}
      onset: {type: date, format: DD/MM/YYYY}
      stop: {type: date, format: DD/MM/YYYY}
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
          SEX: {algorithm: assign_ct, column: sex, codelist: SEX, ignore_case: true}
          BRTHDTC: {algorithm: assign_datetime, column: birth}
          COUNTRY: {algorithm: hardcode, value: GBR}
    derive:
      RFSTDTC: {algorithm: subject_date, agg: min, from: [{domain: EX, variable: EXSTDTC}]}
      RFENDTC: {algorithm: subject_date, agg: max, from: [{domain: EX, variable: EXENDTC}]}
      RFXSTDTC: {algorithm: subject_date, agg: min, from: [{domain: EX, variable: EXSTDTC}]}
      RFXENDTC: {algorithm: subject_date, agg: max, from: [{domain: EX, variable: EXENDTC}]}
      AGE: {algorithm: age}
      AGEU: {algorithm: age_unit}
  EX:
    records:
      - source: doses
        map:
          USUBJID: {algorithm: usubjid, column: id, zfill: 3}
          EXTRT: {algorithm: hardcode, value: SIROLIMUS}
          EXDOSE: {algorithm: assign, column: dose}
          EXDOSRGM: {algorithm: format, template: "CYCLE {cycle} DAY {day}"}
          EXSTDTC: {algorithm: assign_datetime, column: start}
          EXENDTC: {algorithm: end_datetime, column: stop}
          EXENRTPT: &ongoing {algorithm: end_relative, column: stop}
          EXENTPT: {<<: *ongoing, algorithm: end_reference}
    derive:
      EXSEQ: {algorithm: seq}
      EPOCH: {algorithm: epoch, dtc: EXSTDTC}
  AE:
    records:
      - source: aes
        map:
          USUBJID: {algorithm: usubjid, column: id, zfill: 3}
          AETERM: {algorithm: assign, column: term}
          AEDECOD: {algorithm: assign, column: term}
          AETOXGR: {algorithm: extract, column: grade, pattern: "(?:G|GRADE )([1-5])",
                    ignore_case: true}
          AESTDTC: {algorithm: assign_datetime, column: onset}
          AEENDTC: {algorithm: end_datetime, column: stop}
          AEENRTPT: &ae_ongoing {algorithm: end_relative, column: stop, otherwise: BEFORE}
          AEENTPT: {<<: *ae_ongoing, algorithm: end_reference}
    derive:
      AESEQ: {algorithm: seq}
      EPOCH: {algorithm: epoch, dtc: AESTDTC}
"""

CLINIC_FILES = {
    "pts.csv": """
        id,sex,birth
        1,female,10/05/1960
        2,Female,1972
        3, F ,UN/03/1950
        4,Male,
    """,
    "doses.csv": """
        id,cycle,day,dose,start,stop
        1,1,1,10,02/01/2012,28/01/2012
        1,2,1,10,29/01/2012,ongoing
        2,1,1,10,05/01/2012,Ongoing
        3,1,8,10,10/01/2012,20/02/2012
        4,1,1,10,15/01/2012,31/01/2012
    """,
    "aes.csv": """
        id,term,grade,onset,stop
        1,Nausea,G2,10/02/2012,ONGOING
        2,Rash,Grade 3,01/03/2012,15/03/2012
        3,Fatigue,G1,01/03/2012,05/03/2012
        4,Headache,g2,20/01/2012,
    """,
}
