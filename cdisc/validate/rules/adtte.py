"""Time-to-event datasets (ADTTE and any ADaM dataset with CNSR).

ADaM dates are numeric SAS dates: days since 1960-01-01. This project's
convention for AVAL (stated in rule CV0905) is AVAL = ADT - STARTDT + 1 days:
an event on the start day is at day 1, as SDTM study day 1 is the reference
day. CNSR: 0 = event, 1 = censored (ADaM TTE also allows other positive codes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import Problem, Severity
from ..frames import column, dataset_hit, hits, key_text, missing, numbers, show, text
from ..registry import InScope, Scope, rule
from ..study import metadata

_TTE = "ADaM BDS for Time-to-Event Analyses v1.0"
# AVAL counts days unless AVALU says otherwise (UNIT codelist term for days).
DAYS = "DAYS"


#: every rule of this family checks the ADaM datasets that have CNSR, one at a time
TTE = Scope(standard="ADaM", variables=("CNSR",))


def _num(frame: pd.DataFrame, var: str) -> pd.Series:
    col = column(frame, var)
    return numbers(col) if col is not None else pd.Series(np.nan, index=frame.index)


@rule("CV0901", Severity.ERROR, "More than one record per subject and PARAMCD",
      f"ADaMIG 1.3 BDS; {_TTE} (one record per subject per parameter)", scope=TTE,
      category="Consistency")
def one_record_per_parameter(ds: InScope) -> list[Problem]:
    frame = ds.frame
    keys = [k for k in ("USUBJID", "PARAMCD") if k in frame.columns]
    if len(keys) < 2:
        return []
    view = pd.DataFrame({k: text(frame, k) for k in keys})
    dup = view.notna().all(axis=1) & view.duplicated(keep="first")
    return hits("CV0901", ds.name, frame, dup.to_numpy(dtype=bool), variable="PARAMCD",
                message="this subject already has a record for PARAMCD")


@rule("CV0902", Severity.ERROR, "CNSR is not 0 (event) or a positive integer (censored)",
      f"{_TTE} (CNSR: 0 = event, positive integers = censoring reasons)", scope=TTE,
      category="Consistency")
def cnsr_integer(ds: InScope) -> list[Problem]:
    frame = ds.frame
    cnsr = numbers(frame["CNSR"])
    given = ~missing(frame["CNSR"])  # a null CNSR is CV0108's (required) finding
    bad = given & ~(cnsr.ge(0) & cnsr.eq(np.floor(cnsr))).to_numpy(dtype=bool)
    return hits("CV0902", ds.name, frame, bad, variable="CNSR",
                message=lambda i: f"CNSR {show(frame['CNSR'].iat[i])} is not 0 or a "
                "positive integer")


@rule("CV0903", Severity.WARNING, "CNSR is greater than 1",
      f"{_TTE} allows several censoring codes; this project's ADTTE uses 0 = event, "
      "1 = censored", scope=TTE, category="Consistency")
def cnsr_zero_one(ds: InScope) -> list[Problem]:
    cnsr = numbers(ds.frame["CNSR"])
    bad = cnsr.gt(1) & cnsr.eq(np.floor(cnsr))
    return hits("CV0903", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="CNSR",
                message="CNSR is not 0 or 1")


@rule("CV0904", Severity.ERROR, "AVAL (time to event) is negative", _TTE, scope=TTE,
      category="Consistency")
def aval_not_negative(ds: InScope) -> list[Problem]:
    bad = _num(ds.frame, "AVAL").lt(0)
    return hits("CV0904", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AVAL",
                message="AVAL is negative: the event or censoring is before STARTDT")


@rule("CV0905", Severity.ERROR,
      "AVAL is not ADT - STARTDT + 1 (days; the start day is day 1; SAS dates = days since "
      "1960-01-01)", f"{_TTE} (AVAL, STARTDT, ADT); project convention: +1 day", scope=TTE,
      category="Consistency")
def aval_from_dates(ds: InScope) -> list[Problem]:
    frame = ds.frame
    aval, adt, start = _num(frame, "AVAL"), _num(frame, "ADT"), _num(frame, "STARTDT")
    unit = text(frame, "AVALU").str.upper() if "AVALU" in frame.columns else None
    in_days = unit.isna() | unit.eq(DAYS) if unit is not None else True
    expected = adt - start + 1
    # Exact: all three are whole day counts; the tolerance only absorbs float noise.
    bad = in_days & aval.notna() & expected.notna() & ((aval - expected).abs() > 1e-9)
    return hits("CV0905", ds.name, frame, np.asarray(bad, dtype=bool), variable="AVAL",
                message=lambda i: f"AVAL should be ADT - STARTDT + 1 = {adt.iat[i]:g} - "
                f"{start.iat[i]:g} + 1 = {expected.iat[i]:g}")


@rule("CV0906", Severity.ERROR, "STARTDT is after ADT", f"{_TTE} (STARTDT is the time origin)",
      scope=TTE, category="Consistency")
def start_before_analysis_date(ds: InScope) -> list[Problem]:
    frame = ds.frame
    bad = _num(frame, "STARTDT") > _num(frame, "ADT")
    return hits("CV0906", ds.name, frame, bad.to_numpy(dtype=bool), variable="STARTDT",
                message=lambda i: f"STARTDT {show(frame['STARTDT'].iat[i])} is after "
                f"ADT {show(frame['ADT'].iat[i])}")


def _description(rule_id: str, ds: InScope, variable: str, censored: bool) -> list[Problem]:
    frame = ds.frame
    cnsr = numbers(frame["CNSR"])
    which = (cnsr.gt(0) if censored else cnsr.eq(0)).to_numpy(dtype=bool)
    state = "censored (CNSR > 0)" if censored else "events (CNSR = 0)"
    if variable not in frame.columns:
        if not which.any():
            return []
        # one finding for the dataset, not one per record
        return [dataset_hit(rule_id, ds.name, f"{int(which.sum())} records are {state} "
                            f"but {variable} is not in the dataset", variable=variable)]
    return hits(rule_id, ds.name, frame, which & missing(frame[variable]), variable=variable,
                message=f"the record is one of the {state} but {variable} is null")


@rule("CV0907", Severity.WARNING, "Event record (CNSR = 0) without EVNTDESC",
      f"{_TTE} (EVNTDESC describes the event)", scope=TTE, category="Consistency")
def event_description(ds: InScope) -> list[Problem]:
    return _description("CV0907", ds, "EVNTDESC", censored=False)


@rule("CV0908", Severity.WARNING, "Censored record (CNSR > 0) without CNSDTDSC",
      f"{_TTE} (CNSDTDSC describes the censoring date)", scope=TTE, category="Consistency")
def censoring_description(ds: InScope) -> list[Problem]:
    return _description("CV0908", ds, "CNSDTDSC", censored=True)


def _seq_variable(name: str, frame: pd.DataFrame) -> str | None:
    """The record number of a source dataset: --SEQ (SDTM) or ASEQ (ADaM)."""
    meta = metadata(name)
    prefix = "A" if (meta is not None and meta.standard == "ADaMIG") or name.startswith("AD") \
        else name[:2]
    seq = f"{prefix}SEQ"
    return seq if seq in frame.columns else None


@rule("CV0909", Severity.ERROR, "SRCDOM/SRCVAR/SRCSEQ point to no record of the source dataset",
      f"{_TTE} (SRCDOM, SRCVAR, SRCSEQ trace AVAL to its source); checked when the source "
      "dataset is present", scope=TTE, category="Consistency")
def source_record(ds: InScope) -> list[Problem]:
    study, frame = ds.study, ds.frame
    if "SRCDOM" not in frame.columns or "USUBJID" not in frame.columns:
        return []
    srcdom = text(frame, "SRCDOM").str.upper()
    srcvar = text(frame, "SRCVAR").str.upper() if "SRCVAR" in frame.columns \
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    srcseq = key_text(frame["SRCSEQ"]) if "SRCSEQ" in frame.columns \
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    subject = text(frame, "USUBJID")
    why = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for source in sorted(set(srcdom.dropna()) & set(study)):
        src = study[source]
        rows = srcdom.eq(source)
        columns = {str(c).upper() for c in src.columns}
        no_var = rows & srcvar.notna() & ~srcvar.isin(columns)
        why[no_var] = f"SRCVAR is not a variable of {source}"
        seq = _seq_variable(source, src)
        src_subjects = text(src, "USUBJID") if "USUBJID" in src.columns else None
        if src_subjects is None:
            continue
        with_seq = rows & srcseq.notna() & why.isna()
        if seq is None:
            why[with_seq] = f"{source} has no sequence variable for SRCSEQ"
        else:
            keys = pd.MultiIndex.from_arrays([src_subjects, key_text(src[seq])])
            found = pd.MultiIndex.from_arrays([subject, srcseq]).isin(keys)
            why[with_seq & ~found] = f"no {source} record of this subject has {seq} = SRCSEQ"
        no_seq = rows & srcseq.isna() & why.isna()
        why[no_seq & ~subject.isin(set(src_subjects.dropna()))] = \
            f"the subject has no {source} record"
    return hits("CV0909", ds.name, frame, why.notna().to_numpy(), variable="SRCDOM",
                message=lambda i: f"SRCDOM {show(srcdom.iat[i])}, SRCVAR {show(srcvar.iat[i])}, "
                f"SRCSEQ {show(srcseq.iat[i])}: {why.iat[i]}")
