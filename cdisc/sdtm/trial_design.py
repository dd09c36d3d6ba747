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

import numpy as np
import pandas as pd

from .. import standards
from ..errors import ProblemLog, Severity
from ..model import Provenance
from ..model.text import factorize
from ..spec.conditions import evaluate_condition
from ..spec.model import Spec
from ..spec.trial_design import TrialDesign, TsParameter, TsValue
from .dates import iso_period, study_day
from .distinct import combined_ranks, dense_ranks

#: TSVCDREF of a value taken from CDISC CT (a DICTNAM term, Define-XML CT C66788)
CDISC_CT = "CDISC CT"

def _conform(name: str, rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """IG variable order, Req/Exp always present, Num as float64, Char as text or None."""
    meta = standards.dataset(name)
    frame = pd.DataFrame(rows).reset_index(drop=True)
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

def _picked(dates: pd.Series, groups: pd.DataFrame, latest: bool) -> pd.DataFrame:
    """The earliest (latest) of ``dates`` within each group of ``groups`` (aligned columns).

    "Earliest" is by the first day a date can be (:func:`.dates.iso_period`), "latest" by
    the last; a more precise date wins a tie, then the first row. A date that is not a
    date at all ranks after (before) every real one. Missing and blank dates are not
    candidates; a group without a candidate has no row. Rows with a missing group value
    belong to no group (as ``groupby`` drops them). The result holds the group columns
    and ``DATE`` (text), sorted by the groups.
    """
    group, values = _group_codes([groups[c] for c in groups.columns])
    picked = _pick_per_group(dates.to_numpy(dtype=object), group, len(values), latest)
    has = np.flatnonzero(pd.notna(picked))
    out = values.iloc[has].reset_index(drop=True)
    out["DATE"] = picked[has]
    return out


def _group_codes(columns: list[pd.Series]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group among the distinct combinations of ``columns`` (0, 1, ... in the
    sorted order of their values; -1 when a value is missing), and the groups' values."""
    coded = [factorize(column, sort=True) for column in columns]
    missing = np.zeros(len(columns[0]) if columns else 0, dtype=bool)
    for code, _ in coded:
        missing |= code < 0
    # (a missing value's code, -1, may share a key with another row's: it is set aside below)
    codes = combined_ranks(((code, max(len(values), 1)) for code, values in coded),
                           len(missing))[0]
    group, first = dense_ranks(np.where(missing, -1, codes))
    real = np.ones(len(first), dtype=bool)
    if missing.any():  # the rank of -1 is the first: the rows without a group
        real[0] = False
        group = np.where(missing, -1, group - 1)
    rows = first[real]
    values = pd.DataFrame({c.name: c.to_numpy()[rows] for c in columns})
    return group.astype(np.int64), values


def _pick_per_group(dates: np.ndarray, group: np.ndarray, groups: int,
                    latest: bool) -> np.ndarray:
    """The earliest (latest) date text of each group (0..groups-1), None for a group
    without one. Each distinct date is ranked once (by its day, then the more precise
    first; equal ones alike), and each group takes the first of its records with its best
    rank: the pick of a sort by (group, day, precision, row), without sorting the records."""
    out = np.full(groups, None, dtype=object)
    candidate = pd.notna(dates) & (group >= 0)
    text = pd.Series(dates[candidate], dtype=object).astype(str).to_numpy(dtype=object)
    if not len(text):
        return out
    codes, distinct = factorize(text)
    distinct_text = pd.Series(distinct, dtype=object)
    blank = (distinct_text.str.strip() == "").to_numpy(dtype=bool)
    start, end = iso_period(distinct_text)
    # NaT ranks as the far end of pandas' Timestamp range, as a date compared by its key did
    when = (-end.fillna(pd.Timestamp.min).astype("int64") if latest
            else start.fillna(pd.Timestamp.max).astype("int64")).to_numpy()
    longer = -distinct_text.str.len().to_numpy(dtype=np.int64)
    keep = ~blank[codes]
    codes, owner = codes[keep], group[candidate][keep]
    if not len(codes):
        return out
    by_date = np.lexsort([longer, when])  # the distinct dates, best first
    step = np.r_[True, (when[by_date][1:] != when[by_date][:-1])
                 | (longer[by_date][1:] != longer[by_date][:-1])]
    rank = np.empty(len(by_date), dtype=np.int64)
    rank[by_date] = np.cumsum(step)  # equal day and precision: equal rank
    ranked = rank[codes]
    best = np.full(groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, owner, ranked)
    rows = np.flatnonzero(ranked == best[owner])  # each group's records with its best rank
    first = np.full(groups, len(codes), dtype=np.int64)
    np.minimum.at(first, owner[rows], rows)  # the first of them
    has = first < len(codes)
    out[has] = distinct[codes[first[has]]]
    return out


def _pick(dates: pd.Series, latest: bool) -> str | None:
    picked = _picked(dates, pd.DataFrame({"ALL": 0}, index=dates.index), latest)
    return str(picked["DATE"].iloc[0]) if len(picked) else None


def _per_subject(frame: pd.DataFrame, variable: str, latest: bool,
                 where: Mapping[str, Any] | None = None) -> pd.Series:
    """The earliest (latest) ``variable`` per USUBJID (text) of the records matching ``where``.

    Indexed by the subject as text, sorted; subjects without a date are absent.
    """
    if variable not in frame or "USUBJID" not in frame:
        return pd.Series([], dtype=object)
    rows = frame[evaluate_condition(dict(where), frame).to_numpy()] if where else frame
    picked = _picked(rows[variable], rows[["USUBJID"]], latest)
    return pd.Series(picked["DATE"].to_numpy(dtype=object),
                     index=picked["USUBJID"].astype(str).to_numpy(), dtype=object)


def _study_days(dates: pd.Series, subjects: pd.Series, rfstdtc: pd.Series) -> pd.Series:
    """Study days (float, NaN where missing) of ``dates`` against each subject's RFSTDTC."""
    reference = subjects.map(rfstdtc) if len(rfstdtc) else pd.Series(None, index=subjects.index,
                                                                      dtype=object)
    days = study_day(dates.astype(object), reference.astype(object))
    return days.astype("float64")


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


def _visit_records(name: str, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """USUBJID (text), VISITNUM, VISIT and the --DTC (else --STDTC) of the records with both."""
    date = next((f"{name}{s}" for s in ("DTC", "STDTC") if f"{name}{s}" in frame), None)
    keep = (frame["VISITNUM"].notna() & frame["USUBJID"].notna()).to_numpy(dtype=bool)
    size = int(keep.sum())

    def values(column: str | None) -> np.ndarray:
        if column is None or column not in frame:
            return np.full(size, None, dtype=object)
        return frame[column].to_numpy(dtype=object)[keep]

    return {"USUBJID": frame["USUBJID"][keep].astype(str).to_numpy(dtype=object),
            "VISITNUM": frame["VISITNUM"][keep].astype(float).to_numpy(),
            "VISIT": values("VISIT"), "DATE": values(date)}


def build_sv(spec: Spec, td: TrialDesign, datasets: Mapping[str, pd.DataFrame],
             rfstdtc: pd.Series, arms: pd.Series) -> pd.DataFrame:
    parts = [_visit_records(n, datasets[n]) for n in _visit_datasets(spec, td, datasets)]
    records = {field: (np.concatenate([p[field] for p in parts]) if parts
                       else np.zeros(0, dtype=float if field == "VISITNUM" else object))
               for field in ("USUBJID", "VISITNUM", "VISIT", "DATE")}
    # one row per subject and visit, in (USUBJID, VISITNUM) order
    group, visits = _group_codes([pd.Series(records["USUBJID"], name="USUBJID"),
                                  pd.Series(records["VISITNUM"], name="VISITNUM")])
    named = np.flatnonzero(pd.notna(records["VISIT"]))  # the first VISIT of each visit
    owners, first = np.unique(group[named], return_index=True)
    visit = np.full(len(visits), None, dtype=object)
    visit[owners] = records["VISIT"][named[first]]
    visits["VISIT"] = visit
    for name, latest in (("SVSTDTC", False), ("SVENDTC", True)):
        visits[name] = _pick_per_group(records["DATE"], group, len(visits), latest)
    del records, group
    # the planned visit (TV) of the subject's arm, else the one for every arm; a later
    # declaration of the same visit and arm replaces an earlier one
    planned = pd.DataFrame([{"VISITNUM": float(spec.visits[v.visit]), "ARMCD": v.armcd,
                             "TVVISIT": v.visit, "TVVISITDY": v.visitdy}
                            for v in td.visits if v.visit in spec.visits],
                           columns=["VISITNUM", "ARMCD", "TVVISIT", "TVVISITDY"])
    planned = planned.drop_duplicates(["VISITNUM", "ARMCD"], keep="last")
    arm = visits["USUBJID"].map(arms) if len(arms) else pd.Series(None, index=visits.index,
                                                                   dtype=object)
    found = pd.Series(False, index=visits.index)
    tv_visit = pd.Series(None, index=visits.index, dtype=object)
    tv_visitdy = pd.Series(None, index=visits.index, dtype=object)
    for on, by in ((["VISITNUM", "ARMCD"], planned[planned["ARMCD"].notna()]),
                   (["VISITNUM"], planned[planned["ARMCD"].isna()].drop(columns="ARMCD"))):
        lookup = pd.DataFrame({"VISITNUM": visits["VISITNUM"].astype("float64"),
                               "ARMCD": arm.astype(object)})
        hit = lookup.merge(by.astype({"VISITNUM": "float64"}), on=on, how="left",
                           indicator=True)
        hit.index = visits.index
        new = (hit["_merge"] == "both") & ~found
        tv_visit[new] = hit.loc[new, "TVVISIT"]
        tv_visitdy[new] = hit.loc[new, "TVVISITDY"]
        found |= new
    frame = pd.DataFrame({
        "STUDYID": spec.study.studyid, "DOMAIN": "SV", "USUBJID": visits["USUBJID"],
        "VISITNUM": visits["VISITNUM"],
        "VISIT": tv_visit.where(found, visits["VISIT"].astype(object).where(
            visits["VISIT"].isna(), visits["VISIT"].astype(str))),
        "SVPRESP": _where(found, "Y", None), "SVOCCUR": _where(found, "Y", None),
        "VISITDY": tv_visitdy.where(found, None),
        "SVSTDTC": visits["SVSTDTC"], "SVENDTC": visits["SVENDTC"],
        "SVUPDES": _where(found, None, td.unplanned_visit)})
    for var, dtc in (("SVSTDY", "SVSTDTC"), ("SVENDY", "SVENDTC")):
        frame[var] = _study_days(frame[dtc], frame["USUBJID"], rfstdtc)
    return _conform("SV", frame)


def _where(condition: pd.Series, yes: Any, no: Any) -> np.ndarray:
    """``yes`` where the condition holds, else ``no``: the two objects themselves, shared by
    the rows (``np.where`` would make a string per row)."""
    out = np.full(len(condition), no, dtype=object)
    out[condition.to_numpy(dtype=bool)] = yes
    return out


# --- SE ------------------------------------------------------------------------------------

def build_se(spec: Spec, td: TrialDesign, datasets: Mapping[str, pd.DataFrame],
             rfstdtc: pd.Series, arms: pd.Series) -> pd.DataFrame:
    starts, ends = [], []
    for e in td.elements:
        for sel, store, latest in ((e.start, starts, False), (e.end, ends, True)):
            frame = datasets.get(sel.dataset) if sel else None
            if sel is not None and frame is not None:
                picked = _per_subject(frame, sel.date, latest, sel.where)
                store.append(pd.DataFrame({"ETCD": e.etcd, "USUBJID": picked.index,
                                           "DATE": picked.to_numpy(dtype=object)}))
    # the subject's arm's elements in TA order; those with a start date happened
    by_arm = {a.armcd: a for a in td.arms}  # an arm code declared twice: the last
    ta = pd.DataFrame([(a.armcd, order, etcd) for a in by_arm.values()
                       for order, etcd in enumerate(a.elements, start=1)],
                      columns=["ARMCD", "TAETORD", "ETCD"])
    subjects = pd.DataFrame({"USUBJID": arms.index.astype(object),
                             "ARMCD": arms.to_numpy(dtype=object)})
    rows = subjects.merge(ta, on="ARMCD", how="inner")
    columns = ["ETCD", "USUBJID", "DATE"]
    start = pd.concat(starts, ignore_index=True) if starts else pd.DataFrame(columns=columns)
    end = pd.concat(ends, ignore_index=True) if ends else pd.DataFrame(columns=columns)
    rows = rows.merge(start.drop_duplicates(["ETCD", "USUBJID"], keep="last").rename(
        columns={"DATE": "SESTDTC"}), on=["ETCD", "USUBJID"], how="inner")
    rows = rows.sort_values(["USUBJID", "TAETORD"], kind="mergesort").reset_index(drop=True)
    rows = rows.merge(end.drop_duplicates(["ETCD", "USUBJID"], keep="last").rename(
        columns={"DATE": "END"}), on=["ETCD", "USUBJID"], how="left")
    subject = rows.groupby("USUBJID", sort=False)
    following = subject["SESTDTC"].shift(-1)
    element = {e.etcd: e for e in td.elements}
    frame = pd.DataFrame({
        "STUDYID": spec.study.studyid, "DOMAIN": "SE", "USUBJID": rows["USUBJID"],
        "SESEQ": (subject.cumcount() + 1).astype("float64"), "ETCD": rows["ETCD"],
        "ELEMENT": rows["ETCD"].map({k: e.element for k, e in element.items()}),
        "TAETORD": rows["TAETORD"].astype("float64"),
        "EPOCH": rows["ETCD"].map({k: e.epoch for k, e in element.items()}),
        "SESTDTC": rows["SESTDTC"],
        "SEENDTC": rows["END"].where(rows["END"].notna(), following)})
    for var, dtc in (("SESTDY", "SESTDTC"), ("SEENDY", "SEENDTC")):
        frame[var] = _study_days(frame[dtc], frame["USUBJID"], rfstdtc)
    return _conform("SE", frame)


# --- all of them ---------------------------------------------------------------------------

def _subject_arms(dm: pd.DataFrame | None) -> pd.Series:
    """The arm each subject's elements follow (ACTARMCD, else ARMCD), as text by USUBJID
    (text), sorted by subject; a subject listed twice takes its last record."""
    if dm is None or "USUBJID" not in dm:
        return pd.Series([], dtype=object)
    arm = pd.Series(None, index=dm.index, dtype=object)
    for var in ("ARMCD", "ACTARMCD"):
        if var in dm:
            arm = dm[var].where(dm[var].notna(), arm)
    known = (dm["USUBJID"].notna() & arm.notna()).to_numpy()
    pairs = pd.DataFrame({"USUBJID": dm["USUBJID"][known].astype(str).to_numpy(),
                          "ARMCD": arm[known].astype(str).to_numpy()})
    pairs = pairs.drop_duplicates("USUBJID", keep="last").sort_values("USUBJID",
                                                                       kind="mergesort")
    return pd.Series(pairs["ARMCD"].to_numpy(dtype=object), index=pairs["USUBJID"].to_numpy(),
                     dtype=object)


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
    rfstdtc = (_per_subject(dm, "RFSTDTC", False) if dm is not None
               else pd.Series([], dtype=object))
    out["TA"] = build_ta(spec, td)
    out["TE"] = build_te(spec, td)
    out["TV"] = build_tv(spec, td)
    out["TI"] = build_ti(spec, td)
    out["SV"] = build_sv(spec, td, datasets, rfstdtc, arms)
    out["SE"] = build_se(spec, td, datasets, rfstdtc, arms)
    return out


__all__ = ["build_trial_design", "provenance"]
