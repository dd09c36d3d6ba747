"""Semantic checks of a schema-valid spec: does everything it names exist?

Columns in the sources, variables in the SDTMIG domain, algorithms in the
right phase, codelists and terms in CDISC CT, date formats that parse. Every
problem is collected with the spec line of the offending node.

What each algorithm's arguments name, where it may be used and what it reads
from other domains comes from the spec schema's ``args_<name>`` annotations
(``x-phase``, ``x-needs``, ``x-copies``, ``x-refers``; see
:mod:`cdisc.spec.algorithms`), generated from the algorithms' own declarations:
nothing here knows an algorithm by name, so a new algorithm needs no change here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .. import standards
from ..errors import CdiscError, ProblemLog, Severity, StandardsError
from .adam import (
    ADAM_SOURCES,
    SAFFL_ANY_DOSE,
    AdamSpec,
    DateSource,
    DeathSpec,
    TreatmentSpec,
    TteParameter,
)
from .algorithms import Declared, pattern_problem, template_fields
from .conditions import compared_values, condition_columns, leaf_conditions
from .dateformats import check_format
from .model import ColumnSpec, DomainSpec, JsonPath, RecistOptions, RecordBlock, SourceSpec, Spec
from .schema import spec_algorithms
from .trial_design import DateSelection, TrialDesign, TsParameter

_DATE_TYPES = ("date", "datetime", "time")
#: names of the bookkeeping columns every source frame carries (cdisc.sources.reader)
_RESERVED_COLUMNS = ("__source__", "__row__")
_CSV_SUFFIXES = (".csv", ".txt")
_DATASET_SUFFIXES = (".xpt", ".sas7bdat", ".json", ".ndjson")
#: the AE seriousness criteria of SDTMIG 3.4: AESER = "Y" needs one of them = "Y"
SERIOUSNESS_CRITERIA = ("AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESMIE")


@dataclass(frozen=True)
class _Place:
    """Where a mapping sits: what its arguments may name there."""

    phases: tuple[str, ...]
    #: columns of the block's rows (joined ones as source.column); None under derive:
    columns: set[str] | None
    block_source: str | None = None
    #: variables of the domain mapped or derived before this one (derive: only)
    domain_vars: set[str] | None = None


class _Checker:
    def __init__(self, spec: Spec, algorithms: Mapping[str, Declared] | None = None) -> None:
        self.spec = spec
        self.problems = ProblemLog()
        self.algorithms = spec_algorithms() if algorithms is None else algorithms
        self.derived: dict[str, set[str]] = {}
        #: source -> columns some mapping, condition, join or grouping reads
        self.used: dict[str, set[str]] = {n: {s.subject, *s.key} for n, s in spec.sources.items()}

    def use(self, source: str | None, column: str | None) -> None:
        if column is None:
            return
        if "." in column:
            source, _, column = column.partition(".")
        if source in self.used:
            self.used[source].add(column)

    def unused_columns(self) -> None:
        """Declared columns nothing reads: their values would silently not reach SDTM."""
        for name, source in self.spec.sources.items():
            for column in source.columns:
                if column not in self.used[name]:
                    self.error("SPEC031", f"column {column!r} of source {name!r} is declared but "
                               "no mapping reads it: its values are not in the output",
                               ("sources", name, "columns", column), Severity.NOTICE)

    def error(self, code: str, message: str, path: JsonPath,
              severity: Severity = Severity.ERROR) -> None:
        self.problems.add(code, message, self.spec.locate(path), severity)

    # -- study ----------------------------------------------------------------
    def study(self) -> None:
        shipped = standards.ct_versions()
        if self.spec.study.ct_version not in shipped.values():
            self.error("SPEC029", f"CT version {self.spec.study.ct_version} is not shipped; this "
                       f"version of the tool has {', '.join(sorted(set(shipped.values())))}",
                       ("study", "ct_version"))
        separator = self.spec.study.usubjid_separator
        if any(not " " <= ch <= "~" for ch in separator):
            self.error("SPEC034", f"usubjid_separator {separator!r} is not a printable ASCII "
                       "character: USUBJID is ASCII text in the XPT files (use e.g. \"-\" or "
                       "\"/\")", ("study", "usubjid_separator"))
        try:
            RecistOptions(**self.spec.recist)
        except (TypeError, ValueError) as exc:
            self.error("SPEC026", f"recist options: {exc}", ("recist",))
        except CdiscError as exc:
            for problem in exc.problems:
                self.error("SPEC026", f"recist options: {problem.message}", ("recist",))

    # -- sources ---------------------------------------------------------------
    def sources(self) -> None:
        for name, src in self.spec.sources.items():
            path = ("sources", name)
            for col in (src.subject, *src.key):
                if col not in src.columns:
                    named = next((c.name for c in src.columns.values() if c.header == col), None)
                    hint = (f"; {col!r} is the header of column {named!r}: name that"
                            if named else "")
                    self.error("SPEC023", f"column {col!r} is used as subject/key but not declared "
                               f"under columns{hint}", path)
            self.column_names(name, src.columns)
            self.dialect(name, src)
            for col in src.columns.values():
                where = (*path, "columns", col.name, "format")
                for i, fmt in enumerate(col.formats):
                    why = check_format(fmt)
                    if why:  # a list of formats is located at the bad item
                        self.error("SPEC021", why, (*where, i) if (*where, i) in
                                   self.spec.positions else where)

    def column_names(self, source: str, columns: Mapping[str, ColumnSpec]) -> None:
        """Spec-side names a mapping can refer to, and one declaration per header (SPEC038)."""
        read_by: dict[str, str] = {}
        for col in columns.values():
            path = ("sources", source, "columns", col.name)
            if "." in col.name or col.name in _RESERVED_COLUMNS:
                why = ("'.' separates a joined source from its column (source.column)"
                       if "." in col.name else "the name is used for the row bookkeeping")
                self.error("SPEC038", f"column name {col.name!r} cannot be used: {why}. Name the "
                           f"column for the spec and give its header, e.g. {_spec_name(col.name)}: "
                           f"{{header: {col.header!r}, type: {col.type}}}", path)
            if col.header in read_by:
                self.error("SPEC038", f"columns {read_by[col.header]!r} and {col.name!r} both "
                           f"read the header {col.header!r}: declare it once", path)
            read_by.setdefault(col.header, col.name)

    def dialect(self, source: str, src: SourceSpec) -> None:
        """How a CSV file is written (SPEC039): keys that apply to the file, a real encoding."""
        path = ("sources", source)
        suffix = src.file.suffix.lower()
        if suffix not in _CSV_SUFFIXES:
            for key in ("delimiter", "encoding"):
                if getattr(src, key) is not None:
                    self.error("SPEC039", f"{key}: applies to CSV files only; "
                               f"{src.file.name!r} is not one", (*path, key))
        if suffix in _DATASET_SUFFIXES and (src.decimal != "." or src.thousands is not None):
            self.error("SPEC039", "decimal:/thousands: apply to numbers written as text (CSV, "
                       "XLSX); a SAS or Dataset-JSON file stores numbers as numbers", path)
        if src.thousands is not None and src.thousands == src.decimal:
            self.error("SPEC039", f"the thousands separator and the decimal mark are both "
                       f"{src.decimal!r}", (*path, "thousands"))
        if src.encoding is not None:
            try:
                "".encode(src.encoding)  # LookupError also for codecs that are not text ones
            except LookupError:
                self.error("SPEC039", f"{src.encoding!r} is not a text encoding Python knows; "
                           "e.g. utf-8, latin-1, cp1252, utf-16", (*path, "encoding"))

    # -- study CT --------------------------------------------------------------
    def study_ct(self) -> None:
        for name, entry in self.spec.study_ct.items():
            path = ("study_ct", name)
            try:
                codelist = standards.codelist(entry.codelist)
            except StandardsError:
                self.error("SPEC015", f"{entry.codelist!r} is not a codelist in CDISC CT "
                           f"{self.spec.study.ct_version}", (*path, "codelist"))
                continue
            for collected, submitted in entry.map.items():
                if submitted in codelist.terms:
                    continue
                if codelist.extensible:
                    self.error("SPEC020", f"{submitted!r} is not a term of extensible codelist "
                               f"{codelist.code} ({codelist.short_name}): a sponsor extension",
                               (*path, "map", collected), Severity.NOTICE)
                else:
                    self.error("SPEC020", f"{submitted!r} is not a term of non-extensible codelist "
                               f"{codelist.code} ({codelist.short_name}); allowed: "
                               f"{', '.join(sorted(codelist.terms)[:12])}"
                               f"{' ...' if len(codelist.terms) > 12 else ''}",
                               (*path, "map", collected))

    def _codelist(self, name: str, path: JsonPath | None) -> standards.Codelist | None:
        """The codelist a mapping names; a name that is none is reported at ``path``."""
        if name in self.spec.study_ct:
            try:
                return standards.codelist(self.spec.study_ct[name].codelist)
            except StandardsError:
                return None  # reported by study_ct()
        try:
            return standards.codelist(name)
        except StandardsError:
            if path is not None:
                self.error("SPEC015", f"codelist {name!r} is neither a study_ct entry nor a "
                           "CDISC codelist (C-code or short name)", path)
            return None

    # -- domains ---------------------------------------------------------------
    def domains(self) -> None:
        for dname, dom in self.spec.domains.items():
            try:
                meta = standards.dataset(dname)
            except StandardsError:
                self.error("SPEC010", f"{dname} is not a supported SDTMIG 3.4 domain "
                           f"(known: {', '.join(standards.known_datasets())})", ("domains", dname))
                continue
            mapped = set()
            for block in dom.records:
                mapped |= self.block(block, meta)
            for var, mapping in dom.derive.items():
                path = ("domains", dname, "derive", var)
                if not meta.has(var):
                    self.error("SPEC012", f"{var} is not a variable of {dname} in SDTMIG 3.4",
                               path)
                self.mapping(mapping, path, _Place(("subject", "domain"), None,
                                                   domain_vars=mapped))
                mapped.add(var)
            seq = f"{dname}SEQ"
            if dname != "DM" and meta.has(seq) and seq not in mapped and any(
                    b.supp for b in dom.records):
                self.error("SPEC025", f"{dname} has supp: variables, whose IDVAR is {seq}: "
                           f"derive {seq} (algorithm seq)", ("domains", dname))
            self.derived[dname] = mapped
            self.seriousness(dname, dom)
            self.qlabels(dname, dom)
        self.references()

    def seriousness(self, dname: str, dom: DomainSpec) -> None:
        """AESER without a seriousness criterion: a serious event nobody can say why.

        A serious event (AESER = "Y") says which criterion made it serious in the
        SDTMIG 3.4 AE criteria variables (AESCONG ... AESMIE), and the CORE / FDA
        business rules check AESER = "Y" against them. A spec that maps AESER but
        none of them cannot give that: warned at the AESER mapping.
        """
        if dname != "AE":
            return
        mapped = {var for block in dom.records for var in (*block.map, *block.supp)}
        if mapped & set(SERIOUSNESS_CRITERIA):
            return
        for block in dom.records:
            if "AESER" in block.map:
                self.error("SPEC046", "AESER is mapped but no seriousness criterion ("
                           f"{', '.join(SERIOUSNESS_CRITERIA)}): a serious event must say "
                           "which criterion made it serious (SDTMIG 3.4 AE; CORE/FDA rules "
                           "check AESER = \"Y\" against them)",
                           (*block.json_path, "map", "AESER"), Severity.WARNING)

    def qlabels(self, dname: str, dom: DomainSpec) -> None:
        """QLABEL is one label per QNAM and unique per QNAM within a SUPP-- dataset."""
        first: dict[str, tuple[str, JsonPath]] = {}
        owner: dict[str, str] = {}
        for block in dom.records:
            for qnam, mapping in block.supp.items():
                label = str(mapping.get("label") or qnam)
                path = (*block.json_path, "supp", qnam)
                if qnam in first and first[qnam][0] != label:
                    self.error("SPEC047", f"SUPP{dname} QNAM {qnam} has two labels, "
                               f"{first[qnam][0]!r} and {label!r}: QLABEL is one per QNAM",
                               path, Severity.WARNING)
                    continue
                first.setdefault(qnam, (label, path))
                if owner.setdefault(label, qnam) != qnam:
                    self.error("SPEC047", f"SUPP{dname} QNAM {qnam} has the label {label!r} of "
                               f"QNAM {owner[label]}: QLABEL must be unique per QNAM within "
                               "the dataset", path, Severity.WARNING)

    def references(self) -> None:
        """What derivations read from other domains (``x-needs``: --DY and EPOCH read DM,
        SDTMIG 3.4 section 4.4.4), and DM itself (section 5.2)."""
        domains = self.spec.domains
        if domains and "DM" not in domains:
            self.error("SPEC028", "every SDTM submission has DM (SDTMIG 3.4 section 5.2): add a "
                       "DM domain, the subjects of all other domains must be in it", ("domains",))
        for dname, dom in domains.items():
            for var, mapping in dom.derive.items():
                name = mapping["algorithm"]
                for domain, needed in self.algorithms[name].needs:
                    # a needed domain the spec lacks is reported where the mapping is checked
                    if domain in domains and needed not in self.derived.get(domain, set()):
                        self.error("SPEC019", f"{name} reads {domain}.{needed}, which this "
                                   "spec does not map or derive", ("domains", dname, "derive",
                                                                   var))

    def block(self, block: RecordBlock, meta: standards.Dataset) -> set[str]:
        path = block.json_path
        source = self.spec.sources.get(block.source)
        if source is None:
            self.error("SPEC011", f"source {block.source!r} is not declared under sources "
                       f"(declared: {', '.join(self.spec.sources)})", (*path, "source"))
            return set(block.map)
        columns = set(source.columns)
        for j, join in enumerate(block.join):
            jpath = (*path, "join", j)
            other = self.spec.sources.get(join["source"])
            if other is None:
                self.error("SPEC011", f"joined source {join['source']!r} is not declared",
                           (*jpath, "source"))
                continue
            self.use(block.source, join.get("on"))
            self.use(join["source"], join.get("right_on"))
            if join.get("on", source.subject) not in source.columns:
                self.error("SPEC014", f"column {join.get('on')!r} is not a column of "
                           f"{block.source!r}", (*jpath, "on"))
            if join.get("right_on", other.subject) not in other.columns:
                self.error("SPEC014", f"column {join.get('right_on')!r} is not a column of "
                           f"{join['source']!r}", (*jpath, "right_on"))
            columns |= {f"{join['source']}.{c}" for c in other.columns}
        if block.where:
            self.condition(block.where, (*path, "where"), columns, block.source)
        if block.first_per:
            for col in [*block.first_per["by"], block.first_per["order_by"]]:
                self.use(block.source, col)
                if col not in columns:
                    self.error("SPEC014", f"column {col!r} is not a column of source "
                               f"{block.source!r}", (*path, "first_per"))
        if block.aggregate:
            agg = block.aggregate
            named = [*agg["by"], *agg.get("first", []), *agg.get("sum", {}).values(),
                     *agg.get("count", {}).values()]
            for col in named:
                self.use(block.source, col)
                if col not in columns:
                    self.error("SPEC014", f"column {col!r} is not a column of source "
                               f"{block.source!r}", (*path, "aggregate"))
            columns = {*agg["by"], *agg.get("first", []), *agg.get("sum", {}),
                       *agg.get("count", {})}
        place = _Place(("record",), columns, block.source)
        if meta.has("USUBJID") and "USUBJID" not in block.map:
            self.error("SPEC024", f"every {meta.name} record needs USUBJID: map it in this "
                       "block (algorithm usubjid)", (*path, "map"))
        for var, mapping in block.map.items():
            vpath = (*path, "map", var)
            if not meta.has(var):
                self.error("SPEC012", f"{var} is not a variable of {meta.name} in SDTMIG 3.4; "
                           "non-standard variables go under supp:", vpath)
            self.mapping(mapping, vpath, place)
            self._result_values(meta, var, mapping, vpath)
            copies = self.algorithms[mapping["algorithm"]].copies
            column = mapping.get(copies) if copies else None
            if (column is not None and meta.has(var) and meta.variable(var).iso8601
                    and self._column_type(column, block.source) in _DATE_TYPES):
                self.error("SPEC027", f"{var} is ISO 8601 but {column!r} is a collected date: "
                           "use assign_datetime to convert it", vpath)
        for qnam, mapping in block.supp.items():
            qpath = (*path, "supp", qnam)
            if meta.has(qnam):
                self.error("SPEC017", f"{qnam} is a standard {meta.name} variable; map it under "
                           "map:, not supp:", qpath)
            self.mapping(mapping, qpath, place)
        return set(block.map)

    def condition(self, cond: dict[str, Any], path: JsonPath, columns: set[str],
                  source: str) -> None:
        for col in condition_columns(cond):
            self.use(source, col)
            if col not in columns:
                self.error("SPEC014", f"column {col!r} is not a column of source {source!r} "
                           "(or of a joined source, as source.column)", path)
        for leaf in leaf_conditions(cond):
            values = compared_values(leaf)
            numeric = self._column_type(leaf["column"], source) in ("integer", "number")
            for value in values:
                if isinstance(value, bool):
                    self.error("SPEC032", f"{value!r} is a YAML boolean: quote it (\"Yes\", "
                               "\"Y\") to compare with the text in the file", path)
                elif numeric and isinstance(value, str) and not _is_number(value):
                    self.error("SPEC032", f"{leaf['column']!r} is numeric: {value!r} can never "
                               "match it", path)

    # -- mappings, driven by the algorithms' declarations ------------------------------
    def mapping(self, mapping: dict[str, Any], path: JsonPath, place: _Place) -> None:
        name = mapping["algorithm"]
        algo = self.algorithms[name]
        if algo.phase not in place.phases:
            where = "map:/supp: of a record block" if algo.phase == "record" else "derive:"
            self.error("SPEC013", f"algorithm {name!r} works on {algo.phase} level and belongs "
                       f"under {where}", (*path, "algorithm"))
            return
        self._arguments(name, algo.schema, mapping, path, place)
        needed: dict[str, list[str]] = {}
        for domain, variable in algo.needs:
            needed.setdefault(domain, []).append(variable)
        for domain, variables in needed.items():
            if domain not in self.spec.domains:
                self.error("SPEC019", f"{name} needs {domain} ({'/'.join(variables)}) in the "
                           "spec", path)

    def _arguments(self, name: str, schema: Mapping[str, Any], given: dict[str, Any],
                   path: JsonPath, place: _Place) -> None:
        """Check each argument in ``given`` that ``schema`` (an object's) declares."""
        for arg, sub in schema.get("properties", {}).items():
            if arg in given and isinstance(sub, dict):
                self._argument(name, sub, given[arg], (*path, arg), given, place)

    def _argument(self, name: str, schema: Mapping[str, Any], value: Any, path: JsonPath,
                  siblings: dict[str, Any], place: _Place) -> None:
        refers = schema.get("x-refers")
        if refers is not None:
            _REFERS[refers](self, _Arg(name, schema, value, path, siblings, place))
        items = schema.get("items")
        if isinstance(items, dict) and isinstance(value, list):
            for i, item in enumerate(value):
                self._argument(name, items, item, (*path, i), siblings, place)
        elif "properties" in schema and isinstance(value, dict):
            self._arguments(name, schema, value, path, place)

    def _refers_column(self, arg: _Arg) -> None:
        col, place = arg.value, arg.place
        of = arg.schema.get("x-of")
        if of is not None:  # a column of the source another argument names
            source = arg.siblings.get(of)
            other = self.spec.sources.get(source)
            if other is None:
                return  # that argument is reported
            self.use(source, col)
            if col not in other.columns:
                self.error("SPEC014", f"column {col!r} is not a column of {source!r}", arg.path)
            return
        if place.columns is None:
            return  # no source rows under derive:
        self.use(place.block_source, col)
        types = arg.schema.get("x-column-types")
        if col not in place.columns:
            self.error("SPEC014", f"column {col!r} is not a column of source "
                       f"{place.block_source!r} (or of a joined source, as source.column)",
                       arg.path)
        elif types and (ctype := self._column_type(col, place.block_source)) not in types:
            self.error("SPEC022", f"{arg.algorithm} needs a {'/'.join(types)} column; {col!r} "
                       f"is declared {ctype!r}", arg.path)

    def _refers_source(self, arg: _Arg) -> None:
        if arg.value not in self.spec.sources:
            self.error("SPEC011", f"{arg.algorithm} source {arg.value!r} is not declared",
                       arg.path)

    def _refers_codelist(self, arg: _Arg) -> None:
        self._codelist(arg.value, arg.path)

    def _refers_term(self, arg: _Arg) -> None:
        name = arg.siblings.get(arg.schema["x-of"])
        codelist = self._codelist(name, None) if isinstance(name, str) else None
        if codelist is not None and arg.value not in codelist.terms:
            self.error("SPEC016", f"{arg.value!r} is not a term of {codelist.code} "
                       f"({codelist.short_name})", arg.path)

    def _refers_domain(self, arg: _Arg) -> None:
        if arg.value not in self.spec.domains:
            self.error("SPEC018", f"domain {arg.value} is not mapped in this spec", arg.path)

    def _refers_variable(self, arg: _Arg) -> None:
        if arg.place.domain_vars is not None and arg.value not in arg.place.domain_vars:
            self.error("SPEC019", f"{arg.value} is not mapped in this domain", arg.path)

    def _refers_date_format(self, arg: _Arg) -> None:
        why = check_format(arg.value)
        if why:
            self.error("SPEC021", why, arg.path)

    def _refers_condition(self, arg: _Arg) -> None:
        if arg.place.columns is not None:
            self.condition(arg.value, arg.path, arg.place.columns, arg.place.block_source or "")

    def _refers_mapping(self, arg: _Arg) -> None:
        self.mapping(arg.value, arg.path, arg.place)

    def _result_values(self, meta: standards.Dataset, var: str, mapping: dict[str, Any],
                       path: JsonPath) -> None:
        """Values a mapping writes as they are (``x-result``: a recode map's values) against
        the target variable's codelist, as study_ct map targets are (SPEC020).

        Findings results are left out: their codelist depends on the test (--TESTCD).
        """
        variable = meta.variable(var) if meta.has(var) else None
        algo = self.algorithms.get(mapping.get("algorithm", ""))
        if variable is None or not variable.codelist or algo is None or (
                variable.role == "Result Qualifier"):
            return
        try:
            codelist = standards.codelist(variable.codelist)
        except StandardsError:
            return
        for arg, sub in algo.schema.get("properties", {}).items():
            if not (isinstance(sub, dict) and sub.get("x-result")) or arg not in mapping:
                continue
            given = mapping[arg]
            for key, value in (given.items() if isinstance(given, dict) else [(None, given)]):
                if not isinstance(value, str) or value in codelist.terms:
                    continue
                where = (*path, arg) if key is None else (*path, arg, key)
                if codelist.extensible:
                    self.error("SPEC020", f"{value!r} is not a term of extensible codelist "
                               f"{codelist.code} ({codelist.short_name}) of {var}: a sponsor "
                               "extension", where, Severity.NOTICE)
                else:
                    self.error("SPEC020", f"{value!r} is not a term of non-extensible codelist "
                               f"{codelist.code} ({codelist.short_name}) of {var}; allowed: "
                               f"{', '.join(sorted(codelist.terms)[:12])}"
                               f"{' ...' if len(codelist.terms) > 12 else ''}", where)

    def _refers_pattern(self, arg: _Arg) -> None:
        why = pattern_problem(arg.value) if isinstance(arg.value, str) else None
        if why:
            self.error("SPEC060", f"{arg.algorithm}: {why}", arg.path)

    def _refers_template(self, arg: _Arg) -> None:
        """Each {placeholder} is a column, checked (and counted as read) like a column argument."""
        try:
            fields = template_fields(arg.value)
        except ValueError as exc:
            self.error("SPEC061", f"{arg.algorithm}: template {arg.value!r}: {exc}", arg.path)
            return
        if not fields:
            self.error("SPEC061", f"{arg.algorithm}: template {arg.value!r} has no {{column}} "
                       "placeholder: use hardcode for a fixed text", arg.path)
        for name in fields:
            self._refers_column(replace(arg, value=name))

    def _column_type(self, column: str, block_source: str | None) -> str | None:
        if "." in column:
            src, _, col = column.partition(".")
        else:
            src, col = block_source or "", column
        source = self.spec.sources.get(src)
        return source.columns[col].type if source and col in source.columns else None


@dataclass(frozen=True)
class _Arg:
    """One argument of a mapping, as a reference check sees it."""

    algorithm: str
    schema: Mapping[str, Any]  # its part of args_<algorithm>
    value: Any
    path: JsonPath
    siblings: dict[str, Any]  # the map it is a key of (for x-of)
    place: _Place


#: x-refers -> the check of what the value names (cdisc.spec.algorithms.KINDS)
_REFERS: dict[str, Callable[[_Checker, _Arg], None]] = {
    "column": _Checker._refers_column,
    "source": _Checker._refers_source,
    "codelist": _Checker._refers_codelist,
    "term": _Checker._refers_term,
    "domain": _Checker._refers_domain,
    "variable": _Checker._refers_variable,
    "date_format": _Checker._refers_date_format,
    "condition": _Checker._refers_condition,
    "mapping": _Checker._refers_mapping,
    "pattern": _Checker._refers_pattern,
    "template": _Checker._refers_template,
}


def _spec_name(header: str) -> str:
    """A name a spec can use for a header: ``Study No.`` -> ``study_no``."""
    name = re.sub(r"\W+", "_", header.strip().lower(), flags=re.ASCII).strip("_")
    return name if name and not name[0].isdigit() else f"col_{name}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- adam:

#: ADSL variables the ADaM rules derive, by the rule that derives them
_ADSL_ALWAYS = ("TRT01P", "TRT01A", "TRTSDT", "TRTEDT", "TRTDURD", "LSTALVDT")
_ADSL_BY_RULE = {"end_of_treatment": ("EOTSTT", "DCTREAS"),
                 "end_of_study": ("EOSSTT", "EOSDT", "DCSREAS"),
                 "randomization": ("RANDDT",), "death": ("DTHDT", "DTHDTF")}
#: ADSL dates a population flag may count from
_ADSL_DATES = ("TRTSDT", "TRTEDT", "RANDDT")


class _AdamChecker:
    """Does every dataset and variable the ``adam:`` section names exist?

    With a mapping spec the SDTM datasets are the spec's own domains, so a
    variable must be one the spec writes (mapped, derived, a SUPP qualifier, or
    a Req/Exp variable, always written). For ADaM rules alone (SDTM made
    elsewhere) a name that is no standard variable may be a SUPP-- qualifier:
    a notice. ADSL variables must be ones these rules derive; ADRS ones, ADRS's.
    """

    def __init__(self, adam: AdamSpec, problems: ProblemLog, domains: Mapping[str, Any] | None,
                 error: Callable[..., None]) -> None:
        self.adam = adam
        self.problems = problems
        self.domains = domains
        self.error = error
        self.adsl_vars = self._adsl_variables()

    # -- what exists ---------------------------------------------------------------
    def _domain_variables(self, name: str) -> set[str] | None:
        """Variables the spec's SDTM dataset ``name`` has; None when not knowable."""
        if self.domains is None or name not in self.domains:
            return None
        dom = self.domains[name]
        found = {"STUDYID", "DOMAIN", "USUBJID", *dom.derive}
        for block in dom.records:
            found |= set(block.map) | set(block.supp)
        meta = standards.dataset(name)
        found |= {v.name for v in meta.variables if v.core in ("Req", "Exp")}
        return found

    def _adsl_variables(self) -> set[str]:
        a = self.adam.adsl
        dm = self._domain_variables("DM")
        if dm is None:
            dm = set(standards.dataset("DM").names)
        meta = standards.dataset("ADSL")
        carried = set(a.carry) if a.carry is not None else {v for v in meta.names if v in dm}
        found = {"STUDYID", "USUBJID", *carried, *_ADSL_ALWAYS, *(f.name for f in a.flags)}
        for rule, names in _ADSL_BY_RULE.items():
            if getattr(a, rule) is not None:
                found |= set(names)
        return found

    def dataset(self, name: str, path: JsonPath) -> bool:
        """Is ``name`` a dataset the rules may read? (reported when not)"""
        if name in ADAM_SOURCES:
            return True
        if name.startswith(("AD", "SUPP")):
            self.error("SPEC040", f"{name} cannot be read here: name an SDTM domain (its SUPP-- "
                       f"qualifiers are read as its variables), {' or '.join(ADAM_SOURCES)}",
                       path)
            return False
        if self.domains is not None and name not in self.domains:
            self.error("SPEC040", f"domain {name} is not mapped in this spec (mapped: "
                       f"{', '.join(self.domains)})", path)
            return False
        return True

    def variable(self, dataset: str, var: str, path: JsonPath) -> None:
        if dataset == "ADSL":
            if var not in self.adsl_vars:
                hint = next((f" (derived only with adam.adsl.{rule})" for rule, names in
                             _ADSL_BY_RULE.items() if var in names), "")
                self.error("SPEC041", f"ADSL.{var} is not a variable these ADaM rules derive"
                           f"{hint}", path)
            return
        if dataset == "ADRS":
            try:
                known = standards.dataset("ADRS")
            except StandardsError:
                return
            if not known.has(var):
                self.error("SPEC041", f"{var} is not a variable of ADRS", path)
            return
        found = self._domain_variables(dataset)
        if found is not None:
            if var not in found:
                self.error("SPEC041", f"{dataset}.{var} is not written by this spec (not mapped, "
                           f"derived, a supp: qualifier of {dataset}, or a Req/Exp variable)",
                           path)
            return
        try:
            meta = standards.dataset(dataset)
        except StandardsError:
            return  # a domain this tool has no metadata for: checked when derived
        if not meta.has(var):
            self.error("SPEC041", f"{var} is not a variable of {dataset} in SDTMIG 3.4; it must "
                       f"be a SUPP{dataset} qualifier", path, Severity.NOTICE)

    def condition(self, dataset: str, cond: Mapping[str, Any] | None, path: JsonPath) -> None:
        if not cond:
            return
        for col in condition_columns(cond):
            self.variable(dataset, col, path)
        for leaf in leaf_conditions(cond):
            for value in compared_values(leaf):
                if isinstance(value, bool):
                    self.error("SPEC032", f"{value!r} is a YAML boolean: quote it (\"Y\") to "
                               "compare with the text in the dataset", path)

    def source(self, s: DateSource, path: JsonPath | None = None, *extra: str | None) -> None:
        path = path or s.json_path
        if not self.dataset(s.dataset, (*path, "dataset")):
            return
        self.variable(s.dataset, s.date, (*path, "date"))
        for var in extra:
            if var:
                self.variable(s.dataset, var, path)
        self.condition(s.dataset, s.where, (*path, "where"))

    # -- the section ----------------------------------------------------------------
    def check(self) -> None:
        a = self.adam.adsl
        meta = standards.dataset("ADSL")
        t = a.treatment
        if t != TreatmentSpec() and self.dataset(t.dataset, (*t.json_path, "dataset")):
            self.variable(t.dataset, t.start, (*t.json_path, "start"))
            self.variable(t.dataset, t.end, (*t.json_path, "end"))
            self.condition(t.dataset, t.where, (*t.json_path, "where"))
            self.condition(t.dataset, t.ongoing, (*t.json_path, "ongoing", "where"))
        for key in ("planned", "actual"):
            if t != TreatmentSpec():
                self.variable("DM", getattr(t, key), (*t.json_path, key))
        if t.ongoing is not None and t.ongoing_end == "cutoff" and not self.adam.data_cutoff:
            self.error("SPEC045", "treatment ongoing at the cut-off ends at the data cut-off: "
                       "give adam.data_cutoff", (*t.json_path, "ongoing", "end"))
        for name in a.carry or ():
            if not meta.has(name):
                self.error("SPEC042", f"{name} is not an ADSL variable (schemas/adam/"
                           "adsl.schema.json)", (*a.json_path, "carry"))
            self.variable("DM", name, (*a.json_path, "carry"))
        for f in a.flags:
            if f == SAFFL_ANY_DOSE:
                continue
            if not meta.has(f.name):
                self.error("SPEC042", f"{f.name} is not an ADSL variable (schemas/adam/"
                           "adsl.schema.json)", f.json_path)
            if self.dataset(f.dataset, (*f.json_path, "dataset")):
                self.condition(f.dataset, f.where, (*f.json_path, "where"))
                if f.date:
                    self.variable(f.dataset, f.date, (*f.json_path, "date"))
            if f.on_or_after and (f.on_or_after not in _ADSL_DATES
                                  or f.on_or_after not in self.adsl_vars):
                self.error("SPEC043", f"on_or_after must be an ADSL date these rules derive "
                           f"({', '.join(d for d in _ADSL_DATES if d in self.adsl_vars)})",
                           (*f.json_path, "on_or_after"))
        for key in ("end_of_treatment", "end_of_study"):
            d = getattr(a, key)
            if d is not None and self.dataset(d.dataset, (*d.json_path, "dataset")):
                self.variable(d.dataset, d.decod, (*d.json_path, "decod"))
                self.variable(d.dataset, d.date, (*d.json_path, "date"))
                self.condition(d.dataset, d.where, (*d.json_path, "where"))
        if a.randomization is not None:
            self.source(a.randomization)
        if a.death not in (None, DeathSpec()) and self.dataset(
                a.death.dataset, (*a.death.json_path, "dataset")):
            self.variable(a.death.dataset, a.death.date, (*a.death.json_path, "date"))
        for s in a.last_alive.dates or ():
            self.source(s)
        if self.adam.adtte is not None:
            self.adtte()

    def adtte(self) -> None:
        tte = self.adam.adtte
        assert tte is not None
        meta = standards.dataset("ADTTE")
        for var in tte.adsl_variables or ():
            if not meta.has(var) and var not in ("TRT01P", "TRT01A"):
                self.error("SPEC042", f"{var} is not an ADTTE variable (schemas/adam/"
                           "adtte.schema.json)", (*tte.json_path, "adsl_variables"))
            self.variable("ADSL", var, (*tte.json_path, "adsl_variables"))
        seen: dict[str, JsonPath] = {}
        for p in tte.parameters:
            self.parameter(p)
            if p.paramcd in seen:
                self.error("SPEC044", f"PARAMCD {p.paramcd} is declared twice (first at "
                           f"{'.'.join(map(str, seen[p.paramcd]))})", (*p.json_path, "paramcd"))
            seen.setdefault(p.paramcd, p.json_path)

    def parameter(self, p: TteParameter) -> None:
        self.source(p.start)
        self.condition("ADSL", p.population, (*p.json_path, "population"))
        for src in (*p.events, *p.censors):
            self.source(src.source, src.json_path, src.srcseq)
            if src.srcseq:
                self.variable(src.source.dataset, src.srcseq, (*src.json_path, "srcseq"))


class _TrialDesignChecker:
    """``trial_summary:`` and ``trial_design:`` (SPEC050-058): every name they use exists."""

    def __init__(self, checker: _Checker) -> None:
        self.c = checker
        self.spec = checker.spec
        self.error = checker.error

    def written(self, dataset: str, var: str) -> bool:
        """Is ``dataset.var`` a variable this spec writes (mapped, derived, Req/Exp)?"""
        if var in self.c.derived.get(dataset, set()):
            return True
        try:
            return standards.dataset(dataset).variable(var).core in ("Req", "Exp")
        except (StandardsError, KeyError):
            return False

    def reference(self, dataset: str, var: str | None, path: JsonPath) -> bool:
        if dataset not in self.spec.domains:
            self.error("SPEC052", f"{dataset} is not a domain of this spec (mapped: "
                       f"{', '.join(self.spec.domains)})", path)
            return False
        if var is not None and not self.written(dataset, var):
            self.error("SPEC052", f"{dataset}.{var} is not written by this spec (not mapped, "
                       "derived, nor a Req/Exp variable)", path)
            return False
        return True

    def check(self) -> None:
        for p in self.spec.trial_parameters:
            self.parameter(p)
        if self.spec.trial_design is not None:
            self.design(self.spec.trial_design)

    def parameter(self, p: TsParameter) -> None:
        tsparmcd = standards.codelist("C66738")
        term = tsparmcd.terms.get(p.parmcd)
        known = None
        if term is not None:
            names = standards.codelist("C67152")
            known = next((t.submission_value for t in names.terms.values()
                          if t.code == term.code), None)
        if known is None and p.parm is None:
            self.error("SPEC050", f"TSPARMCD {p.parmcd} is not in the CT subset this tool "
                       "ships (codelist C66738): give its TSPARM as parm:", p.json_path)
        elif known is not None and p.parm is not None and p.parm != known:
            self.error("SPEC050", f"parm {p.parm!r} differs from the CT name of {p.parmcd} "
                       f"({known!r}); leave parm: out", p.json_path)
        if p.parmcd == "SDTIGVER":
            given = {v.value for v in p.values}
            if given - {None, self.spec.study.sdtmig_version}:
                self.error("SPEC054", f"SDTIGVER {', '.join(sorted(given - {None}))} is not "
                           f"study.sdtmig_version {self.spec.study.sdtmig_version}",
                           p.json_path)
        for v in p.values:
            if v.value is not None and len(v.value.encode("utf-8")) > 200:
                self.error("SPEC053", f"TSVAL of {p.parmcd} is over 200 bytes (TSVAL1-TSVALn "
                           "are not written): shorten it", v.json_path)
            if v.codelist is not None:
                if v.code is not None or v.dictionary is not None:
                    self.error("SPEC053", "a CT value takes its code from codelist:; leave "
                               "code:/dictionary: out", v.json_path)
                codelist = self.c._codelist(v.codelist, (*v.json_path, "codelist"))
                if codelist is not None and v.value not in codelist.terms:
                    self.error("SPEC016", f"{v.value!r} is not a term of {codelist.code} "
                               f"({codelist.short_name}) in CT {self.spec.study.ct_version}",
                               (*v.json_path, "value"))
            if v.code is not None and v.dictionary is None:
                self.error("SPEC053", "code: needs dictionary: (TSVCDREF, e.g. UNII, SNOMED)",
                           v.json_path)
            if v.null_flavor is not None and any(
                    x is not None for x in (v.codelist, v.code, v.dictionary)):
                self.error("SPEC053", "a null flavor has no value, so no code or dictionary",
                           v.json_path)
            if v.derive is not None:
                self.derivation(v.derive, v.of, v.json_path)

    def derivation(self, derive: str, of: str | None, path: JsonPath) -> None:
        if of is None:
            self.error("SPEC052", f"derive: {derive} needs of: (DATASET.VARIABLE for "
                       "earliest/latest, DATASET for count)", path)
            return
        dataset, _, var = of.partition(".")
        if derive == "count" and var:
            self.error("SPEC052", f"derive: count counts the subjects of a dataset: of: "
                       f"{dataset}", (*path, "of"))
        elif derive != "count" and not var:
            self.error("SPEC052", f"derive: {derive} reads a date: of: {dataset}.<variable>",
                       (*path, "of"))
        else:
            self.reference(dataset, var or None, (*path, "of"))

    def selection(self, s: DateSelection | None) -> None:
        if s is None or not self.reference(s.dataset, s.date, (*s.json_path, "date")):
            return
        for col in condition_columns(s.where) if s.where else ():
            self.reference(s.dataset, col, (*s.json_path, "where"))

    def design(self, td: TrialDesign) -> None:
        epochs = standards.codelist("EPOCH")
        used: set[str] = set()
        for e in td.elements:
            if e.epoch not in epochs.terms:
                self.error("SPEC055", f"EPOCH {e.epoch!r} is not a term of {epochs.code} "
                           "(EPOCH, extensible): a sponsor extension", (*e.json_path, "epoch"),
                           Severity.NOTICE)
            self.selection(e.start)
            self.selection(e.end)
        armcds: set[str] = set()
        for arm in td.arms:
            if arm.armcd in armcds:
                self.error("SPEC055", f"ARMCD {arm.armcd} is declared twice",
                           (*arm.json_path, "armcd"))
            armcds.add(arm.armcd)
            for i, etcd in enumerate(arm.elements):
                used.add(etcd)
                if td.element(etcd) is None:
                    self.error("SPEC055", f"element {etcd!r} is not declared under "
                               "trial_design.elements", (*arm.json_path, "elements", i))
            for key in ("branch", "transition"):
                for etcd in getattr(arm, key):
                    if etcd not in arm.elements:
                        self.error("SPEC055", f"{key} names {etcd!r}, which is not an element "
                                   f"of arm {arm.armcd}", (*arm.json_path, key, etcd))
        for e in td.elements:
            if e.etcd not in used and td.arms:
                self.error("SPEC055", f"element {e.etcd} is in no arm", e.json_path,
                           Severity.WARNING)
        planned: set[tuple[str, str | None]] = set()
        for v in td.visits:
            if v.visit not in self.spec.visits:
                self.error("SPEC056", f"visit {v.visit!r} is not in the visits: table (its "
                           "VISITNUM comes from there)", (*v.json_path, "visit"))
            if v.armcd is not None and v.armcd not in armcds:
                self.error("SPEC056", f"ARMCD {v.armcd} is not an arm of trial_design.arms",
                           (*v.json_path, "armcd"))
            if (v.visit, v.armcd) in planned:
                self.error("SPEC056", f"visit {v.visit!r} is planned twice"
                           + (f" for arm {v.armcd}" if v.armcd else ""), v.json_path)
            planned.add((v.visit, v.armcd))
            if v.visitdy == 0:
                self.error("SPEC056", "VISITDY 0 does not exist (day 1 is the reference "
                           "day, the day before is -1)", (*v.json_path, "visitdy"))
        for i, name in enumerate(td.visit_datasets or ()):
            if self.reference(name, None, (*td.json_path, "visit_datasets", i)) and not (
                    self.written(name, "VISITNUM")):
                self.error("SPEC056", f"{name} does not write VISITNUM",
                           (*td.json_path, "visit_datasets", i))
        seen: set[tuple[str, str | None]] = set()
        for c in td.criteria:
            key = (c.ietestcd.upper(), c.version)
            if key in seen:
                self.error("SPEC057", f"IETESTCD {c.ietestcd} is declared twice"
                           + (f" in version {c.version}" if c.version else ""),
                           (*c.json_path, "ietestcd"))
            seen.add(key)


def _check_adam(adam: AdamSpec | None, problems: ProblemLog, domains: Mapping[str, Any] | None,
                error: Callable[..., None]) -> None:
    if adam is not None:
        _AdamChecker(adam, problems, domains, error).check()


def check_adam_only(adam: AdamSpec, document: Mapping[str, Any]) -> ProblemLog:
    """Problems of a file of ADaM rules alone (no mapping spec): its SDTM is unknown."""
    problems = ProblemLog()

    def error(code: str, message: str, path: JsonPath,
              severity: Severity = Severity.ERROR) -> None:
        problems.add(code, message, adam.locate(path), severity)

    try:
        RecistOptions(**dict(document.get("recist") or {}))
    except (TypeError, ValueError) as exc:
        error("SPEC026", f"recist options: {exc}", ("recist",))
    except CdiscError as exc:
        for problem in exc.problems:
            error("SPEC026", f"recist options: {problem.message}", ("recist",))
    _check_adam(adam, problems, None, error)
    return problems


def check_spec(spec: Spec, algorithms: Mapping[str, Declared] | None = None) -> ProblemLog:
    """Every semantic problem of ``spec`` (errors and notices).

    ``algorithms``: the declared algorithms to check mappings against; by
    default those of the shipped spec schema.
    """
    checker = _Checker(spec, algorithms)
    checker.study()
    checker.sources()
    checker.study_ct()
    checker.domains()
    checker.unused_columns()
    _check_adam(spec.adam, checker.problems, spec.domains, checker.error)
    _TrialDesignChecker(checker).check()
    return checker.problems
