"""ADSL: one record per subject, the subjects of DM, DM's values unchanged."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...errors import Problem, Severity
from ..frames import hits, key_text, show, text
from ..registry import rule
from ..study import ADAM, as_study, metadata
from .subjects import DM, dm_subjects

ADSL = "ADSL"
# Identifiers are matched on, not compared; DOMAIN does not exist in ADaM.
_NOT_COMPARED = {"STUDYID", "USUBJID", "DOMAIN"}


@rule("CV0801", Severity.ERROR, "More than one ADSL record for a subject",
      "ADaMIG 1.3 (ADSL structure: one record per subject)", category="Cross-reference")
def adsl_one_record_per_subject(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    adsl = as_study(datasets).get(ADSL)
    if adsl is None or "USUBJID" not in adsl.columns:
        return []
    values = text(adsl, "USUBJID")
    dup = values.notna() & values.duplicated(keep="first")
    return hits("CV0801", ADSL, adsl, dup.to_numpy(dtype=bool), variable="USUBJID",
                message="USUBJID already has an earlier ADSL record")


@rule("CV0802", Severity.ERROR, "ADSL subject is not in DM",
      "ADaMIG 1.3 (ADSL subjects and identifiers come from SDTM DM)", category="Cross-reference")
def adsl_subject_in_dm(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    adsl, subjects = study.get(ADSL), dm_subjects(study)
    if adsl is None or subjects is None or "USUBJID" not in adsl.columns:
        return []
    values = text(adsl, "USUBJID")
    bad = values.notna() & ~values.isin(subjects)
    return hits("CV0802", ADSL, adsl, bad.to_numpy(dtype=bool), variable="USUBJID",
                message="USUBJID is not in DM")


@rule("CV0803", Severity.ERROR, "ADSL value of a DM variable differs from DM",
      "ADaMIG 1.3 (a variable copied from SDTM keeps its name, label and values), "
      "e.g. AGE, SEX, RACE, ARM", category="Cross-reference")
def adsl_matches_dm(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    adsl, dm = study.get(ADSL), study.get(DM)
    dm_meta = metadata(DM)
    if adsl is None or dm is None or dm_meta is None:
        return []
    if "USUBJID" not in adsl.columns or "USUBJID" not in dm.columns:
        return []
    # Every ADSL variable that has a DM variable's name is a copy of it (metadata, not a list).
    shared = [str(c) for c in adsl.columns
              if dm_meta.has(str(c)) and c in dm.columns and c not in _NOT_COMPARED]
    dm_keys = text(dm, "USUBJID")
    first = ~dm_keys.duplicated(keep="first") & dm_keys.notna()
    subject = text(adsl, "USUBJID")
    in_dm = subject.isin(set(dm_keys[first]))
    out: list[Problem] = []
    for var in shared:
        ref = pd.Series(key_text(dm[var])[first].to_numpy(), index=dm_keys[first].to_numpy())
        expected = subject.map(ref)
        value = key_text(adsl[var])
        differs = in_dm & ~((value == expected) | (value.isna() & expected.isna()))
        out += hits("CV0803", ADSL, adsl, differs.to_numpy(dtype=bool), variable=var,
                    message=lambda i, v=var, e=expected: f"{v} differs from DM.{v} "
                    f"{show(e.iat[i])}")
    return out


@rule("CV0804", Severity.ERROR, "ADaM subject is not in ADSL",
      "ADaMIG 1.3 (ADSL holds every subject of the analysis datasets)", category="Cross-reference")
def adam_subject_in_adsl(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    adsl = study.get(ADSL)
    if adsl is None or "USUBJID" not in adsl.columns:
        return []
    subjects = set(text(adsl, "USUBJID").dropna())
    out: list[Problem] = []
    for name in study.names(ADAM):
        frame = study[name]
        if name == ADSL or "USUBJID" not in frame.columns:
            continue
        values = text(frame, "USUBJID")
        bad = values.notna() & ~values.isin(subjects)
        out += hits("CV0804", name, frame, bad.to_numpy(dtype=bool), variable="USUBJID",
                    message="USUBJID is not in ADSL")
    return out
