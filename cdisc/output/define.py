"""define.xml 2.1 from the dataset model: what each dataset and variable is and how it was made.

Everything comes from the :class:`cdisc.model.Dataset` objects a run writes
(labels, types, lengths, order, keys, Core, codelists, the values themselves)
and from their per-block :class:`~cdisc.model.Provenance` (which spec mapping
or derivation made each variable in each record block); the spec adds what
provenance only names (study CT maps, the visit table, aggregate blocks).

* **Origins** per variable and block: ``assign``/``assign_ct``/``assign_datetime``
  /``lookup`` of a source column are *Collected* (Investigator), ``hardcode``
  and ``hardcode_ct`` *Assigned*, everything computed (``usubjid``,
  ``condition``, ``seq``, ``study_day``, ``epoch``, ``subject_date``, sums of
  an ``aggregate`` block, ADaM derivations) *Derived* with a MethodDef, ADaM
  copies (``copy`` from ``ADSL.X``) *Predecessor*. A variable made differently
  in different blocks lists each origin once.
* **Methods** are sentences built from the algorithm and its arguments, per
  record block when the blocks differ.
* **Value-level metadata**: Findings result variables per --TESTCD (each
  record block that hardcodes a test code, directly or through ``condition``
  cases, is one where clause), SUPP-- QVAL per QNAM, ADaM BDS AVAL/AVALC (and
  anything provenance ties to a parameter) per PARAMCD.
* **Codelists** hold the terms used in the data plus the terms the spec
  declares (study CT maps, hardcoded values), with NCI codes; a term outside
  CDISC CT is marked ``def:ExtendedValue``. Codes paired with a name in the
  data (--TESTCD/--TEST, ARMCD/ARM, PARAMCD/PARAM) and one- or two-letter
  codes (F, M, Y, N, mm) are decoded; other codelists are enumerated.

The document is deterministic: ``CreationDateTime`` is the study's
``created`` timestamp and every list has a fixed order. OIDs come from
:mod:`cdisc.model.oids`, so Dataset-JSON's itemOIDs match.

    >>> xml = build_define(result.tables.values(), standard="SDTM",
    ...                    study=spec.study, spec=spec)              # doctest: +SKIP
    >>> write_define(Path("out/sdtm"), result.tables.values(), standard="SDTM",
    ...              study=spec.study, spec=spec)                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from lxml import etree

from .. import __version__, standards
from ..errors import OutputError, StandardsError
from ..formats.atomic import write_atomic
from ..formats.define_xml import DEF_NS, ODM_NS, STYLESHEET_NAME, XLINK_NS, stylesheet_path
from ..model import Dataset, Provenance, is_missing, resolve_metadata
from ..model.oids import (
    codelist_oid,
    comment_oid,
    item_group_oid,
    item_oid,
    leaf_id,
    method_oid,
    token,
    value_item_oid,
    value_list_oid,
    where_clause_oid,
)
from ..model.text import all_text, byte_lengths, factorize, known_codes, text_codes
from ..spec.schema import spec_algorithms
from ..text import decimals, number_text

SDTM, ADAM = "SDTM", "ADaM"
DEFINE_VERSION = "2.1.0"
DEFINE_FILE = "define.xml"
HTML_FILE = "define.html"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

#: dataset order in define.xml: the SDTMIG classes in the order the IG presents them
_CLASS_ORDER = ("TRIAL DESIGN", "STUDY REFERENCE", "SPECIAL PURPOSE", "INTERVENTIONS",
                "EVENTS", "FINDINGS", "FINDINGS ABOUT", "RELATIONSHIP",
                "SUBJECT LEVEL ANALYSIS DATASET", "BASIC DATA STRUCTURE",
                "OCCURRENCE DATA STRUCTURE", "ADAM OTHER")
#: origin types in the order a variable lists them
_ORIGIN_ORDER = ("Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Other",
                 "Not Available")
#: def:Origin Type for the ``origin:`` a spec gives a SUPPQUAL qualifier (QORIG values)
_SUPP_ORIGINS = {"CRF": ("Collected", "Investigator"), "COLLECTED": ("Collected", "Investigator"),
                 "EDT": ("Collected", "Vendor"), "ASSIGNED": ("Assigned", "Sponsor"),
                 "DERIVED": ("Derived", "Sponsor"), "PROTOCOL": ("Protocol", "Sponsor"),
                 "PREDECESSOR": ("Predecessor", "Sponsor")}
#: record-phase algorithms that copy a collected source column
_COLLECTED = {"assign", "assign_ct", "assign_datetime", "lookup"}
_ASSIGNED = {"hardcode", "hardcode_ct"}
#: ADaM provenance that copies a variable from another dataset
_COPIES = {"copy", "predecessor"}
#: SDTM Findings result variables described per test code (suffixes after the domain prefix)
_RESULTS = ("ORRES", "ORRESU", "STRESC", "STRESN", "STRESU")
#: code variable -> the variable whose value decodes it
_PAIRS = {"ARMCD": "ARM", "ACTARMCD": "ACTARM", "PARAMCD": "PARAM"}
_DATE_FORMATS = re.compile(r"^(E8601DA|E8601DT|E8601TM|DATE|DATETIME|TIME|YYMMDD|MMDDYY|DDMMYY)",
                           re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_ISO_PARTIAL = re.compile(r"^\d{4}(-(\d{2}|-))?(-(\d{2}|-))?$")
_ISO_PARTIAL_DT = re.compile(r"^\d{4}(-(\d{2}|-))?(-(\d{2}|-))?T[\d:.-]*$")
_ISO_DURATION = re.compile(r"^-?P[\dYMWDTHS.]+$")


class StudyLike(Protocol):
    """What define.xml takes of the study (``cdisc.spec.StudyInfo`` has all of it)."""

    studyid: str
    title: str
    sponsor: str
    sdtmig_version: str
    adamig_version: str
    ct_version: str
    created: datetime


# --- small helpers ------------------------------------------------------------------


def _q(value: Any) -> str:
    """A value of the spec or the data quoted for a sentence."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(pd.Series([value])).iloc[0] or str(value)
    return f"'{value}'"


def _names(values: Iterable[Any]) -> str:
    items = [str(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def describe_condition(cond: Mapping[str, Any], source: str | None = None) -> str:
    """A spec condition as words: ``location = 'LYMPH NODE'``, ``death_date is present``.

    With ``source`` the columns are named with it (``patients.treatment``).
    """
    if "all" in cond or "any" in cond:
        word = " and " if "all" in cond else " or "
        parts = [describe_condition(c, source) for c in cond.get("all", cond.get("any", []))]
        return word.join(f"({p})" if (" and " in p or " or " in p) else p for p in parts)
    if "not" in cond:
        return f"not ({describe_condition(cond['not'], source)})"
    column = _column(source, str(cond.get("column", "?")))
    if "equals" in cond:
        return f"{column} = {_q(cond['equals'])}"
    if "not_equals" in cond:
        return f"{column} is not {_q(cond['not_equals'])}"
    if "in" in cond:
        return f"{column} is one of {', '.join(_q(v) for v in cond['in'])}"
    if "not_in" in cond:
        return f"{column} is none of {', '.join(_q(v) for v in cond['not_in'])}"
    if "is_missing" in cond:
        return f"{column} is {'missing' if cond['is_missing'] else 'present'}"
    return ", ".join(f"{k} {v}" for k, v in cond.items())


def _param_values(where: Mapping[str, Any] | None, key: str = "PARAMCD") -> list[str]:
    """The values of ``key`` a provenance ``where`` selects.

    Both forms are read: ``{"PARAMCD": "OVR"}`` and the spec's condition
    language (``{"column": "PARAMCD", "equals": "OS"}``, ``in``, inside ``all``).
    """
    if not where:
        return []
    if key in where:
        values = where[key]
        return [str(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    if where.get("column") == key:
        if "equals" in where:
            return [str(where["equals"])]
        return [str(v) for v in where.get("in", []) or []]
    for sub in where.get("all", []) or []:
        found = _param_values(sub, key)
        if found:
            return found
    return []


def _column(source: str | None, column: str) -> str:
    """``patients.sex``; a joined column keeps its own source (``disposition.death_date``)."""
    if "." in column or not source:
        return column
    return f"{source}.{column}"


def _present(series: pd.Series) -> pd.Series:
    return series[~is_missing(series)]


#: the frame whose columns' distinct values :func:`_unique` keeps while one dataset is
#: described (None outside :meth:`_DatasetWriter.build`), and those distinct values
_COLUMNS: ContextVar[tuple[pd.DataFrame, dict[str, pd.Series]] | None] = ContextVar(
    "define columns", default=None)


def _unique(series: pd.Series) -> pd.Series:
    """The distinct values of a column (types, lengths and terms depend on nothing else).

    Text is told apart as Python compares it (:func:`cdisc.model.text.factorize`: "M"
    and "M\\x00" are two values); a column of the dataset being described is made
    distinct once, however many of its properties are asked for."""
    known = _COLUMNS.get()
    name = series.name
    own = (known is not None and isinstance(name, str) and name in known[0].columns
           and known[0][name] is series)  # the frame's own column (pandas caches it)
    if own and name in known[1]:
        return known[1][name]
    try:
        if series.dtype == object:
            coded = known_codes(series.to_numpy(dtype=object))  # coded earlier in the run
            distinct = pd.Series(coded.distinct if coded is not None and coded.holds
                                 else factorize(series)[1], dtype=object, name=name)
        else:
            distinct = series.drop_duplicates()
    except TypeError:  # unhashable cells: keep them all
        return series
    if own:
        known[1][name] = distinct
    return distinct


def _has_values(series: pd.Series) -> bool:
    if series.dtype == object:  # the first records usually settle it
        head = series.to_numpy(dtype=object)[:_HEAD]
        there = head[~pd.isna(head)]
        if len(there) and (not isinstance(there[0], str) or there[0].rstrip(" ")):
            return True
    return bool(len(_present(_unique(series))))


#: records :func:`_has_values` looks at before it makes the column distinct
_HEAD = 1024


def _text_values(series: pd.Series) -> pd.Series:
    values = _present(series)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return number_text(values)
    return values.astype(str).str.rstrip(" ")


@dataclass(frozen=True)
class _Type:
    datatype: str
    length: int | None = None
    digits: int | None = None  # SignificantDigits


def _numeric_type(values: pd.Series) -> _Type:
    present = pd.to_numeric(_present(_unique(values)), errors="coerce").dropna()
    if present.empty:
        return _Type("integer", 1)
    text = number_text(present)
    length = int(text.str.len().max())
    places = decimals(present)
    if places == 0:
        return _Type("integer", length)
    return _Type("float", length, places)


def _iso_kind(value: str) -> str | None:
    if _ISO_DATE.match(value):
        return "date"
    if _ISO_DATETIME.match(value):
        return "datetime"
    if _ISO_PARTIAL.match(value):
        return "partialDate"
    if _ISO_PARTIAL_DT.match(value):
        return "partialDatetime"
    if _ISO_DURATION.match(value):
        return "durationDatetime"
    if "/" in value:
        return "intervalDatetime"
    return None


def _iso_type(values: pd.Series) -> str | None:
    """The Define-XML ISO 8601 data type of a column's values, None if one is not ISO 8601."""
    kinds = set()
    for value in _text_values(_unique(values)).unique():
        kind = _iso_kind(value)
        if kind is None:
            return None
        kinds.add(kind)
    if not kinds or kinds == {"date"}:
        return "date" if kinds else "datetime"
    if kinds == {"datetime"}:
        return "datetime"
    if kinds <= {"date", "partialDate"}:
        return "partialDate"
    if kinds <= {"date", "datetime", "partialDate", "partialDatetime"}:
        return "partialDatetime"
    if len(kinds) == 1:
        return next(iter(kinds))
    return None


def _char_type(values: pd.Series, iso: bool, numeric_text: bool = False,
               length: int | None = None) -> _Type:
    """text with its length (``length`` when given: the values are then not measured),
    an ISO 8601 type (no length), or a number held as text."""
    if iso:
        kind = _iso_type(values)
        if kind is not None:
            return _Type(kind)
    if length is not None and not numeric_text:
        return _Type("text", length)
    text = _text_values(_unique(values)).drop_duplicates()
    if numeric_text and len(text):
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all() and np.isfinite(numbers.to_numpy(dtype=float)).all():
            numeric = _numeric_type(numbers)
            return replace(numeric, length=max(numeric.length or 1, int(text.str.len().max())))
    length = int(byte_lengths(text).max()) if len(text) else 1
    return _Type("text", max(1, length))


# --- what each provenance entry means ------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    type: str
    source: str | None = None
    description: str | None = None

    def key(self) -> tuple[int, str, str]:
        rank = _ORIGIN_ORDER.index(self.type) if self.type in _ORIGIN_ORDER else 99
        return (rank, self.source or "", self.description or "")


@dataclass
class _Codelist:
    oid: str
    name: str
    ct: standards.Codelist | None = None
    values: dict[str, None] = field(default_factory=dict)  # ordered set: used + declared
    decodes: dict[str, set[str]] = field(default_factory=dict)
    numeric: bool | None = None
    #: (dataset, terms, CodeListRef) of every variable or value-level item that uses it
    uses: list[tuple[str, tuple[str, ...], etree._Element | None]] = field(default_factory=list)
    #: (dictionary, version) of an ExternalCodeList (CTCAE, MedDRA ...): no terms are listed
    external: tuple[str, str] | None = None

    def add(self, values: Iterable[str]) -> None:
        for value in values:
            self.values.setdefault(value, None)


@dataclass(frozen=True)
class _Block:
    """How the spec describes one record block (for methods and collected origins)."""

    source: str | None
    where: Mapping[str, Any] | None
    aggregate: Mapping[str, Any] | None = None
    first_per: Mapping[str, Any] | None = None

    def context(self) -> str:
        text = f"records of {self.source}" if self.source else "records"
        if self.where:
            text += f" where {describe_condition(self.where)}"
        if self.first_per:
            text += (f" (the first per {_names(self.first_per.get('by', []))} by "
                     f"{self.first_per.get('order_by', '?')})")
        if self.aggregate:
            text += f" (one record per {_names(self.aggregate.get('by', []))})"
        return text


class _Builder:
    def __init__(self, standard: str, study: StudyLike, spec: Any | None,
                 comments: Mapping[str, str] | None, leaf_suffix: str) -> None:
        if standard not in (SDTM, ADAM):
            raise ValueError(f"standard must be {SDTM!r} or {ADAM!r}, not {standard!r}")
        self.standard = standard
        self.study = study
        self.spec = spec
        self.user_comments = dict(comments or {})
        self.leaf_suffix = leaf_suffix
        self.codelists: dict[str, _Codelist] = {}
        self.methods: dict[str, tuple[str, str, str]] = {}  # OID -> (name, type, text)
        self.comments: dict[str, str] = {}
        self.where: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
        self.value_lists: list[etree._Element] = []
        self.item_defs: list[etree._Element] = []
        self.ct_sets: dict[str, str] = {}  # publishing set -> version
        ig = ("SDTMIG", study.sdtmig_version) if standard == SDTM else ("ADaMIG",
                                                                      study.adamig_version)
        self.ig_oid = _std_oid("IG", *ig)

    # --- codelists ---------------------------------------------------------------

    def _resolve(self, name: str) -> tuple[standards.Codelist | None, list[str]]:
        """A codelist a spec names (study_ct entry, short name or C-code) and its declared terms."""
        study_ct = getattr(self.spec, "study_ct", None) or {}
        entry = study_ct.get(name)
        try:
            if entry is not None:
                return standards.codelist(entry.codelist), list(dict(entry.map).values())
            return standards.codelist(name), []
        except StandardsError:
            return None, []

    def _ct_codelist(self, ct: standards.Codelist) -> _Codelist:
        oid = codelist_oid(ct.short_name)
        if oid not in self.codelists:
            self.codelists[oid] = _Codelist(oid, ct.name, ct)
        return self.codelists[oid]

    def _sponsor_codelist(self, name: str, title: str, dataset: str | None = None) -> _Codelist:
        oid = codelist_oid(name, dataset=dataset)
        if oid not in self.codelists:
            self.codelists[oid] = _Codelist(oid, title)
        return self.codelists[oid]

    def _mapping_codelists(self, mapping: Mapping[str, Any]) -> list[tuple[standards.Codelist,
                                                                            list[str]]]:
        """Codelists a mapping names (its own, and those of condition/coalesce branches)."""
        found = []
        algorithm = mapping.get("algorithm")
        if algorithm in ("assign_ct", "hardcode_ct") and mapping.get("codelist"):
            ct, declared = self._resolve(str(mapping["codelist"]))
            if ct is not None:
                if algorithm == "hardcode_ct":
                    declared = [str(mapping.get("value"))]
                found.append((ct, declared))
        branches = [c.get("then") for c in mapping.get("cases", []) or []]
        branches += [mapping.get("else")] + list(mapping.get("of", []) or [])
        for branch in branches:
            if isinstance(branch, Mapping):
                found += self._mapping_codelists(branch)
        return found

    def _codelist_for(self, dataset: Dataset, name: str, provs: Sequence[Provenance],
                      values: pd.Series, numeric: bool,
                      value_level: bool = False) -> _Codelist | None:
        """The codelist of a variable (or of one value-level item), with its terms added.

        A value-level item takes only the codelist its own mappings name: the
        variable's codelist in the standard (TRSTRESC: tumour states) does not
        hold for every test (TRSTRESC of LDIAM is a number).
        """
        external = self._external_codelist(dataset, provs)
        if external is not None:
            return external
        meta_code = None
        if not value_level:
            with contextlib.suppress(KeyError):
                meta_code = dataset.meta.variable(name).codelist
        named: list[tuple[standards.Codelist, list[str]]] = []
        for p in provs:
            named += self._mapping_codelists({"algorithm": p.algorithm, **p.arguments})
        codes = {ct.code for ct, _ in named}
        cl: _Codelist | None = None
        declared: list[str] = []
        if len(codes) == 1:
            cl = self._ct_codelist(named[0][0])
            declared = [v for _, d in named for v in d]
        elif not codes and meta_code:
            try:
                cl = self._ct_codelist(standards.codelist(meta_code))
            except StandardsError:
                cl = None
        elif codes and meta_code in codes:
            cl = self._ct_codelist(standards.codelist(meta_code))
            declared = [v for ct, d in named if ct.code == meta_code for v in d]
        if cl is None and name in _PAIRS and name in dataset.frame:
            title = {"PARAMCD": "Parameter Code"}.get(name, "Arm Code")
            cl = (self._sponsor_codelist("PARAMCD", title, dataset.name) if name == "PARAMCD"
                  else self._sponsor_codelist("ARMCD", "Planned Arm Code"))
        if cl is None:
            return None
        terms = tuple(dict.fromkeys([*sorted(set(_text_values(_unique(values)))), *declared]))
        cl.add(terms)
        cl.uses.append((dataset.name, terms, None))
        cl.numeric = numeric if cl.numeric is None else (cl.numeric and numeric)
        self._pair_decodes(cl, dataset, name, values.index)
        return cl

    def _external_codelist(self, dataset: Dataset,
                           provs: Sequence[Provenance]) -> _Codelist | None:
        """The dictionary a spec mapping names with ``dictionary: {name, version}``.

        ``AEDECOD: {..., dictionary: {name: CTCAE, version: "4.0"}}`` gives
        ``CL.CTCAE`` with ``<ExternalCodeList Dictionary="CTCAE" Version="4.0"/>``:
        the values belong to the dictionary, which define.xml names instead of listing them.
        """
        named = {(str(d["name"]), str(d["version"])) for p in provs
                 if isinstance(d := p.arguments.get("dictionary"), Mapping)}
        if len(named) != 1:
            return None  # none, or blocks naming different ones: no single dictionary to name
        ((dictionary, version),) = named
        oid = codelist_oid(dictionary)  # CL.CTCAE; CL.CTCAE.4%2E0 when two versions are used
        if oid in self.codelists and self.codelists[oid].external != (dictionary, version):
            oid = codelist_oid(version, dataset=dictionary)
        if oid not in self.codelists:
            self.codelists[oid] = _Codelist(oid, f"{dictionary} {version}",
                                            external=(dictionary, version))
        cl = self.codelists[oid]
        cl.uses.append((dataset.name, (), None))
        return cl

    def split_codelists(self) -> None:
        """A CDISC codelist whose uses share no term becomes one subset per dataset.

        CL.UNIT for EXDOSU (mg) and TRORRESU (mm) would offer mg for a tumour
        diameter; ``CL.EX.UNIT`` and ``CL.TR.UNIT`` do not. Uses that overlap
        (Y for one flag, Y/N for another) keep the one codelist.
        """
        for oid in sorted(self.codelists):
            cl = self.codelists[oid]
            sets = [set(terms) for _, terms, _ in cl.uses if terms]
            disjoint = any(a.isdisjoint(b) for i, a in enumerate(sets) for b in sets[i + 1:])
            if cl.ct is None or not disjoint:
                continue
            del self.codelists[oid]
            for dataset, terms, ref in cl.uses:
                sub_oid = codelist_oid(cl.ct.short_name, dataset=dataset)
                sub = self.codelists.setdefault(sub_oid, _Codelist(
                    sub_oid, f"{cl.name} ({dataset})", cl.ct, numeric=cl.numeric))
                sub.add(terms)
                sub.decodes.update({t: cl.decodes[t] for t in terms if t in cl.decodes})
                sub.uses.append((dataset, terms, ref))
                if ref is not None:
                    ref.set("CodeListOID", sub_oid)

    def _pair_decodes(self, cl: _Codelist, dataset: Dataset, name: str, index: pd.Index) -> None:
        partner = _PAIRS.get(name)
        if partner is None and name.endswith("TESTCD"):
            partner = name[:-2]
        if partner is None or partner not in dataset.frame or name not in dataset.frame:
            return
        rows = dataset.frame.loc[index, [name, partner]].drop_duplicates()
        rows = rows[~is_missing(rows[name]) & ~is_missing(rows[partner])]
        for code, decode in zip(_text_values(rows[name]), _text_values(rows[partner]),
                                strict=True):
            cl.decodes.setdefault(code, set()).add(decode)

    # --- origins and methods -----------------------------------------------------

    def _block(self, p: Provenance) -> _Block:
        spec_block = None
        domains = getattr(self.spec, "domains", None) or {}
        parent = p.dataset[4:] if p.phase == "supp" and p.dataset.startswith("SUPP") else p.dataset
        domain = domains.get(parent)
        if domain is not None and p.block is not None and p.block < len(domain.records):
            spec_block = domain.records[p.block]
        if spec_block is not None:
            return _Block(spec_block.source, spec_block.where, spec_block.aggregate,
                          spec_block.first_per)
        return _Block(p.source, p.where)

    def _aggregate_of(self, p: Provenance, column: str) -> tuple[str, str] | None:
        """(operation, source column) when ``column`` is a sum or count of an aggregate block."""
        aggregate = self._block(p).aggregate or {}
        for op in ("sum", "count"):
            if column in (aggregate.get(op) or {}):
                return op, aggregate[op][column]
        return None

    def origins(self, p: Provenance) -> list[_Origin]:
        """The origin(s) of one provenance entry."""
        args = p.arguments
        if p.phase == "standard":
            return [_Origin("Protocol" if p.variable == "STUDYID" else "Assigned", "Sponsor")]
        if p.phase == "supp" and args.get("origin"):
            kind, source = _SUPP_ORIGINS.get(str(args["origin"]).upper(), ("Other", None))
            if kind == "Collected":
                return [_Origin(kind, source, self._collected_description(p))]
            if kind != "Other":
                return [_Origin(kind, source)]
        algorithm = p.algorithm
        if algorithm in _COPIES or (algorithm not in _COLLECTED | _ASSIGNED
                                    and str(args.get("from", "")).count(".") == 1
                                    and len(args) == 1):
            return [_Origin("Predecessor", None, str(args.get("from", p.source or "")))]
        if algorithm in _COLLECTED:
            column = args.get("column")
            if isinstance(column, str) and self._aggregate_of(p, column):
                return [_Origin("Derived", "Sponsor")]
            return [_Origin("Collected", "Investigator", self._collected_description(p))]
        if algorithm in _ASSIGNED or algorithm == "tte_parameter":
            return [_Origin("Assigned", "Sponsor")]
        if algorithm == "visitnum":
            return [_Origin("Assigned", "Sponsor")]
        return [_Origin("Derived", "Sponsor")]

    def _collected_description(self, p: Provenance) -> str | None:
        columns = list(p.source_columns) or ([p.arguments["column"]]
                                             if isinstance(p.arguments.get("column"), str)
                                             else [])
        source = p.arguments.get("source") if p.algorithm == "lookup" else p.source
        if not columns:
            return None
        return "Source: " + ", ".join(_column(source, c) for c in columns)

    def _mapping_text(self, mapping: Mapping[str, Any], source: str | None, p: Provenance) -> str:
        """One spec mapping (as used inside conditions, coalesce ...) in words."""
        algorithm = mapping.get("algorithm")
        if algorithm in _ASSIGNED:
            return _q(mapping.get("value"))
        column = mapping.get("column")
        if algorithm == "assign":
            agg = self._aggregate_of(p, column) if isinstance(column, str) else None
            if agg is not None:
                op, of = agg
                return (f"the {op} of {_column(source, of)} over the group"
                        + (" (null when any of them is missing)" if op == "sum" else ""))
            text = _column(source, str(column))
            if mapping.get("zfill"):
                text += f" padded with leading zeros to {mapping['zfill']} digits"
            return text
        if algorithm == "assign_ct":
            return (f"{_column(source, str(column))} as the CDISC submission value "
                    f"(codelist {mapping.get('codelist')})")
        if algorithm == "assign_datetime":
            text = f"{_column(source, str(column))} in ISO 8601"
            if mapping.get("time_column"):
                text += f" with the time from {_column(source, mapping['time_column'])}"
            return text
        if algorithm == "condition":
            parts = [f"{self._mapping_text(c.get('then', {}), source, p)} when "
                     f"{describe_condition(c.get('when', {}), source)}"
                     for c in mapping.get("cases", []) or []]
            otherwise = mapping.get("else")
            parts.append(f"otherwise {self._mapping_text(otherwise, source, p)}"
                         if isinstance(otherwise, Mapping) else "otherwise null")
            return "; ".join(parts)
        if algorithm == "coalesce":
            return "the first non-missing of " + "; ".join(
                self._mapping_text(m, source, p) for m in mapping.get("of", []))
        if algorithm == "lookup":
            other = mapping.get("source", "?")
            text = f"{other}.{column} of the {other} record"
            if mapping.get("on") or mapping.get("right_on"):
                text += (f" whose {mapping.get('right_on', 'subject')} equals "
                         f"{_column(source, mapping.get('on', 'the subject'))}")
            else:
                text += " of the same subject"
            return text
        if algorithm == "usubjid":
            return self._usubjid_text(mapping, source)
        if algorithm == "visitnum":
            return f"the visit number of {_column(source, str(column))} in the visit table"
        return self._generic_text(str(algorithm), {k: v for k, v in mapping.items()
                                                   if k != "algorithm"})

    def _usubjid_text(self, mapping: Mapping[str, Any], source: str | None) -> str:
        sep = getattr(getattr(self.spec, "study", None), "usubjid_separator", "-")
        column = _column(source, str(mapping.get("column")))
        zfill = mapping.get("zfill")
        subject = (f"{column} padded with leading zeros to {zfill} characters" if zfill
                   else column)
        example = f"{self.study.studyid}{sep}{'7'.zfill(int(zfill or 1))}"
        return (f"the concatenation of STUDYID, {_q(sep)} and {subject} "
                f"(e.g. {example})")

    @staticmethod
    def _generic_text(algorithm: str, args: Mapping[str, Any]) -> str:
        if args.get("description"):
            return str(args["description"]).strip()
        words = algorithm.replace("_", " ")
        shown = {k: v for k, v in args.items() if k not in ("label", "origin", "comment")
                 and v is not None and v != [] and v != {}}
        # The declared argument order, not the spec's key order: the same mapping
        # written with its keys in another order (e.g. imported from a workbook) must
        # describe itself in the same words.
        declared = spec_algorithms().get(algorithm)
        if declared is not None:
            order = list(declared.schema.get("properties", {}))
            shown = dict(sorted(shown.items(), key=lambda kv: (
                order.index(kv[0]) if kv[0] in order else len(order))))
        if not shown:
            return words[:1].upper() + words[1:] + "."
        parts = []
        for key, value in shown.items():
            if isinstance(value, Mapping):
                value = describe_condition(value) if "column" in value or "all" in value \
                    or "any" in value or "not" in value else json.dumps(dict(value),
                                                                         default=str)
            elif isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            parts.append(f"{key.replace('_', ' ')}: {value}")
        return f"{words[:1].upper() + words[1:]} ({'; '.join(parts)})."

    def method_text(self, p: Provenance, dataset: Dataset) -> str:
        """How one provenance entry computes its variable, as a sentence."""
        var, args, algorithm = p.variable, p.arguments, p.algorithm
        if algorithm == "seq":
            keys = [k for k in dataset.meta.keys if k not in ("STUDYID", "USUBJID", var)]
            order = f"by {_names(keys)}, then by every other variable" if keys else \
                "by every variable"
            return (f"{var} numbers the records of each subject (USUBJID) 1, 2, 3, ... in the "
                    f"dataset's sort order: {order}.")
        if algorithm == "study_day":
            dtc = args.get("dtc", "--DTC")
            return (f"{var} = {dtc} - DM.RFSTDTC + 1 when {dtc} is on or after DM.RFSTDTC, and "
                    f"{dtc} - DM.RFSTDTC when it is before (there is no study day 0). Null "
                    f"when {dtc} or DM.RFSTDTC is missing or is a partial date.")
        if algorithm == "epoch":
            dtc = args.get("dtc", "--DTC")
            return (f"EPOCH from {dtc} against the subject's first and last dose (DM.RFXSTDTC, "
                    f"DM.RFXENDTC): SCREENING before the first dose, TREATMENT from the first "
                    f"to the last dose (both dates included), FOLLOW-UP after the last dose. "
                    f"A partial {dtc} gets an epoch only when its whole period lies in one "
                    f"epoch.")
        if algorithm == "subject_date":
            which = "earliest" if args.get("agg") == "min" else "latest"
            items = []
            for item in args.get("from", []) or []:
                text = f"{item.get('domain')}.{item.get('variable')}"
                if item.get("where"):
                    text += f" (records where {describe_condition(item['where'])})"
                items.append(text)
            return (f"{var} is the {which} of {_names(items)} per subject (USUBJID). A partial "
                    f"date counts only when it is certainly the {which}; when a complete date "
                    f"lies within its period, the complete date is taken.")
        if algorithm == "usubjid":
            return f"{var} is {self._usubjid_text(args, self._block(p).source)}."
        if algorithm == "visitnum":
            visits = getattr(self.spec, "visits", None) or {}
            table = "; ".join(f"{k} = {_q(v)}" for k, v in visits.items())
            column = _column(self._block(p).source, str(args.get("column")))
            return (f"{var} is the number of the visit named in {column} in the study's visit "
                    f"table" + (f": {table}." if table else "."))
        if algorithm in _COLLECTED | _ASSIGNED | {"condition", "coalesce"}:
            text = self._mapping_text({"algorithm": algorithm, **args}, self._block(p).source, p)
            return f"{var} = {text}."
        if algorithm in ("duration", "tte_duration") and args.get("formula"):
            unit = f" ({str(args['unit']).lower()})" if args.get("unit") else ""
            return f"{var} = {args['formula']}{unit}."
        if algorithm == "tte_start":
            text = f"{var} is {args.get('dataset')}.{args.get('date')}"
            if args.get("where"):
                text += f" of the record where {describe_condition(args['where'])}"
            if args.get("population"):
                text += (f"; the parameter is derived for the subjects where "
                         f"{describe_condition(args['population'])}")
            return text + "."
        if algorithm == "sequence":
            by = args.get("by") or ["USUBJID"]
            order = args.get("order")
            by = list(by) if isinstance(by, (list, tuple)) else [by]
            by_text = "subject (USUBJID)" if by and by[-1] == "USUBJID" else _names(by)
            order_text = _names(order if isinstance(order, (list, tuple)) else [order]) \
                if order else None
            return (f"{var} numbers the records of each {by_text} 1, 2, 3, ..."
                    + (f" ordered by {order_text}." if order_text else "."))
        if algorithm == "has_record":
            text = f"{var} = 'Y' when the subject has a record in {args.get('dataset')}"
            if args.get("where"):
                text += f" where {describe_condition(args['where'])}"
            if args.get("date") and args.get("on_or_after"):
                text += f" with {args['date']} on or after {args['on_or_after']}"
            return text + "; otherwise 'N'." if var.endswith("FL") else text + "."
        if algorithm in ("first_exposure", "last_exposure"):
            first = algorithm == "first_exposure"
            column = args.get("start") if first else args.get("end") or args.get("start")
            text = (f"{var} is the {'earliest' if first else 'latest'} "
                    f"{args.get('dataset')}.{column} of the subject (as a SAS date)")
            if args.get("where"):
                text += f", among the records where {describe_condition(args['where'])}"
            if not first and args.get("ongoing"):
                text += (f"; for exposure still ongoing at the data cut-off "
                         f"({describe_condition(args['ongoing'])}) it is "
                         f"{str(args.get('ongoing_end', 'the last dose')).replace('_', ' ')}")
            return text + "."
        if algorithm in ("tte_event_source", "tte_censor_source"):
            return self._tte_sources([p]) + "."
        if algorithm == "tte_censor":
            params = _param_values(p.where)
            sources = [q for q in dataset.provenance if q.variable == "ADT"
                       and q.algorithm in ("tte_event_source", "tte_censor_source")
                       and _param_values(q.where) == params]
            text = (f"{var} = 0 when ADT is an event date, else the CNSR of the censoring that "
                    f"gives ADT")
            if sources:
                text += f" ({self._tte_sources(sources)})"
            if args.get("rule"):
                text += f". Rule: {args['rule']}"
            return text + "."
        return self._generic_text(algorithm, args)

    @staticmethod
    def _tte_sources(provs: Sequence[Provenance]) -> str:
        """Event and censoring sources of a time-to-event parameter, in words."""
        parts = []
        for q in provs:
            a = q.arguments
            text = f"{a.get('kind', 'source')}: {a.get('dataset')}.{a.get('date')}"
            if a.get("where"):
                text += f" where {describe_condition(a['where'])}"
            if a.get("kind") == "censor" and a.get("cnsr") is not None:
                text += f" (CNSR = {a['cnsr']})"
            description = a.get("evntdesc")
            if description:
                text += f" \"{description}\""
            parts.append(text)
        return "; ".join(parts)

    def variable_method(self, dataset: Dataset, name: str,
                        provs: Sequence[Provenance]) -> str | None:
        """The method of a derived variable: one sentence, or one per record block."""
        derived = [p for p in provs if any(o.type == "Derived" for o in self.origins(p))]
        if not derived:
            return None
        if provs and all(p.algorithm in ("tte_event_source", "tte_censor_source")
                         for p in provs):
            return (f"{name} is the date of the earliest event, else of the latest censoring, "
                    f"among: {self._tte_sources(provs)}.")
        # every block in its own words, the collected and assigned ones too, so a reader
        # sees the whole variable (TRTESTCD: 'LPERP'/'LDIAM' by location here, 'SUMDIAM' there)
        texts: dict[str, list[str]] = {}
        for p in provs:
            texts.setdefault(self.method_text(p, dataset), []).append(
                self._block(p).context() if p.block is not None else "")
        if len(texts) == 1:
            return next(iter(texts))
        lines = []
        for text, contexts in texts.items():
            where = " and for ".join(c for c in dict.fromkeys(contexts) if c)
            lines.append(f"For {where}: {text}" if where else text)
        return "\n".join(lines)

    def add_method(self, oid: str, name: str, text: str, provs: Sequence[Provenance]) -> str:
        kind = "Imputation" if any("imput" in p.algorithm for p in provs) else "Computation"
        self.methods[oid] = (name, kind, text)
        return oid

    # --- comments ----------------------------------------------------------------

    def comment(self, dataset: str, variable: str | None, *texts: str | None,
                shared: str | None = None) -> str | None:
        """The CommentDef of a dataset or variable: the caller's comment, then ``texts``.

        A standard remark the generator makes for many variables (``shared``,
        e.g. "always null") is one CommentDef ``COM.<shared>`` unless the
        variable has a comment of its own.
        """
        key = dataset if variable is None else f"{dataset}.{variable}"
        own = self.user_comments.get(key)
        parts = [p.strip() for p in (own, *texts) if p and p.strip()]
        if not parts:
            return None
        oid = comment_oid(dataset, variable)
        if shared and not own and len(parts) == 1:
            oid = f"COM.{token(shared)}"
        self.comments[oid] = " ".join(dict.fromkeys(parts))
        return oid


# --- the document ---------------------------------------------------------------------


def _el(parent: etree._Element | None, tag: str, attrib: Mapping[str, Any] | None = None,
        ns: str = ODM_NS) -> etree._Element:
    attrs = {k: str(v) for k, v in (attrib or {}).items() if v is not None}
    qname = f"{{{ns}}}{tag}"
    if parent is None:
        return etree.Element(qname, attrs, nsmap=NSMAP)
    return etree.SubElement(parent, qname, attrs)


def _def(name: str) -> str:
    return f"{{{DEF_NS}}}{name}"


def _translated(parent: etree._Element, tag: str, text: str) -> etree._Element:
    holder = _el(parent, tag)
    tt = _el(holder, "TranslatedText")
    tt.set(f"{{{XML_NS}}}lang", "en")
    tt.text = text
    return holder


def _define_class(dataset: Dataset, meta: standards.Dataset | None) -> str:
    if meta is not None and meta.define_class:
        return meta.define_class
    return (dataset.meta.dataset_class or "").replace("-", " ").upper()


def _standard_meta(name: str) -> standards.Dataset | None:
    try:
        return standards.dataset(name)
    except StandardsError:
        return None


def _dataset_order(datasets: Sequence[Dataset]) -> list[Dataset]:
    def key(ds: Dataset) -> tuple[int, str, str]:
        klass = _define_class(ds, _standard_meta(ds.name))
        rank = _CLASS_ORDER.index(klass) if klass in _CLASS_ORDER else len(_CLASS_ORDER)
        if ds.name == "ADSL":
            rank = -1
        parent = ds.name[4:] if klass == "RELATIONSHIP" and ds.name.startswith("SUPP") else ""
        return (rank, parent or ds.name, ds.name)

    return sorted(datasets, key=key)


def _std_oid(kind: str, name: str, version: str) -> str:
    """``STD.SDTMIG.3.4``, ``STD.CT.SDTM.2025-03-28``: readable, only OID-safe characters."""
    parts = [kind, name, version] if kind != "IG" else [name, version]
    return "STD." + ".".join(re.sub(r"[^A-Za-z0-9_.-]", "_", p) for p in parts)


class _DatasetWriter:
    """Everything one dataset contributes: ItemGroupDef, ItemDefs, value lists, methods."""

    def __init__(self, b: _Builder, dataset: Dataset) -> None:
        self.b = b
        self.ds = dataset
        self.name = dataset.name
        self.frame = dataset.frame
        self.std = _standard_meta(dataset.name)
        self.klass = _define_class(dataset, self.std)
        self.provs: dict[str, list[Provenance]] = {}
        for p in dataset.provenance:
            self.provs.setdefault(p.variable, []).append(p)
        self.is_supp = self.klass == "RELATIONSHIP" and "QNAM" in self.frame \
            and "QVAL" in self.frame
        self.parent = self.name[4:] if self.is_supp and self.name.startswith("SUPP") else None
        self._texts: dict[str, pd.Series] = {}
        self._rows: dict[str, dict[str, np.ndarray]] = {}

    def text_of(self, column: str) -> pd.Series:
        """A column as text (NaN where missing), same index as the frame; computed once,
        from each distinct value's text when the column is text."""
        if column not in self._texts:
            series = self.frame[column]
            array = series.to_numpy(dtype=object) if series.dtype == object else None
            # text only: a hash takes True, 1 and 1.0 for one value, and their text differs
            coded = text_codes(array) if array is not None and all_text(array) else None
            if coded is not None and coded.holds:
                texts = _text_values(pd.Series(coded.distinct, dtype=object))
                by_code = np.append(texts.reindex(range(len(coded.distinct)))
                                    .to_numpy(dtype=object), np.nan)
                self._texts[column] = pd.Series(by_code[coded.codes], index=self.frame.index,
                                                dtype=object, name=column)
            else:
                self._texts[column] = _text_values(series).reindex(self.frame.index)
        return self._texts[column]

    def rows_of(self, column: str, value: str) -> np.ndarray:
        """The positions, in order, of the records whose ``column`` has the text ``value``
        (:meth:`text_of`); the column is grouped once for all its values."""
        if column not in self._rows:
            codes, distinct = factorize(self.text_of(column))
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(distinct) + 1))
            self._rows[column] = {text: order[bounds[i]:bounds[i + 1]]
                                  for i, text in enumerate(distinct.tolist())}
        return self._rows[column].get(value, np.zeros(0, dtype=np.intp))

    # the variables described per value, and the variable that selects the value
    def value_level(self) -> tuple[str | None, list[str]]:
        if self.is_supp:
            return "QNAM", ["QVAL"]
        if self.b.standard == ADAM:
            if self.klass == "BASIC DATA STRUCTURE" and "PARAMCD" in self.frame:
                tied = sorted({p.variable for p in self.ds.provenance
                               if _param_values(p.where) and p.variable in self.frame
                               and p.variable not in ("PARAM", "PARAMN", "PARAMCD")})
                names = [v for v in ("AVAL", "AVALC") if v in self.frame]
                names += [v for v in tied if v not in names]
                order = {v.name: v.order for v in self.ds.meta.variables}
                return "PARAMCD", sorted(names, key=lambda v: order.get(v, 0))
            return None, []
        if self.klass in ("FINDINGS", "FINDINGS ABOUT"):
            testcd = [c for c in self.frame.columns if str(c).endswith("TESTCD")]
            if testcd:
                prefix = testcd[0][:-6]
                return testcd[0], [f"{prefix}{s}" for s in _RESULTS if f"{prefix}{s}" in
                                   self.frame]
        return None, []

    def _key_values(self, key: str) -> dict[str, list[Provenance | None]]:
        """Where-clause values of ``key`` -> the record blocks (provenance) that produce them."""
        out: dict[str, list[Provenance | None]] = {}
        if self.is_supp:
            present = set(self.text_of("QNAM").dropna())
            for p in self.ds.provenance:
                qnam = self._qnam_of(p.variable, present)
                for name in qnam:
                    out.setdefault(name, []).append(p)
        elif self.b.standard == ADAM:
            for p in self.ds.provenance:
                for v in _param_values(p.where):
                    out.setdefault(v, []).append(p)
        else:
            for p in self.provs.get(key, []):
                for value in self._hardcoded(p):
                    out.setdefault(value, []).append(p)
        present = set(self.text_of(key).dropna())
        for value in sorted(present - set(out)):
            out[value] = [None]
        return {v: blocks for v, blocks in out.items() if v in present}

    @staticmethod
    def _qnam_of(name: str, present: set[str]) -> list[str]:
        """The QNAMs in the data a supp mapping made: its own and its split pieces."""
        names = [name] if name in present else []
        for qnam in present:
            digits = re.search(r"\d+$", qnam)
            if digits and qnam != name and qnam == f"{name[:8 - len(digits.group())]}" \
                    f"{digits.group()}" and not re.search(r"\d$", name[:8 - len(digits.group())]
                                                          [-1:] or ""):
                names.append(qnam)
        return sorted(names, key=lambda q: (len(q) != len(name), q))

    def _hardcoded(self, p: Provenance) -> list[str]:
        if p.algorithm in _ASSIGNED:
            return [str(p.arguments.get("value"))]
        if p.algorithm == "condition":
            branches = [c.get("then") for c in p.arguments.get("cases", []) or []]
            branches.append(p.arguments.get("else"))
            values = []
            for m in branches:
                if isinstance(m, Mapping) and m.get("algorithm") in _ASSIGNED:
                    values.append(str(m.get("value")))
            return values
        return []

    # --- one variable ------------------------------------------------------------

    def _type(self, name: str, values: pd.Series, numeric: bool, value_level: bool,
              length: int | None = None) -> _Type:
        if numeric:
            return _numeric_type(values)
        iso = name.endswith(("DTC", "DUR")) or (
            self.std is not None and self.std.has(name)
            and self.std.variable(name).iso8601 is not None)
        return _char_type(values, iso, numeric_text=value_level, length=length)

    def _origins(self, provs: Sequence[Provenance]) -> list[_Origin]:
        found = {o for p in provs for o in self.b.origins(p)}
        # several source columns of one type in one origin, so a reviewer reads one line
        merged: dict[tuple[str, str | None], list[str]] = {}
        for o in sorted(found, key=_Origin.key):
            merged.setdefault((o.type, o.source), [])
            if o.description:
                merged[(o.type, o.source)].append(o.description)
        out = []
        for (kind, source), descriptions in merged.items():
            if kind == "Collected":
                cols = [d.removeprefix("Source: ") for d in descriptions]
                text = "Source: " + ", ".join(dict.fromkeys(cols)) if cols else None
            else:
                text = "; ".join(dict.fromkeys(descriptions)) or None
            out.append(_Origin(kind, source, text))
        return out

    def _structural(self, name: str, values: pd.Series) -> tuple[list[_Origin], str | None,
                                                                  str | None]:
        """Origins, a comment and its shared key, of a variable no spec mapping made."""
        empty = not _has_values(values)
        if self.is_supp:
            parent = self.parent or "the parent domain"
            if name in ("STUDYID", "USUBJID"):
                return [_Origin("Predecessor", None, f"{parent}.{name}")], None, None
            if empty:
                return ([_Origin("Not Available")], "Not used in this study: always null.",
                        "NULL.SUPPQUAL")
            if name == "IDVARVAL":
                return [_Origin("Derived", "Sponsor")], None, None
            return [_Origin("Assigned", "Sponsor")], None, None
        core = None
        with contextlib.suppress(KeyError):
            core = self.ds.meta.variable(name).core
        if empty:
            standard = self.ds.meta.standard or "the standard"
            level = {"Req": "Required", "Exp": "Expected", "Cond": "Conditional",
                     "Perm": "Permissible"}.get(core or "", "")
            why = f" ({standard} lists the variable as {level}, so it is kept)" if level else ""
            return ([_Origin("Not Available")], f"Not collected in this study: always null{why}.",
                    f"NULL.{level.upper() or 'EMPTY'}")
        if self.b.standard == ADAM and name in ("PARAMCD", "PARAM", "PARAMN"):
            return [_Origin("Assigned", "Sponsor")], None, None
        return [], None, None

    def item_def(self, oid: str, name: str, label: str, values: pd.Series, numeric: bool,
                 provs: Sequence[Provenance], *, value_level: bool = False,
                 value_list: str | None = None, meta_length: int | None = None,
                 display_format: str | None = None, comment: str | None = None,
                 codelist: bool = True, iso_name: str | None = None,
                 by_value: bool = False) -> tuple[etree._Element, list[_Origin]]:
        # text has the length the dataset file stores it with
        stored = meta_length if not value_level else None
        kind = self._type(iso_name or name, values, numeric, value_level, length=stored)
        if display_format and numeric and _DATE_FORMATS.match(display_format):
            kind = replace(kind, datatype="integer", digits=None)
        origins = [] if by_value else self._origins(provs)
        comment_text = shared = None
        if by_value:
            comment_text, shared = ("The origin (and method) differs by value: see the "
                                    "value-level metadata."), "VLM.ORIGIN"
        elif not origins and not value_list:
            origins, comment_text, shared = self._structural(name, values)
        elif not value_level and not _has_values(values):
            comment_text, shared = "Always null in this study: no source record has a value.", \
                "NULL.NOVALUES"
        elif not value_level and provs and all(p.algorithm == "visitnum" for p in provs):
            # assigned from a table, not computed: the table goes in a comment
            comment_text, shared = self.b.method_text(provs[0], self.ds), None
        cl = (self.b._codelist_for(self.ds, name, provs, values, numeric, value_level)
              if codelist else None)
        element = etree.Element(f"{{{ODM_NS}}}ItemDef")
        element.set("OID", oid)
        element.set("Name", name)
        element.set("DataType", kind.datatype)
        if kind.datatype in ("text", "integer", "float") and kind.length:
            element.set("Length", str(kind.length))
        if kind.datatype == "float" and kind.digits is not None:
            element.set("SignificantDigits", str(kind.digits))
        if not value_level:
            element.set("SASFieldName", name)
        if display_format:
            element.set(_def("DisplayFormat"), display_format)
        comment_oid_ = comment or (self.b.comment(self.name, name, comment_text, shared=shared)
                                   if not value_level else None)
        if comment_oid_:
            element.set(_def("CommentOID"), comment_oid_)
        _translated(element, "Description", label or name)
        if cl is not None:
            ref = _el(element, "CodeListRef", {"CodeListOID": cl.oid})
            dataset, terms, _ = cl.uses[-1]
            cl.uses[-1] = (dataset, terms, ref)
        for origin in origins:
            o = _el(element, "Origin", {"Type": origin.type, "Source": origin.source}, DEF_NS)
            if origin.description:
                _translated(o, "Description", origin.description)
        if value_list:
            _el(element, "ValueListRef", {"ValueListOID": value_list}, DEF_NS)
        return element, origins

    # --- the dataset -------------------------------------------------------------

    def build(self) -> etree._Element:
        b, ds = self.b, self.ds
        key, vlm_vars = self.value_level()
        key_values = self._key_values(key) if key is not None and key in self.frame else {}
        vlm_vars = [v for v in vlm_vars if _has_values(self.frame[v])] if key_values else []
        keys = [k for k in ds.meta.keys if k in self.frame]
        group = etree.Element(f"{{{ODM_NS}}}ItemGroupDef")
        one_per_subject = tuple(keys) == ("STUDYID", "USUBJID")
        reference = self.klass in ("TRIAL DESIGN", "STUDY REFERENCE")
        group.set("OID", item_group_oid(self.name))
        if b.standard == SDTM:
            group.set("Domain", self.parent or self.name)
        group.set("Name", self.name)
        group.set("Repeating", "No" if one_per_subject or self.name == "ADSL" else "Yes")
        group.set("IsReferenceData", "Yes" if reference else "No")
        group.set("SASDatasetName", self.name)
        group.set("Purpose", "Tabulation" if b.standard == SDTM else "Analysis")
        group.set(_def("Structure"), ds.meta.structure or (self.std.structure if self.std
                                                           else "") or "Not specified")
        group.set(_def("StandardOID"), b.ig_oid)
        group.set(_def("ArchiveLocationID"), leaf_id(self.name))
        comment = b.comment(self.name, None)
        if comment:
            group.set(_def("CommentOID"), comment)
        _translated(group, "Description", ds.label or self.name)
        for var in ds.meta.variables:
            name = var.name
            provs = self.provs.get(name, [])
            values = self.frame[name] if name in self.frame else pd.Series([], dtype=object)
            vl_oid = None
            value_items: list[etree._Element] = []
            value_origins: set[tuple[str, str | None]] = set()
            if name in vlm_vars:
                vl_oid, value_items, value_origins = self._value_list(
                    key, name, key_values, var.label, var.is_numeric)
            user_comment = next((str(p.arguments["comment"]) for p in provs
                                 if p.arguments.get("comment")), None)
            comment_ref = b.comment(self.name, name, user_comment) if user_comment else None
            item, origins = self.item_def(
                item_oid(self.name, name), name, var.label, values, var.is_numeric, provs,
                value_list=vl_oid, meta_length=var.length,
                display_format=var.display_format if b.standard == ADAM else None,
                comment=comment_ref, codelist=name not in vlm_vars,
                by_value=len(value_origins) > 1)
            b.item_defs.append(item)
            b.item_defs.extend(value_items)  # each value-level item after its variable
            method = None
            if not vl_oid and any(o.type == "Derived" for o in origins):
                text = b.variable_method(ds, name, provs)
                if text is None and self.is_supp and name == "IDVARVAL":
                    text = ("IDVARVAL is the value, in the parent record, of the variable IDVAR "
                            f"names (e.g. {self.parent}SEQ), so each qualifier attaches to one "
                            "parent record; null when the qualifier belongs to the subject.")
                if text:
                    method = b.add_method(method_oid(self.name, name),
                                          f"Algorithm to derive {self.name}.{name}", text, provs)
            _el(group, "ItemRef", {
                "ItemOID": item_oid(self.name, name), "OrderNumber": var.order,
                "Mandatory": "Yes" if (var.core or "").startswith("Req") else "No",
                "KeySequence": keys.index(name) + 1 if name in keys else None,
                "MethodOID": method,
                "Role": var.role if b.standard == SDTM else None})
        if self.is_supp and self.parent:
            parent_meta = _standard_meta(self.parent)
            if parent_meta is not None:
                _el(group, "Alias", {"Context": "DomainDescription", "Name": parent_meta.label})
        if self.klass:  # a dataset the standards do not know has no class to name
            klass = _el(group, "Class", {"Name": self.klass}, DEF_NS)
            subclass = ds.meta.subclass or (self.std.subclass if self.std else None)
            if subclass:
                _el(klass, "SubClass", {"Name": subclass}, DEF_NS)
        href = f"{self.name.lower()}{b.leaf_suffix}"
        leaf = _el(group, "leaf", {"ID": leaf_id(self.name), f"{{{XLINK_NS}}}href": href},
                   DEF_NS)
        _el(leaf, "title", ns=DEF_NS).text = href
        return group

    def _value_list(self, key: str, name: str, key_values: Mapping[str, list[Provenance | None]],
                    label: str, numeric: bool,
                    ) -> tuple[str | None, list[etree._Element], set[tuple[str, str | None]]]:
        """The def:ValueListDef of ``name`` (one item per ``key`` value), its ItemDefs and
        the kinds of origin they have."""
        b = self.b
        items: list[etree._Element] = []
        kinds: set[tuple[str, str | None]] = set()
        vl = etree.Element(_def("ValueListDef"))
        oid = value_list_oid(self.name, name)
        vl.set("OID", oid)
        order = 0
        key_oid = item_oid(self.name, key)
        for value, blocks in key_values.items():
            subset = self.frame[name].iloc[self.rows_of(key, value)]
            if not _has_values(subset):
                continue
            provs = self._value_provs(name, value, blocks)
            condition = (key, value)
            wc = where_clause_oid(self.name, condition)
            b.where.setdefault(wc, [(key_oid, "EQ", (value,))])
            vlabel = label
            if self.is_supp:
                vlabel = self._qlabel(value, provs) or label
            item_oid_ = value_item_oid(self.name, name, condition)
            iso_name = value if self.is_supp else name  # a SUPP date: QNAM ending in DTC
            item, origins = self.item_def(item_oid_, name, vlabel, subset, numeric, provs,
                                          value_level=True, iso_name=iso_name)
            items.append(item)
            kinds |= {(o.type, o.source) for o in origins}
            order += 1
            method = None
            if any(o.type == "Derived" for o in origins):
                text = b.variable_method(self.ds, name, provs)
                if text:
                    method = b.add_method(
                        method_oid(self.name, name, condition),
                        f"Algorithm to derive {self.name}.{name} where {key} = {value}",
                        text, provs)
            ref = _el(vl, "ItemRef", {
                "ItemOID": item_oid_, "OrderNumber": order, "Mandatory": "No",
                "MethodOID": method,
                "Role": "Record Qualifier" if self.is_supp and b.standard == SDTM else None})
            _el(ref, "WhereClauseRef", {"WhereClauseOID": wc}, DEF_NS)
        if not order:
            return None, [], set()
        b.value_lists.append(vl)
        return oid, items, kinds

    def _value_provs(self, name: str, value: str,
                     blocks: Sequence[Provenance | None]) -> list[Provenance]:
        """The provenance of ``name`` in the blocks that produce the key ``value``."""
        if self.is_supp:
            out = []
            for p in blocks:
                if p is not None:
                    out.append(replace(p, variable=name))
            return out
        if self.b.standard == ADAM:
            tied = [p for p in self.provs.get(name, []) if value in _param_values(p.where)]
            return tied or [p for p in self.provs.get(name, []) if not _param_values(p.where)]
        indexes = {p.block for p in blocks if p is not None}
        return [p for p in self.provs.get(name, []) if p.block in indexes]

    def _qlabel(self, qnam: str, provs: Sequence[Provenance]) -> str | None:
        labels = [str(p.arguments["label"]) for p in provs if p.arguments.get("label")]
        if "QLABEL" in self.frame:
            rows = self.frame.iloc[self.rows_of("QNAM", qnam)]
            data = sorted(set(_text_values(_unique(rows["QLABEL"]))))
            if data:
                return data[0]
        return labels[0] if labels else None


def _codelist_element(cl: _Codelist, b: _Builder) -> etree._Element | None:
    if cl.external is not None:
        element = etree.Element(f"{{{ODM_NS}}}CodeList")
        element.set("OID", cl.oid)
        element.set("Name", cl.name)
        element.set("DataType", "text")
        _el(element, "ExternalCodeList", {"Dictionary": cl.external[0],
                                           "Version": cl.external[1]})
        return element
    values = list(cl.values)
    if not values:
        return None
    ct_terms = cl.ct.terms if cl.ct is not None else {}
    ordered = [v for v in ct_terms if v in cl.values] + sorted(v for v in values
                                                                if v not in ct_terms)
    decodes: dict[str, str] = {}
    for value in ordered:
        paired = sorted(cl.decodes.get(value, ()))
        if len(paired) == 1:
            decodes[value] = paired[0]
        elif value in ct_terms and len(value) <= 2 and ct_terms[value].preferred_term:
            decodes[value] = ct_terms[value].preferred_term
    decoded = len(decodes) == len(ordered)
    element = etree.Element(f"{{{ODM_NS}}}CodeList")
    element.set("OID", cl.oid)
    element.set("Name", cl.name)
    datatype = "text"
    if cl.numeric:
        numbers = pd.to_numeric(pd.Series(ordered), errors="coerce")
        if numbers.notna().all():
            datatype = "integer" if (numbers == numbers.round()).all() else "float"
    element.set("DataType", datatype)
    if cl.ct is not None:
        publishing = {"SDTM CT": "SDTM", "ADaM CT": "ADaM",
                      "Define-XML CT": "DEFINE-XML"}.get(cl.ct.source, "SDTM")
        version = cl.ct.version or b.study.ct_version
        b.ct_sets.setdefault(publishing, version)
        element.set(_def("StandardOID"), _std_oid("CT", publishing, version))
    for order, value in enumerate(ordered, start=1):
        term = ct_terms.get(value)
        attrs = {"CodedValue": value, "OrderNumber": order}
        if cl.ct is not None and term is None:
            attrs[_def("ExtendedValue")] = "Yes"
        item = _el(element, "CodeListItem" if decoded else "EnumeratedItem", attrs)
        if decoded:
            _translated(item, "Decode", decodes[value])
        if term is not None:
            _el(item, "Alias", {"Context": "nci:ExtCodeID", "Name": term.code})
    if cl.ct is not None:
        _el(element, "Alias", {"Context": "nci:ExtCodeID", "Name": cl.ct.code})
    return element


def build_define(datasets: Iterable[Dataset], *, standard: str, study: StudyLike,
                 comments: Mapping[str, str] | None = None, leaf_suffix: str = ".xpt",
                 spec: Any | None = None) -> bytes:
    """define.xml 2.1 (UTF-8 bytes) describing ``datasets`` as they are written.

    ``standard`` is "SDTM" or "ADaM"; ``study`` gives the study identifier,
    title, sponsor, IG and CT versions and the ``created`` timestamp;
    ``comments`` maps ``"DM"`` or ``"DM.RACE"`` to the text of a CommentDef;
    ``leaf_suffix`` is the ending of the dataset files the leaves point at;
    ``spec`` (a :class:`cdisc.spec.Spec`) lets origins and methods name the
    study CT maps, the visit table and aggregate blocks.
    """
    items = _dataset_order(list(datasets))
    b = _Builder(standard, study, spec, comments, leaf_suffix)
    ig_name, ig_version = (("SDTMIG", study.sdtmig_version) if standard == SDTM
                           else ("ADaMIG", study.adamig_version))
    groups = []
    for ds in items:
        columns = _COLUMNS.set((ds.frame, {}))
        try:
            groups.append(_DatasetWriter(b, ds).build())
        finally:
            _COLUMNS.reset(columns)
    b.split_codelists()
    codelists = [e for e in (_codelist_element(b.codelists[oid], b)
                             for oid in sorted(b.codelists)) if e is not None]
    used = {e.get("OID") for e in codelists}

    created = study.created.replace(microsecond=0)
    if created.tzinfo is not None:
        stamp = created.isoformat()
    else:
        stamp = created.isoformat(timespec="seconds")
    odm = _el(None, "ODM", {
        "ODMVersion": "1.3.2", "FileType": "Snapshot",
        "FileOID": f"{token(study.studyid)}.{standard}.define",
        "CreationDateTime": stamp, "Originator": study.sponsor or "cdisc-convert",
        "SourceSystem": "cdisc-convert", "SourceSystemVersion": __version__})
    odm.set(_def("Context"), "Submission")
    st = _el(odm, "Study", {"OID": f"STDY.{token(study.studyid)}"})
    gv = _el(st, "GlobalVariables")
    _el(gv, "StudyName").text = study.studyid
    _el(gv, "StudyDescription").text = study.title or study.studyid
    _el(gv, "ProtocolName").text = study.studyid
    mdv = _el(st, "MetaDataVersion", {
        "OID": f"MDV.{token(study.studyid)}.{ig_name}.{ig_version}",
        "Name": f"{study.studyid} {standard} define.xml",
        "Description": f"Data definitions of the {standard} datasets of {study.studyid}"})
    mdv.set(_def("DefineVersion"), DEFINE_VERSION)
    stds = _el(mdv, "Standards", ns=DEF_NS)
    _el(stds, "Standard", {"OID": b.ig_oid, "Name": ig_name, "Type": "IG",
                           "Version": ig_version, "Status": "Final"}, DEF_NS)
    main_ct = "SDTM" if standard == SDTM else "ADaM"
    sets = dict(b.ct_sets)
    sets.setdefault(main_ct, study.ct_version if standard == SDTM
                    else standards.ct_versions().get("ADaM CT", study.ct_version))
    for publishing in sorted(sets, key=lambda s: (s != main_ct, s)):
        _el(stds, "Standard", {"OID": _std_oid("CT", publishing, sets[publishing]),
                               "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": publishing,
                               "Version": sets[publishing], "Status": "Final"}, DEF_NS)
    for vl in b.value_lists:
        mdv.append(vl)
    for oid in sorted(b.where):
        wc = _el(mdv, "WhereClauseDef", {"OID": oid}, DEF_NS)
        for item, comparator, values in b.where[oid]:
            rc = _el(wc, "RangeCheck", {"Comparator": comparator, "SoftHard": "Soft"})
            rc.set(_def("ItemOID"), item)
            for value in values:
                _el(rc, "CheckValue").text = value
    for group in groups:
        mdv.append(group)
    for item in b.item_defs:
        ref = item.find(f"{{{ODM_NS}}}CodeListRef")
        if ref is not None and ref.get("CodeListOID") not in used:
            item.remove(ref)  # a codelist without terms is left out
        mdv.append(item)
    for element in codelists:
        mdv.append(element)
    for oid in sorted(b.methods):
        name, kind, text = b.methods[oid]
        m = _el(mdv, "MethodDef", {"OID": oid, "Name": name, "Type": kind})
        _translated(m, "Description", text)
    for oid in sorted(b.comments):
        c = _el(mdv, "CommentDef", {"OID": oid}, DEF_NS)
        _translated(c, "Description", b.comments[oid])
    tree = etree.ElementTree(odm)
    pi = etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{STYLESHEET_NAME}"')
    odm.addprevious(pi)
    etree.indent(tree, space="  ")
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


# --- define.html ------------------------------------------------------------------------


def render_html(define: bytes, stylesheet: Path | None = None) -> bytes | None:
    """define.html through the CDISC define2-1 stylesheet, or None without one.

    The transformation may read nothing but the document (no files, no network).
    """
    xsl_path = stylesheet or stylesheet_path()
    if xsl_path is None:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    xslt = etree.XSLT(etree.parse(str(xsl_path), parser),
                      access_control=etree.XSLTAccessControl.DENY_ALL)
    doc = etree.fromstring(define, parser).getroottree()
    try:
        result = xslt(doc)
    except etree.XSLTApplyError as exc:
        raise OutputError.single("OUT020", f"define.html could not be rendered: {exc}") from None
    return bytes(result)


def write_define(folder: str | Path, datasets: Iterable[Dataset], *, standard: str,
                 study: StudyLike, comments: Mapping[str, str] | None = None,
                 leaf_suffix: str = ".xpt", spec: Any | None = None,
                 html: bool = True) -> list[Path]:
    """define.xml in ``folder``, with the stylesheet and define.html beside it when available.

    Returns the files written (for the output marker). Each is written all or
    nothing (:func:`cdisc.formats.atomic.write_atomic`).
    """
    folder = Path(folder)
    xml = build_define(datasets, standard=standard, study=study, comments=comments,
                       leaf_suffix=leaf_suffix, spec=spec)
    written = [folder / DEFINE_FILE]
    write_atomic(written[0], xml)
    xsl = stylesheet_path()
    if xsl is not None:
        write_atomic(folder / STYLESHEET_NAME, xsl.read_bytes())
        written.append(folder / STYLESHEET_NAME)
        if html:
            rendered = render_html(xml, xsl)
            if rendered is not None:
                write_atomic(folder / HTML_FILE, rendered)
                written.append(folder / HTML_FILE)
    return written


# --- cdisc define: regenerate for an existing folder --------------------------------------


def _dataset_from_file(path: Path, provenance: Sequence[Provenance]) -> Dataset:
    """A dataset file as the model: its own labels and lengths, the standard's Core and keys."""
    from ..formats.xpt import read_xpt

    frame, meta = read_xpt(path)
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(~is_missing(frame[column]), None)
    name = (meta.name or path.stem).upper()
    standard = _standard_meta(name)
    resolved = resolve_metadata(name, frame, standard, label=meta.label or None)
    variables = tuple(replace(v, label=meta.column_labels.get(v.name) or v.label,
                              length=meta.char_lengths.get(v.name, v.length),
                              display_format=meta.display_formats.get(v.name, v.display_format))
                      for v in resolved.variables)
    return Dataset(replace(resolved, variables=variables), frame, None,
                   tuple(p for p in provenance if p.dataset == name))


def _update_marker(folder: Path, files: Sequence[Path]) -> None:
    """Add ``files`` to the output marker of the folder (or its parent) that lists its data."""
    from .folder import GENERATOR, MARKER

    for root in (folder, folder.parent):
        marker = root / MARKER
        if marker.is_symlink() or not marker.is_file():
            continue
        try:
            content = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return
        if not isinstance(content, dict) or content.get("generator") != GENERATOR:
            return
        listed = set(content.get("files") or [])
        listed |= {f.resolve().relative_to(root.resolve()).as_posix() for f in files}
        content["files"] = sorted(listed)
        write_atomic(marker, (json.dumps(content, indent=1) + "\n").encode("utf-8"))
        return


def _adam_provenance(folder: Path, spec: Any) -> list[Provenance]:
    """ADaM provenance by deriving again from the SDTM folder beside ``folder`` (``../sdtm``).

    The derivations record how each variable is made; the values written stay
    those of the files. Without SDTM beside the folder, or when the derivation
    fails, the datasets are described without origins and methods.
    """
    from ..adam import derive_adam
    from ..errors import CdiscError
    from ..formats.xpt import read_xpt

    sdtm = folder.parent / "sdtm"
    files = sorted(sdtm.glob("*.xpt")) if sdtm.is_dir() else []
    if not files:
        return []
    frames = {}
    for path in files:
        frame, meta = read_xpt(path)
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype(object).where(~is_missing(frame[column]),
                                                                   None)
        frames[(meta.name or path.stem).upper()] = frame
    try:
        derived = derive_adam(frames, getattr(spec, "adam", None))
    except (CdiscError, KeyError, ValueError):
        return []
    return [p for ds in derived.values() for p in ds.provenance]


def regenerate_define(data_dir: str | Path, spec: Any) -> Path:
    """Write define.xml (and the stylesheet, define.html) for a folder of XPT datasets.

    ``spec`` is a :class:`cdisc.spec.Spec` or the path of one. The datasets are
    described as the files hold them (labels, lengths, formats); origins and
    methods come from the spec's mappings (:func:`cdisc.sdtm.engine.block_provenance`);
    for a folder of ADaM datasets from deriving ADaM again from ``../sdtm``
    (``Purpose="Analysis"``, ADaMIG). When the folder is
    part of a ``cdisc convert`` output, its marker lists the new files, so a
    later run may still replace the folder. Returns the path of define.xml.
    """
    from ..sdtm.engine import block_provenance
    from ..spec import load_spec

    folder = Path(data_dir)
    loaded = load_spec(spec) if isinstance(spec, (str, Path)) else spec
    files = sorted(p for p in folder.glob("*.xpt") if p.is_file()) if folder.is_dir() else []
    if not files:
        raise OutputError.single("OUT021", "no XPT dataset files in this folder (give the "
                                 "sdtm/ or adam/ folder of an output)", file=str(folder))
    names = [p.stem.upper() for p in files]
    known = [_standard_meta(n) for n in names]
    adam = all((m.standard == "ADaMIG") if m is not None else n.startswith("AD")
               for n, m in zip(names, known, strict=True))
    provenance = _adam_provenance(folder, loaded) if adam else block_provenance(loaded)
    datasets = [_dataset_from_file(p, provenance) for p in files]
    standard = ADAM if adam else SDTM
    written = write_define(folder, datasets, standard=standard, study=loaded.study, spec=loaded)
    _update_marker(folder, written)
    return written[0]


__all__ = ["ADAM", "DEFINE_FILE", "HTML_FILE", "SDTM", "StudyLike", "build_define",
           "describe_condition", "regenerate_define", "render_html", "write_define"]
