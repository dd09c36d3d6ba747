"""Adverse events: seriousness and its criteria, outcome and end date, coding, toxicity grade.

The seriousness criteria are read from AE and from SUPPAE (a sponsor may keep
them as supplemental qualifiers with the variable's name as QNAM), so a
criterion counts wherever it was put.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...errors import Problem, Severity
from ..frames import at_rows, hits, key_text, memo, missing, show, text, upper
from ..registry import InScope, Scope, rule
from ..study import as_study
from .dates import domain_prefix

AE = "AE"
YES = "Y"
#: the seriousness criteria CORE-000022/CORE-000266 test (SDTMIG 3.4 section 6.2.1)
SERIOUSNESS = ("AESCAN", "AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESOD",
               "AESMIE")
#: AEOUT terms (C66768) of an event that has not ended, and of one that has
ONGOING = ("NOT RECOVERED/NOT RESOLVED", "RECOVERING/RESOLVING")
ENDED = ("RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE", "FATAL")
#: the MedDRA hierarchy an Events record coded with MedDRA carries (SDTMIG 3.4 6.2.1: Exp)
MEDDRA = ("LLT", "LLTCD", "PTCD", "HLT", "HLTCD", "HLGT", "HLGTCD", "BODSYS", "BDSYCD", "SOC",
          "SOCCD")
_SUPP = re.compile(r"SUPP[A-Z0-9]{2,4}\Z")


def _criteria(ds: InScope) -> tuple[pd.DataFrame, list[str]]:
    """Per AE record, whether each seriousness criterion is 'Y' (in AE or a SUPP-- of AE).

    Also the criteria collected at all (a variable of AE, or a QNAM of SUPPAE). Two
    rules ask: made once per run.
    """
    return memo(ds.frame, ("seriousness", ds.name, id(ds.study)), lambda: _read_criteria(ds))


def _read_criteria(ds: InScope) -> tuple[pd.DataFrame, list[str]]:
    frame = ds.frame
    yes = pd.DataFrame({c: text(frame, c).eq(YES).to_numpy(dtype=bool) for c in SERIOUSNESS},
                       index=frame.index)
    collected = [c for c in SERIOUSNESS if c in frame.columns]
    if "USUBJID" not in frame.columns:
        return yes, collected
    subjects = text(frame, "USUBJID")
    study = as_study(ds.study)
    for name in study.names():
        supp = study[name]
        if not _SUPP.match(name) or not {"RDOMAIN", "QNAM", "QVAL", "IDVAR"} <= set(supp.columns):
            continue
        qnam = upper(text(supp, "QNAM"))
        mine = upper(text(supp, "RDOMAIN")).eq(ds.name) & qnam.isin(SERIOUSNESS)
        collected += sorted(set(qnam[mine].dropna()) - set(collected))
        flagged = mine & upper(text(supp, "QVAL")).eq(YES)
        if not flagged.any() or "IDVARVAL" not in supp.columns:
            continue
        idvar = upper(text(supp, "IDVAR"))
        idvarval = key_text(supp["IDVARVAL"])
        for (var, criterion), rows in supp[flagged].groupby([idvar[flagged], qnam[flagged]]):
            if var not in frame.columns:
                continue  # CV0603 reports an IDVAR that is not a variable of AE
            wanted = pd.MultiIndex.from_arrays([text(supp, "USUBJID")[rows.index],
                                                idvarval[rows.index]])
            found = pd.MultiIndex.from_arrays([subjects, key_text(frame[var])]).isin(wanted)
            yes[criterion] |= found
    return yes, [c for c in SERIOUSNESS if c in collected]


def _which(yes: pd.DataFrame, i: int) -> str:
    return ", ".join(c for c in yes.columns if yes.iat[i, yes.columns.get_loc(c)])


@rule("CV0401", Severity.ERROR, "AESER is 'N' or null while a seriousness criterion is 'Y'",
      "SDTMIG 3.4 section 6.2.1 (AESER and the seriousness criteria); CG0041 (CORE-000022); "
      "criteria read from AE and SUPPAE", scope=Scope(names=(AE,)), category="Consistency")
def serious_criterion_not_serious(ds: InScope) -> list[Problem]:
    yes, _ = _criteria(ds)
    aeser = text(ds.frame, "AESER")
    bad = yes.any(axis=1) & (aeser.eq("N") | aeser.isna())
    aeser_at = at_rows(aeser)
    return hits("CV0401", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AESER",
                 message=lambda i: f"AESER is {show(aeser_at(i))} but {_which(yes, i)} "
                 "= 'Y' (AE or SUPPAE): a serious event")


@rule("CV0402", Severity.ERROR, "AESER is 'Y' but no seriousness criterion is 'Y'",
      "SDTMIG 3.4 section 6.2.1; CG0042 (CORE-000266); criteria read from AE and SUPPAE "
      "(AESCAN, AESCONG, AESDISAB, AESDTH, AESHOSP, AESLIFE, AESOD, AESMIE)",
      scope=Scope(names=(AE,), variables=("AESER",)), category="Consistency")
def serious_without_criterion(ds: InScope) -> list[Problem]:
    yes, collected = _criteria(ds)
    bad = text(ds.frame, "AESER").eq(YES) & ~yes.any(axis=1)
    why = (f"none of {', '.join(collected)} is 'Y'" if collected
           else "no seriousness criterion is given (" + ", ".join(SERIOUSNESS) + " are in "
           "neither AE nor SUPPAE)")
    return hits("CV0402", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AESER",
                 message=f"AESER is 'Y' but {why}")


@rule("CV0403", Severity.WARNING, "AEENDTC is populated although AEOUT says the event has "
      "not ended",
      "CORE-000657 (FB3409) for AEOUT 'NOT RECOVERED/NOT RESOLVED'; 'RECOVERING/RESOLVING' "
      "is ongoing too (C66768)", scope=Scope(names=(AE,), variables=("AEOUT", "AEENDTC")),
      category="Consistency")
def end_date_while_ongoing(ds: InScope) -> list[Problem]:
    out, end = text(ds.frame, "AEOUT"), text(ds.frame, "AEENDTC")
    bad = out.isin(ONGOING) & end.notna()
    out_at, end_at = at_rows(out), at_rows(end)
    return hits("CV0403", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AEENDTC",
                 message=lambda i: f"AEENDTC is {show(end_at(i))} but AEOUT is "
                 f"{show(out_at(i))} (an event not ended has no end date)")


@rule("CV0404", Severity.WARNING, "AEENDTC is null although AEOUT says the event has ended",
      "CORE-000659 (FB3410) for AEOUT 'RECOVERED/RESOLVED'; the same for "
      "'RECOVERED/RESOLVED WITH SEQUELAE' and 'FATAL' (a fatal event ends at death, "
      "CORE-000841)", scope=Scope(names=(AE,), variables=("AEOUT", "AEENDTC")),
      category="Consistency")
def no_end_date_when_ended(ds: InScope) -> list[Problem]:
    out, end = text(ds.frame, "AEOUT"), text(ds.frame, "AEENDTC")
    bad = out.isin(ENDED) & end.isna()
    out_at = at_rows(out)
    return hits("CV0404", ds.name, ds.frame, bad.to_numpy(dtype=bool), variable="AEENDTC",
                 message=lambda i: f"AEENDTC is null but AEOUT is {show(out_at(i))}")


@rule("CV0405", Severity.WARNING, "MedDRA hierarchy partially populated: some coding "
      "variables are null while others of the same record are populated",
      "SDTMIG 3.4 section 6.2.1 (AELLT, AELLTCD, AEPTCD, AEHLT, AEHLTCD, AEHLGT, AEHLGTCD, "
      "AEBODSYS, AEBDSYCD, AESOC, AESOCCD: Exp for MedDRA-coded events); CG0082 "
      "(CORE-000024: --BODSYS populated, --BDSYCD null), generalised to the whole hierarchy. "
      "A record with none of them populated is not MedDRA-coded (e.g. CTCAE terms) and is "
      "not flagged", scope=Scope(classes=("EVENTS",), standard="SDTM"), category="Presence")
def meddra_coded(ds: InScope) -> list[Problem]:
    frame = ds.frame
    prefix = domain_prefix(ds.name, frame)
    present = [prefix + v for v in MEDDRA if prefix + v in frame.columns]
    if len(present) < 2:
        return []  # no hierarchy to be partial (DS codes with CT, not MedDRA)
    empty = np.column_stack([missing(frame[v]) for v in present])
    # coded at all (some level given) but not throughout
    bad = empty.any(axis=1) & ~empty.all(axis=1)
    first = np.argmax(empty, axis=1)  # the first empty one names the finding
    out: list[Problem] = []
    def message(i: int) -> str:
        given = ", ".join(v for v, e in zip(present, empty[i], strict=True) if not e)
        null = ", ".join(v for v, e in zip(present, empty[i], strict=True) if e)
        return f"{given} populated but {null} null: a MedDRA-coded record carries the whole " \
            "hierarchy"

    for k, var in enumerate(present):
        out += hits("CV0405", ds.name, frame, bad & (first == k), variable=var,
                     message=message)
    return out


@rule("CV0406", Severity.WARNING, "--TOXGR is not a grade number of its scale",
      "SDTMIG 3.4 section 6.2.1 (AETOXGR: from a numeric scale only the number, e.g. '2' not "
      "'Grade 2'; CTCAE grades 1-5) and 6.3.5.6 (LBTOXGR, grades 0-5); CG0185 (CORE-000169, "
      "LBTOXGR not numeric)", scope=Scope(standard="SDTM", variables=("--TOXGR",)),
      category="Format")
def toxicity_grade(ds: InScope) -> list[Problem]:
    frame = ds.frame
    var = f"{ds.name[:2]}TOXGR"
    values = text(frame, var)
    grade = pd.to_numeric(values, errors="coerce")
    # An event's grade starts at 1; a finding may be grade 0 (no toxicity).
    low = 1 if ds.dataset_class == "EVENTS" else 0
    ok = grade.notna() & grade.eq(grade.round()) & grade.between(low, 5)
    bad = values.notna() & ~ok
    values_at = at_rows(values)
    return hits("CV0406", ds.name, frame, bad.to_numpy(dtype=bool), variable=var,
                 value=values, message=lambda i: f"{var} {show(values_at(i))} is not a grade "
                 f"{low}-5; give only the number of the scale (e.g. '2', not 'G2' or 'Grade 2')")

