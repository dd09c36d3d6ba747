"""ADTTE, the time-to-event analysis dataset (ADaMIG 1.3 BDS, subclass TIME-TO-EVENT).

Each parameter is declared in the spec (``adam: adtte: parameters:``,
:class:`cdisc.spec.adam.TteParameter`) with admiral's ``derive_param_tte``
semantics:

1. STARTDT: per subject the earliest date of the start selection (e.g. ADSL
   TRTSDT, or the first response in ADRS); its --DTF flag (TRTSDTF) becomes
   STARTDTF. Only subjects of ADSL (and of ``population``, a condition on ADSL)
   with a start date get a record: admiral keeps a record with an empty STARTDT,
   which has no analysis value; here such a subject has none.
2. Events: every event source's matching records with a date; per subject the
   earliest wins, and of two sources on one date the one listed first.
3. Censorings: likewise per subject the latest date, of two on one date the
   source listed last.
4. A subject with an event takes the event (CNSR 0), else the censoring
   (CNSR of the source, 1 by default): an event and a censoring on one date
   count as the event.
5. ADT is never before STARTDT: an earlier date is set to STARTDT (ADTF then
   STARTDTF). AVAL = ADT - STARTDT + 1 days (AVALU ``DAYS``): an event on the
   start day is day 1, as admiral's ``derive_vars_duration(add_one = TRUE)``.

A partial ISO 8601 date in a source is imputed as the source says (default:
the first possible date, as admiral's ``filter_date_sources``) and flagged in
ADTF (D or M); an ADaM date brings its own flag (DTHDT -> DTHDTF).

A subject in a source's selected records who is not in ADSL is an error
(admiral drops such a record silently). EVNTDESC, CNSDTDSC, SRCDOM (default the
dataset), SRCVAR (default the date variable) and SRCSEQ (the source's sequence
variable, when the spec names one) trace every record to its source.

ADSL variables are copied onto every record (default: those ADTTE defines,
as admiral's template carries ARMCD, ARM, ACTARMCD, ACTARM, AGE and SEX), with
TRTP/TRTA from TRT01P/TRT01A. ASEQ numbers each subject's records in PARAMCD
order (admiral's ``derive_var_obs_number(order = exprs(PARAMCD))``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cdisc import standards
from cdisc.errors import DerivationError, Location, ProblemLog
from cdisc.model import Dataset, Provenance, resolve_metadata
from cdisc.spec.adam import AdamSpec, TteParameter, TteSource

from .common import (
    RECORD,
    ROW,
    SOURCE,
    SUBJECT,
    Reader,
    condition_columns,
    evaluate,
    frames_of,
    provenance,
    sas_dates,
    text,
)

__all__ = ["NAME", "derive_adtte"]

NAME = "ADTTE"
UNIT = "DAYS"
#: ADSL -> ADTTE variables of another name (BDS TRTP/TRTA for a one-period study)
RENAMED = {"TRT01P": "TRTP", "TRT01A": "TRTA"}
_COLUMNS = ["S", "ADT", "ADTF", "CNSR", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ",
            "_SRC", "_DS", "_REC"]


def derive_adtte(datasets: Mapping[str, Any], spec: AdamSpec | None = None, *,
                 parameters: tuple[TteParameter, ...] | None = None) -> Dataset:
    """ADTTE from ADSL and the datasets the parameters read (SDTM domains, ADRS).

    ``datasets``: name -> frame (or model Dataset), ADSL among them. The
    parameters are ``parameters`` if given, else the spec's (else the defaults:
    OS, and PFS and DOR when ADRS is given).
    """
    spec = spec or AdamSpec()
    frames = frames_of(datasets)
    problems = ProblemLog()
    if "ADSL" not in frames:
        raise DerivationError.single("ADTTE001", "ADTTE needs ADSL", dataset="ADSL")
    params = parameters if parameters is not None else spec.tte_parameters("ADRS" in frames)
    reader = Reader(frames, spec.locate, problems, "ADTTE")
    adsl = reader.dataset("ADSL")
    if adsl is None or "USUBJID" not in adsl.columns:
        raise DerivationError.single("ADTTE002", "ADSL has no USUBJID", dataset="ADSL",
                                     field="USUBJID")
    adsl = adsl.set_index(SUBJECT, drop=False)
    adsl = adsl[~adsl.index.duplicated(keep="first")]
    built: list[pd.DataFrame] = []
    prov: list[Provenance] = []
    for param in params:
        records = _parameter(param, reader, adsl)
        if records is not None:
            built.append(records)
            prov += _provenance(param)
    problems.raise_if_errors(DerivationError)
    frame, lineage = _assemble(built, adsl, spec, prov)
    meta = resolve_metadata(NAME, frame, standards.dataset(NAME))
    return Dataset(meta, frame, lineage, tuple(prov))


# --------------------------------------------------------------------------- one parameter


def _start(param: TteParameter, reader: Reader, adsl: pd.DataFrame) -> pd.DataFrame | None:
    """STARTDT and STARTDTF per subject of the parameter's population."""
    s = param.start
    what = f"parameter {param.paramcd} start"
    sel = reader.select(s.dataset, s.where, [s.date], s.json_path, what, narrow=True)
    if sel is None:
        return None
    days, flags = reader.dates(sel, s.dataset, s.date, s.impute)
    _not_in_adsl(sel, adsl, reader, s.dataset, what)
    found = pd.DataFrame({"S": sel[SUBJECT].to_numpy(), "STARTDT": days.to_numpy(),
                          "STARTDTF": flags.to_numpy()}).dropna(subset=["S", "STARTDT"])
    found = found.sort_values(["S", "STARTDT"], kind="stable").drop_duplicates("S")
    population = adsl
    if param.population is not None:
        cols = [c for c in condition_columns(param.population) if c not in adsl.columns]
        for c in cols:
            reader.problems.add("ADTTE002", f"parameter {param.paramcd} population reads ADSL."
                                f"{c}, which ADSL does not have",
                                reader.locate((*param.json_path, "population"), dataset="ADSL",
                                              field=c))
        if cols:
            return None
        population = adsl[evaluate(param.population, adsl).to_numpy()]
    return found[found["S"].isin(set(population.index))].set_index("S")


def _not_in_adsl(sel: pd.DataFrame, adsl: pd.DataFrame, reader: Reader, dataset: str,
                 what: str) -> None:
    """ADTTE004 for every selected record whose subject ADSL does not have."""
    outside = sel[SUBJECT].notna() & ~sel[SUBJECT].isin(set(adsl.index))
    for j in np.flatnonzero(outside.to_numpy()):
        reader.problems.add("ADTTE004", f"{what}: the subject is not in ADSL (every ADTTE "
                            "subject must be)", Location(
                                dataset=dataset, usubjid=sel[SUBJECT].iat[j],
                                record=int(sel[RECORD].iat[j]), field="USUBJID"))


def _source_records(src: TteSource, i: int, param: TteParameter, reader: Reader,
                    adsl: pd.DataFrame) -> pd.DataFrame | None:
    """The dated records of one event/censor source, one row each (all subjects)."""
    s = src.source
    what = f"parameter {param.paramcd} {src.kind} source {i + 1}"
    needed = [s.date, *([src.srcseq] if src.srcseq else [])]
    sel = reader.select(s.dataset, s.where, needed, s.json_path, what, narrow=True)
    if sel is None:
        return None
    days, flags = reader.dates(sel, s.dataset, s.date, s.impute)
    _not_in_adsl(sel, adsl, reader, s.dataset, what)
    n = len(sel)
    seq = pd.to_numeric(sel[src.srcseq], errors="coerce").to_numpy(dtype=float) \
        if src.srcseq else np.full(n, np.nan)
    out = pd.DataFrame({
        "S": sel[SUBJECT].to_numpy(), "ADT": days.to_numpy(dtype=float),
        "ADTF": flags.to_numpy(), "CNSR": float(src.cnsr), "EVNTDESC": src.evntdesc,
        "CNSDTDSC": src.cnsdtdsc, "SRCDOM": src.srcdom or s.dataset,
        "SRCVAR": src.srcvar or s.date, "SRCSEQ": seq, "_SRC": i, "_DS": s.dataset,
        "_REC": sel[RECORD].to_numpy()}, columns=_COLUMNS)
    return out.dropna(subset=["S", "ADT"])


def _pick(sources: tuple[TteSource, ...], param: TteParameter, reader: Reader,
          adsl: pd.DataFrame, first: bool) -> pd.DataFrame | None:
    """Per subject the earliest (events) or latest (censorings) record over the sources;
    on one date the source listed first (events) or last (censorings) wins."""
    parts = [_source_records(src, i, param, reader, adsl) for i, src in enumerate(sources)]
    if any(p is None for p in parts):
        return None
    records = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_COLUMNS)
    # within a source: earliest (latest) date, then the first (last) record
    records = records.sort_values(["S", "ADT", "_SRC", "_REC"], kind="stable")
    keep = "first" if first else "last"
    return records.drop_duplicates("S", keep=keep)


def _parameter(param: TteParameter, reader: Reader, adsl: pd.DataFrame
               ) -> pd.DataFrame | None:
    start = _start(param, reader, adsl)
    events = _pick(param.events, param, reader, adsl, first=True)
    censors = _pick(param.censors, param, reader, adsl, first=False)
    if start is None or events is None or censors is None:
        return None
    # an event beats any censoring (same date included)
    chosen = pd.concat([events.assign(_EVENT=1), censors.assign(_EVENT=0)], ignore_index=True)
    chosen = chosen.sort_values(["S", "_EVENT"], ascending=[True, False], kind="stable")
    chosen = chosen.drop_duplicates("S", keep="first").set_index("S")
    chosen = chosen[chosen.index.isin(start.index)]
    chosen = chosen.join(start, how="inner")
    early = chosen["ADT"] < chosen["STARTDT"]
    chosen.loc[early, "ADT"] = chosen.loc[early, "STARTDT"]
    chosen.loc[early, "ADTF"] = chosen.loc[early, "STARTDTF"]
    chosen["AVAL"] = chosen["ADT"] - chosen["STARTDT"] + 1
    chosen["PARAMCD"] = param.paramcd
    chosen["PARAM"] = param.param
    if param.paramn is not None:
        chosen["PARAMN"] = float(param.paramn)
    return chosen.reset_index()


# --------------------------------------------------------------------------- the dataset


def _adsl_variables(spec: AdamSpec, adsl: pd.DataFrame, reader: Reader) -> list[str]:
    meta = standards.dataset(NAME)
    wanted = spec.adtte.adsl_variables if spec.adtte is not None else None
    if wanted is None:
        return [v for v in dict.fromkeys(("STUDYID", "USUBJID", *meta.names, *RENAMED))
                if v in adsl.columns and (meta.has(v) or v in RENAMED)
                and v not in _DERIVED]
    names = list(dict.fromkeys(["STUDYID", "USUBJID", *wanted]))
    for v in names:
        if v not in adsl.columns:
            reader.problems.add("ADTTE002", f"adam.adtte.adsl_variables names ADSL.{v}, which "
                                "ADSL does not have", spec.locate(
                                    (*spec.adtte.json_path, "adsl_variables"), dataset="ADSL",
                                    field=v))
    return [v for v in names if v in adsl.columns]


#: variables each parameter derives (never copied from ADSL)
_DERIVED = {"ASEQ", "PARAM", "PARAMCD", "PARAMN", "AVAL", "AVALU", "STARTDT", "STARTDTF", "ADT",
            "ADTF", "CNSR", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"}


def _assemble(built: list[pd.DataFrame], adsl: pd.DataFrame, spec: AdamSpec,
              prov: list[Provenance]
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    meta = standards.dataset(NAME)
    problems = ProblemLog()
    reader = Reader({"ADSL": adsl}, spec.locate, problems, "ADTTE")
    carried = _adsl_variables(spec, adsl, reader)
    problems.raise_if_errors(DerivationError)
    if built:
        rec = pd.concat(built, ignore_index=True)
    else:
        rec = pd.DataFrame(columns=[*_COLUMNS, "STARTDT", "STARTDTF", "AVAL", "PARAMCD",
                                    "PARAM"])
    out = pd.DataFrame(index=rec.index)
    for v in carried:
        values = rec["S"].map(adsl[v])
        target = RENAMED.get(v, v)
        var = meta.variable(target) if meta.has(target) else None
        if var is not None and var.display_format == "DATE9.":
            values = sas_dates(values.reset_index(drop=True))[0].set_axis(rec.index)
        elif var is not None and var.datatype == "Char":
            values = text(values)
        elif var is not None:
            values = pd.to_numeric(values, errors="coerce").astype(float)
        out[target] = values
        prov.append(provenance(NAME, target, "copy", {"from": f"ADSL.{v}"}, source="ADSL",
                               columns=(v,)))
    out["USUBJID"] = rec["S"]
    for v in ("PARAM", "PARAMCD", "AVAL", "STARTDT", "STARTDTF", "ADT", "ADTF", "CNSR",
              "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"):
        out[v] = rec[v]
    if "PARAMN" in rec.columns:
        out["PARAMN"] = rec["PARAMN"].astype(float)
    out["AVALU"] = UNIT
    for v in ("AVAL", "STARTDT", "ADT", "CNSR", "SRCSEQ"):
        out[v] = pd.to_numeric(out[v], errors="coerce").astype(float)
    for v in ("STARTDTF", "ADTF", "CNSDTDSC"):
        out[v] = out[v].astype(object).where(out[v].notna(), None)
    if out["SRCSEQ"].isna().all():
        out = out.drop(columns="SRCSEQ")
    if out["STARTDTF"].isna().all():
        out = out.drop(columns="STARTDTF")
    if out["ADTF"].isna().all():
        out = out.drop(columns="ADTF")
    # keys, then ASEQ by PARAMCD within subject (admiral derive_var_obs_number)
    order = out.sort_values(["USUBJID", "PARAMCD"], kind="stable").index
    out = out.loc[order]
    lineage = pd.DataFrame({SOURCE: rec.loc[order, "_DS"].to_numpy(),
                            ROW: rec.loc[order, "_REC"].to_numpy()})
    out = out.reset_index(drop=True)
    out["ASEQ"] = (out.groupby("USUBJID").cumcount() + 1).astype(float)
    prov.append(provenance(NAME, "ASEQ", "sequence", {"by": ["STUDYID", "USUBJID"],
                                                      "order": ["PARAMCD"]}))
    rank = {v.name: v.order for v in meta.variables}
    out = out[sorted(out.columns, key=lambda c: rank.get(c, len(rank) + 1))]
    return out, lineage


def _provenance(param: TteParameter) -> list[Provenance]:
    """Value-level provenance of one parameter: where PARAMCD = its code."""
    where = {"column": "PARAMCD", "equals": param.paramcd}
    s = param.start
    start_args = {"dataset": s.dataset, "date": s.date, "where": s.where,
                  "population": param.population}
    out = [
        provenance(NAME, "PARAM", "tte_parameter", {"paramcd": param.paramcd,
                                                     "param": param.param}, where=where,
                   json_path=param.json_path),
        provenance(NAME, "STARTDT", "tte_start", start_args, source=s.dataset,
                   columns=(s.date,), where=where, json_path=s.json_path),
        provenance(NAME, "AVAL", "tte_duration", {"formula": "ADT - STARTDT + 1",
                                                  "unit": UNIT}, columns=("ADT", "STARTDT"),
                   where=where, json_path=param.json_path),
        provenance(NAME, "CNSR", "tte_censor", {
            "rule": "earliest event, else latest censoring; an event and a censoring on one "
                    "date count as the event; ADT never before STARTDT"},
                   where=where, json_path=param.json_path),
    ]
    for src in (*param.events, *param.censors):
        d = src.source
        args = {"kind": src.kind, "dataset": d.dataset, "date": d.date, "where": d.where,
                "impute": d.impute, "evntdesc": src.evntdesc, "cnsdtdsc": src.cnsdtdsc,
                "srcdom": src.srcdom or d.dataset, "srcvar": src.srcvar or d.date,
                "srcseq": src.srcseq, "cnsr": src.cnsr}
        out.append(provenance(NAME, "ADT", f"tte_{src.kind}_source", args, source=d.dataset,
                              columns=(d.date,), where=where, json_path=src.json_path))
    return out
