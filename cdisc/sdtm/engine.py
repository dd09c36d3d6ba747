"""Apply a mapping spec to source tables: record blocks -> SDTM domains + SUPPQUAL.

Phases (see :mod:`cdisc.sdtm.registry`):

1. record: per domain, per record block: join, filter (``where``), evaluate
   every ``map:`` and ``supp:`` mapping on the block's rows; blocks of one
   domain are stacked. STUDYID and DOMAIN are filled when a block does not map them.
2. subject: ``derive:`` algorithms that read other domains (DM's RF* dates).
3. sort every domain by its SDTMIG keys, then by every other variable, so the
   order (and --SEQ) never depends on the order of rows in the sources.
4. domain: ``derive:`` algorithms that need the sorted domain and DM (--SEQ,
   --DY, EPOCH).
5. text over 200 bytes split into SUPPQUAL where the spec allows it, SUPP--
   datasets built, variables put in SDTMIG order with Req/Exp always present,
   values given the IG's type.

Every record keeps the source name and row it came from until the end, so
orphans, CT failures and exclusions point at a line of a source file, and
the reconciliation can prove that no source record was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import standards
from ..errors import Location, ProblemLog, Severity
from ..sources.reader import ROW, SOURCE, SourceTable
from ..spec.model import DomainSpec, RecordBlock, Spec
from ..text import decimals
from .conditions import describe_condition, evaluate_condition
from .dates import to_iso8601
from .primitives import as_text, evaluate, split_text
from .registry import MappingContext, get_algorithm

SUPP_PREFIX = "__supp__"
#: QORIG of a SUPP value whose mapping names no origin
DEFAULT_ORIGIN = "CRF"
MAX_TEXT = 200


@dataclass
class Reconciliation:
    source: str
    file: str
    read: int
    mapped: int
    excluded: int

    @property
    def unaccounted(self) -> int:
        return self.read - self.mapped - self.excluded


@dataclass
class SdtmResult:
    datasets: dict[str, pd.DataFrame]  # final SDTM datasets by name (DM, AE, SUPPAE, ...)
    reconciliation: list[Reconciliation]
    exclusions: pd.DataFrame  # source, file, row, reason
    problems: ProblemLog
    #: (domain, variable) -> the mapping that produced it (for define.xml origins)
    provenance: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: record-level lineage: for each dataset, SOURCE/ROW per output record (same order)
    lineage: dict[str, pd.DataFrame] = field(default_factory=dict)


def _join(frame: pd.DataFrame, block: RecordBlock, ctx: MappingContext) -> pd.DataFrame:
    spec = ctx.spec
    for join in block.join:
        other = ctx.sources[join["source"]]
        left_on = join.get("on", spec.sources[block.source].subject)
        right_on = join.get("right_on", other.spec.subject)
        right = other.frame.drop(columns=[SOURCE]).rename(
            columns=lambda c, s=join["source"]: f"{s}.{c}"
        )
        rkey = f"{join['source']}.{right_on}"
        dup = right[rkey].duplicated(keep=False) & right[rkey].notna()
        for idx in dup[dup].index:
            row = int(right.at[idx, f"{join['source']}.{ROW}"])
            ctx.problems.add("MAP003", f"joined source {join['source']!r} has several rows for "
                             f"one {right_on}; a join must be many-to-one",
                             Location(file=other.file, row=row, field=right_on,
                                      value=right.at[idx, rkey]))
        # a blank key matches nothing (pandas would pair blank with blank)
        right = right[right[rkey].notna() & ~right[rkey].duplicated(keep="first")]
        left_key = as_text(frame[left_on]).astype("string")
        right_key = as_text(right[rkey]).astype("string")
        merged = frame.assign(__key__=left_key.to_numpy()).merge(
            right.assign(__key__=right_key.to_numpy()), on="__key__", how="left",
            validate="many_to_one",
        ).drop(columns="__key__")
        merged.index = frame.index
        matched = merged[f"{join['source']}.{ROW}"].notna()
        if join.get("required", True):
            ctx.at(block.domain, "", block.json_path).report(
                "MAP004", f"no row in joined source {join['source']!r} for this {left_on}",
                frame, frame[left_on].notna() & ~matched, left_on,
            )
        used = merged.loc[matched, f"{join['source']}.{ROW}"].astype(int)
        ctx.used_rows.setdefault(join["source"], set()).update(used.tolist())
        frame = merged.drop(columns=[f"{join['source']}.{ROW}"])
    return frame


def _order_key(frame: pd.DataFrame, column: str, ctx: MappingContext) -> pd.Series:
    """Sortable form of a column: dates by their ISO 8601 value, numbers as numbers."""
    spec = ctx.column_spec(column)
    if spec is not None and spec.formats:
        iso, _ = to_iso8601(frame[column], spec.formats)  # bad dates are reported by the mapping
        return iso.astype("string")
    return frame[column]


def _first_per(frame: pd.DataFrame, block: RecordBlock, ctx: MappingContext,
               exclusions: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per group, the earliest by ``order_by`` (e.g. a lesion's first assessment)."""
    rule = block.first_per or {}
    bctx = ctx.at(block.domain, "", block.json_path)
    ordered = frame.assign(__order__=_order_key(frame, rule["order_by"], bctx)).sort_values(
        ["__order__", ROW], kind="mergesort", na_position="last")
    first = ~ordered.duplicated(rule["by"], keep="first")
    dropped = ordered.loc[~first, [SOURCE, ROW]]
    if len(dropped):
        exclusions.append(dropped.assign(
            reason=f"{block.domain} records[{block.index}]: not the first row per "
                   f"{', '.join(rule['by'])} by {rule['order_by']}"))
    return frame.loc[ordered.index[first.to_numpy()]].sort_index()


def _aggregate(frame: pd.DataFrame, block: RecordBlock, ctx: MappingContext) -> pd.DataFrame:
    """One row per group: by columns, first values, sums (missing if any part is) and counts.

    ``first`` is the earliest value of the group (dates chronologically), so
    it never depends on the order of rows in the file; a group whose values
    differ gets a warning naming the rows. Every source row of a group counts
    as used; the group's lineage row is its first.
    """
    rule = block.aggregate or {}
    by = rule["by"]
    groups = frame.groupby(by, sort=True, dropna=False)
    parts = {SOURCE: groups[SOURCE].first(), ROW: groups[ROW].min()}
    bctx = ctx.at(block.domain, "", (*block.json_path, "aggregate"))
    for column in rule.get("first", []):
        key = frame.assign(__order__=_order_key(frame, column, bctx))
        earliest = key.sort_values("__order__", kind="mergesort", na_position="last")
        parts[column] = earliest.groupby(by, sort=True, dropna=False)[column].first()
        varies = frame.groupby(by, sort=False, dropna=False)[column].transform("nunique") > 1
        bctx.report("MAP012", f"{column} differs within one aggregate group "
                    f"({', '.join(by)}); the earliest value is used", frame, varies, column,
                    severity=Severity.WARNING)
    for name, column in rule.get("sum", {}).items():
        # RECIST-style sums: one unmeasured part makes the sum unknown, not smaller
        incomplete = frame[column].isna().groupby(
            [frame[b] for b in rule["by"]], sort=True, dropna=False).any()
        # 62 + 24.1 + 35.2 is 121.30000000000001 in binary: keep the inputs' precision
        total = groups[column].sum(min_count=1).round(decimals(frame[column]))
        parts[name] = total.where(~incomplete)
    for name, column in rule.get("count", {}).items():
        parts[name] = groups[column].count().astype("float64")
    out = pd.DataFrame(parts).reset_index()
    ctx.used_rows.setdefault(block.source, set()).update(int(r) for r in frame[ROW])
    return out


def _record_block(block: RecordBlock, ctx: MappingContext,
                  exclusions: list[pd.DataFrame]) -> pd.DataFrame:
    table = ctx.sources[block.source]
    frame = _join(table.frame, block, ctx)
    if block.where:
        keep = evaluate_condition(block.where, frame)
        dropped = frame.loc[~keep, [SOURCE, ROW]]
        if len(dropped):
            exclusions.append(dropped.assign(
                reason=f"{block.domain} records[{block.index}] where: "
                       f"{describe_condition(block.where)} is false"))
        frame = frame[keep]
    if block.first_per:
        frame = _first_per(frame, block, ctx, exclusions)
    if block.aggregate:
        frame = _aggregate(frame, block, ctx)
    out = pd.DataFrame(index=frame.index)
    for var, mapping in block.map.items():
        out[var] = evaluate(mapping, frame, ctx.at(block.domain, var,
                                                    (*block.json_path, "map", var)))
    for qnam, mapping in block.supp.items():
        out[SUPP_PREFIX + qnam] = evaluate(
            mapping, frame, ctx.at(block.domain, qnam, (*block.json_path, "supp", qnam)))
    out[SOURCE] = frame[SOURCE]
    out[ROW] = frame[ROW]
    return out.reset_index(drop=True)


def _sort(frame: pd.DataFrame, meta: standards.Dataset) -> pd.DataFrame:
    """Keys first, then every other variable (text form), then source lineage."""
    keys = [k for k in meta.keys if k in frame]
    rest = sorted(c for c in frame.columns if c not in keys and c not in (SOURCE, ROW))
    order = keys + rest
    sortable = pd.DataFrame(
        {c: as_text(frame[c]).astype("string").fillna("") if not
         pd.api.types.is_numeric_dtype(frame[c]) else frame[c] for c in order}
    )
    sortable[SOURCE] = frame[SOURCE].astype("string")
    sortable[ROW] = frame[ROW]
    ordered = sortable.sort_values([*order, SOURCE, ROW], kind="mergesort", na_position="first")
    return frame.loc[ordered.index].reset_index(drop=True)


def _conform(frame: pd.DataFrame, meta: standards.Dataset, ctx: MappingContext) -> pd.DataFrame:
    """IG variable order; Req/Exp present even if empty; IG types."""
    keep = [v for v in meta.variables if v.name in frame or v.core in ("Req", "Exp")]
    out = pd.DataFrame(index=frame.index)
    for var in keep:
        values = frame[var.name] if var.name in frame else pd.Series(None, index=frame.index,
                                                                      dtype=object)
        if var.is_numeric:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & numbers.isna()
            ctx.at(meta.name, var.name, ()).report(
                "MAP006", "value is not numeric but the variable is Num in SDTMIG",
                frame, bad, var.name, values)
            out[var.name] = numbers.astype("float64")
        else:
            text = as_text(values)
            out[var.name] = text.astype(object).where(text.notna(), None)
    out[SOURCE] = frame[SOURCE]
    out[ROW] = frame[ROW]
    return out


def _split_long(frame: pd.DataFrame, domain: DomainSpec, ctx: MappingContext,
                meta: standards.Dataset) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
    """Text over 200 bytes: SUPPQUAL pieces where allowed (SDTMIG 4.5.3), else an error.

    Returns the frame and, for each SUPP piece created, its (QLABEL, QORIG).
    """
    piece_labels: dict[str, tuple[str, str]] = {}
    mappings = {var: m for b in domain.records for var, m in b.map.items()}
    mappings.update({SUPP_PREFIX + q: m for b in domain.records for q, m in b.supp.items()})
    for column in list(frame.columns):
        if column in (SOURCE, ROW) or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        text = frame[column].astype("string")
        long = text.str.len().gt(MAX_TEXT).fillna(False)
        if not long.any():
            continue
        name = column.removeprefix(SUPP_PREFIX)
        if not mappings.get(column, {}).get("split_long_text"):
            ctx.at(domain.name, name, ()).report(
                "MAP007", f"text is longer than {MAX_TEXT} bytes; set split_long_text: true on "
                "this mapping to put the rest in SUPPQUAL (SDTMIG 4.5.3), or shorten it",
                frame, long, name, text)
            continue
        pieces = split_text(text)
        frame[column] = pieces[0]
        for i, piece in enumerate(pieces[1:], start=1):
            qnam = f"{name[:8 - len(str(i))]}{i}"
            frame[SUPP_PREFIX + qnam] = piece
            base = mappings.get(column, {})
            label = base.get("label") or (meta.variable(name).label if meta.has(name) else name)
            piece_labels[qnam] = (label[:40], base.get("origin", DEFAULT_ORIGIN))
    return frame, piece_labels


def _suppqual(frame: pd.DataFrame, domain: DomainSpec, spec: Spec,
              piece_labels: dict[str, tuple[str, str]]) -> pd.DataFrame | None:
    columns = [c for c in frame.columns if c.startswith(SUPP_PREFIX)]
    if not columns:
        return None
    seqvar = f"{domain.name}SEQ"
    declared = {q: m for b in domain.records for q, m in b.supp.items()}
    idvar = None if domain.name == "DM" else seqvar
    long = frame.melt(
        id_vars=["USUBJID", SOURCE, ROW] + ([seqvar] if idvar else []),
        value_vars=columns, var_name="QNAM", value_name="QVAL",
    ).dropna(subset=["QVAL"])
    long = long[long["QVAL"].astype("string").str.len() > 0]
    long["QNAM"] = long["QNAM"].str.removeprefix(SUPP_PREFIX)

    # QLABEL/QORIG/QEVAL per QNAM, looked up once per QNAM rather than per record
    qnams = long["QNAM"].unique()
    labels = {q: declared[q].get("label", q) if q in declared
              else piece_labels.get(q, (q, DEFAULT_ORIGIN))[0] for q in qnams}
    origins = {q: declared[q].get("origin", DEFAULT_ORIGIN) if q in declared
               else piece_labels.get(q, (q, DEFAULT_ORIGIN))[1] for q in qnams}
    evaluators = {q: declared.get(q, {}).get("evaluator") for q in qnams}

    supp = pd.DataFrame({
        "STUDYID": spec.study.studyid,
        "RDOMAIN": domain.name,
        "USUBJID": long["USUBJID"],
        "IDVAR": idvar or None,
        "IDVARVAL": as_text(long[seqvar]) if idvar else None,
        "QNAM": long["QNAM"],
        "QLABEL": long["QNAM"].map(labels),
        "QVAL": as_text(long["QVAL"]),
        "QORIG": long["QNAM"].map(origins),
        "QEVAL": long["QNAM"].map(evaluators),
        SOURCE: long[SOURCE],
        ROW: long[ROW],
    })
    return supp


def build_sdtm(spec: Spec, sources: dict[str, SourceTable], problems: ProblemLog) -> SdtmResult:
    """Run all phases; record problems go to ``problems`` (the caller decides to stop)."""
    ctx = MappingContext(spec, sources, problems)
    exclusions: list[pd.DataFrame] = []
    built: dict[str, pd.DataFrame] = {}
    metas = {name: standards.dataset(name) for name in spec.domains}

    # 1. record phase
    for name, domain in spec.domains.items():
        blocks = [_record_block(b, ctx, exclusions) for b in domain.records
                  if b.source in sources]
        frame = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
        if "STUDYID" not in frame:
            frame.insert(0, "STUDYID", spec.study.studyid)
        if metas[name].has("DOMAIN") and "DOMAIN" not in frame:
            frame.insert(1, "DOMAIN", name)
        built[name] = frame
    ctx.domains = built

    # 2. subject phase; 3. sort; 4. domain phase
    for phase in ("subject", "domain"):
        for name, domain in spec.domains.items():
            if phase == "domain":
                built[name] = _sort(built[name], metas[name])
            for var, mapping in domain.derive.items():
                if get_algorithm(mapping["algorithm"]).phase == phase:
                    frame = built[name]
                    frame[var] = evaluate(mapping, frame,
                                          ctx.at(name, var, ("domains", name, "derive", var)))

    _check_orphans(built, spec, ctx)
    _check_cutoff(built, spec, ctx)
    _check_one_dm_record(built, ctx)

    # 5. long text, SUPPQUAL, conform to the IG
    datasets: dict[str, pd.DataFrame] = {}
    lineage: dict[str, pd.DataFrame] = {}
    for name, domain in spec.domains.items():
        meta = metas[name]
        _check_text(built[name], name, ctx)
        frame, piece_labels = _split_long(built[name], domain, ctx, meta)
        supp = _suppqual(frame, domain, spec, piece_labels)
        conformed = _conform(_sort(frame, meta), meta, ctx)
        datasets[name], lineage[name] = _strip_lineage(conformed)
        if supp is not None and len(supp):
            supp_meta = standards.dataset(f"SUPP{name}")
            conformed = _conform(_sort(supp, supp_meta), supp_meta, ctx)
            datasets[f"SUPP{name}"], lineage[f"SUPP{name}"] = _strip_lineage(conformed)

    recon, excluded = _reconcile(sources, built, exclusions, ctx)
    provenance = {
        (name, var): mapping
        for name, domain in spec.domains.items()
        for block in domain.records
        for var, mapping in block.map.items()
    }
    provenance.update({(name, var): m for name, d in spec.domains.items()
                       for var, m in d.derive.items()})
    return SdtmResult(datasets, recon, excluded, problems, provenance, lineage)


def _strip_lineage(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (frame.drop(columns=[SOURCE, ROW]).reset_index(drop=True),
            frame[[SOURCE, ROW]].reset_index(drop=True))


def _check_one_dm_record(built: dict[str, pd.DataFrame], ctx: MappingContext) -> None:
    """DM has one record per subject (SDTMIG 3.4 section 5.1): duplicates name both rows."""
    dm = built.get("DM")
    if dm is None or "USUBJID" not in dm:
        return
    duplicate = dm["USUBJID"].notna() & dm["USUBJID"].duplicated(keep=False)
    ctx.at("DM", "USUBJID", ()).report(
        "MAP011", "subject has more than one demographics record", dm, duplicate, "USUBJID")


def _check_text(frame: pd.DataFrame, name: str, ctx: MappingContext) -> None:
    """Character values must be ASCII (FDA Technical Conformance Guide, XPT v5)."""
    for column in frame.columns:
        if column in (SOURCE, ROW) or frame[column].dtype != object:
            continue
        text = frame[column].astype("string")
        bad = text.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False)
        if bad.any():
            variable = column.removeprefix(SUPP_PREFIX)
            ctx.at(name, variable, ()).report(
                "MAP010", "text has non-ASCII characters (XPT v5 and the FDA TCG require "
                "ASCII); transliterate it in the source", frame, bad.astype(bool), variable, text)


def _check_cutoff(built: dict[str, pd.DataFrame], spec: Spec, ctx: MappingContext) -> None:
    """A date after the study's data cut-off is suspicious (a typo, or data the cut excludes)."""
    cutoff = spec.study.data_cutoff
    for name, frame in built.items():
        for column in (c for c in frame.columns if c.endswith("DTC") and frame[c].dtype == object):
            late = frame[column].astype("string").str.slice(0, 10).gt(cutoff).fillna(False)
            ctx.at(name, column, ()).report(
                "MAP013", f"date is after the data cut-off {cutoff}", frame, late.astype(bool),
                column, severity=Severity.WARNING)


def _check_orphans(built: dict[str, pd.DataFrame], spec: Spec, ctx: MappingContext) -> None:
    """Every subject of every domain must have a DM record (SDTMIG 3.4 section 5.1)."""
    dm = built.get("DM")
    if dm is None or "USUBJID" not in dm:
        return
    known = set(dm["USUBJID"].dropna())
    for name, frame in built.items():
        if name == "DM" or "USUBJID" not in frame:
            continue
        orphan = frame["USUBJID"].notna() & ~frame["USUBJID"].isin(known)
        ctx.at(name, "USUBJID", ()).report(
            "MAP008", "subject has no demographics (DM) record", frame, orphan, "USUBJID")


def _reconcile(sources: dict[str, SourceTable], built: dict[str, pd.DataFrame],
               exclusions: list[pd.DataFrame], ctx: MappingContext
               ) -> tuple[list[Reconciliation], pd.DataFrame]:
    """Each source row is mapped (in some output record, or read by a join/lookup)
    or excluded with a reason; rows no mapping touches are listed too."""
    used_parts = [pd.DataFrame({SOURCE: name, ROW: sorted(rows)})
                  for name, rows in ctx.used_rows.items()]
    used_parts += [frame[[SOURCE, ROW]] for frame in built.values() if SOURCE in frame]
    used = (pd.concat(used_parts, ignore_index=True).astype({SOURCE: str, ROW: int})
            .drop_duplicates() if used_parts else pd.DataFrame({SOURCE: [], ROW: []}))
    excluded = (pd.concat(exclusions, ignore_index=True).astype({SOURCE: str, ROW: int})
                if exclusions else pd.DataFrame({SOURCE: [], ROW: [], "reason": []}))
    # A row filtered out by one block but used by another is used.
    excluded = excluded.merge(used, on=[SOURCE, ROW], how="left", indicator=True)
    excluded = excluded[excluded["_merge"] == "left_only"].drop(columns="_merge")
    if len(excluded):
        excluded = excluded.groupby([SOURCE, ROW], as_index=False)["reason"].agg("; ".join)
    records: list[Reconciliation] = []
    extra: list[pd.DataFrame] = []
    for name, table in sources.items():
        rows = table.frame[ROW].astype(int)
        is_used = rows.isin(used.loc[used[SOURCE] == name, ROW])
        is_excluded = rows.isin(excluded.loc[excluded[SOURCE] == name, ROW])
        lost = ~is_used & ~is_excluded
        if lost.any():
            # Not an error (a source may carry rows no domain needs) but never silent.
            extra.append(pd.DataFrame({SOURCE: name, ROW: rows[lost],
                                       "reason": "no mapping uses this record"}))
            # one warning per source, not per row: the rows are in the exclusion list
            shown = ", ".join(str(r) for r in rows[lost].head(10))
            more = f" and {int(lost.sum()) - 10} more" if lost.sum() > 10 else ""
            ctx.problems.add("REC001", f"{int(lost.sum())} source record(s) used by no output "
                             f"dataset (rows {shown}{more}); see the exclusions",
                             Location(file=table.file), Severity.WARNING)
        records.append(Reconciliation(name, table.file, len(rows), int(is_used.sum()),
                                      int((~is_used).sum())))
    excluded = pd.concat([excluded, *extra], ignore_index=True) if extra else excluded
    excluded = excluded.sort_values([SOURCE, ROW], kind="mergesort").reset_index(drop=True)
    excluded = excluded.rename(columns={SOURCE: "source", ROW: "row"})
    return records, excluded
