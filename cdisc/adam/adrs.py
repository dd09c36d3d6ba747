"""ADRS, the response analysis dataset (ADaMIG 1.3 BDS), from SDTM RS and ADSL.

The shape and the rules are admiralonco's ``ad_adrs.R`` template (pharmaverse),
so that ADRS built here from ``rs_onco_recist`` agrees record by record with
``pharmaverseadam::adrs_onco``; where this module differs it says so below and
in the provenance of each parameter.

Input: an SDTM RS (the evaluator's RSTESTCD ``OVRLRESP`` records; BESTRESP, the
investigator's own best response, is *not* ADRS BOR and is not read) and an
ADSL frame with USUBJID, STUDYID and TRTSDT and/or RANDDT.  ADSL dates may be
numeric SAS dates (days since 1960-01-01), datetime64, or ISO 8601 text (as in
a CSV export); ADRS dates are numeric SAS dates (format DATE9.).

Parameters (PARAM as admiralonco writes it, "by Investigator" following the
evaluator chosen in ``RecistOptions.evaluator``):

* OVR -- one record per RS OVRLRESP record of the evaluator.  AVALC = RSSTRESC,
  AVAL = admiralonco's ``aval_resp`` coding (CR 1, PR 2, SD 3, NON-CR/NON-PD 4,
  PD 5, NE 6, MISSING 7).  ADT from RSDTC; a date without its day is imputed to
  the last day of the month (ADTF ``D``), a year alone gives no ADT (imputation
  up to the day only).  ANL01FL = Y on the record used: a response with ADT on
  or after the reference date, one per subject and date -- the worst one
  (PD > NON-CR/NON-PD > SD > PR > CR > NE), then the last RSSEQ.  ANL02FL = Y
  on the records up to and including the first PD (by ADT, RSSEQ).
* PD -- first ANL01FL OVR record with PD: Y with its date, else N.
* RSP -- first CR or PR among the OVR records with ANL01FL and ANL02FL: Y, else N.
* CRSP -- first *confirmed* CR or PR (:func:`recist.first_confirmed_response`).
* BOR, CBOR -- best overall response without and with confirmation, from
  :func:`recist.best_overall_response` on the ANL01FL/ANL02FL OVR records (SD
  and NON-CR/NON-PD only at least ``sd_min_days`` after the reference date;
  confirmation ``confirm_min_days`` later with at most ``confirm_max_ne`` NE
  in between).  NE takes the date of the subject's first assessment (as
  admiralonco's ``bor_ne``); a subject without any assessment gets
  ``no_assessment`` (NE; admiralonco writes MISSING) and no date.
* DEATH -- from ADSL DTHDT (and DTHDTF) when ADSL has DTHDT: Y with the date, else N.
* LSTA -- the last ANL01FL OVR record (after a PD too); empty for a subject without.

The reference date is ADSL RANDDT when ADSL holds any randomisation date
(admiralonco: "here we assume randomized study"), else TRTSDT.  ``options.confirm``
does not change ADRS: both BOR and CBOR are given, the spec's choice says which
the study reports.  ``options.reference`` belongs to the TU/TR re-derivation
(the baseline scan or RFSTDTC); ADaM counts from the ADSL date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from cdisc import standards
from cdisc.errors import DerivationError, Location, ProblemLog
from cdisc.model import Dataset, Provenance, resolve_metadata
from cdisc.model.missing import is_missing
from cdisc.model.text import factorize
from cdisc.spec.model import RecistOptions

from . import common, recist

__all__ = ["AVAL_RESPONSE", "PARAMCDS", "derive_adrs"]

NAME = "ADRS"
#: admiralonco ``aval_resp``: best (1) to worst, MISSING last
AVAL_RESPONSE = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, "MISSING": 7}
#: admiralonco's ``worst_resp``: of two assessments on one date the higher is kept
_WORST = {"NE": 1, "CR": 2, "PR": 3, "SD": 4, "NON-CR/NON-PD": 5, "PD": 6}
_SAS_EPOCH = pd.Timestamp("1960-01-01")

#: PARAMCD -> PARAM (``{who}`` = the evaluator), in output order
PARAMCDS: dict[str, str] = {
    "OVR": "Overall Response by {who}",
    "PD": "Disease Progression by {who}",
    "RSP": "Response by {who} (confirmation not required)",
    "CRSP": "Confirmed Response by {who}",
    "BOR": "Best Overall Response by {who} (confirmation not required)",
    "CBOR": "Best Confirmed Overall Response by {who}",
    "DEATH": "Death",
    "LSTA": "Last Disease Assessment by {who}",
}
_TUMOR = ("Tumor Response", "RECIST 1.1")  # PARCAT1, PARCAT3 (PARCAT2 = the evaluator)
#: ADSL variables copied onto every record when ADSL has them (TRTSDT, RANDDT always)
ADSL_COPIES = ("SUBJID", "SITEID", "TRT01P", "TRT01A", "TRTSDT", "TRTEDT", "RANDDT",
               "SAFFL", "ITTFL")
_ADSL_DATES = ("TRTSDT", "TRTEDT", "RANDDT", "DTHDT")
_ALWAYS = ("TRTSDT", "RANDDT", "DTHDT")  # empty when ADSL lacks them


# --------------------------------------------------------------------------- helpers


def _text(s: pd.Series) -> pd.Series:
    """Stripped text, None where missing."""
    out = s.astype(object).where(~is_missing(s), None)
    if infer_dtype(out, skipna=True) != "string":
        return out.map(lambda v: v if v is None else str(v).strip())
    present = out.notna().to_numpy()
    texts = out.to_numpy(dtype=object)
    texts[present] = common.stripped(texts[present])
    return pd.Series(texts, index=s.index, dtype=object)


def _sas(dates: pd.Series) -> pd.Series:
    """datetime64 -> days since 1960-01-01 (float, NaN where missing)."""
    dt = pd.to_datetime(dates)
    return ((dt - _SAS_EPOCH) / pd.Timedelta(days=1)).astype(float)


def _from_sas(days: pd.Series) -> pd.Series:
    return _SAS_EPOCH + pd.to_timedelta(days, unit="D")


def _evaluator_title(evaluator: str) -> str:
    """INVESTIGATOR -> Investigator (admiralonco's PARAM/PARCAT2 wording)."""
    e = evaluator.strip()
    if e.upper() == "ACCEPTED":
        return "Accepted Evaluation"
    return " ".join(w.capitalize() if w.isalpha() else w for w in e.split())


def _adsl_dates(values: pd.Series, field: str, subjects: pd.Series,
                problems: ProblemLog) -> pd.Series:
    """An ADSL date column as SAS day numbers (numbers pass; datetimes, ISO text convert)."""
    days, _imputed, unreadable = common.sas_dates(values)
    for pos in np.flatnonzero(unreadable.to_numpy()):
        problems.add("ADRS006", f"ADSL {field} is neither a SAS date number, a datetime nor "
                     "an ISO 8601 date (YYYY-MM-DD)",
                     Location(dataset="ADSL", field=field, value=values.iat[pos],
                              usubjid=subjects.iat[pos], record=int(pos) + 1))
    return days


def _rsdtc(dtc: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """RSDTC -> (ADT as datetime64, ADTF, unreadable).  YYYY-MM -> last day, ADTF D."""
    days, adtf, bad = common.iso_dates(dtc, impute="last", highest="D")
    return _from_sas(days), adtf, bad


# --------------------------------------------------------------------------- inputs


def _subjects(adsl: pd.DataFrame, problems: ProblemLog) -> pd.DataFrame:
    """ADSL indexed by USUBJID: STUDYID, the copies, dates as SAS numbers."""
    missing = [c for c in ("STUDYID", "USUBJID") if c not in adsl.columns]
    if missing or not ({"TRTSDT", "RANDDT"} & set(adsl.columns)):
        need = missing or ["TRTSDT or RANDDT"]
        raise DerivationError.single(
            "ADRS002", f"ADSL lacks {', '.join(need)}, which ADRS needs (subject keys and "
            "the reference date of the response windows)", dataset="ADSL", field=need[0])
    adsl = adsl.reset_index(drop=True)
    usubjid = _text(adsl["USUBJID"])
    dup = usubjid.notna() & usubjid.duplicated(keep="first")
    for pos in np.flatnonzero(dup.to_numpy()):
        problems.add("ADRS003", "ADSL has more than one record for this subject",
                     Location(dataset="ADSL", field="USUBJID", usubjid=usubjid.iat[pos],
                              record=int(pos) + 1))
    out = pd.DataFrame({"USUBJID": usubjid, "STUDYID": _text(adsl["STUDYID"])})
    for col in ADSL_COPIES + ("DTHDT", "DTHDTF"):
        if col not in adsl.columns:
            if col in _ALWAYS:
                out[col] = np.nan
        elif col in _ADSL_DATES:
            out[col] = _adsl_dates(adsl[col], col, usubjid, problems)
        else:
            out[col] = _text(adsl[col])
    out = out[usubjid.notna().to_numpy() & ~dup.to_numpy()]
    return out.set_index("USUBJID", drop=False)


def _rs_overall(rs: pd.DataFrame, options: RecistOptions, subjects: pd.DataFrame,
                problems: ProblemLog) -> pd.DataFrame:
    """The evaluator's OVRLRESP records as OVR rows (before the analysis flags)."""
    need = [c for c in ("USUBJID", "RSTESTCD", "RSDTC") if c not in rs.columns]
    if need or not ({"RSSTRESC", "RSORRES"} & set(rs.columns)):
        need = need or ["RSSTRESC"]
        raise DerivationError.single(
            "ADRS001", f"RS lacks {', '.join(need)}, which ADRS needs", dataset="RS",
            field=need[0])
    rs = rs.reset_index(drop=True).assign(_RECORD=lambda d: np.arange(1, len(d) + 1))
    sel = recist._select_evaluator(rs, "RS", options.evaluator)
    sel = sel[recist._up(sel["RSTESTCD"]).eq("OVRLRESP").to_numpy()]
    recist._check_single_reader(sel, "RS", options.evaluator)
    if sel.empty and len(rs):
        # a misspelt evaluator must not look like "no assessment" (every BOR NE)
        held = {c: sorted({str(v) for v in rs[c].dropna().unique() if str(v).strip()})
                for c in ("RSTESTCD", "RSEVAL", "RSEVALID") if c in rs.columns}
        raise DerivationError.single(
            "ADRS008", f"RS has no RSTESTCD OVRLRESP record of the evaluator "
            f"{options.evaluator!r} (recist: evaluator in the spec); RS holds "
            + "; ".join(f"{c} {', '.join(v) or '(none)'}" for c, v in held.items()),
            dataset="RS", field="RSTESTCD", value=options.evaluator)
    sel = sel.reset_index(drop=True)
    adt, adtf, bad = _rsdtc(sel["RSDTC"])
    result = recist._up(recist._col(sel, "RSSTRESC", "RSORRES"))
    ovr = pd.DataFrame({
        "USUBJID": _text(sel["USUBJID"]),
        "AVISIT": _text(recist._col(sel, "VISIT")),
        "AVISITN": pd.to_numeric(recist._col(sel, "VISITNUM"), errors="coerce").astype(float),
        "AVALC": result.where(result.ne(""), None),
        "ADT": adt,
        "ADTF": adtf,
        "SRCDOM": "RS",
        "SRCVAR": "RSSTRESC",
        "SRCSEQ": pd.to_numeric(recist._col(sel, "RSSEQ"), errors="coerce").astype(float),
        "_RECORD": sel["_RECORD"].to_numpy(),
    })
    ovr["AVAL"] = ovr["AVALC"].map(AVAL_RESPONSE).astype(float)
    ovr.loc[ovr["AVALC"].eq("MISSING"), "AVAL"] = np.nan  # not a time-point response
    for pos in np.flatnonzero(bad.to_numpy()):
        problems.add("ADRS005", "RSDTC is not an ISO 8601 date, so the assessment has no ADT",
                     Location(dataset="RS", field="RSDTC", value=sel["RSDTC"].iat[pos],
                              usubjid=ovr["USUBJID"].iat[pos],
                              record=int(ovr["_RECORD"].iat[pos])))
    unknown = ~ovr["USUBJID"].isin(subjects.index)
    for pos in np.flatnonzero(unknown.to_numpy()):
        problems.add("ADRS004", "RS subject is not in ADSL (ADRS takes its reference date "
                     "and STUDYID from ADSL)",
                     Location(dataset="RS", field="USUBJID", usubjid=ovr["USUBJID"].iat[pos],
                              record=int(ovr["_RECORD"].iat[pos])))
    return ovr


def _flag(ovr: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    """ANL01FL (worst response per subject and date, on/after the reference) and ANL02FL."""
    ovr = ovr.assign(_REF=ovr["USUBJID"].map(reference))
    ovr["_SEQ"] = ovr["SRCSEQ"].fillna(ovr["_RECORD"].astype(float))
    eligible = ovr["AVAL"].notna() & ovr["ADT"].notna() & ovr["_REF"].notna() & (
        _sas(ovr["ADT"]) >= ovr["_REF"])
    cand = ovr[eligible].assign(_WORST=lambda d: d["AVALC"].map(_WORST))
    cand = cand.sort_values(["USUBJID", "ADT", "_WORST", "_SEQ"], kind="stable")
    keep = cand.drop_duplicates(["USUBJID", "ADT"], keep="last").index
    ovr["ANL01FL"] = np.where(ovr.index.isin(keep), "Y", None)
    # ANL02FL: records up to and including the subject's first PD (all OVR records,
    # ordered by ADT then RSSEQ, a missing ADT last), as admiralonco's relative flag.
    order = ovr.sort_values(["USUBJID", "ADT", "_SEQ"], kind="stable", na_position="last")
    pd_seen = order["AVALC"].eq("PD").groupby(order["USUBJID"]).cumsum()
    before = pd_seen.groupby(order["USUBJID"]).shift(fill_value=0).eq(0)
    ovr["ANL02FL"] = pd.Series(np.where(before, "Y", None), index=order.index).reindex(ovr.index)
    return ovr


# --------------------------------------------------------------------------- parameters


def _from_record(src: pd.DataFrame, paramcd: str, avalc: pd.Series | None = None,
                 aval: pd.Series | None = None) -> pd.DataFrame:
    """Parameter records taking date, visit and source of the OVR rows in ``src``."""
    cols = ["USUBJID", "ADT", "ADTF", "AVISIT", "AVISITN", "SRCDOM", "SRCVAR", "SRCSEQ"]
    out = src[cols].copy()
    out["PARAMCD"] = paramcd
    out["AVALC"] = src["AVALC"] if avalc is None else avalc
    out["AVAL"] = src["AVAL"] if aval is None else aval
    out["ANL01FL"] = "Y"
    return out


def _fill(found: pd.DataFrame, subjects: pd.Index, paramcd: str, avalc: str | None,
          aval: float) -> pd.DataFrame:
    """``found`` plus an undated record for every other ADSL subject."""
    rest = subjects.difference(pd.Index(found["USUBJID"]), sort=False)
    none = pd.DataFrame({"USUBJID": rest, "PARAMCD": paramcd, "AVALC": avalc, "AVAL": aval,
                         "ANL01FL": "Y"})
    return pd.concat([found, none], ignore_index=True)


def _yes(src: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    return _from_record(src, paramcd, avalc=pd.Series("Y", index=src.index),
                        aval=pd.Series(1.0, index=src.index))


def _best(used: pd.DataFrame, options: RecistOptions, confirm: bool,
          paramcd: str) -> pd.DataFrame:
    """BOR/CBOR with recist.best_overall_response on the OVR records in ``used``."""
    if used.empty:
        return used.iloc[0:0][["USUBJID"]]
    days = (_sas(used["ADT"]) - used["_REF"]).to_numpy()
    # RECIST calls the stable category NON-CR/NON-PD for non-target disease only: the
    # subject has no CR/PR/SD that qualifies (admiralonco: bor_sd before bor_non_crpd).
    qualifies = used["AVALC"].isin(["CR", "PR", "SD"]) & recist._ge(days, options.sd_min_days)
    target = qualifies.groupby(used["USUBJID"]).transform("any")
    tp = pd.DataFrame({
        "USUBJID": used["USUBJID"].to_numpy(),
        "VISITNUM": used.groupby("USUBJID").cumcount().to_numpy(dtype=float),
        "VISIT": used["AVISIT"].fillna("").to_numpy(),
        "ADT": used["ADT"].to_numpy(),
        "OVRLRESP": used["AVALC"].to_numpy(),
        "TRGRESP": np.where(target, "SD", recist.NA),
        "BASEDT": _from_sas(used["_REF"]).to_numpy(),
    })
    opts = replace(options, confirm=confirm, reference="first_assessment")
    bor = recist.best_overall_response(tp, opts, reasons=False)  # REASON is not in ADRS
    # NE: the date of the first assessment (admiralonco's bor_ne is the first record
    # that is CR, PR, SD, NON-CR/NON-PD or NE; a PD would have given PD).
    first = used.drop_duplicates("USUBJID").set_index("USUBJID")["ADT"]
    date = bor["BOR_DATE"].where(bor["BOR"].ne("NE"), bor["USUBJID"].map(first))
    # the record of each subject's date (ANL01FL: one per subject and date)
    wanted = pd.DataFrame({"USUBJID": bor["USUBJID"].to_numpy(),
                           "ADT": pd.to_datetime(date).to_numpy()})
    rows = wanted.merge(used, on=["USUBJID", "ADT"], how="left", validate="many_to_one")
    return _from_record(rows, paramcd, avalc=bor["BOR"].set_axis(rows.index),
                        aval=bor["BOR"].map(AVAL_RESPONSE).astype(float).set_axis(rows.index))


def _crsp(used: pd.DataFrame, options: RecistOptions) -> pd.DataFrame:
    # each subject's records as slices of whole-column lists (in the order of ``used``,
    # which is sorted by subject), never a frame per subject
    subjects = used["USUBJID"].to_numpy(dtype=object)
    present = pd.notna(subjects)
    groups = factorize(subjects)[0]
    days = (_sas(used["ADT"]) - used["_REF"]).to_numpy(dtype=float).tolist()
    responses = used["AVALC"].tolist()
    picks = []
    for rows in _positions_by_group(groups[present], np.flatnonzero(present)):
        i, _j = recist.first_confirmed_response([responses[r] for r in rows],
                                                [days[r] for r in rows], options)
        if i is not None:
            picks.append(used.index[rows[i]])
    return _yes(used.loc[picks], "CRSP")


def _positions_by_group(groups: np.ndarray, positions: np.ndarray) -> list[list[int]]:
    """The positions of each group, groups in order of first appearance (as
    ``groupby(sort=False)``), positions in their order."""
    order = np.argsort(groups, kind="stable")
    cuts = np.flatnonzero(np.diff(groups[order])) + 1
    return [part.tolist() for part in np.split(positions[order], cuts)] if len(order) else []


def _death(subjects: pd.DataFrame) -> pd.DataFrame:
    dead = subjects[subjects["DTHDT"].notna()]
    out = pd.DataFrame({
        "USUBJID": dead.index, "PARAMCD": "DEATH", "AVALC": "Y", "AVAL": 1.0,
        "ADT": _from_sas(dead["DTHDT"]).to_numpy(),
        "ADTF": dead["DTHDTF"].to_numpy() if "DTHDTF" in dead else None,
        "SRCDOM": "ADSL", "SRCVAR": "DTHDT", "ANL01FL": "Y",
    })
    return _fill(out, subjects.index, "DEATH", "N", 0.0)


# --------------------------------------------------------------------------- dataset


def derive_adrs(sdtm: Mapping[str, pd.DataFrame], adsl: pd.DataFrame, options: RecistOptions,
                *, no_assessment: str = "NE") -> Dataset:
    """ADRS from SDTM RS and ADSL (see the module text for every rule).

    ``no_assessment`` is BOR/CBOR of an ADSL subject without an assessment to
    judge: ``"NE"`` (RECIST 1.1: not evaluable, as the example's Table II counts
    it) or ``"MISSING"`` (admiralonco).  Raises :class:`DerivationError` with
    every problem found: RS or ADSL lacking variables, an RS subject not in
    ADSL, an ADSL subject twice, a date that cannot be read, an evaluator
    without any OVRLRESP record.  ``sdtm`` and ``adsl`` may hold frames or
    :class:`cdisc.model.Dataset` objects.
    """
    if no_assessment not in ("NE", "MISSING"):
        raise DerivationError.single("ADRS007", "no_assessment must be 'NE' or 'MISSING'",
                                     field="no_assessment", value=no_assessment)
    rs = common.frames_of(sdtm).get("RS")
    if rs is None:
        raise DerivationError.single("ADRS001", "ADRS needs the SDTM RS dataset", dataset="RS")
    adsl = getattr(adsl, "frame", adsl)
    problems = ProblemLog()
    subjects = _subjects(adsl, problems)
    ovr = _rs_overall(rs, options, subjects, problems)
    problems.raise_if_errors(DerivationError)

    ref_var = "RANDDT" if subjects["RANDDT"].notna().any() else "TRTSDT"
    ovr = _flag(ovr, subjects[ref_var])
    ovr = ovr.sort_values(["USUBJID", "ADT", "_SEQ"], kind="stable", na_position="last")
    flagged = ovr[ovr["ANL01FL"].eq("Y")]
    used = flagged[flagged["ANL02FL"].eq("Y")]
    ids = subjects.index

    parts = {
        "OVR": ovr.assign(PARAMCD="OVR"),
        "PD": _fill(_yes(flagged[flagged["AVALC"].eq("PD")].drop_duplicates("USUBJID"), "PD"),
                    ids, "PD", "N", 0.0),
        "RSP": _fill(_yes(used[used["AVALC"].isin(["CR", "PR"])].drop_duplicates("USUBJID"),
                          "RSP"), ids, "RSP", "N", 0.0),
        "CRSP": _fill(_crsp(used, options), ids, "CRSP", "N", 0.0),
        "BOR": _fill(_best(used, options, False, "BOR"), ids, "BOR", no_assessment,
                     AVAL_RESPONSE[no_assessment]),
        "CBOR": _fill(_best(used, options, True, "CBOR"), ids, "CBOR", no_assessment,
                      AVAL_RESPONSE[no_assessment]),
        "LSTA": _fill(_from_record(flagged.drop_duplicates("USUBJID", keep="last"), "LSTA"),
                      ids, "LSTA", None, np.nan),
    }
    if "DTHDT" in adsl.columns:
        parts["DEATH"] = _death(subjects)
    frame = pd.concat([p.assign(PARAMCD=k) for k, p in parts.items()], ignore_index=True)
    frame = _finish(frame, subjects, options)
    provenance = _provenance(options, ref_var, no_assessment, tuple(parts), adsl)
    meta = resolve_metadata(NAME, frame, standards.dataset(NAME))
    return Dataset(meta, frame, None, provenance)


def _finish(frame: pd.DataFrame, subjects: pd.DataFrame, options: RecistOptions) -> pd.DataFrame:
    """PARAM/PARCATy, ADSL copies, SAS dates, ASEQ, sort order and IG variable order."""
    who = _evaluator_title(options.evaluator)
    frame["PARAM"] = frame["PARAMCD"].map({k: v.format(who=who) for k, v in PARAMCDS.items()})
    tumour = frame["PARAMCD"].ne("DEATH")
    frame["PARCAT1"] = np.where(tumour, _TUMOR[0], "Reference Event")
    frame["PARCAT2"] = np.where(tumour, who, None)
    frame["PARCAT3"] = np.where(tumour, _TUMOR[1], None)
    frame["ADT"] = _sas(frame["ADT"])
    # each record's ADSL row found once for every copied variable
    at = subjects.index.get_indexer(frame["USUBJID"]) if subjects.index.is_unique else None
    found = at is not None and bool((at >= 0).all())
    for col in ("STUDYID", *ADSL_COPIES):
        if col in subjects.columns:
            frame[col] = (pd.Series(subjects[col].array.take(at), index=frame.index) if found
                          else frame["USUBJID"].map(subjects[col]))
    # ASEQ: admiralonco's order (PARAMCD, ADT, VISITNUM, RSSEQ); a missing date last.
    frame = frame.sort_values(["STUDYID", "USUBJID", "PARAMCD", "ADT", "AVISITN", "SRCSEQ"],
                              kind="stable", na_position="last", ignore_index=True)
    frame["ASEQ"] = (frame.groupby("USUBJID").cumcount() + 1).astype(float)
    order = [v for v in standards.dataset(NAME).names if v in frame.columns]
    frame = frame[order]  # a new frame: the columns are copied once
    for col in order:
        if standards.dataset(NAME).variable(col).is_numeric:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        else:
            frame[col] = frame[col].astype(object).where(~is_missing(frame[col]), None)
    return frame


def _provenance(options: RecistOptions, ref_var: str, no_assessment: str,
                paramcds: tuple[str, ...], adsl: pd.DataFrame) -> tuple[Provenance, ...]:
    windows = {"reference_date": f"ADSL.{ref_var}", "sd_min_days": options.sd_min_days}
    confirm = {"confirm_min_days": options.confirm_min_days,
               "confirm_max_ne": options.confirm_max_ne}
    rs_cols = ("USUBJID", "RSTESTCD", "RSSTRESC", "RSDTC", "RSEVAL", "VISIT", "VISITNUM",
               "RSSEQ")
    source = {
        "OVR": ("rs_overall_response", {"evaluator": options.evaluator,
                                        "aval": AVAL_RESPONSE, "rstestcd": "OVRLRESP"}),
        "PD": ("first_event", {"condition": "OVR AVALC = PD and ANL01FL = Y", "first_by": "ADT"}),
        "RSP": ("first_event", {"condition": "OVR AVALC in (CR, PR), ANL01FL = ANL02FL = Y"}),
        "CRSP": ("recist11_confirmed_response", {**confirm, "records": "OVR ANL01FL = ANL02FL "
                                                 "= Y", "first_by": "ADT"}),
        "BOR": ("recist11_best_overall_response", {**windows, "confirm": False,
                                                   "no_assessment": no_assessment,
                                                   "ne_date": "first assessment"}),
        "CBOR": ("recist11_best_overall_response", {**windows, **confirm, "confirm": True,
                                                    "no_assessment": no_assessment,
                                                    "ne_date": "first assessment"}),
        "DEATH": ("adsl_event", {"date": "ADSL.DTHDT", "imputation_flag": "ADSL.DTHDTF"}),
        "LSTA": ("last_event", {"condition": "OVR ANL01FL = Y", "last_by": "ADT, RSSEQ"}),
    }
    # which best response the study reports (the spec's recist: confirm)
    reported = {"BOR": {"reported": not options.confirm}, "CBOR": {"reported": options.confirm}}
    out = []
    for code in paramcds:
        algorithm, args = source[code]
        out.append(Provenance(
            dataset=NAME, variable="AVALC", algorithm=algorithm, phase="derived",
            arguments={"paramcd": code, **args, **reported.get(code, {})},
            source="ADSL" if code == "DEATH" else "RS",
            source_columns=("DTHDT", "DTHDTF") if code == "DEATH" else rs_cols,
            where={"PARAMCD": code}))
    out += [
        Provenance(NAME, "ADT", "date_imputation", "derived",
                   {"from": "RSDTC", "impute": "day to the last day of the month (ADTF D)",
                    "highest_imputation": "D"}, source="RS", source_columns=("RSDTC",)),
        Provenance(NAME, "ANL01FL", "worst_per_date", "derived",
                   {"reference_date": f"ADSL.{ref_var}", "condition": "AVAL present and "
                    f"ADT >= {ref_var}", "worst_order": list(_WORST), "tie": "last RSSEQ"},
                   source="RS", where={"PARAMCD": "OVR"}),
        Provenance(NAME, "ANL02FL", "up_to_first_event", "derived",
                   {"condition": "AVALC = PD", "inclusive": True, "order": "ADT, RSSEQ"},
                   source="RS", where={"PARAMCD": "OVR"}),
        Provenance(NAME, "ASEQ", "sequence", "derived",
                   {"by": "USUBJID", "order": "PARAMCD, ADT, AVISITN, SRCSEQ"}),
    ]
    copied = [c for c in ("STUDYID", *ADSL_COPIES) if c in adsl.columns or c in _ALWAYS]
    out += [Provenance(NAME, c, "copy", "derived",
                       {"from": f"ADSL.{c}", **({} if c in adsl.columns else {"empty": True})},
                       source="ADSL", source_columns=(c,)) for c in copied]
    return tuple(out)
