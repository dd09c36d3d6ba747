"""SUPP-- records point at a real parent record (RDOMAIN, USUBJID, IDVAR, IDVARVAL)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from ...errors import Problem, Severity
from ...model.text import factorize
from ..frames import dataset_hit, hits, key_text, memo, show, text, upper
from ..registry import rule
from ..study import SDTM, as_study
from .subjects import DM

_SUPP = re.compile(r"SUPP[A-Z0-9]{2,4}\Z")
_CITE = "SDTMIG 3.4 section 8.4 (Relating Non-standard Variable Values to a Parent Domain)"


class _Supp:
    """One SUPP-- dataset with its identifying columns as comparable text."""

    def __init__(self, name: str, frame: pd.DataFrame) -> None:
        self.name, self.frame = name, frame

        # text() gives an all-null column for a variable the dataset lacks.
        self.rdomain = upper(text(frame, "RDOMAIN"))
        self.usubjid = text(frame, "USUBJID")
        self.idvar = upper(text(frame, "IDVAR"))
        self.idvarval = key_text(frame["IDVARVAL"]) if "IDVARVAL" in frame.columns \
            else text(frame, "IDVARVAL")
        self.qnam = text(frame, "QNAM")


def _supps(datasets: Mapping[str, pd.DataFrame]) -> Iterator[tuple[_Supp, dict[str, pd.DataFrame]]]:
    study = as_study(datasets)
    for name in study.names(SDTM):
        frame = study[name]
        if _SUPP.match(name) and "RDOMAIN" in frame.columns:
            # the same columns for every SUPP-- rule: made once per run
            yield memo(frame, ("supp", name), lambda n=name, f=frame: _Supp(n, f)), study


@rule("CV0601", Severity.ERROR, "SUPP-- parent dataset (RDOMAIN) is not present",
      f"{_CITE}; CG0373 (CORE-000457), CG0369 (CORE-000502)", category="Cross-reference")
def parent_dataset(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for supp, study in _supps(datasets):
        for parent in sorted(set(supp.rdomain.dropna()) - set(study)):
            count = int(supp.rdomain.eq(parent).sum())
            out.append(dataset_hit("CV0601", supp.name, f"RDOMAIN {parent!r} ({count} records) "
                                   f"names a dataset that is not present", variable="RDOMAIN",
                                   value=parent))
    return out


@rule("CV0602", Severity.ERROR, "SUPP-- subject has no record in the parent dataset",
      f"{_CITE}: RDOMAIN and USUBJID identify the parent subject", category="Cross-reference")
def parent_subject(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, study in _supps(datasets):
        bad = np.zeros(len(supp.frame), dtype=bool)
        for parent in set(supp.rdomain.dropna()) & set(study):
            frame = study[parent]
            subjects = set(text(frame, "USUBJID").dropna()) if "USUBJID" in frame.columns \
                else set()
            bad |= (supp.rdomain.eq(parent) & supp.usubjid.notna()
                    & ~supp.usubjid.isin(subjects)).to_numpy(dtype=bool)
        out += hits("CV0602", supp.name, supp.frame, bad, variable="USUBJID",
                    message=lambda i, s=supp: f"USUBJID has no record in {s.rdomain.values[i]}")
    return out


@rule("CV0603", Severity.ERROR, "SUPP-- IDVAR is not a variable of the parent dataset",
      f"{_CITE}; CG0370 (CORE-000712)", category="Cross-reference")
def parent_variable(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, study in _supps(datasets):
        bad = np.zeros(len(supp.frame), dtype=bool)
        for parent in set(supp.rdomain.dropna()) & set(study):
            columns = {str(c).upper() for c in study[parent].columns}
            bad |= (supp.rdomain.eq(parent) & supp.idvar.notna()
                    & ~supp.idvar.isin(columns)).to_numpy(dtype=bool)
        out += hits("CV0603", supp.name, supp.frame, bad, variable="IDVAR",
                    message=lambda i, s=supp: f"IDVAR {show(s.idvar.values[i])} is not a variable "
                    f"of {s.rdomain.values[i]}")
    return out


@rule("CV0604", Severity.ERROR, "SUPP-- IDVAR/IDVARVAL match no parent record of the subject",
      f"{_CITE}; CG0371 (CORE-000206)", category="Cross-reference")
def parent_record(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, study in _supps(datasets):
        bad = np.zeros(len(supp.frame), dtype=bool)
        rdomain, idvar = supp.rdomain.to_numpy(dtype=object), supp.idvar.to_numpy(dtype=object)
        pairs = pd.DataFrame({"r": rdomain, "v": idvar}).dropna().drop_duplicates()
        for parent, variable in sorted(pairs.itertuples(index=False, name=None)):
            frame = study.get(parent)
            if frame is None or variable not in frame.columns or "USUBJID" not in frame.columns:
                continue  # CV0601-CV0603 report those records
            rows = np.flatnonzero((rdomain == parent) & (idvar == variable))
            bad[rows] = ~_in_parent(
                supp.usubjid.to_numpy(dtype=object)[rows],
                supp.idvarval.to_numpy(dtype=object)[rows],
                text(frame, "USUBJID").to_numpy(dtype=object),
                key_text(frame[variable]).to_numpy(dtype=object))
        out += hits("CV0604", supp.name, supp.frame, bad, variable="IDVARVAL",
                    message=lambda i, s=supp: f"no {s.rdomain.values[i]} record of this subject "
                    f"has {s.idvar.values[i]} = {show(s.idvarval.values[i])}")
    return out


def _in_parent(subject: np.ndarray, value: np.ndarray, parent_subject: np.ndarray,
               parent_value: np.ndarray) -> np.ndarray:
    """Whether each (subject, value) is a record of the parent, or cannot be checked: its
    subject is missing or has no record in the parent (CV0602's finding, not this one's).
    Pairs are compared as integer codes of the text on both sides."""
    n = len(subject)
    subjects = factorize(np.concatenate([subject, parent_subject]))[0].astype(np.int64)
    values = factorize(np.concatenate([value, parent_value]))[0].astype(np.int64)
    mine, theirs = subjects[:n], subjects[n:]
    checkable = (mine >= 0) & np.isin(mine, theirs[theirs >= 0])
    key = subjects * (int(values.max(initial=0)) + 2) + values + 1
    known = key[n:][(theirs >= 0) & (values[n:] >= 0)]
    found = (mine >= 0) & (values[:n] >= 0) & np.isin(key[:n], known)
    return ~checkable | found


@rule("CV0605", Severity.ERROR, "QNAM is not unique for its parent record",
      f"{_CITE}; CG0411 (CORE-000203)", category="Cross-reference")
def qnam_unique(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, _ in _supps(datasets):
        keys = pd.DataFrame({"r": supp.rdomain, "u": supp.usubjid, "v": supp.idvar,
                             "x": supp.idvarval, "q": supp.qnam})
        dup = keys["q"].notna() & keys.duplicated(keep="first")
        out += hits("CV0605", supp.name, supp.frame, dup.to_numpy(dtype=bool), variable="QNAM",
                    message="QNAM already given for this parent record")
    return out


@rule("CV0606", Severity.ERROR, "SUPP-- IDVAR is null for a parent other than DM",
      f"{_CITE}; CG0203 (CORE-000134)", category="Cross-reference")
def idvar_needed(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, _ in _supps(datasets):
        bad = supp.rdomain.notna() & supp.rdomain.ne(DM) & supp.idvar.isna()
        out += hits("CV0606", supp.name, supp.frame, bad.to_numpy(dtype=bool), variable="IDVAR",
                    message=lambda i, s=supp: f"IDVAR is null; a {s.rdomain.values[i]} qualifier "
                    "must name its parent record")
    return out


def _label_clash(qnam: str, qlabel: str, label_of: pd.Series, qnam_of: pd.Series) -> str:
    owner = qnam_of.get(qlabel)
    if owner != qnam:
        return (f"QLABEL {show(qlabel)} of QNAM {show(qnam)} is already the label of QNAM "
                f"{show(owner)}: give each QNAM a label of its own")
    return (f"QNAM {show(qnam)} has QLABEL {show(qlabel)} here and {show(label_of.get(qnam))} "
            "elsewhere: one label per QNAM")


@rule("CV0607", Severity.WARNING, "QNAM and QLABEL are not one-to-one in a SUPP-- dataset",
      f"{_CITE}; FB0920 (CORE-000302: QNAM and QLABEL have a one-to-one relationship), so the "
      "pieces of split text (QNAM, QNAM1, ..., SDTMIG 3.4 section 4.5.3) each need a label",
      category="Cross-reference")
def qnam_qlabel_one_to_one(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for supp, _ in _supps(datasets):
        qlabel = text(supp.frame, "QLABEL")
        if "QLABEL" not in supp.frame.columns:
            continue
        pairs = pd.DataFrame({"q": supp.qnam, "l": qlabel}).dropna()
        # The first label of each QNAM, and the first QNAM of each label, are the rule's.
        label_of = pairs.drop_duplicates("q").set_index("q")["l"]
        qnam_of = pairs.drop_duplicates("l").set_index("l")["q"]
        other_label = supp.qnam.map(label_of).ne(qlabel) & qlabel.notna() & supp.qnam.notna()
        other_qnam = qlabel.map(qnam_of).ne(supp.qnam) & qlabel.notna() & supp.qnam.notna()
        bad = (other_label | other_qnam).to_numpy(dtype=bool)
        out += hits("CV0607", supp.name, supp.frame, bad, variable="QLABEL",
                    message=lambda i, s=supp, ql=qlabel, lo=label_of, qo=qnam_of:
                    _label_clash(s.qnam.values[i], ql.values[i], lo, qo))
    return out
