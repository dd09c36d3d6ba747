"""ADSL, the subject-level analysis dataset (ADaMIG 1.3), from SDTM DM, EX, DS and more.

Every rule is the spec's (``adam: adsl:``, :class:`cdisc.spec.adam.AdslSpec`);
the defaults are admiral's ADSL template where it has one. One record per DM
subject, sorted by USUBJID:

* DM variables that ADSL defines are copied unchanged (ADaMIG: a copied
  variable keeps its name, label and values); TRT01P/TRT01A from DM ARM/ACTARM.
* TRTSDT = the earliest, TRTEDT = the latest complete exposure date (start,
  end) of the dose records; a record still running at the data cut-off ends
  at its last dose known (its end date, else its start date) or at the
  cut-off, as the spec says; a partial date is not used (admiral's default,
  ``highest_imputation = "h"``). TRTDURD = TRTEDT - TRTSDT + 1.
* Population flags (SAFFL, a response-evaluable EFFFL, ...): "Y" when the
  subject has a record of the named dataset matching the condition (on or
  after an ADSL date when the spec says so), else "N".
* EOTSTT/DCTREAS and EOSSTT/EOSDT/DCSREAS from the subject's latest matching
  DS record (ADaM CT C124296): COMPLETED, DISCONTINUED with DSDECOD as the
  reason, or ONGOING without one (EOTSTT stays empty for a subject never treated).
* RANDDT: the earliest complete date of the randomisation records.
* LSTALVDT: the latest complete date of the spec's date sources (default:
  every --DTC of every SDTM dataset but birth and death dates, DS death
  records and DD), then the death date when ``include_death``.
* DTHDT/DTHDTF from DM.DTHDTC: a partial date is imputed (first or last
  possible date, day or month and day) and, when imputed, never before the
  last date known alive that lies in the partial date's period (admiral's
  ``derive_vars_dt(..., min_dates = ...)``).

Dates are numeric SAS dates (days since 1960-01-01) with format DATE9.; the
metadata comes from ``schemas/adam/adsl.schema.json``. Problems (a dataset or
variable the spec names is missing, a DM subject twice, an exposure ending
before it starts, a date that is not ISO 8601) are collected and raised as one
:class:`~cdisc.errors.DerivationError`, each located in the data and the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cdisc import standards
from cdisc.errors import DerivationError, Location, ProblemLog
from cdisc.model import Dataset, Provenance, resolve_metadata
from cdisc.spec.adam import (
    SAFFL_ANY_DOSE,
    AdamSpec,
    DateSource,
    DeathSpec,
    DispositionSpec,
    TreatmentSpec,
)

from .common import (
    RECORD,
    ROW,
    SOURCE,
    SUBJECT,
    Reader,
    frames_of,
    iso_text,
    objects,
    provenance,
    sas_dates,
    text,
)

__all__ = ["NAME", "derive_adsl"]

NAME = "ADSL"
#: ADaM CT C124296 (Subject Trial Status)
COMPLETED, DISCONTINUED, ONGOING = "COMPLETED", "DISCONTINUED", "ONGOING"
#: --DTC variables that are no evidence of being alive
_NOT_ALIVE_DTC = {("DM", "BRTHDTC"), ("DM", "DTHDTC")}
_NOT_ALIVE_DATASETS = ("DD",)  # Death Details


def derive_adsl(sdtm: Mapping[str, Any], spec: AdamSpec | None = None) -> Dataset:
    """ADSL from the SDTM datasets ``sdtm`` (name -> frame or model Dataset)."""
    spec = spec or AdamSpec()
    frames = frames_of(sdtm)
    problems = ProblemLog()
    reader = Reader(frames, spec.locate, problems, "ADSL")
    builder = _Builder(reader, spec, problems)
    frame, lineage = builder.build()
    problems.raise_if_errors(DerivationError)
    meta = resolve_metadata(NAME, frame, standards.dataset(NAME))
    return Dataset(meta, frame, lineage, tuple(builder.provenance))


class _Builder:
    def __init__(self, reader: Reader, spec: AdamSpec, problems: ProblemLog) -> None:
        self.reader = reader
        self.spec = spec
        self.s = spec.adsl
        self.problems = problems
        self.meta = standards.dataset(NAME)
        self.provenance: list[Provenance] = []
        self.out: pd.DataFrame = pd.DataFrame()

    # -- helpers ---------------------------------------------------------------------
    def prov(self, variable: str, algorithm: str, arguments: Mapping[str, Any], *,
             source: str | None = None, columns: tuple[str, ...] = (),
             where: Mapping[str, Any] | None = None, json_path: tuple = ()) -> None:
        self.provenance.append(provenance(NAME, variable, algorithm, arguments, source=source,
                                          columns=columns, where=where, json_path=json_path))

    def per_subject(self, values: pd.Series, subjects: pd.Series, how: str) -> pd.Series:
        """min / max of ``values`` per subject, aligned with ADSL (NaN where none)."""
        frame = pd.DataFrame({"S": subjects.to_numpy(), "V": values.to_numpy(dtype=float)})
        got = frame.dropna().groupby("S")["V"].agg(how)
        return self.out.index.to_series().map(got).astype(float)

    def complete_dates(self, source: DateSource, what: str) -> pd.DataFrame | None:
        """USUBJID and SAS date of the records of ``source`` with a usable date."""
        sel = self.reader.select(source.dataset, source.where, [source.date], source.json_path,
                                 what, narrow=True)
        if sel is None:
            return None
        days, _ = self.reader.dates(sel, source.dataset, source.date, source.impute)
        return pd.DataFrame({"S": sel[SUBJECT].to_numpy(), "D": days.to_numpy()}).dropna()

    # -- the dataset -------------------------------------------------------------------
    def build(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        dm = self.reader.select("DM", None, ["STUDYID"], self.s.json_path, "ADSL")
        if dm is None:
            return pd.DataFrame(), None
        self.subjects(dm)
        self.carry(dm)
        if self.problems.errors:
            return self.out, None
        self.treatment()
        self.randomization()
        self.flags()
        self.disposition("end_of_treatment", self.s.end_of_treatment, "EOTSTT", "DCTREAS",
                         None)
        self.disposition("end_of_study", self.s.end_of_study, "EOSSTT", "DCSREAS", "EOSDT")
        alive = self.last_alive_dates()
        self.death(alive)
        self.last_alive(alive)
        out = self.out.reset_index(drop=True)
        order = {v.name: v.order for v in self.meta.variables}
        out = out[sorted(out.columns, key=lambda c: order.get(c, len(order) + 1))]
        lineage = pd.DataFrame({SOURCE: "DM", ROW: self.dm_rows.to_numpy()})
        return out, lineage

    def subjects(self, dm: pd.DataFrame) -> None:
        subject = dm[SUBJECT]
        for i in np.flatnonzero(subject.isna().to_numpy()):
            self.problems.add("ADSL003", "a DM record without USUBJID", Location(
                dataset="DM", record=int(dm[RECORD].iat[i]), field="USUBJID"))
        twice = subject.notna() & subject.duplicated(keep="first")
        for i in np.flatnonzero(twice.to_numpy()):
            self.problems.add("ADSL003", "more than one DM record for the subject: ADSL has one "
                              "record per subject", Location(
                                  dataset="DM", usubjid=subject.iat[i],
                                  record=int(dm[RECORD].iat[i]), field="USUBJID"))
        keep = dm[subject.notna() & ~twice].sort_values(SUBJECT, kind="stable")
        self.dm = keep.set_index(SUBJECT, drop=False)
        self.dm_rows = self.dm[RECORD]
        self.out = pd.DataFrame(index=pd.Index(self.dm[SUBJECT].to_numpy(), name=SUBJECT))

    def carry(self, dm: pd.DataFrame) -> None:
        derived = {"TRT01P", "TRT01A"}
        if self.s.carry is None:
            names = [v.name for v in self.meta.variables
                     if v.name in dm.columns and v.name not in derived]
        else:
            names = list(dict.fromkeys(["STUDYID", "USUBJID", *self.s.carry]))
            for name in names:
                if name not in dm.columns:
                    self.problems.add("ADSL002", f"adam.adsl.carry names DM.{name}, which DM "
                                      "does not have", self.spec.locate(
                                          (*self.s.json_path, "carry"), dataset="DM",
                                          field=name))
            names = [n for n in names if n in dm.columns]
        for name in names:
            self.out[name] = self.dm[name].to_numpy()
            self.prov(name, "copy", {"from": f"DM.{name}"}, source="DM", columns=(name,),
                      json_path=(*self.s.json_path, "carry"))
        t = self.s.treatment
        for var, dm_var, key in (("TRT01P", t.planned, "planned"),
                                 ("TRT01A", t.actual, "actual")):
            if dm_var not in dm.columns:
                self.problems.add("ADSL002", f"{var} is copied from DM.{dm_var}, which DM does "
                                  "not have", self.spec.locate((*t.json_path, key), dataset="DM",
                                                               field=dm_var))
                continue
            self.out[var] = text(self.dm[dm_var]).to_numpy()
            self.prov(var, "copy", {"from": f"DM.{dm_var}"}, source="DM", columns=(dm_var,),
                      json_path=(*t.json_path, key))

    # -- exposure --------------------------------------------------------------------------
    def treatment(self) -> None:
        t = self.s.treatment
        sel = self.reader.select(t.dataset, t.where, [t.start, t.end], t.json_path,
                                 "adam.adsl.treatment", optional=t == TreatmentSpec())
        if sel is None:
            return
        start, _ = self.reader.dates(sel, t.dataset, t.start)
        end, _ = self.reader.dates(sel, t.dataset, t.end)
        args: dict[str, Any] = {"dataset": t.dataset, "start": t.start, "end": t.end,
                                "where": t.where}
        if t.ongoing is not None:
            ongoing = self.reader.select(t.dataset, t.ongoing, [], t.json_path,
                                         "adam.adsl.treatment.ongoing")
            running = sel[RECORD].isin(ongoing[RECORD]) if ongoing is not None else \
                pd.Series(False, index=sel.index)
            if t.ongoing_end == "cutoff":
                cutoff = self.cutoff((*t.json_path, "ongoing", "end"))
                end = end.where(~running, cutoff)
            else:  # the last dose known: the record's end, else its start
                end = end.where(~running | end.notna(), start)
            args.update(ongoing=t.ongoing, ongoing_end=t.ongoing_end)
        else:
            end = self.ongoing_at_reference(sel, t, end, args)
        subjects = sel[SUBJECT]
        self.out["TRTSDT"] = self.per_subject(start, subjects, "min")
        self.out["TRTEDT"] = self.per_subject(end, subjects, "max")
        self.out["TRTDURD"] = self.out["TRTEDT"] - self.out["TRTSDT"] + 1
        for s in self.out.index[self.out["TRTEDT"] < self.out["TRTSDT"]]:
            self.problems.add("ADSL005", f"the last exposure ({iso_text(self.out.at[s, 'TRTEDT'])})"
                              f" is before the first ({iso_text(self.out.at[s, 'TRTSDT'])})",
                              Location(dataset=t.dataset, usubjid=s, field=t.end))
        cols = (t.start, t.end)
        self.prov("TRTSDT", "first_exposure", args, source=t.dataset, columns=(t.start,),
                  where=t.where, json_path=t.json_path)
        self.prov("TRTEDT", "last_exposure", args, source=t.dataset, columns=cols,
                  where=t.where, json_path=t.json_path)
        self.prov("TRTDURD", "duration", {"formula": "TRTEDT - TRTSDT + 1"},
                  columns=("TRTSDT", "TRTEDT"), json_path=t.json_path)

    def ongoing_at_reference(self, sel: pd.DataFrame, t: TreatmentSpec, end: pd.Series,
                             args: dict[str, Any]) -> pd.Series:
        """Without an ``ongoing`` rule, SDTM's own relative timing says it: a record with
        no end date and --ENRTPT = ONGOING ends at its --ENTPT date, else at the data
        cut-off -- the rule DM.RFXENDTC follows (docs/spec-format.md, "Ongoing at the
        data cut-off"), so TRTEDT and RFXENDTC agree."""
        prefix = t.end[:-len("ENDTC")] if t.end.endswith("ENDTC") else None
        relation, point = f"{prefix}ENRTPT", f"{prefix}ENTPT"
        if prefix is None or relation not in sel.columns:
            return end
        running = (text(sel[relation]).eq("ONGOING").fillna(False) & end.isna()).to_numpy()
        if not running.any():
            return end
        at = sas_dates(sel[point])[0] if point in sel.columns else \
            pd.Series(np.nan, index=sel.index)
        if at[running].isna().any():
            at = at.fillna(self.cutoff((*t.json_path, "end")))
        args.update(ongoing={"column": relation, "equals": "ONGOING"},
                    ongoing_end=f"the {point} date, else the data cut-off")
        return end.where(~running, at)

    def cutoff(self, json_path: tuple) -> float:
        days = sas_dates(pd.Series([self.spec.data_cutoff or ""]))[0].iat[0]
        if np.isnan(days):
            self.problems.add("ADSL006", "treatment ongoing at the cut-off ends at the data "
                              "cut-off, but no data cut-off is given (study.data_cutoff or "
                              "adam.data_cutoff)", self.spec.locate(json_path))
        return float(days)

    def randomization(self) -> None:
        r = self.s.randomization
        if r is None:
            return
        got = self.complete_dates(r, "adam.adsl.randomization")
        if got is None:
            return
        self.out["RANDDT"] = self.per_subject(got["D"], got["S"], "min")
        self.prov("RANDDT", "first_date", {"dataset": r.dataset, "date": r.date,
                                           "where": r.where}, source=r.dataset,
                  columns=(r.date,), where=r.where, json_path=r.json_path)

    # -- flags ---------------------------------------------------------------------------
    def flags(self) -> None:
        for f in self.s.flags:
            what = f"adam.adsl.flags.{f.name}"
            sel = self.reader.select(f.dataset, f.where, [f.date] if f.date else [],
                                     f.json_path, what, optional=f == SAFFL_ANY_DOSE,
                                     narrow=True)
            if sel is None:
                continue
            subjects = sel[SUBJECT]
            if f.date and f.on_or_after:
                if f.on_or_after not in self.out.columns:
                    self.problems.add("ADSL002", f"{what} counts records on or after ADSL."
                                      f"{f.on_or_after}, which this ADSL does not derive",
                                      self.spec.locate((*f.json_path, "on_or_after"),
                                                       field=f.on_or_after))
                    continue
                days, _ = self.reader.dates(sel, f.dataset, f.date)
                ref = subjects.map(self.out[f.on_or_after])
                subjects = subjects[(days >= ref).to_numpy()]
            has = self.out.index.isin(set(subjects.dropna()))
            self.out[f.name] = np.where(has, "Y", "N").astype(object)
            self.prov(f.name, "has_record", {"dataset": f.dataset, "where": f.where,
                                             "date": f.date, "on_or_after": f.on_or_after},
                      source=f.dataset, columns=tuple(c for c in [f.date] if c),
                      where=f.where, json_path=f.json_path)

    # -- disposition ---------------------------------------------------------------------
    def disposition(self, key: str, d: DispositionSpec | None, status: str, reason: str,
                    date: str | None) -> None:
        if d is None:
            return
        what = f"adam.adsl.{key}"
        sel = self.reader.select(d.dataset, d.where, [d.decod, d.date], d.json_path, what)
        if sel is None:
            return
        days, _ = self.reader.dates(sel, d.dataset, d.date)
        recs = pd.DataFrame({"S": sel[SUBJECT].to_numpy(), "D": days.to_numpy(),
                             "R": sel[RECORD].to_numpy(), "DECOD": text(sel[d.decod]).to_numpy()})
        # the latest record decides (undated records first, then record order)
        last = recs.sort_values(["S", "D", "R"], na_position="first").drop_duplicates(
            "S", keep="last").set_index("S")
        decod = self.out.index.to_series().map(last["DECOD"])
        found = self.out.index.isin(last.index)
        done = decod.isin(list(d.completed))
        values = np.where(~found, ONGOING, np.where(done, COMPLETED, DISCONTINUED)).astype(object)
        if status == "EOTSTT" and "TRTSDT" in self.out.columns:
            values[self.out["TRTSDT"].isna().to_numpy() & ~found] = None  # never treated
        self.out[status] = values
        self.out[reason] = objects(decod.where(found & ~done))
        args = {"dataset": d.dataset, "where": d.where, "decod": d.decod, "date": d.date,
                "completed": list(d.completed)}
        self.prov(status, "disposition_status", args, source=d.dataset, columns=(d.decod,),
                  where=d.where, json_path=d.json_path)
        self.prov(reason, "disposition_reason", args, source=d.dataset, columns=(d.decod,),
                  where=d.where, json_path=d.json_path)
        if date is not None:
            self.out[date] = self.out.index.to_series().map(last["D"]).astype(float).to_numpy()
            self.prov(date, "disposition_date", args, source=d.dataset, columns=(d.date,),
                      where=d.where, json_path=d.json_path)

    # -- alive and dead ------------------------------------------------------------------
    def last_alive_dates(self) -> pd.Series:
        """Per subject the latest complete date of the last-alive sources (NaN: none)."""
        la = self.s.last_alive
        parts: list[pd.DataFrame] = []
        if la.dates is not None:
            for source in la.dates:
                got = self.complete_dates(source, "adam.adsl.last_alive")
                if got is not None:
                    parts.append(got)
            used: list[str] = [f"{s.dataset}.{s.date}" for s in la.dates]
        else:
            used = []
            for name, frame in sorted(self.reader.frames.items()):
                if (name.startswith(("SUPP", "AD")) or name in _NOT_ALIVE_DATASETS
                        or "USUBJID" not in frame.columns):
                    continue
                where = {"column": "DSDECOD", "not_equals": "DEATH"} \
                    if name == "DS" and "DSDECOD" in frame.columns else None
                for col in frame.columns:
                    if str(col).endswith("DTC") and (name, col) not in _NOT_ALIVE_DTC:
                        got = self.complete_dates(DateSource(name, str(col), where,
                                                             json_path=la.json_path),
                                                  "adam.adsl.last_alive")
                        if got is not None:
                            parts.append(got)
                            used.append(f"{name}.{col}")
        self.alive_sources = used
        if not parts:
            return pd.Series(np.nan, index=self.out.index)
        allp = pd.concat(parts, ignore_index=True)
        return self.per_subject(allp["D"], allp["S"], "max")

    def death(self, alive: pd.Series) -> None:
        d = self.s.death
        if d is None:
            return
        sel = self.reader.select(d.dataset, None, [d.date], d.json_path, "adam.adsl.death",
                                 optional=d == DeathSpec())
        if sel is None:
            return
        impute = d.impute
        first, flag = self.reader.dates(sel, d.dataset, d.date, impute, d.highest_imputation)
        recs = pd.DataFrame({"S": sel[SUBJECT].to_numpy(), "D": first.to_numpy(),
                             "F": flag.to_numpy()})
        if d.not_before_last_alive and impute != "none":
            # admiral min_dates: the imputed date is not before a date known alive that
            # lies inside the partial date's period [first possible, last possible]
            lo, _, _ = sas_dates(sel[d.date], "first", d.highest_imputation)
            hi, _, _ = sas_dates(sel[d.date], "last", d.highest_imputation)
            known = recs["S"].map(alive).to_numpy(dtype=float)
            inside = recs["F"].notna().to_numpy() & (known >= lo.to_numpy()) & \
                (known <= hi.to_numpy())
            recs.loc[inside, "D"] = np.fmax(recs.loc[inside, "D"].to_numpy(), known[inside])
        recs = recs.dropna(subset=["D"]).sort_values(["S", "D"]).drop_duplicates("S")
        recs = recs.set_index("S")
        self.out["DTHDT"] = self.out.index.to_series().map(recs["D"]).astype(float).to_numpy()
        args = {"dataset": d.dataset, "date": d.date, "impute": impute,
                "highest_imputation": d.highest_imputation,
                "not_before_last_alive": d.not_before_last_alive}
        self.prov("DTHDT", "death_date", args, source=d.dataset, columns=(d.date,),
                  json_path=d.json_path)
        if impute != "none":
            flags = self.out.index.to_series().map(recs["F"])
            self.out["DTHDTF"] = objects(flags.where(self.out["DTHDT"].notna()))
            self.prov("DTHDTF", "date_imputation_flag", args, source=d.dataset,
                      columns=(d.date,), json_path=d.json_path)

    def last_alive(self, alive: pd.Series) -> None:
        la = self.s.last_alive
        value = alive.copy()
        if la.include_death and "DTHDT" in self.out.columns:
            value = pd.Series(np.fmax(value.to_numpy(), self.out["DTHDT"].to_numpy()),
                              index=self.out.index)
        self.out["LSTALVDT"] = value.astype(float).to_numpy()
        self.prov("LSTALVDT", "last_known_alive",
                  {"dates": self.alive_sources, "include_death": la.include_death},
                  columns=tuple(self.alive_sources), json_path=la.json_path)
