"""The trial design datasets (TS, TA, TE, TV, TI) and the subject-level SV and SE.

TS comes from the spec's ``trial_summary:``, TA/TE/TV/TI from ``trial_design:``
(:mod:`cdisc.spec.trial_design`); SV and SE follow from the SDTM datasets the
engine has built:

* **SV**: one record per subject and VISITNUM found in the visit datasets
  (``trial_design.visit_datasets``, default every domain with VISITNUM), with
  SVSTDTC/SVENDTC the earliest/latest --DTC (else --STDTC) of the visit's
  records. A visit of TV is pre-specified (SVPRESP = SVOCCUR = "Y", VISITDY
  from TV); any other visit is unplanned (SVPRESP/SVOCCUR null, SVUPDES from
  ``unplanned_visit``), SDTMIG 3.4 section 5.5 assumption 4. Planned visits a
  subject did not attend get no record: in data collected without a visit
  schedule, a missing record does not say that a visit was missed.
* **SE**: for each subject, the elements of the arm in DM.ACTARMCD (else ARMCD)
  in TA order. An element happened when its ``start`` selection finds a date
  for the subject (the earliest one); it ends at its ``end`` selection (the
  latest date) or, without one, when the subject's next element starts; the
  last element without an end is open (SEENDTC null). TAETORD and EPOCH come
  from TA, SESEQ numbers the elements in that order, SESTDY/SEENDY from
  DM.RFSTDTC (SDTMIG 3.4 section 4.4.4).

Every dataset carries provenance: values the spec states are "standard"
(define.xml origin Assigned), values computed from the data are "domain"
derivations with a method text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .. import standards
from ..errors import ProblemLog, Severity
from ..model import Provenance
from ..spec.conditions import evaluate_condition
from ..spec.model import Spec
from ..spec.trial_design import TrialDesign, TsParameter, TsValue
from .dates import iso_period, study_day

#: TSVCDREF of a value taken from CDISC CT (a DICTNAM term, Define-XML CT C66788)
CDISC_CT = "CDISC CT"

def _conform(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """IG variable order, Req/Exp always present, Num as float64, Char as text or None."""
    meta = standards.dataset(name)
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(index=range(len(frame)))
    for var in meta.variables:
        given = var.name in frame and frame[var.name].notna().any()
        if not given and var.core not in ("Req", "Exp"):
            continue  # a Perm variable only when some record has a value
        values = frame[var.name] if var.name in frame else pd.Series([None] * len(frame))
        if var.is_numeric:
            out[var.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            out[var.name] = values.astype(object).where(values.notna(), None)
    keys = [k for k in meta.keys if k in out]
    if keys and len(out):
        sortable = out[keys].apply(lambda c: c if pd.api.types.is_numeric_dtype(c)
                                   else c.astype("string").fillna(""))
        out = out.loc[sortable.sort_values(keys, kind="mergesort").index].reset_index(drop=True)
    return out


def _provenance(dataset: str, spec: Spec, path: tuple[str | int, ...],
                assigned: Iterable[str], derived: Mapping[str, str]) -> tuple[Provenance, ...]:
    """STUDYID/DOMAIN as the standard's, ``assigned`` from the spec, ``derived`` with methods."""
    out = [Provenance(dataset, "STUDYID", "hardcode", "standard", {"value": spec.study.studyid},
                      json_path=("study", "studyid")),
           Provenance(dataset, "DOMAIN", "hardcode", "standard", {"value": dataset})]
    out += [Provenance(dataset, var, "hardcode", "standard",
                       {"description": f"As the spec's {path[0]} section gives it."},
                       json_path=path) for var in assigned]
    out += [Provenance(dataset, var, f"{dataset.lower()}_derivation", "domain",
                       {"description": text}, json_path=path) for var, text in derived.items()]
    return tuple(out)


# --- dates ---------------------------------------------------------------------------------

def _ordered(dates: pd.Series) -> pd.Series:
    """ISO dates sortable by the first day they can be, a more precise one first on ties."""
    start, _end = iso_period(dates.astype(object))
    return pd.Series(list(zip(start.fillna(pd.Timestamp.max).astype("int64"),
                              -dates.str.len(), strict=True)), index=dates.index)


def _pick(dates: pd.Series, latest: bool) -> str | None:
    dates = dates.dropna().astype(str)
    dates = dates[dates.str.strip() != ""]
    if dates.empty:
        return None
    if latest:
        _start, end = iso_period(dates.astype(object))
        key = pd.Series(list(zip(end.fillna(pd.Timestamp.min).astype("int64"),
                                 dates.str.len(), strict=True)), index=dates.index)
        return str(dates[key == key.max()].iloc[0])
    key = _ordered(dates)
    return str(dates[key == key.min()].iloc[0])


def _per_subject(frame: pd.DataFrame, variable: str, latest: bool,
                 where: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The earliest (latest) ``variable`` per USUBJID of the records matching ``where``."""
    if variable not in frame or "USUBJID" not in frame:
        return {}
    rows = frame[evaluate_condition(dict(where), frame).to_numpy()] if where else frame
    out = {}
    for subject, group in rows.groupby("USUBJID", sort=True):
        picked = _pick(group[variable], latest)
        if picked is not None:
            out[str(subject)] = picked
    return out


def _study_days(dates: list[str | None], subjects: list[str],
                rfstdtc: Mapping[str, str]) -> pd.Series:
    return study_day(pd.Series(dates, dtype=object),
                     pd.Series([rfstdtc.get(s) for s in subjects], dtype=object))


# --- TS ------------------------------------------------------------------------------------

def _tsparm(p: TsParameter) -> str | None:
    if p.parm is not None:
        return p.parm
    term = standards.codelist("C66738").terms.get(p.parmcd)
    if term is None:
        return None
    return next((t.submission_value for t in standards.codelist("C67152").terms.values()
                 if t.code == term.code), None)


def _ts_value(v: TsValue, spec: Spec, datasets: Mapping[str, pd.DataFrame],
              parmcd: str, problems: ProblemLog) -> dict[str, Any]:
    row: dict[str, Any] = {"TSVAL": v.value, "TSVALNF": v.null_flavor, "TSGRPID": v.group}
    if v.codelist is not None:
        cl = standards.codelist(spec.study_ct[v.codelist].codelist
                                if v.codelist in spec.study_ct else v.codelist)
        row.update(TSVALCD=cl.terms[str(v.value)].code, TSVCDREF=CDISC_CT,
                   TSVCDVER=spec.study.ct_version)
    elif v.dictionary is not None:
        row.update(TSVALCD=v.code, TSVCDREF=v.dictionary, TSVCDVER=v.version)
    if v.derive is not None and v.of is not None:
        dataset, _, var = v.of.partition(".")
        frame = datasets.get(dataset)
        value: str | None = None
        if frame is not None and v.derive == "count":
            subjects = frame["USUBJID"].dropna() if "USUBJID" in frame else pd.Series([])
            value = str(subjects.nunique())
        elif frame is not None and var in frame:
            value = _pick(frame[var], latest=v.derive == "latest")
        if value is None:
            problems.add("TD001", f"TS {parmcd}: {v.of} has no value to derive from; TSVAL "
                         "is null with TSVALNF NI", spec.locate(v.json_path), Severity.WARNING)
            row.update(TSVAL=None, TSVALNF="NI", TSVALCD=None, TSVCDREF=None, TSVCDVER=None)
        else:
            row["TSVAL"] = value
    return row


def build_ts(spec: Spec, datasets: Mapping[str, pd.DataFrame],
             problems: ProblemLog) -> pd.DataFrame:
    rows = []
    for p in spec.trial_parameters:
        for seq, v in enumerate(p.values, start=1):
            rows.append({"STUDYID": spec.study.studyid, "DOMAIN": "TS", "TSSEQ": seq,
                         "TSPARMCD": p.parmcd, "TSPARM": _tsparm(p),
                         **_ts_value(v, spec, datasets, p.parmcd, problems)})
    return _conform("TS", rows)


# --- TA, TE, TV, TI ------------------------------------------------------------------------

def build_ta(spec: Spec, td: TrialDesign) -> pd.DataFrame:
    rows = []
    for arm in td.arms:
        for order, etcd in enumerate(arm.elements, start=1):
            element = td.element(etcd)
            rows.append({"STUDYID": spec.study.studyid, "DOMAIN": "TA", "ARMCD": arm.armcd,
                         "ARM": arm.arm, "TAETORD": order, "ETCD": etcd,
                         "ELEMENT": element.element if element else None,
                         "TABRANCH": arm.branch.get(etcd), "TATRANS": arm.transition.get(etcd),
                         "EPOCH": element.epoch if element else None})
    return _conform("TA", rows)


def build_te(spec: Spec, td: TrialDesign) -> pd.DataFrame:
    return _conform("TE", [{"STUDYID": spec.study.studyid, "DOMAIN": "TE", "ETCD": e.etcd,
                            "ELEMENT": e.element, "TESTRL": e.start_rule, "TEENRL": e.end_rule,
                            "TEDUR": e.duration} for e in td.elements])


def build_tv(spec: Spec, td: TrialDesign) -> pd.DataFrame:
    arms = {a.armcd: a.arm for a in td.arms}
    rows = [{"STUDYID": spec.study.studyid, "DOMAIN": "TV", "VISITNUM": spec.visits.get(v.visit),
             "VISIT": v.visit, "VISITDY": v.visitdy, "ARMCD": v.armcd,
             "ARM": arms.get(v.armcd) if v.armcd else None, "TVSTRL": v.start_rule,
             "TVENRL": v.end_rule} for v in td.visits]
    return _conform("TV", rows)


def build_ti(spec: Spec, td: TrialDesign) -> pd.DataFrame:
    return _conform("TI", [{"STUDYID": spec.study.studyid, "DOMAIN": "TI",
                            "IETESTCD": c.ietestcd, "IETEST": c.text, "IECAT": c.category,
                            "IESCAT": c.subcategory, "TIVERS": c.version} for c in td.criteria])


# --- SV ------------------------------------------------------------------------------------

def _visit_datasets(spec: Spec, td: TrialDesign,
                    datasets: Mapping[str, pd.DataFrame]) -> list[str]:
    if td.visit_datasets is not None:
        return [d for d in td.visit_datasets if d in datasets]
    return [d for d in spec.domains if d in datasets and "VISITNUM" in datasets[d]]


def _visit_records(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    date = next((f"{name}{s}" for s in ("DTC", "STDTC") if f"{name}{s}" in frame), None)
    rows = frame[frame["VISITNUM"].notna() & frame["USUBJID"].notna()]
    return pd.DataFrame({"USUBJID": rows["USUBJID"].astype(str),
                         "VISITNUM": rows["VISITNUM"].astype(float),
                         "VISIT": rows.get("VISIT"),
                         "DATE": rows[date] if date else None})


def build_sv(spec: Spec, td: TrialDesign, datasets: Mapping[str, pd.DataFrame],
             rfstdtc: Mapping[str, str], arms: Mapping[str, str]) -> pd.DataFrame:
    parts = [_visit_records(n, datasets[n]) for n in _visit_datasets(spec, td, datasets)]
    records = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["USUBJID", "VISITNUM", "VISIT", "DATE"])
    planned = {(spec.visits[v.visit], v.armcd): v for v in td.visits if v.visit in spec.visits}
    rows = []
    for (subject, visitnum), group in records.groupby(["USUBJID", "VISITNUM"], sort=True):
        tv = planned.get((visitnum, arms.get(str(subject)))) or planned.get((visitnum, None))
        names = group["VISIT"].dropna()
        rows.append({
            "STUDYID": spec.study.studyid, "DOMAIN": "SV", "USUBJID": subject,
            "VISITNUM": visitnum,
            "VISIT": tv.visit if tv else (str(names.iloc[0]) if len(names) else None),
            "SVPRESP": "Y" if tv else None, "SVOCCUR": "Y" if tv else None,
            "VISITDY": tv.visitdy if tv else None,
            "SVSTDTC": _pick(group["DATE"], latest=False),
            "SVENDTC": _pick(group["DATE"], latest=True),
            "SVUPDES": None if tv else td.unplanned_visit})
    subjects = [r["USUBJID"] for r in rows]
    for var, dtc in (("SVSTDY", "SVSTDTC"), ("SVENDY", "SVENDTC")):
        days = _study_days([r[dtc] for r in rows], subjects, rfstdtc)
        for r, d in zip(rows, days, strict=True):
            r[var] = None if pd.isna(d) else float(d)
    return _conform("SV", rows)


# --- SE ------------------------------------------------------------------------------------

def build_se(spec: Spec, td: TrialDesign, datasets: Mapping[str, pd.DataFrame],
             rfstdtc: Mapping[str, str], arms: Mapping[str, str]) -> pd.DataFrame:
    starts: dict[str, dict[str, str]] = {}
    ends: dict[str, dict[str, str]] = {}
    for e in td.elements:
        for sel, store, latest in ((e.start, starts, False), (e.end, ends, True)):
            frame = datasets.get(sel.dataset) if sel else None
            if sel is not None and frame is not None:
                store[e.etcd] = _per_subject(frame, sel.date, latest, sel.where)
    by_arm = {a.armcd: a for a in td.arms}
    rows = []
    for subject in sorted(arms):
        arm = by_arm.get(arms[subject])
        if arm is None:
            continue
        happened = [(order, etcd, starts[etcd][subject])
                    for order, etcd in enumerate(arm.elements, start=1)
                    if subject in starts.get(etcd, {})]
        for i, (order, etcd, start) in enumerate(happened):
            end = ends.get(etcd, {}).get(subject)
            if end is None and i + 1 < len(happened):
                end = happened[i + 1][2]
            element = td.element(etcd)
            rows.append({"STUDYID": spec.study.studyid, "DOMAIN": "SE", "USUBJID": subject,
                         "SESEQ": i + 1, "ETCD": etcd,
                         "ELEMENT": element.element if element else None, "TAETORD": order,
                         "EPOCH": element.epoch if element else None,
                         "SESTDTC": start, "SEENDTC": end})
    subjects = [r["USUBJID"] for r in rows]
    for var, dtc in (("SESTDY", "SESTDTC"), ("SEENDY", "SEENDTC")):
        days = _study_days([r[dtc] for r in rows], subjects, rfstdtc)
        for r, d in zip(rows, days, strict=True):
            r[var] = None if pd.isna(d) else float(d)
    return _conform("SE", rows)


# --- all of them ---------------------------------------------------------------------------

def _subject_arms(dm: pd.DataFrame | None) -> dict[str, str]:
    """USUBJID -> the arm the subject's elements follow (ACTARMCD, else ARMCD)."""
    if dm is None or "USUBJID" not in dm:
        return {}
    arm = pd.Series([None] * len(dm), index=dm.index, dtype=object)
    for var in ("ARMCD", "ACTARMCD"):
        if var in dm:
            arm = dm[var].where(dm[var].notna(), arm)
    return {str(s): str(a) for s, a in zip(dm["USUBJID"], arm, strict=True)
            if pd.notna(s) and a is not None and pd.notna(a)}


def _check_arms(spec: Spec, td: TrialDesign, dm: pd.DataFrame | None,
                problems: ProblemLog) -> None:
    """Every DM arm (ARMCD/ARM, ACTARMCD/ACTARM) must be an arm of TA."""
    if dm is None or not td.arms:
        return
    planned = {a.armcd: a.arm for a in td.arms}
    for code, text in (("ARMCD", "ARM"), ("ACTARMCD", "ACTARM")):
        if code not in dm:
            continue
        pairs = dm[[code, *([text] if text in dm else [])]].dropna(subset=[code])
        for row in pairs.drop_duplicates().itertuples(index=False):
            armcd, arm = row[0], (row[1] if len(row) > 1 else None)
            if armcd not in planned:
                problems.add("TD002", f"DM.{code} {armcd!r} is not an arm of trial_design.arms "
                             f"(TA has {', '.join(planned)})",
                             spec.locate(("trial_design", "arms")))
            elif arm is not None and arm != planned[armcd]:
                problems.add("TD002", f"DM.{text} {arm!r} of {code} {armcd} differs from the "
                             f"arm's ARM {planned[armcd]!r} in trial_design.arms",
                             spec.locate(("trial_design", "arms")))


def provenance(spec: Spec) -> tuple[Provenance, ...]:
    """How each variable of TS, TA, TE, TV, TI, SV and SE is made (define.xml origins, methods).

    It depends on the spec only, so define.xml regenerated from the files
    (:func:`cdisc.sdtm.engine.block_provenance`) describes the datasets as the run did.
    """
    out: list[Provenance] = []
    if spec.trial_parameters:
        out += _provenance(
            "TS", spec, ("trial_summary",),
            ("TSGRPID", "TSPARMCD", "TSPARM", "TSVALNF", "TSVALCD", "TSVCDREF", "TSVCDVER"),
            {"TSSEQ": "1, 2, ... over the values of one TSPARMCD, in the order the spec "
                      "lists them.",
             "TSVAL": "TSVAL as trial_summary gives it; a derived value (derive:) is the "
                      "earliest/latest date of the variable it names, or the number of "
                      "subjects (USUBJID) of the dataset it names."})
    td = spec.trial_design
    if td is None:
        return tuple(out)
    path = ("trial_design",)
    sources = (", ".join(td.visit_datasets) if td.visit_datasets is not None
               else "every domain of the spec with VISITNUM")
    out += _provenance(
        "TA", spec, path, ("ARMCD", "ARM", "ETCD", "ELEMENT", "TABRANCH", "TATRANS", "EPOCH"),
        {"TAETORD": "The position of the element in the arm's list of elements (1, 2, ...)."})
    out += _provenance("TE", spec, path, ("ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"), {})
    out += _provenance(
        "TV", spec, path, ("VISIT", "VISITDY", "ARMCD", "ARM", "TVSTRL", "TVENRL"),
        {"VISITNUM": "The visit's number in the spec's visits: table."})
    out += _provenance("TI", spec, path,
                       ("IETESTCD", "IETEST", "IECAT", "IESCAT", "TIVERS"), {})
    out += _provenance("SV", spec, path, ("SVUPDES",), {
        "USUBJID": f"Each subject with a visit in {sources}.",
        "VISITNUM": f"Each VISITNUM the subject has in {sources}.",
        "VISIT": "The planned visit's name (TV); for an unplanned visit the VISIT of its "
                 "records.",
        "SVPRESP": "Y when the visit is a planned visit of TV, else null.",
        "SVOCCUR": "Y when the visit is a planned visit of TV (it has records), else null.",
        "VISITDY": "VISITDY of the planned visit in TV.",
        "SVSTDTC": f"The earliest --DTC (else --STDTC) of the visit's records in {sources}.",
        "SVENDTC": f"The latest --DTC (else --STDTC) of the visit's records in {sources}.",
        "SVSTDY": "Study day of SVSTDTC from DM.RFSTDTC (no day 0).",
        "SVENDY": "Study day of SVENDTC from DM.RFSTDTC (no day 0)."})
    out += _provenance("SE", spec, path, (), {
        "USUBJID": "Each DM subject with an arm (ACTARMCD, else ARMCD) of TA.",
        "SESEQ": "1, 2, ... over the subject's elements in TA order.",
        "ETCD": "The elements of the subject's arm (TA) that have a start date.",
        "ELEMENT": "ELEMENT of the element in TE.",
        "TAETORD": "TAETORD of the element in the subject's arm (TA).",
        "EPOCH": "EPOCH of the element in TA.",
        "SESTDTC": "The earliest date of the element's start selection (trial_design."
                   "elements.<ETCD>.start) for the subject.",
        "SEENDTC": "The latest date of the element's end selection, else the start of the "
                   "subject's next element; null for an element still running.",
        "SESTDY": "Study day of SESTDTC from DM.RFSTDTC (no day 0).",
        "SEENDY": "Study day of SEENDTC from DM.RFSTDTC (no day 0)."})
    return tuple(out)


def build_trial_design(spec: Spec, datasets: Mapping[str, pd.DataFrame],
                       problems: ProblemLog) -> dict[str, pd.DataFrame]:
    """TS (with ``trial_summary:``) and TA, TE, TV, TI, SV, SE (with ``trial_design:``).

    ``datasets``: the SDTM domains the engine built (final frames). Datasets
    without records are returned too (the writers skip them with a notice).
    Their provenance is :func:`provenance`.
    """
    out: dict[str, pd.DataFrame] = {}
    if spec.trial_parameters:
        out["TS"] = build_ts(spec, datasets, problems)
    td = spec.trial_design
    if td is None:
        return out
    dm = datasets.get("DM")
    _check_arms(spec, td, dm, problems)
    arms = _subject_arms(dm)
    rfstdtc = _per_subject(dm, "RFSTDTC", False) if dm is not None else {}
    out["TA"] = build_ta(spec, td)
    out["TE"] = build_te(spec, td)
    out["TV"] = build_tv(spec, td)
    out["TI"] = build_ti(spec, td)
    out["SV"] = build_sv(spec, td, datasets, rfstdtc, arms)
    out["SE"] = build_se(spec, td, datasets, rfstdtc, arms)
    return out


__all__ = ["build_trial_design", "provenance"]
