"""Subjects: one DM record each, known to DM, --SEQ unique; DM's arms, age and disposition."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

import numpy as np
import pandas as pd

from ... import standards
from ...errors import Problem, Severity, StandardsError
from ..frames import (
    column,
    column_distinct,
    dataset_hit,
    distinct,
    first_rows_of,
    hits,
    key_text,
    memo,
    numbers,
    show,
    text,
)
from ..registry import InScope, Scope, rule
from ..study import SDTM, as_study

DM = "DM"


def dm_subjects(datasets: Mapping[str, pd.DataFrame]) -> set[str] | None:
    """USUBJIDs in DM, or None when there is no DM (the rules that need it then stay quiet)."""
    dm = as_study(datasets).get(DM)
    usubjid = column(dm, "USUBJID") if dm is not None else None
    if usubjid is None:
        return None
    return set(text(dm, "USUBJID").dropna())


def subject_in(frame: pd.DataFrame, dataset: pd.DataFrame) -> np.ndarray:
    """Whether each record's USUBJID is one of ``dataset``'s (False where missing): each
    distinct subject looked up once, in an index of ``dataset``'s subjects made once
    per run."""
    known = memo(dataset, ("subjects",), lambda: pd.Index(
        pd.unique(text(dataset, "USUBJID").dropna().to_numpy(dtype=object))))
    values = text(frame, "USUBJID")
    found = distinct(values)
    if found is None:
        return values.isin(known).to_numpy(dtype=bool)
    return found.per_row(known.get_indexer(found.values) >= 0, False)


@rule("CV0201", Severity.ERROR, "More than one DM record for a subject",
      "SDTMIG 3.4 section 5.2 (DM: one record per subject); CG0151 (CORE-000351)",
      category="Consistency")
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
      "CG0029 (CORE-000201): USUBJID in every subject-level dataset must be in DM.USUBJID",
      category="Cross-reference")
def subject_in_dm(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    dm = study.get(DM)
    if dm is None or column(dm, "USUBJID") is None:
        return []
    out: list[Problem] = []
    for name in study.names(SDTM):
        frame = study[name]
        usubjid = column(frame, "USUBJID")
        if name == DM or usubjid is None:
            continue
        bad = text(frame, "USUBJID").notna().to_numpy() & ~subject_in(frame, dm)
        out += hits("CV0202", name, frame, bad, variable="USUBJID",
                    message="USUBJID is not in DM")
    return out


@rule("CV0203", Severity.ERROR, "--SEQ is not unique within a subject",
      "SDTM v2.0 Identifiers (--SEQ); CG0028 (CORE-000544, now in CORE's Deprecated set)",
      category="Consistency")
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
        subjects, numbers = column_distinct(frame, "USUBJID"), distinct(key_text(seq))
        assert numbers is not None  # key_text gives str or None
        dup = ((first_rows_of([subjects, numbers]) != np.arange(len(frame)))
               & (subjects.codes >= 0) & (numbers.codes >= 0))
        out += hits("CV0203", name, frame, dup, variable=seq_name,
                    message=f"{seq_name} is already used by an earlier record of this subject")
    return out


@rule("CV0204", Severity.ERROR, "SDTM datasets without a DM dataset",
      "SDTMIG 3.4 section 5.2 (every subject has a DM record); CG0368 (CORE-000581)",
      category="Presence")
def dm_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    subject_level = [n for n in study.names(SDTM) if "USUBJID" in study[n].columns]
    if subject_level and DM not in study:
        return [dataset_hit("CV0204", None, f"{', '.join(subject_level)} have subjects but "
                            "there is no DM dataset; subject checks against DM were skipped")]
    return []


# --- DM: arms, age, disposition ------------------------------------------------------------

DS = "DS"
_ARMS = ("ARMCD", "ARM", "ACTARMCD", "ACTARM")
#: ARMNRS (C142179 Arm Null Reason) is the codelist; CORE-000115 adds 'NOT TREATED', and
#: the codes of SDTMIG 3.2 section 5.2 (SCRNFAIL, NOTASSGN, ...) are the ARMCD forms
_OLD_ARMCD = ("SCRNFAIL", "NOTASSGN", "NOTTRT", "UNPLAN")
#: the most a person can be, by AGEU (C66781): 120 years
_MAX_AGE = {"YEARS": 120, "MONTHS": 1440, "WEEKS": 6261, "DAYS": 43830, "HOURS": 1051920}


def _null_reasons() -> set[str]:
    """The ARMNRS terms (upper case), which ARM/ARMCD must not hold in SDTMIG 3.4."""
    values = {"NOT TREATED", *_OLD_ARMCD}
    with suppress(StandardsError):  # a CT without the codelist: the CORE-000115 values alone
        values |= {t.upper() for t in standards.codelist("C142179").terms}
    return values


@rule("CV0205", Severity.ERROR, "ARM/ARMCD (or ACTARM/ACTARMCD) hold a reason for no arm",
      "SDTMIG 3.4 section 5.2 (screen failures, unassigned or untreated subjects: ARMCD/ARM "
      "and ACTARMCD/ACTARM null, the reason in ARMNRS); CG0570 (CORE-000115)",
      scope=Scope(names=(DM,)), category="Cross-reference")
def arm_is_not_a_reason(ds: InScope) -> list[Problem]:
    reasons = _null_reasons()
    held = {v: text(ds.frame, v).str.upper().isin(reasons).to_numpy(dtype=bool)
            for v in _ARMS if v in ds.frame.columns}
    if not held:
        return []
    out: list[Problem] = []
    done = np.zeros(len(ds.frame), dtype=bool)
    for var in ("ARM", "ARMCD", "ACTARM", "ACTARMCD"):  # one finding per record, ARM first
        if var not in held:
            continue
        mask = held[var] & ~done
        done |= mask
        out += hits("CV0205", ds.name, ds.frame, mask, variable=var,
                    message=lambda i, v=var: f"{v} is {show(ds.frame[v].iat[i])}: in SDTMIG "
                    "3.4 ARMCD/ARM (and ACTARMCD/ACTARM) are null and ARMNRS gives the reason")
    return out


def _arms_given(frame: pd.DataFrame) -> bool:
    """Whether the study assigns arms at all: some subject has ARMCD or ACTARMCD."""
    return any(text(frame, v).notna().any() for v in ("ARMCD", "ACTARMCD") if v in frame.columns)


@rule("CV0206", Severity.ERROR, "ARM/ARMCD or ACTARM/ACTARMCD are null without ARMNRS",
      "SDTMIG 3.4 section 5.2; CG0517 (CORE-000045), CG0519 (CORE-000046), CORE-000223, "
      "CORE-000224. When no subject has an arm at all, CV0211 reports that once instead",
      scope=Scope(names=(DM,), variables=("ARMCD",)), category="Cross-reference")
def null_arm_has_reason(ds: InScope) -> list[Problem]:
    frame = ds.frame
    if not _arms_given(frame):
        return []
    null = [v for v in _ARMS if v in frame.columns]
    empty = pd.concat([text(frame, v).isna() for v in null], axis=1).any(axis=1)
    bad = empty & text(frame, "ARMNRS").isna()
    return hits("CV0206", ds.name, frame, bad.to_numpy(dtype=bool), variable="ARMNRS",
                message=lambda i: ", ".join(v for v in null if text(frame, v).iat[i] is None)
                + " null but ARMNRS does not say why")


@rule("CV0211", Severity.WARNING, "No subject has an arm (ARMCD/ACTARMCD null throughout DM)",
      "SDTMIG 3.4 section 5.2 (ARMCD, ARM, ACTARMCD, ACTARM: Exp; a null arm needs ARMNRS, "
      "CG0517/CG0519): the arm variables look unmapped, so the study is reported once, not "
      "each subject (CV0206)", scope=Scope(names=(DM,), variables=("USUBJID",)),
      category="Presence")
def arms_mapped(ds: InScope) -> list[Problem]:
    frame = ds.frame
    if frame.empty or _arms_given(frame) or text(frame, "ARMNRS").notna().all():
        return []
    return [dataset_hit("CV0211", ds.name, f"ARMCD and ACTARMCD are null for all {len(frame)} "
                        "subjects and ARMNRS does not say why: map the planned and actual arms "
                        "(or ARMNRS for subjects without one)", variable="ARMCD")]


@rule("CV0207", Severity.WARNING, "The actual arm differs from the planned arm, with no reason",
      "FB2501 (CORE-000655: ARMCD = ACTARMCD), FB2502 (CORE-000656: ARM = ACTARM); SDTMIG 3.4 "
      "section 5.2 (ARMNRS, ACTARMUD)", scope=Scope(names=(DM,)), category="Cross-reference")
def actual_arm_as_planned(ds: InScope) -> list[Problem]:
    frame = ds.frame
    differs = pd.Series(False, index=frame.index)
    for planned, actual in (("ARMCD", "ACTARMCD"), ("ARM", "ACTARM")):
        a, b = text(frame, planned), text(frame, actual)
        differs |= a.notna() & b.notna() & a.ne(b)
    bad = differs & text(frame, "ARMNRS").isna() & text(frame, "ACTARMUD").isna()
    var = "ACTARMCD" if "ACTARMCD" in frame.columns else "ACTARM"
    return hits("CV0207", ds.name, frame, bad.to_numpy(dtype=bool), variable=var,
                message=lambda i: f"planned {show(text(frame, 'ARM').iat[i])} "
                f"({show(text(frame, 'ARMCD').iat[i])}), actual "
                f"{show(text(frame, 'ACTARM').iat[i])} ({show(text(frame, 'ACTARMCD').iat[i])}); "
                "explain it in the reviewer's guide (ARMNRS/ACTARMUD are null)")


@rule("CV0208", Severity.ERROR, "AGE is negative",
      "FB4001 (CORE-000310: AGE is not negative)",
      scope=Scope(names=(DM,), variables=("AGE",)), category="Consistency")
def age_not_negative(ds: InScope) -> list[Problem]:
    age = numbers(ds.frame["AGE"])
    return hits("CV0208", ds.name, ds.frame, age.lt(0).to_numpy(dtype=bool), variable="AGE",
                message=lambda i: f"AGE is {show(age.iat[i])}")


@rule("CV0209", Severity.WARNING, "AGE is more than 120 years",
      "plausibility (no CORE or FDA business rule id found); AGEU (C66781) converts the limit",
      scope=Scope(names=(DM,), variables=("AGE",)), category="Consistency")
def age_plausible(ds: InScope) -> list[Problem]:
    age = numbers(ds.frame["AGE"])
    unit = text(ds.frame, "AGEU").str.upper().fillna("YEARS")
    limit = unit.map(_MAX_AGE).astype("float64")  # an unknown unit: CV0103's business
    bad = age.gt(limit).fillna(False)
    return hits("CV0209", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AGE",
                message=lambda i: f"AGE is {show(age.iat[i])} {unit.iat[i]}: more than 120 years")


@rule("CV0210", Severity.ERROR, "A subject with an actual arm has no DS record",
      "SDTMIG 3.4 section 6.2.3 (DS: disposition of every subject); CG0540 (CORE-000296: "
      "ACTARMCD populated, disposition data present)",
      scope=Scope(names=(DM,), variables=("USUBJID", "ACTARMCD")), category="Cross-reference")
def disposition_present(ds: InScope) -> list[Problem]:
    disposition = as_study(ds.study).get(DS)
    if disposition is None or "USUBJID" not in disposition.columns:
        return []  # no DS in the package: nothing to compare (a package may be partial)
    subjects = text(ds.frame, "USUBJID")
    bad = (text(ds.frame, "ACTARMCD").notna() & subjects.notna()
           & ~subjects.isin(set(text(disposition, "USUBJID").dropna())))
    return hits("CV0210", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="USUBJID",
                message=lambda i: f"ACTARMCD is {show(text(ds.frame, 'ACTARMCD').iat[i])} but the "
                "subject has no DS record (disposition events or protocol milestones)")
