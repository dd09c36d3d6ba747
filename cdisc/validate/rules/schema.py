"""Structure rules compiled from the schemas and the standards metadata.

CV0101-CV0107 are the JSON Schema keywords (type, maxLength, enum, pattern,
required, additionalProperties, propertyNames), run vectorised by
:mod:`cdisc.validate.schema`; the others use the metadata the schemas are
built from (Core designation, codelists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from typing import Any

import numpy as np
import pandas as pd

from ... import standards
from ...errors import Problem, Severity, StandardsError
from ..frames import at_rows, dataset_hit, hits, is_in, memo, missing_in, not_null, show, text
from ..registry import rule
from ..schema import Violation, compile_schema
from ..study import as_study, metadata

#: Which JSON Schema keyword each rule is (the agreement test relies on it).
SCHEMA_KEYWORDS = {
    "CV0101": "type", "CV0102": "maxLength", "CV0103": "enum", "CV0104": "pattern",
    "CV0105": "required", "CV0106": "additionalProperties", "CV0107": "propertyNames",
}


def _known(datasets: Mapping[str, pd.DataFrame]) -> Iterator[tuple[str, pd.DataFrame]]:
    study = as_study(datasets)
    for name in study.names():
        if metadata(name) is not None:
            yield name, study[name]


def _violations(keyword: str, datasets: Mapping[str, pd.DataFrame]
                ) -> Iterator[tuple[str, pd.DataFrame, Violation]]:
    for name, frame in _known(datasets):
        # One vectorised pass per dataset and run serves all the keyword rules.
        found = memo(frame, ("violations", name),
                     lambda n=name, f=frame: list(compile_schema(n).violations(f)))
        for v in found:
            if v.keyword == keyword:
                yield name, frame, v


def _mask(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = True
    return mask


def _datatype(name: str, variable: str) -> str:
    meta = metadata(name)
    if meta is not None and meta.has(variable):
        return "numeric" if meta.variable(variable).is_numeric else "character"
    return "character or numeric"


@rule("CV0101", Severity.ERROR, "Value does not have the variable's datatype (Char/Num)",
      "SDTMIG 3.4 / ADaMIG 1.3 variable metadata (Type); CG0012 (CORE-001082)", category="Metadata")
def datatype(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, v in _violations("type", datasets):
        kind = _datatype(name, v.variable)
        value_at = at_rows(frame[v.variable])
        out += hits("CV0101", name, frame, _mask(frame, v.rows), variable=v.variable,
                    message=lambda i, at=value_at, var=v.variable, k=kind:
                    f"{var} is {k}; {show(at(i))} is not")
    return out


@rule("CV0102", Severity.ERROR, "Character value longer than 200 characters",
      "SAS XPORT v5 / FDA Study Data Technical Conformance Guide (200-byte character values); "
      "SDTMIG 3.4 section 4.2.9", category="Limit")
def max_length(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, v in _violations("maxLength", datasets):
        value_at = at_rows(text(frame, v.variable))
        out += hits("CV0102", name, frame, _mask(frame, v.rows), variable=v.variable,
                    message=lambda i, at=value_at, var=v.variable, n=v.detail:
                    f"{var} has {len(at(i))} characters; at most {n}")
    return out


def _enum_message(name: str, variable: str) -> str:
    meta = metadata(name)
    code = meta.variable(variable).codelist if meta is not None and meta.has(variable) else None
    if code:
        cl = standards.codelist(code)
        return f"not in the non-extensible codelist {cl.short_name} ({code})"
    return "not one of the values the standard allows"


def _suggestion(name: str, variable: str) -> dict[str, str]:
    """Synonym (upper case) -> submission value, to say what a near miss should be."""
    meta = metadata(name)
    code = meta.variable(variable).codelist if meta is not None and meta.has(variable) else None
    if not code:
        return {}
    try:
        terms = standards.codelist(code).terms
    except StandardsError:
        return {}
    out = {}
    for term in terms.values():
        for alias in (*term.synonyms, term.preferred_term, term.submission_value):
            out.setdefault(alias.upper(), term.submission_value)
    return out


@rule("CV0103", Severity.ERROR,
      "Value not in the variable's non-extensible codelist (or its allowed values)",
      "SDTMIG 3.4 section 4.3; CDISC Controlled Terminology (versions: the report's "
      "'standards')", category="Terminology")
def enumerated(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, v in _violations("enum", datasets):
        what = _enum_message(name, v.variable)
        near = _suggestion(name, v.variable)
        values = at_rows(text(frame, v.variable))

        def message(i: int, t: Callable[[int], Any] = values, var: str = v.variable,
                    w: str = what, n: dict[str, str] = near) -> str:
            value = t(i)
            hint = n.get(str(value).upper()) if value is not None else None
            tail = f" (submission value {hint!r}?)" if hint and hint != value else ""
            return f"{var} {show(value)} is {w}{tail}"

        out += hits("CV0103", name, frame, _mask(frame, v.rows), variable=v.variable,
                    message=message)
    return out


@rule("CV0104", Severity.ERROR, "Date/time or duration is not ISO 8601",
      "SDTMIG 3.4 sections 4.4.1-4.4.3 (ISO 8601 date/time, precision, durations)",
      category="Format")
def iso8601(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame, v in _violations("pattern", datasets):
        meta = metadata(name)
        kind = (meta.variable(v.variable).iso8601 if meta is not None and meta.has(v.variable)
                else None) or "value"
        value_at = at_rows(frame[v.variable])
        out += hits("CV0104", name, frame, _mask(frame, v.rows), variable=v.variable,
                    message=lambda i, at=value_at, var=v.variable, k=kind:
                    f"{var} {show(at(i))} is not an ISO 8601 {k}")
    return out


@rule("CV0105", Severity.ERROR, "Required variable missing from the dataset",
      "SDTMIG 3.4 section 4.1.5 (Core Req); ADaMIG 1.3 (Core Req); CG0014 (CORE-000355)",
      category="Presence")
def required_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return [dataset_hit("CV0105", name, f"required variable {v.variable} is not in {name}",
                        variable=v.variable)
            for name, _, v in _violations("required", datasets)]


#: SDTM v2.0 Identifiers and Timing Variables for All Classes ("--" is the domain prefix)
#: that SDTMIG 3.4 uses: any domain of a general observation class may add them (SDTMIG 3.4
#: section 2.5; CORE-000550), so they are never "non-standard". SEND-only timing variables
#: (--NOMDY, --NOMLBL, --RPDY, ...) and --DETECT are left out: CORE-000245/246/064/067 forbid
#: them in SDTMIG datasets.
MODEL_IDENTIFIERS = ("STUDYID", "DOMAIN", "USUBJID", "POOLID", "SPDEVID", "FOCID", "--SEQ",
                     "--GRPID", "--REFID", "--SPID", "--LNKID", "--LNKGRP")
MODEL_TIMING = ("VISITNUM", "VISIT", "VISITDY", "TAETORD", "EPOCH", "--DTC", "--STDTC",
                "--ENDTC", "--DY", "--STDY", "--ENDY", "--DUR", "--TPT", "--TPTNUM", "--ELTM",
                "--TPTREF", "--RFTDTC", "--STRF", "--ENRF", "--EVLINT", "--EVINTX", "--STRTPT",
                "--STTPT", "--ENRTPT", "--ENTPT", "--STINT", "--ENINT", "MIDS", "RELMIDS",
                "MIDSDTC")
#: the classes those variables may be added to (Define-XML class names of the metadata)
_OBSERVATION_CLASSES = {"EVENTS", "INTERVENTIONS", "FINDINGS", "FINDINGS ABOUT"}


def _model_variables(name: str, frame: pd.DataFrame) -> set[str]:
    """The SDTM model identifiers and timing variables ``name`` may add (none outside the
    general observation classes: DM, trial design and relationship datasets are fixed)."""
    meta = metadata(name)
    cls = (meta.define_class or meta.dataset_class).upper() if meta is not None else ""
    if meta is None or meta.standard != "SDTMIG" or cls not in _OBSERVATION_CLASSES:
        return set()
    domain = text(frame, "DOMAIN").dropna() if "DOMAIN" in frame.columns else None
    prefix = str(domain.iat[0]) if domain is not None and len(domain) else name[:2]
    return {v.replace("--", prefix, 1) for v in (*MODEL_IDENTIFIERS, *MODEL_TIMING)}


@rule("CV0106", Severity.NOTICE, "Variable is not in the dataset's standard metadata",
      "SDTMIG 3.4 section 8.4 (non-standard variables go in SUPP--); CG0013 (CORE-000550); "
      "the SDTM v2.0 identifiers and timing variables any general-observation domain may add "
      "(AEDTC, VISITNUM, ... in AE) are standard; ADaMIG 1.3 allows sponsor-defined variables "
      "(notice only)", category="Metadata")
def unknown_variable(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for name, frame in _known(datasets):
        compiled = compile_schema(name)
        meta = metadata(name)
        where = f"{meta.standard} {meta.version} {name}" if meta else name
        allowed = _model_variables(name, frame)
        for variable in map(str, frame.columns):
            if not compiled.known(variable) and variable not in allowed:
                out.append(dataset_hit("CV0106", name, f"{variable} is not a variable of {where}",
                                       variable=variable))
    return out


@rule("CV0107", Severity.ERROR, "Variable name is not 1-8 upper-case letters, digits, '_'",
      "SDTMIG 3.4 section 4.2.1 (variable naming); ADaMIG 1.3 naming conventions; "
      "CG0310 (CORE-000182)", category="Format")
def variable_name_pattern(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return [dataset_hit("CV0107", name, f"variable name {v.variable!r} does not match "
                        f"{v.detail}", variable=v.variable)
            for name, _, v in _violations("propertyNames", datasets)]


#: ADaM variables that must be populated on every record: ADaMIG 1.3's Core "Req" says
#: only that the variable is present (section 3), but a record without its identifiers
#: or, in a BDS dataset, its parameter cannot be analysed
_ADAM_POPULATED = ("STUDYID", "USUBJID", "PARAMCD", "PARAM")


@rule("CV0108", Severity.ERROR, "Required variable is null",
      "SDTMIG 3.4 section 4.1.5 (Req: must not be null); CG0014 (CORE-000356); "
      "ADaM: identifiers and PARAMCD/PARAM (ADaMIG 1.3 sections 3.1-3.2; Core Req there "
      "means present, checked by CV0105)", category="Presence")
def required_not_null(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame in _known(datasets):
        meta = metadata(name)
        assert meta is not None
        adam = meta.standard == "ADaMIG"
        for var in meta.variables:
            if var.core != "Req" or var.name not in frame.columns:
                continue
            if adam and var.name not in _ADAM_POPULATED:
                continue
            out += hits("CV0108", name, frame, missing_in(frame, var.name), variable=var.name,
                        message=f"{var.name} is required and must not be null")
    return out


@rule("CV0109", Severity.WARNING, "Expected variable missing from the dataset",
      "SDTMIG 3.4 section 4.1.5 (Core Exp); CG0016 (CORE-000334)", category="Presence")
def expected_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for name, frame in _known(datasets):
        meta = metadata(name)
        assert meta is not None
        for var in meta.variables:
            if var.core == "Exp" and var.name not in frame.columns:
                out.append(dataset_hit("CV0109", name,
                                       f"expected variable {var.name} is not in {name}",
                                       variable=var.name))
    return out


def _extended_terms(datasets: Mapping[str, pd.DataFrame], name: str, variable: str
                    ) -> frozenset[str]:
    """The sponsor terms (def:ExtendedValue="Yes") of ``name.variable``'s codelist in the
    define.xml that describes the dataset; empty without one."""
    for define in getattr(datasets, "defines", None) or ():
        if define.document is None or name not in define.datasets:
            continue
        described = define.document.datasets.get(name)
        if described is None or variable not in described.names:
            continue
        codelist = described.variable(variable).codelist
        if codelist is not None:
            return frozenset(t.coded_value for t in codelist.terms if t.extended)
    return frozenset()


@rule("CV0110", Severity.NOTICE, "Value not in the variable's extensible codelist nor "
      "declared in define.xml as a sponsor extension",
      "SDTMIG 3.4 section 4.3.3 (sponsor terms may extend an extensible codelist; "
      "they belong in define.xml: a term the define.xml beside the dataset lists with "
      "def:ExtendedValue=\"Yes\" is accepted, as Pinnacle 21 does). Where the IG names "
      "several codelists for one variable (DSDECOD: NCOMPLT, PROTMLST, OTHEVENT by DSCAT) a "
      "term of any of them is accepted", category="Terminology")
def extensible_ct(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out: list[Problem] = []
    for name, frame in _known(datasets):
        meta = metadata(name)
        assert meta is not None
        for var in meta.variables:
            if not var.codelist or var.name not in frame.columns:
                continue
            try:
                cl = standards.codelist(var.codelist)
            except StandardsError:
                continue  # a codelist outside the CT subset we ship: nothing to compare with
            if not cl.extensible:
                continue  # non-extensible: the schema's enum (CV0103) checks it
            if meta.dataset_class == "Findings" and var.role == "Result Qualifier":
                # A Findings result's codelist depends on --TESTCD (value-level metadata,
                # which we do not ship): TRSTRESC is a number for LDIAM, a TRPROPRS term
                # for TUMSTATE. Checking it against the one variable-level list misfires.
                continue
            lists = [cl]
            for code in var.codelists:
                if code != cl.code:
                    with suppress(StandardsError):  # an alternative list we do not ship
                        lists.append(standards.codelist(code))
            names = ", ".join(f"{c.short_name} ({c.code})" for c in lists)
            values = text(frame, var.name)
            accepted = {t for c in lists for t in c.terms} | _extended_terms(
                datasets, name, var.name)
            bad = not_null(values) & ~is_in(values, accepted)
            value_at = at_rows(values)
            out += hits("CV0110", name, frame, bad, variable=var.name,
                        message=lambda i, t=value_at, v=var.name, n=names:
                        f"{v} {show(t(i))} is not a term of {n}; "
                        "a sponsor extension must be documented in define.xml")
    return out
