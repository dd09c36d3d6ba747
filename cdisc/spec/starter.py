"""A commented starter spec from a profile of the user's files (``cdisc init``).

:mod:`cdisc.sources.profile` reads the files and describes each column
(:class:`ColumnProfile`: type, date formats, distinct values); this module
turns that description into a mapping spec a data manager finishes by hand.
What it knows about clinic spreadsheets is data, ``mappings/init/column-roles.yaml``:
the header spellings of each kind of column (a *role*: patient id, sex, date of
birth, drug, dose, adverse event term, grade, lesion, diameter, response,
death, last contact, ...), which SDTM variables each role fills with which
algorithm, and which table is which domain. Variable labels, Core and
codelists come from SDTMIG 3.4 and the CT through :mod:`cdisc.standards`.

The starter holds:

* every source table with every column declared (the awkward header as
  ``header:``), its type and date format as the data show them, and a comment
  with what was seen (values, the day/month evidence, texts such as
  ``ongoing`` in a date column, unknown-day markers);
* per domain the record blocks and derivations the recognised columns allow;
  the Req and Exp variables it could not fill as commented TODOs with their
  label and Core;
* ``study_ct`` maps pre-filled with the distinct values found, each mapped to
  the CDISC submission value it matches (as written, as the term's name or a
  synonym, in any case);
* a ``TODO`` placeholder (:mod:`cdisc.spec.placeholders`) wherever a value
  cannot be known from the files: the study identifier, the data cut-off, a
  day/month order the data leave open, a collected value no term matches. A
  spec with one left stops at load with the list of them (SPEC070).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .. import standards
from ..errors import CdiscError
from ..resources import mappings_dir
from .placeholders import PLACEHOLDER
from .schema import spec_schema

# --- what a profile of the user's files says ---------------------------------------------------

#: at most this many distinct values of a column are kept (and pre-filled in a CT map)
MAX_DISTINCT = 50


@dataclass(frozen=True)
class ColumnProfile:
    """One column of a table as the data show it."""

    header: str  # as the file writes it (the spec's ``header:`` when it is not a name)
    values: int = 0  # cells that are not empty
    type: str = "string"  # string, integer, number, date, datetime
    formats: tuple[str, ...] = ()  # date/datetime formats, the main one first
    #: the day/month order: "" (not a NN/NN date), "DD/MM", "MM/DD", "ambiguous", "mixed"
    order: str = ""
    order_evidence: str = ""  # the value that decided the order, and where
    unknown_parts: tuple[str, ...] = ()  # UN, UNK, ?? ... as written in dates
    other_texts: tuple[str, ...] = ()  # the texts of a date column that are not dates
    excel_dates: int = 0  # cells Excel stores as dates
    distinct: tuple[str, ...] = ()  # up to MAX_DISTINCT values, first seen first
    distinct_count: int = 0
    unique: bool = False  # every value differs (an identifier)
    decimal_comma: bool = False  # numbers written 2,5


@dataclass(frozen=True)
class TableProfile:
    """One CSV file or one worksheet."""

    file: Path
    sheet: str | None
    rows: int
    columns: tuple[ColumnProfile, ...]
    delimiter: str | None = None  # CSV: a separator other than the comma
    encoding: str | None = None  # CSV: an encoding other than UTF-8
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.file.name}, sheet {self.sheet!r}" if self.sheet else self.file.name


@dataclass(frozen=True)
class SourcesProfile:
    """What ``cdisc init --source`` read: its tables, and what it passed over and why."""

    source: Path
    tables: tuple[TableProfile, ...]
    skipped: tuple[str, ...] = ()


# --- the roles data ------------------------------------------------------------------------------


@cache
def roles_data() -> dict[str, Any]:
    """``mappings/init/column-roles.yaml``, read once."""
    from ruamel.yaml import YAML

    path = mappings_dir() / "init" / "column-roles.yaml"
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


_UNIT = re.compile(r"\s*[(\[]\s*([^()\[\]]+?)\s*[)\]]\s*$")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normalise_header(header: str) -> tuple[str, str | None]:
    """``"Dose (mg)"`` -> ``("dose", "mg")``, ``"Study No."`` -> ``("study no", None)``."""
    unit = None
    text = header.strip()
    match = _UNIT.search(text)
    if match and match.start() > 0:
        unit, text = match.group(1), text[:match.start()]
    words = _NOT_WORD.sub(" ", text.casefold().replace("&", " and ")).strip()
    return words, unit


@cache
def _header_index() -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for role, spec in roles_data()["roles"].items():
        for header in spec.get("headers", ()):
            index.setdefault(normalise_header(header)[0], []).append(role)
    return {header: tuple(roles) for header, roles in index.items()}


def roles_of(header: str) -> tuple[str, ...]:
    """The roles a header may have, most likely first (``"Site"``: site, lesion_site)."""
    return _header_index().get(normalise_header(header)[0], ())


def date_roles() -> frozenset[str]:
    """Roles whose column holds dates (a four-digit column of one is a year, not a number)."""
    roles = roles_data()["roles"]
    return frozenset(name for name, spec in roles.items()
                     if "assign_datetime" in str(spec.get("fills", "")))


def role_type(role: str | None) -> str | None:
    """The type a role's column always has (an identifier is text, an age an integer)."""
    if role is None:
        return None
    return roles_data()["roles"].get(role, {}).get("type")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def spec_name(header: str, taken: Iterable[str] = ()) -> str:
    """A short spec-side name for a header: ``"Study No."`` -> ``study_no``."""
    words, unit = normalise_header(header)
    name = "_".join((words + (" " + unit.casefold() if unit else "")).split())
    name = re.sub(r"[^0-9a-z_]", "", name) or "column"
    if not _IDENTIFIER.fullmatch(name):
        name = f"c_{name}"
    taken = set(taken)
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


# --- planning -------------------------------------------------------------------------------------


@dataclass
class _Table:
    profile: TableProfile
    name: str  # the source's name in the spec
    names: dict[str, ColumnProfile] = field(default_factory=dict)  # spec name -> profile
    candidates: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> roles
    role_column: dict[str, str] = field(default_factory=dict)  # role -> spec name
    column_role: dict[str, str] = field(default_factory=dict)  # spec name -> role
    domain: str | None = None
    joined: bool = False  # a DM table joined into the first one
    reason: str = ""  # why the table is not mapped

    @property
    def subject(self) -> str | None:
        return self.role_column.get("subject")


@dataclass
class Starter:
    """The starter spec: its document and the comments that go with it."""

    document: dict[str, Any]
    #: comment lines before a key (or list item), by path
    before: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    #: a comment at the end of a key's line, by path
    eol: dict[tuple[Any, ...], str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    #: placeholders left, for the command's summary
    todos: int = 0


def _domain_of(table: _Table) -> str | None:
    anchors = {d: set(spec.get("anchors") or ()) for d, spec in roles_data()["domains"].items()}
    counts = {d: sum(1 for roles in table.candidates.values() if set(roles) & a)
              for d, a in anchors.items()}
    best = max(counts, key=lambda d: counts[d])  # ties: the first domain in the data
    return best if counts[best] else None


def _applies(role: str, domain: str) -> bool:
    spec = roles_data()["roles"][role]
    fills, blocks = spec.get("fills") or {}, spec.get("blocks") or {}
    return role == "subject" or domain in fills or bool(blocks) or (not fills and not blocks)


def _plan_tables(profile: SourcesProfile) -> list[_Table]:
    tables: list[_Table] = []
    taken: set[str] = set()
    for table_profile in profile.tables:
        base = spec_name(table_profile.sheet or table_profile.file.stem, ())
        table = _Table(table_profile, spec_name(base, taken))
        taken.add(table.name)
        for column in table_profile.columns:
            name = spec_name(column.header, table.names)
            table.names[name] = column
            table.candidates[name] = roles_of(column.header)
        tables.append(table)
    for table in tables:
        table.domain = _domain_of(table)
        for name, candidates in table.candidates.items():
            for role in candidates:
                if role in table.role_column or table.domain is None:
                    continue
                if _applies(role, table.domain):
                    table.role_column[role] = name
                    table.column_role[name] = role
                    break
        if table.subject is None:
            table.reason = "no column was recognised as the patient identifier"
        elif table.domain is None:
            table.reason = "no column was recognised as data of an SDTM domain we map"
    # the first DM table one record per patient holds DM; the others are joined into it
    dm_tables = [t for t in tables if t.domain == "DM" and not t.reason]
    anchors = set(roles_data()["domains"]["DM"]["anchors"])
    by_anchors = sorted((t for t in dm_tables if t.names[t.subject].unique),  # type: ignore
                        key=lambda t: -len(anchors & set(t.role_column)))  # stable: file order
    main = by_anchors[0] if by_anchors else None
    for table in dm_tables:
        if table is main:
            continue
        if main is not None and table.names[table.subject].unique:  # type: ignore[index]
            table.joined = True
        else:
            table.reason = ("it has more than one record per patient, so it cannot be "
                            "joined into DM")
    return tables


# --- mappings from the data's templates -----------------------------------------------------------

_PLACEHOLDER_FIELD = re.compile(r"\{(column|subject|unit|others|role:[a-z_]+)\}")


class _Unresolved(Exception):
    """A template placeholder without a value: the mapping (or block) is left out."""


def _resolve(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: _resolve(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_resolve(v, values) for v in template]
    if isinstance(template, str):
        match = _PLACEHOLDER_FIELD.fullmatch(template)
        if match:
            value = values.get(match.group(1))
            if value is None:
                raise _Unresolved(match.group(1))
            return value
        if _PLACEHOLDER_FIELD.search(template):
            raise _Unresolved(template)
    return template


def _algorithms() -> frozenset[str]:
    return frozenset(spec_schema()["$defs"]["mapping"]["properties"]["algorithm"]["enum"])


def _uses_known_algorithms(mapping: Any) -> bool:
    if isinstance(mapping, dict):
        if "algorithm" in mapping and mapping["algorithm"] not in _algorithms():
            return False
        return all(_uses_known_algorithms(v) for v in mapping.values())
    if isinstance(mapping, list):
        return all(_uses_known_algorithms(v) for v in mapping)
    return True


def _fits(variant: dict[str, Any], column: ColumnProfile | None) -> bool:
    if column is None:
        return "match" not in variant and "others" not in variant
    if "match" in variant:
        pattern = re.compile(variant["match"])
        if not column.distinct or column.distinct_count > len(column.distinct) or not all(
                pattern.fullmatch(v) for v in column.distinct):
            return False
    if "others" in variant:
        words = {w.casefold() for w in roles_data()[f"{variant['others']}_words"]}
        if not column.other_texts or not all(t.strip().casefold() in words
                                             for t in column.other_texts):
            return False
    return True


def _choose(template: Any, column: ColumnProfile | None) -> dict[str, Any] | None:
    """The mapping of a template: the first fitting variant of a list, else the template."""
    if isinstance(template, list):
        for variant in template:
            if _fits(variant, column) and _uses_known_algorithms(variant["mapping"]):
                return variant["mapping"]
        return None
    return template if _uses_known_algorithms(template) else None


def _variable_name(name: str, domain: str) -> str:
    return domain + name[2:] if name.startswith("--") else name


def _with_codelists(mapping: Any, variable: standards.Variable | None) -> Any:
    """assign_ct/hardcode_ct without a codelist take the target variable's (SDTMIG 3.4)."""
    if isinstance(mapping, list):
        return [_with_codelists(m, variable) for m in mapping]
    if not isinstance(mapping, dict):
        return mapping
    out = {k: _with_codelists(v, variable) for k, v in mapping.items()}
    if out.get("algorithm") in ("assign_ct", "hardcode_ct") and "codelist" not in out:
        code = variable.codelist if variable is not None else None
        if code is None:
            out["algorithm"] = out["algorithm"].removesuffix("_ct")
        else:
            out["codelist"] = standards.codelist(code).short_name
    return out


# --- the starter ---------------------------------------------------------------------------------


class _Builder:
    """Builds the starter document table by table, domain by domain."""

    def __init__(self, profile: SourcesProfile, out_path: Path) -> None:
        self.profile = profile
        self.out_path = out_path
        self.tables = _plan_tables(profile)
        self.starter = Starter({})
        self.domains: dict[str, dict[str, Any]] = {}
        self.ct_columns: dict[str, list[tuple[_Table, str]]] = {}  # codelist -> columns
        self.visit_columns: list[tuple[_Table, str]] = []
        self.mapped: dict[tuple[str, str], list[str]] = {}  # (source, column) -> variables

    # -- helpers
    def todo(self, what: str) -> str:
        self.starter.todos += 1
        return f"{PLACEHOLDER}: {what}"

    def values(self, table: _Table, name: str | None, prefix: str = "") -> dict[str, Any]:
        """Placeholder values for the template of column ``name`` of ``table``."""
        out: dict[str, Any] = {}
        if table.subject:
            out["subject"] = prefix + table.subject
        for role, column in table.role_column.items():
            out[f"role:{role}"] = prefix + column
        if name is not None:
            column = table.names[name]
            out["column"] = prefix + name
            unit = normalise_header(column.header)[1]
            if unit:
                out["unit"] = _unit_term(unit)
            if column.other_texts:
                out["others"] = sorted({t.strip().casefold() for t in column.other_texts})
        return out

    def mapping(self, template: Any, values: dict[str, Any], column: ColumnProfile | None,
                domain: str, variable: str) -> dict[str, Any] | None:
        chosen = _choose(template, column)
        if chosen is None:
            return None
        try:
            resolved = _resolve(chosen, values)
        except _Unresolved:
            return None
        ig = standards.dataset(domain)
        return _with_codelists(resolved, ig.variable(variable) if ig.has(variable) else None)

    def add_block(self, domain: str, block: dict[str, Any]) -> None:
        spec = self.domains.setdefault(domain, {"records": []})
        spec["records"].append(block)

    def note_columns(self, table: _Table, mapping: dict[str, Any], domain: str,
                     variable: str) -> None:
        """Remember which variables read which columns, and which columns need CT maps."""
        for node in _walk(mapping):
            column = node.get("column")
            if not isinstance(column, str):
                continue
            source, name = (column.split(".", 1) if "." in column else (table.name, column))
            owner = next((t for t in self.tables if t.name == source), table)
            self.mapped.setdefault((owner.name, name), []).append(f"{domain}.{variable}")
            if node.get("algorithm") == "assign_ct" and isinstance(node.get("codelist"), str):
                self.ct_columns.setdefault(node["codelist"], []).append((owner, name))
            if node.get("algorithm") == "visitnum":
                self.visit_columns.append((owner, name))

    def fill(self, table: _Table, domain: str, block_map: dict[str, Any], prefix: str = "",
             skip_subject: bool = False) -> None:
        ig = standards.dataset(domain)
        for name, role in table.column_role.items():
            if skip_subject and role == "subject":
                continue
            templates = (roles_data()["roles"][role].get("fills") or {}).get(domain) or {}
            for raw_variable, template in templates.items():
                variable = _variable_name(raw_variable, domain)
                if not ig.has(variable) or variable in block_map:
                    continue
                mapping = self.mapping(template, self.values(table, name, prefix),
                                       table.names[name], domain, variable)
                if mapping is not None:
                    block_map[variable] = mapping
                    self.note_columns(table, mapping, domain, variable)

    # -- the parts
    def study(self) -> None:
        sdtm_ct = standards.ct_versions().get("SDTM CT", "")
        self.starter.document["spec_version"] = 1
        self.starter.document["study"] = {
            "studyid": self.todo("the study identifier, STUDYID (letters, digits, - or _)"),
            "sdtmig_version": "3.4",
            "ct_version": sdtm_ct,
            "data_cutoff": self.todo("the data cut-off date, YYYY-MM-DD"),
            "created": self.todo("the date and time stamped in every output file, "
                                 "YYYY-MM-DDThh:mm:ss"),
        }
        self.starter.eol[("study", "ct_version")] = "the CDISC CT shipped with cdisc-convert"

    def sources(self) -> None:
        sources: dict[str, Any] = {}
        for table in self.tables:
            if table.reason:
                continue
            sources[table.name] = self.source(table)
        self.starter.document["sources"] = sources

    def source(self, table: _Table) -> dict[str, Any]:
        profile = table.profile
        relative = os.path.relpath(profile.file, self.out_path.parent)
        out: dict[str, Any] = {"file": Path(relative).as_posix()}
        path = ("sources", table.name)
        joined = "; one record per patient, joined into DM" if table.joined else ""
        self.starter.before[path] = [
            f"{profile.label}: {profile.rows} record(s), {len(profile.columns)} column(s)"
            f"{joined}", *profile.notes]
        if profile.sheet:
            out["sheet"] = profile.sheet
        if profile.delimiter:
            out["delimiter"] = profile.delimiter
        if profile.encoding:
            out["encoding"] = profile.encoding
            self.starter.eol[(*path, "encoding")] = "the file is not UTF-8: check accented letters"
        if any(c.decimal_comma for c in profile.columns):
            out["decimal"] = ","
        out["subject"] = table.subject
        if table.domain == "DM" and not table.joined:
            out["key"] = [table.subject]
        columns: dict[str, Any] = {}
        for name, column in table.names.items():
            declared: dict[str, Any] = {}
            if column.header != name:
                declared["header"] = column.header
            declared["type"] = self.column_type(table, name)
            if declared["type"] in ("date", "datetime"):
                declared["format"] = self.column_format(column)
            if name == table.subject:
                declared["required"] = True
            columns[name] = declared
            self.starter.eol[(*path, "columns", name)] = self.column_comment(table, name)
        out["columns"] = columns
        return out

    def column_type(self, table: _Table, name: str) -> str:
        column = table.names[name]
        wanted = role_type(table.column_role.get(name))
        if wanted == "string":
            return "string"
        if wanted in ("integer", "number") and column.type in ("integer", "number"):
            return "number" if "number" in (wanted, column.type) else "integer"
        return column.type

    def column_format(self, column: ColumnProfile) -> Any:
        if column.order == "mixed":
            return self.todo(f"the date format: {column.order_evidence}")
        if column.order == "ambiguous":
            return self.todo(
                f"{' or '.join(_order_variants(column.formats[0]))}: every day and month in "
                "this file is 12 or less, so the data do not say which comes first")
        return column.formats[0] if len(column.formats) == 1 else list(column.formats)

    def column_comment(self, table: _Table, name: str) -> str:
        column = table.names[name]
        parts: list[str] = []
        if column.values == 0:
            return "empty in every record"
        if column.type in ("date", "datetime"):
            what = f"{column.values} date(s)"
            if column.excel_dates:
                what += f", {column.excel_dates} of them Excel date cells"
            parts.append(what)
            if column.order_evidence:
                parts.append(column.order_evidence)
            if column.unknown_parts:
                parts.append("unknown parts written " + ", ".join(column.unknown_parts))
            if column.other_texts:
                parts.append("also " + ", ".join(repr(t) for t in column.other_texts))
        else:
            shown = ", ".join(column.distinct[:6])
            more = column.distinct_count - min(6, len(column.distinct))
            parts.append(f"{column.distinct_count} value(s): {shown}"
                         + (f", ... ({more} more)" if more > 0 else ""))
            if column.decimal_comma:
                parts.append("decimal comma")
        return "; ".join(parts)

    def domain_blocks(self) -> None:
        order = list(roles_data()["domains"])
        main_dm = next((t for t in self.tables if t.domain == "DM" and not t.reason
                        and not t.joined), None)
        joined = [t for t in self.tables if t.joined and not t.reason]
        if main_dm is None:
            self.dm_from_any_table()
        for domain in order:
            for table in self.tables:
                if table.reason or table.domain != domain or table.joined:
                    continue
                block: dict[str, Any] = {"source": table.name}
                if domain == "DM" and table is main_dm and joined:
                    block["join"] = [{"source": t.name} for t in joined]
                block_map: dict[str, Any] = {
                    "USUBJID": {"algorithm": "usubjid", "column": table.subject}}
                self.fill(table, domain, block_map)
                if domain == "DM" and table is main_dm:
                    for other in joined:
                        self.fill(other, domain, block_map, prefix=f"{other.name}.",
                                  skip_subject=True)
                block["map"] = block_map
                self.add_block(domain, block)
        for table in self.tables:  # blocks a role adds in another domain (DS, TU, RS)
            if table.reason:
                continue
            for name, role in table.column_role.items():
                for domain, template in (roles_data()["roles"][role].get("blocks") or {}).items():
                    block = self.role_block(table, name, domain, template)
                    if block is not None:
                        self.add_block(domain, block)
        self.domains = {d: self.domains[d] for d in order if d in self.domains}

    def dm_from_any_table(self) -> None:
        """No table of one record per patient: DM from the first patient of each in one table."""
        table = next((t for t in self.tables if not t.reason), None)
        if table is None:
            return
        subject = table.subject
        self.add_block("DM", {
            "source": table.name,
            "first_per": {"by": [subject], "order_by": subject},
            "map": {"USUBJID": {"algorithm": "usubjid", "column": subject},
                    "SUBJID": {"algorithm": "assign", "column": subject}}})
        self.starter.before[("domains", "DM", "records", 0)] = [
            f"no table of one record per patient was found: one DM record per patient of "
            f"{table.name}"]
        self.mapped.setdefault((table.name, subject), []).append("DM.SUBJID")  # type: ignore

    def role_block(self, table: _Table, name: str, domain: str,
                   template: dict[str, Any]) -> dict[str, Any] | None:
        values = self.values(table, name)
        block: dict[str, Any] = {"source": table.name}
        try:
            for key in ("where", "first_per"):
                if key in template:
                    block[key] = _resolve(template[key], values)
        except _Unresolved:
            return None
        block_map: dict[str, Any] = {"USUBJID": {"algorithm": "usubjid",
                                                 "column": table.subject}}
        ig = standards.dataset(domain)
        for raw_variable, mapping_template in template["map"].items():
            variable = _variable_name(raw_variable, domain)
            if not ig.has(variable):
                continue
            mapping = self.mapping(mapping_template, values, table.names[name], domain,
                                   variable)
            if mapping is not None:
                block_map[variable] = mapping
                self.note_columns(table, mapping, domain, variable)
        block["map"] = block_map
        return block

    def additions(self) -> None:
        data = roles_data()["additions"]
        for domain in list(self.domains):
            rules = [*(data.get(domain) or ()), *(data.get("every") or ())
                     ] if domain != "DM" else list(data.get("DM") or ())
            ig = standards.dataset(domain)
            for rule in rules:
                if not all(self.writes(domain, v) for v in rule.get("when", ())):
                    continue
                if any(self.writes(domain, v) for v in rule.get("unless", ())):
                    continue
                for raw_variable, template in rule["variables"].items():
                    variable = _variable_name(raw_variable, domain)
                    if not ig.has(variable) or self.writes(domain, variable):
                        continue
                    mapping = _with_codelists(_prefixed(template, domain), ig.variable(variable))
                    if not _uses_known_algorithms(mapping):
                        continue
                    spec = self.domains[domain]
                    if rule["in"] == "derive":
                        spec.setdefault("derive", {})[variable] = mapping
                    else:
                        spec["records"][0]["map"][variable] = mapping

    def writes(self, domain: str, variable: str) -> bool:
        if "." in variable:
            domain, variable = variable.split(".", 1)
        variable = _variable_name(variable, domain)
        spec = self.domains.get(domain)
        if spec is None:
            return False
        return variable in (spec.get("derive") or {}) or any(
            variable in block["map"] for block in spec["records"])

    def todo_comments(self) -> None:
        for domain, spec in self.domains.items():
            ig = standards.dataset(domain)
            automatic = {"STUDYID", "DOMAIN"}
            missing = [v for v in ig.variables if v.core in ("Req", "Exp")
                       and v.name not in automatic and not self.writes(domain, v.name)]
            path = ("domains", domain)
            self.starter.before[path] = [f"{ig.label} (SDTMIG {ig.version}, {ig.dataset_class})"]
            if missing:
                first = next(iter(spec["records"][0]["map"]))
                self.starter.before[(*path, "records", 0, "map", first)] = [
                    "not filled from the data (Req needs a value, Exp may stay empty):",
                    *(f"TODO {v.name} ({v.core}): {v.label}" for v in missing)]

    def study_ct(self) -> None:
        study_ct: dict[str, Any] = {}
        for short_name, columns in self.ct_columns.items():
            codelist = standards.codelist(short_name)
            terms = _term_index(codelist)
            found: dict[str, Any] = {}
            for table, name in columns:
                for value in table.names[name].distinct:
                    if value in found:
                        continue
                    term = terms.get(value.strip().casefold())
                    found[value] = term if term is not None else self.todo(
                        f"the submission value of {value!r} in {codelist.name} "
                        f"({codelist.code})")
            entry: dict[str, Any] = {"codelist": codelist.code}
            if found:
                entry["map"] = found
            study_ct[short_name] = entry
            where = ", ".join(sorted({f"{t.name}.{n}" for t, n in columns}))
            self.starter.before[("study_ct", short_name)] = [
                f"{codelist.name} ({codelist.code}, "
                f"{'extensible' if codelist.extensible else 'not extensible'}): the values of "
                f"{where} -> the CDISC submission value"]
        if study_ct:
            self.starter.document["study_ct"] = study_ct

    def visits(self) -> None:
        names: dict[str, Any] = {}
        for table, name in self.visit_columns:
            for value in table.names[name].distinct:
                names.setdefault(value, self.todo(f"VISITNUM of visit {value!r}, a number"))
        if names:
            self.starter.document["visits"] = names

    def unmapped_comment(self) -> None:
        lines = [f"not mapped: {t.profile.label}: {t.reason}" for t in self.tables if t.reason]
        lines += [f"not read: {what}" for what in self.profile.skipped]
        for table in self.tables:
            if table.reason:
                continue
            unused = [table.names[n].header for n in table.names
                      if (table.name, n) not in self.mapped and n != table.subject]
            if unused:
                lines.append(f"{table.name}: not mapped yet: {', '.join(repr(u) for u in unused)}")
        if lines:
            self.starter.before[("domains",)] = lines

    def build(self) -> Starter:
        self.study()
        self.sources()
        self.domain_blocks()
        self.additions()
        self.study_ct()
        self.visits()
        document = self.starter.document
        sources = document.pop("sources")
        study_ct = document.pop("study_ct", None)
        visits = document.pop("visits", None)
        document["sources"] = sources
        if study_ct:
            document["study_ct"] = study_ct
        if visits:
            document["visits"] = visits
        document["domains"] = self.domains
        self.todo_comments()
        self.unmapped_comment()
        for table in self.tables:
            if table.reason:
                continue
            for name in table.names:
                variables = self.mapped.get((table.name, name))
                if variables:
                    path = ("sources", table.name, "columns", name)
                    self.starter.eol[path] = (f"-> {', '.join(dict.fromkeys(variables))}; "
                                              + self.starter.eol[path])
        self.starter.header = [
            f"Starter mapping spec written by `cdisc init` from {self.profile.source.name}.",
            "",
            "It maps what the column headers and values made clear; check every line. Fill in",
            "each TODO value (`cdisc convert` lists those left, with their lines) and each",
            "commented TODO variable you have data for. The format is docs/spec-format.md;",
            "`cdisc spec check` checks the spec without converting.",
        ]
        return self.starter


def _walk(node: Any) -> Iterable[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _prefixed(template: Any, domain: str) -> Any:
    """``--STDTC`` -> ``AESTDTC`` in a template's values."""
    if isinstance(template, dict):
        return {k: _prefixed(v, domain) for k, v in template.items()}
    if isinstance(template, list):
        return [_prefixed(v, domain) for v in template]
    if isinstance(template, str) and template.startswith("--"):
        return domain + template[2:]
    return template


def _term_index(codelist: standards.Codelist) -> dict[str, str]:
    """Lower-cased submission values, term names and synonyms -> submission value."""
    index: dict[str, str] = {}
    for rank in range(3):  # a submission value wins over a name, a name over a synonym
        for term in codelist.terms.values():
            words = ((term.submission_value,), (term.preferred_term,), term.synonyms)[rank]
            for word in words:
                if word:
                    index.setdefault(word.strip().casefold(), term.submission_value)
    return index


def _unit_term(unit: str) -> str:
    """The UNIT submission value a header's unit is (``MG`` -> ``mg``), else as written."""
    try:
        return _term_index(standards.codelist("UNIT")).get(unit.casefold(), unit)
    except CdiscError:
        return unit


_DAY_MONTH = re.compile(r"(DD|MM)([^A-Za-z])(DD|MM)(?![A-Za-z])")


def _order_variants(fmt: str) -> tuple[str, str]:
    """``DD/MM/YYYY`` -> (``DD/MM/YYYY``, ``MM/DD/YYYY``): the day-first spelling first."""
    match = _DAY_MONTH.match(fmt)
    if match is None:
        return fmt, fmt
    first, separator, second = match.groups()
    swapped = f"{second}{separator}{first}{fmt[match.end():]}"
    return (fmt, swapped) if first == "DD" else (swapped, fmt)


def starter_spec(profile: SourcesProfile, out_path: Path) -> Starter:
    """The starter spec for the files of ``profile``, to be written at ``out_path``."""
    return _Builder(profile, Path(out_path)).build()


# --- YAML with comments -------------------------------------------------------------

_WIDTH = 96


def _too_long(comment: str | None, indent: int, key: str, value: Any) -> bool:
    return comment is not None and indent + len(f"{key}: {_flow_text(value)} # {comment}") > _WIDTH


def _flow_text(value: Any) -> str:
    """About how a value is written on one line (for the length of a line only)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    return str(value)


def _wrapped(lines: list[str], width: int) -> list[str]:
    """Comment lines no longer than ``width``, continued lines indented by two blanks."""
    import textwrap

    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width=max(width, 40), subsequent_indent="  ",
                             break_on_hyphens=False, break_long_words=False) or [""]
    return out


def _indent(path: tuple[Any, ...]) -> int:
    """The column a key at ``path`` starts at (mappings indent 2, list items 4, dash at 2)."""
    column = 0
    for i, part in enumerate(path[1:], start=1):
        if isinstance(part, int):
            column += 4
        elif not isinstance(path[i - 1], int):
            column += 2
    return column


def starter_yaml(starter: Starter) -> str:
    """The starter as YAML text, every comment in its place."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from .workbook import _commented

    def build(value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, dict):
            node = _commented({}) if not value else CommentedMap()
            for key, item in value.items():
                node[key] = build(item, (*path, key))
            flat = _commented(value)
            if getattr(flat, "fa", None) is not None and flat.fa.flow_style():
                node.fa.set_flow_style()
            # comments too long for the end of their line go above it, and then those of
            # the whole map do, so that they read alike
            above = any(_too_long(starter.eol.get((*path, key)), _indent((*path, key)), key, item)
                        for key, item in value.items())
            for key in value:
                indent = _indent((*path, key))
                lines = list(starter.before.get((*path, key), ()))
                comment = starter.eol.get((*path, key))
                if comment and above:
                    lines.append(comment)
                    comment = None
                if lines:
                    node.yaml_set_comment_before_after_key(
                        key, before="\n".join(_wrapped(lines, _WIDTH - indent - 2)),
                        indent=indent)
                if comment:
                    node.yaml_add_eol_comment(comment, key, column=1)
            return node
        if isinstance(value, list):
            node = CommentedSeq(build(item, (*path, i)) for i, item in enumerate(value))
            for i in range(len(value)):
                lines = starter.before.get((*path, i))
                if lines:  # above the item's dash
                    indent = _indent((*path, i)) - 2
                    node.yaml_set_comment_before_after_key(
                        i, before="\n".join(_wrapped(lines, _WIDTH - indent - 2)),
                        indent=indent)
            flat = _commented(value)
            if getattr(flat, "fa", None) is not None and flat.fa.flow_style():
                node.fa.set_flow_style()
            return node
        return _commented(value)

    yaml = YAML(typ="rt")
    yaml.width = _WIDTH
    yaml.allow_unicode = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    root = build(starter.document, ())
    stream = io.StringIO()
    yaml.dump(root, stream)
    top = "".join(f"# {line}".rstrip() + "\n" for line in starter.header)
    return top + stream.getvalue()


__all__ = ["ColumnProfile", "SourcesProfile", "Starter", "TableProfile", "normalise_header",
           "roles_data", "roles_of", "spec_name", "starter_spec", "starter_yaml"]
