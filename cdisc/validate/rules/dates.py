"""Dates: real calendar dates, start before end, study days, exposure within the reference period,
EPOCH on dated records.

ISO 8601 values are compared at their common precision (see
:func:`cdisc.validate.frames.iso_compare`): a partial date is neither before
nor after a date inside the period it covers, so it never raises a finding
on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import Problem, Severity
from ...model.text import factorize
from ..calendar import day_numbers, study_days
from ..frames import (
    ascii_arrow_text,
    at_rows,
    dataset_hit,
    distinct,
    hits,
    iso_compare,
    memo,
    missing,
    numbers,
    per_distinct,
    show,
    text,
)
from ..registry import InScope, Scope, rule
from ..study import SDTM, Study, as_study, metadata
from .subjects import DM, subject_in

EX = "EX"
#: the general observation classes, as the Define-XML class names a Scope matches
OBSERVATIONS = ("EVENTS", "INTERVENTIONS", "FINDINGS", "FINDINGS ABOUT")
# The date part of each end of an ISO 8601 value or interval (durations are skipped).
_DATE_PART = r"^(\d{4}-\d{2}-\d{2})"


def per_subject(frame: pd.DataFrame, dm: pd.DataFrame, variable: str) -> pd.Series:
    """DM.``variable`` for each record's subject (first DM record wins; CV0201 reports more);
    NaN where the subject is not in DM. Each distinct subject is looked up once, and
    only once per run for a dataset, DM and variable (several rules read it): the run
    keeps that answer per subject, not per record."""
    if variable not in dm.columns or "USUBJID" not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    subjects = text(frame, "USUBJID")
    found = distinct(subjects)
    if found is None:
        return subjects.map(_subject_values(dm, variable))
    each = memo(frame, ("per_subject", id(dm), variable), lambda: pd.Series(
        found.values, dtype=object).map(_subject_values(dm, variable)).to_numpy())
    return pd.Series(found.per_row(each, np.nan), index=frame.index, copy=False)


def _subject_values(dm: pd.DataFrame, variable: str) -> pd.Series:
    ref = pd.Series(text(dm, variable).to_numpy(), index=text(dm, "USUBJID").to_numpy())
    return ref[~ref.index.duplicated(keep="first") & ref.index.notna()]


def domain_prefix(name: str, frame: pd.DataFrame) -> str:
    """The --prefix of a dataset's variables: its DOMAIN value, else the first two letters."""
    domain = text(frame, "DOMAIN").dropna() if "DOMAIN" in frame.columns else None
    return str(domain.iat[0]) if domain is not None and len(domain) else name[:2]


def _study_day_pairs(frame: pd.DataFrame) -> Iterator[tuple[str, str]]:
    """(--DY, --DTC), (--STDY, --STDTC), (--ENDY, --ENDTC) pairs present in the frame.

    Named by the SDTM convention, so a domain we have no metadata for is checked too;
    VISITDY (planned day, no VISITDTC) drops out because its date variable does not exist.
    """
    for name in map(str, frame.columns):
        for day, dtc in (("STDY", "STDTC"), ("ENDY", "ENDTC"), ("DY", "DTC")):
            if name.endswith(day):
                date = name[: -len(day)] + dtc
                if date in frame.columns:
                    yield name, date
                break


_Day = tuple[str, pd.DataFrame, str, str, pd.Series, pd.Series, pd.Series]


def _study_days(datasets: Mapping[str, pd.DataFrame]) -> list[_Day]:
    """For every study-day variable: (dataset, frame, --DY, --DTC, value, expected, RFSTDTC)."""
    study = as_study(datasets)
    dm = study.get(DM)
    if dm is None:
        return []
    # Three rules read the same days: computed once per run (keyed on DM and the datasets).
    key = ("study_days", tuple((n, id(study[n])) for n in study.names(SDTM)))
    return memo(dm, key, lambda: list(_compute_study_days(study, dm)))


def _compute_study_days(study: Study, dm: pd.DataFrame) -> Iterator[_Day]:
    for name in study.names(SDTM):
        frame = study[name]
        rfstdtc = per_subject(frame, dm, "RFSTDTC")
        known = subject_in(frame, dm) \
            if "USUBJID" in frame.columns and "USUBJID" in dm.columns else None
        for day, dtc in _study_day_pairs(frame):
            expected = pd.Series(study_days(text(frame, dtc), rfstdtc), index=frame.index)
            value = numbers(frame[day])
            if known is not None:  # a subject not in DM is CV0202's finding, not a day error
                value = value.where(known)
            yield name, frame, day, dtc, value, expected, rfstdtc


@rule("CV0301", Severity.ERROR, "Study day is 0",
      "SDTMIG 3.4 section 4.4.4 (there is no study day 0); CG0006 (CORE-000529)",
      category="Consistency")
def study_day_zero(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, day, _dtc, value, _exp, _ref in _study_days(datasets):
        out += hits("CV0301", name, frame, value.eq(0).to_numpy(), variable=day,
                    message=f"{day} is 0; the day of RFSTDTC is day 1 and the day before is -1")
    return out


@rule("CV0302", Severity.ERROR, "Study day does not follow from the date and DM.RFSTDTC",
      "SDTMIG 3.4 section 4.4.4; CG0006 (CORE-000529), CG0220 (CORE-000552), "
      "CG0222 (CORE-000553)", category="Consistency")
def study_day_value(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, day, dtc, value, expected, ref in _study_days(datasets):
        exp = expected.astype("float64")
        bad = value.notna() & exp.notna() & value.ne(0) & value.ne(exp)
        at = at_rows(exp), at_rows(frame[dtc]), at_rows(ref)
        out += hits("CV0302", name, frame, bad.to_numpy(dtype=bool), variable=day,
                    message=lambda i, d=dtc, e=at[0], f=at[1], r=at[2], y=day:
                    f"{y} should be {int(e(i))} ({d} {show(f(i))}, "
                    f"RFSTDTC {show(r(i))}; day 1 = RFSTDTC, no day 0)")
    return out


@rule("CV0303", Severity.ERROR, "Study day given although the date or RFSTDTC is incomplete",
      "SDTMIG 3.4 section 4.4.4 (study day only from complete dates); CG0007 (CORE-000354), "
      "CG0221 (CORE-000138), CG0223 (CORE-000139)", category="Consistency")
def study_day_partial(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, day, dtc, value, expected, ref in _study_days(datasets):
        bad = value.notna() & expected.isna()
        at = at_rows(frame[dtc]), at_rows(ref)
        out += hits("CV0303", name, frame, bad.to_numpy(dtype=bool), variable=day,
                    message=lambda i, d=dtc, f=at[0], r=at[1], y=day:
                    f"{y} is populated but {d} {show(f(i))} or RFSTDTC "
                    f"{show(r(i))} is not a complete date")
    return out


def _iso_variables(name: str, frame: pd.DataFrame) -> list[str]:
    """Date/time variables: ISO 8601 datetimes in the metadata, else by the --DTC name."""
    meta = metadata(name)
    out = []
    for var in map(str, frame.columns):
        if meta is not None and meta.has(var):
            if meta.variable(var).iso8601 == "datetime":
                out.append(var)
        elif var.endswith("DTC") and not pd.api.types.is_numeric_dtype(frame[var].dtype):
            out.append(var)
    return out


@rule("CV0304", Severity.ERROR, "Date is not a real calendar date",
      "SDTMIG 3.4 sections 4.4.1-4.4.2 (ISO 8601 dates; partial dates keep only known parts)",
      category="Format")
def real_dates(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names(SDTM):
        frame = study[name]
        for var in _iso_variables(name, frame):
            values = text(frame, var)
            bad = per_distinct(values, _not_real, False)  # dates repeat: each looked at once
            value_at = at_rows(values)
            out += hits("CV0304", name, frame, bad, variable=var,
                        message=lambda i, t=value_at, v=var:
                        f"{v} {show(t(i))} is not a date that exists")
    return out


def _not_real(values: pd.Series) -> np.ndarray:
    """True where either end of an ISO 8601 value or interval starts with a date that does
    not exist (the ISO pattern itself is CV0104's business)."""
    values = values.astype("string")
    bad = np.zeros(len(values), dtype=bool)
    for end in _interval_ends(values):
        day = end.str.extract(_DATE_PART, expand=False)
        bad |= (day.notna().to_numpy(dtype=bool) & np.isnan(day_numbers(day)))
    return bad


def _interval_ends(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The part before the first "/" of each value and the part after it (NA without one)."""
    arr = ascii_arrow_text(values)
    if arr is None:
        ends = values.str.split("/", n=1, expand=True).reindex(columns=[0, 1])
        return ends[0].astype("string"), ends[1].astype("string")
    parts = pc.extract_regex(arr, r"(?s)^(?P<first>[^/]*)(?P<slash>/?)(?P<second>.*)")
    first, slash, second = (pc.struct_field(parts, [i]) for i in range(3))
    second = pc.if_else(pc.equal(slash, "/"), second, pa.scalar(None, pa.string()))
    return (pd.Series(pd.arrays.ArrowStringArray(first), index=values.index),
            pd.Series(pd.arrays.ArrowStringArray(second), index=values.index))


def _start_end_pairs(frame: pd.DataFrame) -> Iterator[tuple[str, str]]:
    # --STDTC/--ENDTC share their prefix: AESTDTC/AEENDTC, RFSTDTC/RFENDTC, RFXSTDTC/RFXENDTC.
    for var in map(str, frame.columns):
        if var.endswith("STDTC"):
            end = var[: -len("STDTC")] + "ENDTC"
            if end in frame.columns:
                yield var, end


@rule("CV0305", Severity.ERROR, "Start date/time is after the end date/time",
      "CORE-000718 (FB3209) --STDTC <= --ENDTC; DM: CORE-000711 (FB3404) RFSTDTC <= RFENDTC, "
      "CORE-000714 (FB3408) RFXSTDTC <= RFXENDTC", category="Consistency")
def start_before_end(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    out: list[Problem] = []
    for name in study.names(SDTM):
        frame = study[name]
        for start, end in _start_end_pairs(frame):
            order = iso_compare(frame[start], frame[end])
            at = at_rows(frame[start]), at_rows(frame[end])
            out += hits("CV0305", name, frame, order.eq(1).fillna(False).to_numpy(dtype=bool),
                        variable=start,
                        message=lambda i, s=start, e=end, a=at[0], b=at[1]:
                        f"{s} {show(a(i))} is after {e} {show(b(i))}")
    return out


def _exposure(datasets: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    study = as_study(datasets)
    ex, dm = study.get(EX), study.get(DM)
    if ex is None or dm is None or "USUBJID" not in ex.columns or "USUBJID" not in dm.columns:
        return None
    return ex, dm


@rule("CV0306", Severity.ERROR, "Exposure outside DM.RFXSTDTC..RFXENDTC",
      "SDTMIG 3.4 section 5.2 (RFXSTDTC/RFXENDTC are the first and last exposure); "
      "CG0148 (CORE-000239), CG0147 (CORE-000238)", category="Consistency")
def exposure_in_reference_period(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    pair = _exposure(datasets)
    if pair is None:
        return []
    ex, dm = pair
    out: list[Problem] = []
    first, last = per_subject(ex, dm, "RFXSTDTC"), per_subject(ex, dm, "RFXENDTC")
    if "EXSTDTC" in ex.columns:
        early = iso_compare(ex["EXSTDTC"], first).eq(-1).fillna(False).to_numpy(dtype=bool)
        start_at, first_at = at_rows(ex["EXSTDTC"]), at_rows(first)
        out += hits("CV0306", EX, ex, early, variable="EXSTDTC",
                    message=lambda i: f"EXSTDTC {show(start_at(i))} is before "
                    f"DM.RFXSTDTC {show(first_at(i))}")
    end_var = "EXENDTC" if "EXENDTC" in ex.columns else "EXSTDTC" if "EXSTDTC" in ex.columns \
        else None
    if end_var is not None:
        end = text(ex, end_var)
        if end_var == "EXENDTC" and "EXSTDTC" in ex.columns:  # no end: the start is the last day
            end = end.where(end.notna(), text(ex, "EXSTDTC"))
        late = iso_compare(end, last).eq(1).fillna(False).to_numpy(dtype=bool)
        end_at, last_at = at_rows(end), at_rows(last)
        out += hits("CV0306", EX, ex, late, variable=end_var, value=end,
                    message=lambda i: f"{end_var} {show(end_at(i))} is after DM.RFXENDTC "
                    f"{show(last_at(i))}")
    return out


def _ex_extreme(ex: pd.DataFrame, variables: tuple[str, ...], how: str) -> pd.Series:
    """Earliest ("min") or latest ("max") ISO value per subject over ``variables``."""
    present = [v for v in variables if v in ex.columns]
    if not present:
        return pd.Series(dtype=object)
    subjects = np.concatenate([text(ex, "USUBJID").to_numpy()] * len(present))
    dates = np.concatenate([text(ex, v).to_numpy() for v in present])
    known = pd.notna(subjects) & pd.notna(dates)
    # ISO 8601 strings sort in time order (a partial date sorts before its days): the
    # earliest or latest is the lowest or highest rank among the sorted distinct dates
    ranks, ordered = factorize(dates[known], sort=True)
    subject_codes, names = factorize(subjects[known])
    extreme = pd.Series(ranks).groupby(subject_codes).agg(how)
    return pd.Series(np.asarray(ordered, dtype=object)[extreme.to_numpy()],
                     index=np.asarray(names, dtype=object)[extreme.index.to_numpy()],
                     dtype=object)


def _reference_vs_exposure(rule_id: str, datasets: Mapping[str, pd.DataFrame], ref_var: str,
                           ex_vars: tuple[str, ...], how: str, what: str) -> list[Problem]:
    pair = _exposure(datasets)
    if pair is None or ref_var not in pair[1].columns:
        return []
    ex, dm = pair
    extreme = text(dm, "USUBJID").map(_ex_extreme(ex, ex_vars, how))
    differs = iso_compare(dm[ref_var], extreme).ne(0).fillna(False)
    # A subject with exposure but no reference date is also wrong.
    absent = text(dm, ref_var).isna() & extreme.notna()
    return hits(rule_id, DM, dm, (differs | absent).to_numpy(dtype=bool), variable=ref_var,
                message=lambda i: f"{ref_var} {show(dm[ref_var].iat[i])} is not the {what} "
                f"{show(extreme.iat[i])}")


@rule("CV0307", Severity.ERROR, "DM.RFXSTDTC is not the earliest EX.EXSTDTC",
      "SDTMIG 3.4 section 5.2; CG0148 (CORE-000239)", category="Consistency")
def rfxstdtc_first_exposure(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return _reference_vs_exposure("CV0307", datasets, "RFXSTDTC", ("EXSTDTC",), "min",
                                  "earliest EXSTDTC")


#: an ISO 8601 date (or date/time) in --ENTPT: the reference point is a date
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(T[\d:.]+)?$"


def _ongoing_ends_at_reference(ex: pd.DataFrame, datasets: Mapping[str, pd.DataFrame]
                               ) -> pd.DataFrame:
    """EX with an exposure ongoing at its reference point (EXENRTPT = ONGOING, no EXENDTC)
    ending at that point: EXENTPT when it is a date, else TS DCUTDTC.

    The data themselves say such exposure lasted at least until the reference point
    (SDTMIG 3.4 section 4.4.7), so the last exposure they can show is that point.
    """
    if "EXENRTPT" not in ex.columns:
        return ex
    ongoing = text(ex, "EXENRTPT").eq("ONGOING").fillna(False)
    if "EXENDTC" in ex.columns:
        ongoing &= text(ex, "EXENDTC").isna()
    if not ongoing.any():
        return ex
    point = text(ex, "EXENTPT") if "EXENTPT" in ex.columns else pd.Series(None, index=ex.index)
    point = point.where(point.str.match(_ISO_DATE, na=False))
    ts = as_study(datasets).get("TS")
    if ts is not None and {"TSPARMCD", "TSVAL"} <= set(ts.columns):
        cutoff = text(ts, "TSVAL")[text(ts, "TSPARMCD").eq("DCUTDTC").fillna(False)].dropna()
        if len(cutoff):
            point = point.fillna(cutoff.iat[0])
    end = text(ex, "EXENDTC") if "EXENDTC" in ex.columns else pd.Series(None, index=ex.index)
    return ex.assign(EXENDTC=end.where(~ongoing, point))


@rule("CV0308", Severity.ERROR, "DM.RFXENDTC is not the latest EX.EXENDTC (or EXSTDTC)",
      "SDTMIG 3.4 section 5.2; CG0147 (CORE-000238); an exposure ongoing at its reference "
      "point (EXENRTPT ONGOING, section 4.4.7) ends there", category="Consistency")
def rfxendtc_last_exposure(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    study = as_study(datasets)
    ex = study.get(EX)
    if ex is not None:
        datasets = {**dict(study.items()), EX: _ongoing_ends_at_reference(ex, datasets)}
    return _reference_vs_exposure("CV0308", datasets, "RFXENDTC", ("EXSTDTC", "EXENDTC"),
                                  "max", "latest EXSTDTC/EXENDTC")



# --- EPOCH and study days that are missing -------------------------------------------------

#: domains CORE-000701 leaves out: medical history is before the trial, PP is derived,
#: DD describes the death itself
_NO_EPOCH = ("DD", "MH", "PP")


def _dated(frame: pd.DataFrame, prefix: str) -> tuple[str | None, pd.Series]:
    """The date an observation's EPOCH follows (SDTM v2.0: --STDTC, else --DTC), per record."""
    names = [v for v in (f"{prefix}STDTC", f"{prefix}DTC") if v in frame.columns]
    if not names:
        return None, pd.Series([None] * len(frame), index=frame.index, dtype=object)
    when = text(frame, names[0])
    for name in names[1:]:
        when = when.where(when.notna(), text(frame, name))
    return "/".join(names), when


@rule("CV0309", Severity.WARNING, "EPOCH is null on a dated subject record",
      "FDA Study Data Technical Conformance Guide (EPOCH for clinical subject-level "
      "observations); CORE-000701 (FB2201); SDTM v2.0 Timing Variables for All Classes "
      "(EPOCH follows --STDTC, else --DTC); checked once the subject's epochs are known "
      "(DM.RFSTDTC or SE records)",
      scope=Scope(classes=OBSERVATIONS, standard="SDTM", variables=("USUBJID",)),
      category="Presence")
def epoch_populated(ds: InScope) -> list[Problem]:
    frame = ds.frame
    prefix = domain_prefix(ds.name, frame)
    dm = as_study(ds.study).get(DM)
    if prefix in _NO_EPOCH or dm is None or "USUBJID" not in dm.columns:
        return []
    names, when = _dated(frame, prefix)
    if names is None:
        return []
    # The trial has epochs for the subject: a reference start in DM, or subject elements.
    placed = per_subject(frame, dm, "RFSTDTC").notna()
    se = as_study(ds.study).get("SE")
    if se is not None and "USUBJID" in se.columns:
        placed |= subject_in(frame, se)
    bad = text(frame, "EPOCH").isna() & when.notna() & placed
    where = (f"EPOCH is not a variable of {ds.name}" if "EPOCH" not in frame.columns
             else "EPOCH is null")
    when_at = at_rows(when)
    return hits("CV0309", ds.name, frame, bad.to_numpy(dtype=bool), variable="EPOCH",
                message=lambda i: f"{where}, but the record is dated ({names} "
                f"{show(when_at(i))}) and the subject's epochs are known (DM.RFSTDTC/SE)")


@rule("CV0310", Severity.WARNING,
      "Study day is null although the date and DM.RFSTDTC are complete dates",
      "SDTMIG 3.4 section 4.4.4 (--DY, --STDY, --ENDY from complete dates); "
      "CORE-000853 (FB1602) for --DY", category="Consistency")
def study_day_missing(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, day, dtc, _value, expected, ref in _study_days(datasets):
        bad = missing(frame[day]) & expected.notna().to_numpy()
        at = at_rows(expected), at_rows(frame[dtc]), at_rows(ref)
        out += hits("CV0310", name, frame, bad, variable=day,
                    message=lambda i, d=dtc, e=at[0], f=at[1], r=at[2], y=day:
                    f"{y} is null; it should be {int(e(i))} ({d} {show(f(i))}, "
                    f"RFSTDTC {show(r(i))})")
    return out


@rule("CV0311", Severity.WARNING, "Study day variable is absent although its date variable is "
      "present",
      "SDTMIG 3.4 section 4.4.4; --DY: CORE-000321 (FB3201), CORE-000793 (FB1601); "
      "--STDY: CORE-000328 (FB3202); --ENDY: CORE-000776",
      scope=Scope(standard="SDTM"), category="Presence")
def study_day_variable(ds: InScope) -> list[Problem]:
    frame = ds.frame
    dm = as_study(ds.study).get(DM)
    if dm is None:
        return []
    prefix = domain_prefix(ds.name, frame)
    rfstdtc = per_subject(frame, dm, "RFSTDTC")
    out = []
    for dtc, day in ((f"{prefix}DTC", f"{prefix}DY"), (f"{prefix}STDTC", f"{prefix}STDY"),
                     (f"{prefix}ENDTC", f"{prefix}ENDY")):
        if dtc not in frame.columns or day in frame.columns:
            continue
        # Only when some record has a day to give: a complete date and the subject's RFSTDTC.
        count = int(np.isfinite(study_days(text(frame, dtc), rfstdtc)).sum())
        if count:
            out.append(dataset_hit("CV0311", ds.name, f"{day} is not in {ds.name}, but {dtc} "
                                   f"and DM.RFSTDTC give a study day for {count} records",
                                   variable=day))
    return out
