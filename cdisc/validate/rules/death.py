"""Death: DTHFL and DTHDTC agree in DM; no record of the subject is dated after DTHDTC."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...errors import Problem, Severity
from ..frames import at_rows, hits, iso_compare, show, text
from ..registry import InScope, Scope, rule
from ..study import as_study
from .dates import domain_prefix, per_subject
from .subjects import DM

# DTHFL takes only "Y" or null (SDTMIG 3.4 DM specification), though its codelist
# is the whole NY list; the rule value is the one the CORE rules test for.
YES = "Y"


def _dm_death(datasets: Mapping[str, pd.DataFrame]
              ) -> tuple[pd.DataFrame, pd.Series, pd.Series] | None:
    dm = as_study(datasets).get(DM)
    if dm is None or "DTHFL" not in dm.columns:
        return None
    dthdtc = text(dm, "DTHDTC") if "DTHDTC" in dm.columns else None
    if dthdtc is None:
        dthdtc = pd.Series([None] * len(dm), index=dm.index, dtype=object)
    return dm, text(dm, "DTHFL"), dthdtc


@rule("CV0501", Severity.ERROR, "DTHDTC is populated but DTHFL is not 'Y'",
      "SDTMIG 3.4 section 5.2; CG0435 (CORE-000007), FDA business rule FB0606",
      category="Consistency")
def death_date_without_flag(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, date = found
    bad = date.notna() & flag.ne(YES)
    return hits("CV0501", DM, dm, bad.to_numpy(dtype=bool), variable="DTHFL",
                message=lambda i: f"DTHDTC is {show(date.iat[i])} but DTHFL is "
                f"{show(flag.iat[i])}, not 'Y'")


@rule("CV0502", Severity.WARNING, "DTHFL is 'Y' but DTHDTC is null",
      "SDTMIG 3.4 section 5.2; CORE-000705, FDA business rule FB0610", category="Consistency")
def death_flag_without_date(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, date = found
    bad = flag.eq(YES) & date.isna()
    return hits("CV0502", DM, dm, bad.to_numpy(dtype=bool), variable="DTHDTC",
                message="DTHFL is 'Y' but DTHDTC is null (give the date, partial if need be)")


@rule("CV0503", Severity.ERROR, "DTHFL is neither 'Y' nor null",
      "SDTMIG 3.4 section 5.2 (DTHFL 'Y' or null); CG0131 (CORE-000006)", category="Consistency")
def death_flag_values(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, _ = found
    bad = flag.notna() & flag.ne(YES)
    return hits("CV0503", DM, dm, bad.to_numpy(dtype=bool), variable="DTHFL",
                message=lambda i: f"DTHFL is {show(flag.iat[i])}; it is 'Y' or null")


# --- dates after death ------------------------------------------------------------------

#: Nothing of a subject happens after death, except what is about the death: DD (death
#: details) and SS (subject status, e.g. "DEAD") are collected afterwards by design.
_ABOUT_DEATH = ("DM", "DD", "SS")
#: datasets whose start and end dates CV0506 checks (dosing and adverse events)
_TREATED = ("EX", "EC", "AE")
_DEATH_SOURCES = ("no CORE or FDA business rule id found; SDTMIG 3.4 section 5.2 (DTHDTC, "
                  "RFXSTDTC); pharmaverse sdtmchecks check_ex_exstdtc_after_dd, "
                  "check_ae_aestdtc_after_dd, check_lb_lbdtc_after_dd")


def _death_dates(ds: InScope) -> pd.Series | None:
    """DM.DTHDTC for each record of ``ds`` (None where DM or the date is missing)."""
    dm = as_study(ds.study).get(DM)
    if dm is None or "DTHDTC" not in dm.columns or "USUBJID" not in ds.frame.columns:
        return None
    return per_subject(ds.frame, dm, "DTHDTC")


def _after(ds: InScope, death: pd.Series, variables: list[str], rule_id: str) -> list[Problem]:
    """One finding per record with a date in ``variables`` after death (the first such one)."""
    frame = ds.frame
    done = pd.Series(False, index=frame.index)
    death_at = at_rows(death)
    out: list[Problem] = []
    for var in variables:
        later = iso_compare(text(frame, var), death).eq(1).fillna(False).astype(bool) & ~done
        done |= later
        value_at = at_rows(frame[var])
        out += hits(rule_id, ds.name, frame, later.to_numpy(dtype=bool), variable=var,
                    message=lambda i, v=var, at=value_at: f"{v} {show(at(i))} is after the "
                    f"subject's death (DM.DTHDTC {show(death_at(i))})")
    return out


@rule("CV0504", Severity.WARNING, "A fatal adverse event does not end on DM.DTHDTC",
      "CORE-000841 (FB0612): AEENDTC of an AE with AEOUT = 'FATAL' equals DM.DTHDTC "
      "(a missing AEENDTC is CV0404's finding)",
      scope=Scope(names=("AE",), variables=("AEOUT", "AEENDTC")), category="Consistency")
def fatal_event_ends_at_death(ds: InScope) -> list[Problem]:
    dm = as_study(ds.study).get(DM)
    if dm is None or "USUBJID" not in dm.columns or "USUBJID" not in ds.frame.columns:
        return []
    death = per_subject(ds.frame, dm, "DTHDTC")
    known = text(ds.frame, "USUBJID").isin(set(text(dm, "USUBJID").dropna()))
    end = text(ds.frame, "AEENDTC")
    differs = iso_compare(end, death).ne(0).fillna(False).astype(bool)
    bad = (text(ds.frame, "AEOUT").eq("FATAL") & end.notna() & known
           & (death.isna() | differs))
    end_at, death_at = at_rows(end), at_rows(death)
    return hits("CV0504", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AEENDTC",
                message=lambda i: f"AEOUT is 'FATAL' and AEENDTC is {show(end_at(i))}, but "
                f"DM.DTHDTC is {show(death_at(i))}")


@rule("CV0505", Severity.WARNING, "A record is dated after the subject's death (DM.DTHDTC)",
      f"{_DEATH_SOURCES}; related: CORE-000720 (FB3406, --DTC on or before RFPENDTC). "
      "Checks --STDTC and --DTC (a collection date after death is worth a look too); DD and "
      "SS are about the death and are not checked",
      scope=Scope(standard="SDTM", variables=("USUBJID",)), category="Consistency")
def dated_after_death(ds: InScope) -> list[Problem]:
    prefix = domain_prefix(ds.name, ds.frame)
    death = _death_dates(ds)
    if death is None or prefix in _ABOUT_DEATH or ds.name in _ABOUT_DEATH:
        return []
    # EX/EC/AE start dates are CV0506's (an error there); their collection dates are here.
    starts = [] if prefix in _TREATED else [f"{prefix}STDTC"]
    variables = [v for v in (*starts, f"{prefix}DTC") if v in ds.frame.columns]
    return _after(ds, death, variables, "CV0505")


@rule("CV0506", Severity.ERROR, "Exposure or an adverse event starts or ends after death",
      f"{_DEATH_SOURCES}: a dose or an event after DM.DTHDTC cannot be",
      scope=Scope(names=_TREATED, standard="SDTM", variables=("USUBJID",)), category="Consistency")
def treated_after_death(ds: InScope) -> list[Problem]:
    death = _death_dates(ds)
    if death is None:
        return []
    prefix = domain_prefix(ds.name, ds.frame)
    variables = [v for v in (f"{prefix}STDTC", f"{prefix}ENDTC") if v in ds.frame.columns]
    return _after(ds, death, variables, "CV0506")


@rule("CV0507", Severity.ERROR, "DM.DTHDTC is before the first dose (RFXSTDTC)",
      f"{_DEATH_SOURCES}: RFXSTDTC is the first exposure, which cannot follow death",
      scope=Scope(names=(DM,), variables=("DTHDTC", "RFXSTDTC")), category="Consistency")
def death_before_first_dose(ds: InScope) -> list[Problem]:
    death, first = text(ds.frame, "DTHDTC"), text(ds.frame, "RFXSTDTC")
    bad = iso_compare(death, first).eq(-1).fillna(False).astype(bool)
    return hits("CV0507", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="DTHDTC",
                message=lambda i: f"DTHDTC {show(death.iat[i])} is before RFXSTDTC "
                f"{show(first.iat[i])}, the first dose")
