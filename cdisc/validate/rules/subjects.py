"""Subjects across SDTM datasets: one DM record each, known to DM, --SEQ unique."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ...errors import Problem, Severity
from ..frames import column, dataset_hit, first_rows, hits, key_text, text
from ..registry import rule
from ..study import SDTM, as_study

DM = "DM"


def dm_subjects(datasets: Mapping[str, pd.DataFrame]) -> set[str] | None:
    """USUBJIDs in DM, or None when there is no DM (the rules that need it then stay quiet)."""
    dm = as_study(datasets).get(DM)
    usubjid = column(dm, "USUBJID") if dm is not None else None
    if usubjid is None:
        return None
    return set(text(dm, "USUBJID").dropna())


@rule("CV0201", Severity.ERROR, "More than one DM record for a subject",
      "SDTMIG 3.4 section 5.2 (DM: one record per subject); CG0151 (CORE-000351)")
def dm_one_record_per_subject(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    dm = as_study(datasets).get(DM)
    usubjid = column(dm, "USUBJID") if dm is not None else None
    if usubjid is None:
        return []
    values = text(dm, "USUBJID")
    dup = values.notna() & values.duplicated(keep="first")
    return hits("CV0201", DM, dm, dup.to_numpy(), variable="USUBJID",
                message="USUBJID already has an earlier DM record")


@rule("CV0202", Severity.ERROR, "Subject is not in DM",
      "CG0029 (CORE-000201): USUBJID in every subject-level dataset must be in DM.USUBJID")
def subject_in_dm(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    subjects = dm_subjects(study)
    if subjects is None:
        return []
    out: list[Problem] = []
    for name in study.names(SDTM):
        frame = study[name]
        usubjid = column(frame, "USUBJID")
        if name == DM or usubjid is None:
            continue
        values = text(frame, "USUBJID")
        bad = values.notna() & ~values.isin(subjects)
        out += hits("CV0202", name, frame, bad.to_numpy(), variable="USUBJID",
                    message="USUBJID is not in DM")
    return out


@rule("CV0203", Severity.ERROR, "--SEQ is not unique within a subject",
      "SDTM v2.0 Identifiers (--SEQ); CG0028 (CORE-000544, now in CORE's Deprecated set)")
def seq_unique(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names(SDTM):
        frame = study[name]
        # The sequence variable is the domain code + SEQ (split datasets keep the code).
        domain = text(frame, "DOMAIN").dropna() if "DOMAIN" in frame.columns else None
        prefix = domain.iat[0] if domain is not None and len(domain) else name[:2]
        seq_name = f"{prefix}SEQ"
        seq, usubjid = column(frame, seq_name), column(frame, "USUBJID")
        if seq is None or usubjid is None or name == "TS":  # TSSEQ is per parameter
            continue
        subjects, numbers = text(frame, "USUBJID"), key_text(seq)
        dup = ((first_rows([subjects, numbers]) != np.arange(len(frame)))
               & subjects.notna().to_numpy() & numbers.notna().to_numpy())
        out += hits("CV0203", name, frame, dup, variable=seq_name,
                    message=f"{seq_name} is already used by an earlier record of this subject")
    return out


@rule("CV0204", Severity.ERROR, "SDTM datasets without a DM dataset",
      "SDTMIG 3.4 section 5.2 (every subject has a DM record); CG0368 (CORE-000581)")
def dm_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    subject_level = [n for n in study.names(SDTM) if "USUBJID" in study[n].columns]
    if subject_level and DM not in study:
        return [dataset_hit("CV0204", None, f"{', '.join(subject_level)} have subjects but "
                            "there is no DM dataset; subject checks against DM were skipped")]
    return []
