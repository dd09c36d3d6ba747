"""The trial design of a spec: ``trial_summary:`` (TS), ``trial_design:`` (TA TE TV TI SV SE).

Plain immutable objects built from the schema-valid YAML (``$defs/trial_summary``
and ``$defs/trial_design`` in ``schemas/mapping-spec.schema.json``); checked by
:mod:`cdisc.spec.check` and turned into datasets by :mod:`cdisc.sdtm.trial_design`.

``trial_summary:`` maps a TSPARMCD to its value(s). A value is a scalar (TSVAL),
or an object::

    TRT:                                   # one TS record per list item (TSSEQ 1, 2, ...)
      - {value: Sirolimus, code: W36ZG6FT64, dictionary: UNII}   # external code
      - Temsirolimus
    ADDON: {value: "N", codelist: NY}      # a CT term: TSVALCD, TSVCDREF "CDISC CT", TSVCDVER
    TPHASE: {null_flavor: NA}              # TSVAL null, TSVALNF (ISO 21090 NullFlavor)
    SSTDTC: {derive: earliest, of: DM.RFICDTC}   # the earliest date in the SDTM data
    ACTSUB: {derive: count, of: DM, parm: Actual Number of Subjects}

``parm`` gives TSPARM when the TSPARMCD is not in the CT subset the tool ships
(otherwise TSPARM is the CT's name for the code). ``group`` is TSGRPID.

``trial_design:`` declares the planned elements (TE) with the dates that start
and end them in the SDTM data (for SE), the arms as sequences of elements
(TA), the planned visits (TV) and the inclusion/exclusion criteria (TI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import JsonPath

SUMMARY = "trial_summary"
DESIGN = "trial_design"

#: ISO 21090 NullFlavor values TSVALNF may hold (SDTMIG 3.4 TS, TSVALNF)
NULL_FLAVORS = ("NI", "INV", "DER", "OTH", "PINF", "NINF", "UNC", "MSK", "NA", "UNK", "ASKU",
                "NAV", "NASK", "QS", "TRC", "NP")
#: how a value is computed from the SDTM datasets
DERIVATIONS = ("earliest", "latest", "count")


@dataclass(frozen=True)
class TsValue:
    """One TS record's value: exactly one of ``value``, ``null_flavor``, ``derive``."""

    value: str | None = None
    null_flavor: str | None = None
    #: a CT codelist (C-code or short name): TSVALCD is the term's code
    codelist: str | None = None
    #: an external code (UNII, SNOMED, ...) with the name of its dictionary (TSVCDREF)
    code: str | None = None
    dictionary: str | None = None
    version: str | None = None
    #: earliest / latest date of ``of`` (DATASET.VARIABLE), or count of subjects of ``of``
    derive: str | None = None
    of: str | None = None
    group: str | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class TsParameter:
    parmcd: str
    values: tuple[TsValue, ...]
    #: TSPARM as the spec gives it (None: the CT's name for TSPARMCD)
    parm: str | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class DateSelection:
    """The records of one SDTM dataset (``where``) and the date read from them, per subject."""

    dataset: str
    date: str
    where: Mapping[str, Any] | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class Element:
    etcd: str
    element: str
    epoch: str
    start_rule: str
    end_rule: str | None = None
    duration: str | None = None  # TEDUR, ISO 8601 duration
    #: SE: the element starts at the earliest of these dates; it happened when there is one
    start: DateSelection | None = None
    #: SE: the element ends at the latest of these dates (else when the next one starts)
    end: DateSelection | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class Arm:
    armcd: str
    arm: str
    elements: tuple[str, ...]
    #: TABRANCH / TATRANS by element code
    branch: Mapping[str, str] = field(default_factory=dict)
    transition: Mapping[str, str] = field(default_factory=dict)
    json_path: JsonPath = ()


@dataclass(frozen=True)
class PlannedVisit:
    visit: str
    start_rule: str
    end_rule: str | None = None
    visitdy: float | None = None
    armcd: str | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class Criterion:
    ietestcd: str
    text: str
    category: str  # INCLUSION / EXCLUSION
    subcategory: str | None = None
    version: str | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class TrialDesign:
    elements: tuple[Element, ...] = ()
    arms: tuple[Arm, ...] = ()
    visits: tuple[PlannedVisit, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    #: SVUPDES of a visit in the data that is not a planned (TV) visit
    unplanned_visit: str | None = None
    #: SV: the datasets whose visit dates make the subject visits (default: every one with VISITNUM)
    visit_datasets: tuple[str, ...] | None = None
    json_path: JsonPath = (DESIGN,)

    def element(self, etcd: str) -> Element | None:
        return next((e for e in self.elements if e.etcd == etcd), None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _value(item: Any, path: JsonPath) -> TsValue:
    if not isinstance(item, Mapping):
        return TsValue(value=_text(item), json_path=path)
    return TsValue(value=_text(item.get("value")), null_flavor=item.get("null_flavor"),
                   codelist=item.get("codelist"), code=_text(item.get("code")),
                   dictionary=item.get("dictionary"), version=_text(item.get("version")),
                   derive=item.get("derive"), of=item.get("of"), group=_text(item.get("group")),
                   json_path=path)


def build_trial_summary(section: Mapping[str, Any] | None) -> tuple[TsParameter, ...]:
    """The ``trial_summary:`` parameters in spec order."""
    out = []
    for parmcd, given in (section or {}).items():
        path: JsonPath = (SUMMARY, parmcd)
        items = given if isinstance(given, list) else [given]
        values = tuple(_value(item, (*path, i) if isinstance(given, list) else path)
                       for i, item in enumerate(items))
        parm = next((_text(i.get("parm")) for i in items
                     if isinstance(i, Mapping) and i.get("parm")), None)
        out.append(TsParameter(str(parmcd), values, parm, path))
    return tuple(out)


def _selection(given: Mapping[str, Any] | None, path: JsonPath) -> DateSelection | None:
    if not given:
        return None
    return DateSelection(given["dataset"], given["date"], given.get("where"), path)


def build_trial_design(section: Mapping[str, Any] | None) -> TrialDesign | None:
    """The ``trial_design:`` section as objects; None when the spec has none."""
    if section is None:
        return None
    elements = tuple(
        Element(etcd=str(etcd), element=_text(e["element"]) or "", epoch=e["epoch"],
                start_rule=_text(e["start_rule"]) or "", end_rule=_text(e.get("end_rule")),
                duration=e.get("duration"),
                start=_selection(e.get("start"), (DESIGN, "elements", etcd, "start")),
                end=_selection(e.get("end"), (DESIGN, "elements", etcd, "end")),
                json_path=(DESIGN, "elements", etcd))
        for etcd, e in (section.get("elements") or {}).items())
    arms = tuple(
        Arm(armcd=str(a["armcd"]), arm=_text(a["arm"]) or "", elements=tuple(a["elements"]),
            branch={str(k): _text(v) or "" for k, v in (a.get("branch") or {}).items()},
            transition={str(k): _text(v) or "" for k, v in (a.get("transition") or {}).items()},
            json_path=(DESIGN, "arms", i))
        for i, a in enumerate(section.get("arms") or ()))
    visits = tuple(
        PlannedVisit(visit=str(v["visit"]), start_rule=_text(v["start_rule"]) or "",
                     end_rule=_text(v.get("end_rule")), visitdy=v.get("visitdy"),
                     armcd=v.get("armcd"), json_path=(DESIGN, "visits", i))
        for i, v in enumerate(section.get("visits") or ()))
    criteria = tuple(
        Criterion(ietestcd=str(c["ietestcd"]), text=_text(c["text"]) or "",
                  category=c["category"], subcategory=_text(c.get("subcategory")),
                  version=_text(c.get("version")), json_path=(DESIGN, "criteria", i))
        for i, c in enumerate(section.get("criteria") or ()))
    datasets = section.get("visit_datasets")
    return TrialDesign(elements=elements, arms=arms, visits=visits, criteria=criteria,
                       unplanned_visit=_text(section.get("unplanned_visit")),
                       visit_datasets=tuple(datasets) if datasets is not None else None)


__all__ = ["DERIVATIONS", "DESIGN", "NULL_FLAVORS", "SUMMARY", "Arm", "Criterion",
           "DateSelection", "Element", "PlannedVisit", "TrialDesign", "TsParameter", "TsValue",
           "build_trial_design", "build_trial_summary"]
