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

The steps live in their own modules: :mod:`.blocks` (join, where, first_per,
aggregate, map), :mod:`.suppqual`, :mod:`.checks`, :mod:`.reconcile`; this
module orders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import standards
from ..errors import ProblemLog
from ..sources.reader import ROW, SOURCE, SourceTable
from ..spec.model import Spec
from .blocks import build_block
from .checks import check_cutoff, check_one_dm_record, check_orphans, check_text
from .primitives import as_text, evaluate
from .reconcile import Reconciliation, reconcile
from .registry import MappingContext, get_algorithm
from .suppqual import build_suppqual, split_long


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


def sort_domain(frame: pd.DataFrame, meta: standards.Dataset) -> pd.DataFrame:
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


def build_sdtm(spec: Spec, sources: dict[str, SourceTable], problems: ProblemLog) -> SdtmResult:
    """Run all phases; record problems go to ``problems`` (the caller decides to stop)."""
    ctx = MappingContext(spec, sources, problems)
    exclusions: list[pd.DataFrame] = []
    built: dict[str, pd.DataFrame] = {}
    metas = {name: standards.dataset(name) for name in spec.domains}

    # 1. record phase
    for name, domain in spec.domains.items():
        blocks = [build_block(b, ctx, exclusions) for b in domain.records
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
                built[name] = sort_domain(built[name], metas[name])
            for var, mapping in domain.derive.items():
                if get_algorithm(mapping["algorithm"]).phase == phase:
                    frame = built[name]
                    frame[var] = evaluate(mapping, frame,
                                          ctx.at(name, var, ("domains", name, "derive", var)))

    check_orphans(built, ctx)
    check_cutoff(built, spec, ctx)
    check_one_dm_record(built, ctx)

    # 5. long text, SUPPQUAL, conform to the IG
    datasets: dict[str, pd.DataFrame] = {}
    lineage: dict[str, pd.DataFrame] = {}
    for name, domain in spec.domains.items():
        meta = metas[name]
        check_text(built[name], name, ctx)
        frame, piece_labels = split_long(built[name], domain, ctx, meta)
        supp = build_suppqual(frame, domain, spec, piece_labels)
        conformed = _conform(sort_domain(frame, meta), meta, ctx)
        datasets[name], lineage[name] = _strip_lineage(conformed)
        if supp is not None and len(supp):
            supp_meta = standards.dataset(f"SUPP{name}")
            conformed = _conform(sort_domain(supp, supp_meta), supp_meta, ctx)
            datasets[f"SUPP{name}"], lineage[f"SUPP{name}"] = _strip_lineage(conformed)

    recon, excluded = reconcile(sources, built, exclusions, ctx)
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
