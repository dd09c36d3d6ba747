"""Semantic checks of a schema-valid spec: does everything it names exist?

Columns in the sources, variables in the SDTMIG domain, algorithms in the
right phase, codelists and terms in CDISC CT, date formats that parse. Every
problem is collected with the spec line of the offending node.
"""

from __future__ import annotations

from typing import Any

from .. import standards
from ..adam.recist import RecistOptions
from ..errors import ProblemLog, Severity, StandardsError
from ..sdtm.conditions import condition_columns, leaf_conditions
from ..sdtm.dates import check_format
from ..sdtm.registry import known_algorithms
from .model import JsonPath, RecordBlock, Spec


class _Checker:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.problems = ProblemLog()
        self.algorithms = known_algorithms()
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

    # -- sources ---------------------------------------------------------------
    def sources(self) -> None:
        for name, src in self.spec.sources.items():
            path = ("sources", name)
            for col in (src.subject, *src.key):
                if col not in src.columns:
                    self.error("SPEC023", f"column {col!r} is used as subject/key but not declared "
                               "under columns", path)
            for col in src.columns.values():
                where = (*path, "columns", col.name, "format")
                for i, fmt in enumerate(col.formats):
                    why = check_format(fmt)
                    if why:  # a list of formats is located at the bad item
                        self.error("SPEC021", why, (*where, i) if (*where, i) in
                                   self.spec.positions else where)

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

    def _codelist(self, name: str, path: JsonPath) -> standards.Codelist | None:
        if name in self.spec.study_ct:
            try:
                return standards.codelist(self.spec.study_ct[name].codelist)
            except StandardsError:
                return None  # reported by study_ct()
        try:
            return standards.codelist(name)
        except StandardsError:
            self.error("SPEC015", f"codelist {name!r} is neither a study_ct entry nor a CDISC "
                       "codelist (C-code or short name)", path)
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
                self.mapping(mapping, path, columns=None, phases=("subject", "domain"),
                             domain_vars=mapped)
                mapped.add(var)
            seq = f"{dname}SEQ"
            if dname != "DM" and meta.has(seq) and seq not in mapped and any(
                    b.supp for b in dom.records):
                self.error("SPEC025", f"{dname} has supp: variables, whose IDVAR is {seq}: "
                           f"derive {seq} (algorithm seq)", ("domains", dname))
            self.derived[dname] = mapped
        self.references()

    def references(self) -> None:
        """What --DY, EPOCH and DM itself need from DM (SDTMIG 3.4 sections 4.4.4, 5.2)."""
        domains = self.spec.domains
        if domains and "DM" not in domains:
            self.error("SPEC028", "every SDTM submission has DM (SDTMIG 3.4 section 5.2): add a "
                       "DM domain, the subjects of all other domains must be in it", ("domains",))
            return
        needs = {"study_day": ("RFSTDTC",), "epoch": ("RFXSTDTC", "RFXENDTC")}
        dm_vars = self.derived.get("DM", set())
        for dname, dom in domains.items():
            for var, mapping in dom.derive.items():
                for needed in needs.get(mapping["algorithm"], ()):
                    if needed not in dm_vars:
                        self.error("SPEC019", f"{mapping['algorithm']} reads DM.{needed}, which "
                                   "this spec does not map or derive", ("domains", dname,
                                                                        "derive", var))

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
        if meta.has("USUBJID") and "USUBJID" not in block.map:
            self.error("SPEC024", f"every {meta.name} record needs USUBJID: map it in this "
                       "block (algorithm usubjid)", (*path, "map"))
        for var, mapping in block.map.items():
            vpath = (*path, "map", var)
            if not meta.has(var):
                self.error("SPEC012", f"{var} is not a variable of {meta.name} in SDTMIG 3.4; "
                           "non-standard variables go under supp:", vpath)
            self.mapping(mapping, vpath, columns=columns, phases=("record",),
                         block_source=block.source)
            if (meta.has(var) and meta.variable(var).iso8601 and mapping["algorithm"] == "assign"
                    and self._column_type(mapping["column"], block.source)
                    in ("date", "datetime", "time")):
                self.error("SPEC027", f"{var} is ISO 8601 but {mapping['column']!r} is a "
                           "collected date: use assign_datetime to convert it", vpath)
        for qnam, mapping in block.supp.items():
            qpath = (*path, "supp", qnam)
            if meta.has(qnam):
                self.error("SPEC017", f"{qnam} is a standard {meta.name} variable; map it under "
                           "map:, not supp:", qpath)
            self.mapping(mapping, qpath, columns=columns, phases=("record",),
                         block_source=block.source)
        return set(block.map)

    def condition(self, cond: dict[str, Any], path: JsonPath, columns: set[str],
                  source: str) -> None:
        for col in condition_columns(cond):
            self.use(source, col)
            if col not in columns:
                self.error("SPEC014", f"column {col!r} is not a column of source {source!r} "
                           "(or of a joined source, as source.column)", path)
        for leaf in leaf_conditions(cond):
            values = [leaf[k] for k in ("equals", "not_equals") if k in leaf]
            values += [v for k in ("in", "not_in") for v in leaf.get(k, [])]
            numeric = self._column_type(leaf["column"], source) in ("integer", "number")
            for value in values:
                if isinstance(value, bool):
                    self.error("SPEC032", f"{value!r} is a YAML boolean: quote it (\"Yes\", "
                               "\"Y\") to compare with the text in the file", path)
                elif numeric and isinstance(value, str) and not _is_number(value):
                    self.error("SPEC032", f"{leaf['column']!r} is numeric: {value!r} can never "
                               "match it", path)

    def mapping(self, mapping: dict[str, Any], path: JsonPath, *, columns: set[str] | None,
                phases: tuple[str, ...], block_source: str | None = None,
                domain_vars: set[str] | None = None) -> None:
        name = mapping["algorithm"]
        algo = self.algorithms[name]
        if algo.phase not in phases:
            where = "map:/supp: of a record block" if algo.phase == "record" else "derive:"
            self.error("SPEC013", f"algorithm {name!r} works on {algo.phase} level and belongs "
                       f"under {where}", (*path, "algorithm"))
            return
        if columns is not None:
            for arg in algo.column_args:
                col = mapping.get(arg)
                self.use(block_source, col)
                if col is not None and col not in columns:
                    self.error("SPEC014", f"column {col!r} is not a column of source "
                               f"{block_source!r} (or of a joined source, as source.column)",
                               (*path, arg))
                elif col is not None and name == "assign_datetime":
                    ctype = self._column_type(col, block_source)
                    if ctype not in ("date", "datetime", "time"):
                        self.error("SPEC022", f"assign_datetime needs a date/datetime/time column; "
                                   f"{col!r} is declared {ctype!r}", (*path, arg))
        if "codelist" in mapping:
            codelist = self._codelist(mapping["codelist"], (*path, "codelist"))
            if codelist and name == "hardcode_ct" and mapping["value"] not in codelist.terms:
                self.error("SPEC016", f"{mapping['value']!r} is not a term of {codelist.code} "
                           f"({codelist.short_name})", (*path, "value"))
        if name == "lookup":
            other = self.spec.sources.get(mapping["source"])
            if other is None:
                self.error("SPEC011", f"lookup source {mapping['source']!r} is not declared",
                           (*path, "source"))
            else:
                self.use(mapping["source"], mapping["column"])
                self.use(mapping["source"], mapping.get("right_on"))
                self.use(block_source, mapping.get("on"))
                for arg, cols in (("column", other.columns), ("right_on", other.columns)):
                    if arg in mapping and mapping[arg] not in cols:
                        self.error("SPEC014", f"column {mapping[arg]!r} is not a column of "
                                   f"{mapping['source']!r}", (*path, arg))
                if columns is not None and "on" in mapping and mapping["on"] not in columns:
                    self.error("SPEC014", f"column {mapping['on']!r} is not a column of "
                               f"{block_source!r}", (*path, "on"))
        if name == "condition":
            for i, case in enumerate(mapping["cases"]):
                if columns is not None:
                    self.condition(case["when"], (*path, "cases", i, "when"), columns,
                                   block_source or "")
                self.mapping(case["then"], (*path, "cases", i, "then"), columns=columns,
                             phases=phases, block_source=block_source, domain_vars=domain_vars)
            if "else" in mapping:
                self.mapping(mapping["else"], (*path, "else"), columns=columns, phases=phases,
                             block_source=block_source, domain_vars=domain_vars)
        if name == "coalesce":
            for i, sub in enumerate(mapping["of"]):
                self.mapping(sub, (*path, "of", i), columns=columns, phases=phases,
                             block_source=block_source, domain_vars=domain_vars)
        if name == "subject_date":
            for i, item in enumerate(mapping["from"]):
                if item["domain"] not in self.spec.domains:
                    self.error("SPEC018", f"domain {item['domain']} is not mapped in this spec",
                               (*path, "from", i, "domain"))
        if name in ("study_day", "epoch"):
            if domain_vars is not None and mapping["dtc"] not in domain_vars:
                self.error("SPEC019", f"{mapping['dtc']} is not mapped in this domain",
                           (*path, "dtc"))
            if "DM" not in self.spec.domains:
                self.error("SPEC019", f"{name} needs DM (RFSTDTC/RFXSTDTC) in the spec", path)

    def _column_type(self, column: str, block_source: str | None) -> str | None:
        if "." in column:
            src, _, col = column.partition(".")
        else:
            src, col = block_source or "", column
        source = self.spec.sources.get(src)
        return source.columns[col].type if source and col in source.columns else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_spec(spec: Spec) -> ProblemLog:
    """Every semantic problem of ``spec`` (errors and notices)."""
    checker = _Checker(spec)
    checker.study()
    checker.sources()
    checker.study_ct()
    checker.domains()
    checker.unused_columns()
    return checker.problems
