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

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import standards
from ..errors import ProblemLog
from ..model import Dataset, Provenance, resolve_metadata
from ..model.text import (
    CodesMemo,
    TextCodes,
    all_text,
    coded_text,
    factorize,
    remember_codes,
)
from ..sources.reader import ROW, SOURCE, SourceTable
from ..spec.algorithms import Arg, template_fields
from ..spec.conditions import condition_columns
from ..spec.model import Spec
from .blocks import build_block
from .checks import check_cutoff, check_one_dm_record, check_orphans, check_text
from .distinct import DistinctValues
from .primitives import as_text, evaluate
from .reconcile import Reconciliation, reconcile
from .registry import MappingContext, get_algorithm
from .suppqual import build_suppqual, split_long
from .trial_design import build_trial_design
from .trial_design import provenance as trial_design_provenance


@dataclass
class SdtmResult:
    #: final SDTM datasets by name (DM, AE, SUPPAE, ...) as the shared dataset model
    tables: dict[str, Dataset]
    reconciliation: list[Reconciliation]
    exclusions: pd.DataFrame  # source, file, row, reason
    problems: ProblemLog

    @property
    def datasets(self) -> dict[str, pd.DataFrame]:
        """The frames of :attr:`tables`, by dataset name."""
        return {name: table.frame for name, table in self.tables.items()}

    @property
    def provenance(self) -> list[Provenance]:
        """Every block's mapping of every variable, in spec order (define.xml origins)."""
        return [p for table in self.tables.values() for p in table.provenance]

    @property
    def lineage(self) -> dict[str, pd.DataFrame]:
        """SOURCE/ROW of each output record, per dataset (same order as the frame)."""
        return {name: table.lineage for name, table in self.tables.items()
                if table.lineage is not None}


def sort_domain(frame: pd.DataFrame, meta: standards.Dataset,
                memo: CodesMemo | None = None) -> pd.DataFrame:
    """Keys first, then every other variable (text form), then source lineage.

    Text sorts as text with missing as "", numbers as numbers with missing first, then
    source name (missing first) and row. The keys become integer ranks (one hash pass
    and a sort of their distinct values) and ``np.lexsort`` orders the rows by them; the
    other variables and the lineage are ranked only for records whose keys tie, and
    order those alone: the order pandas' ``sort_values`` gives on all the columns,
    without a text copy of every column.

    With ``memo``, each text column is put in order from its codes (None for every
    missing value) and ``memo`` knows it with them: the later steps on the domain
    (checks, the final sort and conform) do not code it again.
    """
    if memo is None:
        out = frame.take(_sort_order(frame, meta))
        out.index = pd.RangeIndex(len(out))  # a new frame already: no second copy
        return out
    sorting = CodesMemo()
    order = _sort_order(frame, meta, sorting)
    columns: dict[str, Any] = {}
    for column in frame.columns:
        values = frame[column]
        coded = _text_codes(values, sorting)
        if coded is None:
            columns[column] = values.take(order).reset_index(drop=True)
            continue
        codes = coded.codes[order]
        codes.flags.writeable = False
        columns[column] = np.append(coded.distinct, None)[codes]  # code -1: None
        memo.remember(columns[column], TextCodes(codes, coded.distinct, True))
    # one block per column: the arrays stay the ones the memo knows
    return pd.DataFrame(columns, index=pd.RangeIndex(len(order)), copy=False)


def _text_codes(values: pd.Series, memo: CodesMemo) -> TextCodes | None:
    """The codes of an all-text object column whose codes hold (``memo``'s, made there
    when the sort did not need them), else None."""
    if values.dtype != object:
        return None
    array = values.to_numpy()
    if not memo.all_text(array):
        return None
    coded = memo.codes(array)
    return coded if coded.holds else None


def _sort_order(frame: pd.DataFrame, meta: standards.Dataset,
                memo: CodesMemo | None = None) -> np.ndarray:
    """The positions of ``frame``'s rows in :func:`sort_domain`'s order (``memo``: the
    text columns' codes, when other steps code them too)."""
    if not len(frame):
        return np.arange(0)
    keys = [k for k in meta.keys if k in frame]
    rest = sorted(c for c in frame.columns if c not in keys and c not in (SOURCE, ROW))
    by_keys = _packed(_rank(frame[c], memo) for c in keys)
    order = np.lexsort(by_keys[::-1]) if by_keys else np.arange(len(frame))
    # The other variables and the lineage only order the records whose keys tie: they are
    # ranked for those records alone (the keys of most domains tell every record apart).
    same = np.ones(len(frame) - 1, dtype=bool)  # a record's keys equal the previous one's
    for key in by_keys:
        ranked = key[order]
        same &= ranked[1:] == ranked[:-1]
    tied = np.zeros(len(frame), dtype=bool)  # by position in ``order``
    tied[1:] |= same
    tied[:-1] |= same
    if not tied.any():
        return order
    group = np.empty(len(frame), dtype=np.int64)  # each record's keys, ranked
    group[order] = np.cumsum(np.r_[True, ~same])
    rows = np.sort(order[tied])  # in record order, which breaks the last ties
    # most records tied: rank whole columns (through the memo the later steps share)
    whole = len(rows) > len(frame) // 4
    ranks = (_rank(frame[c], memo)[rows] if whole else _rank(frame[c].iloc[rows], None)
             for c in rest)
    lineage = (pd.factorize(frame[SOURCE].iloc[rows].astype("string"), sort=True)[0],
               pd.factorize(frame[ROW].iloc[rows], sort=True)[0])
    within = np.lexsort(_packed(itertools.chain([group[rows]], ranks, lineage))[::-1])
    order[tied] = rows[within]
    return order


def _rank(values: pd.Series, memo: CodesMemo | None) -> np.ndarray:
    """Each value's rank in :func:`sort_domain`'s order of one variable."""
    if pd.api.types.is_numeric_dtype(values):
        return pd.factorize(values, sort=True)[0]
    return _text_rank(values, memo)


def _packed(ranks: Iterable[np.ndarray]) -> list[np.ndarray]:
    """Consecutive rank columns packed into one int64 key each while their product of
    distinct counts fits (mixed radix keeps the order), so ``np.lexsort`` makes a few
    passes instead of one per variable."""
    packed: list[np.ndarray] = []
    key, room = None, 1
    for rank in ranks:
        rank = rank.astype(np.int64) + 1  # missing (-1) first
        size = int(rank.max()) + 1 if len(rank) else 1
        if key is not None and room * size < 2**62:
            key, room = key * size + rank, room * size
        else:
            if key is not None:
                packed.append(key)
            key, room = rank, size
    if key is not None:
        packed.append(key)
    return packed


def _text_rank(values: pd.Series, memo: CodesMemo | None = None) -> np.ndarray:
    """Rank of each value's text (numbers as SAS prints them; missing as "")."""
    array = values.to_numpy(dtype=object)
    if values.dtype != object:
        memo = None  # the memo knows a frame's own object columns, not an array made here
    if not (memo.all_text(array) if memo is not None else all_text(array)):
        array = as_text(values).astype("string").fillna("").to_numpy(dtype=object)
        memo = None
    coded = memo.codes(array) if memo is not None else None
    if coded is None or not coded.holds:  # (a hash that merged two texts: not trusted)
        coded = TextCodes(*factorize(array), True)
    order = np.argsort(coded.distinct, kind="stable")
    rank = np.empty(len(order) + 1, dtype=np.int64)  # the last: missing (code -1)
    rank[order] = np.arange(len(order))
    # missing sorts as "", the least text: with "" when there is one (first once sorted)
    rank[-1] = 0 if len(order) and coded.distinct[order[0]] == "" else -1
    return rank[coded.codes]


def _conform(frame: pd.DataFrame, meta: standards.Dataset, ctx: MappingContext,
             order: np.ndarray, memo: CodesMemo | None = None) -> pd.DataFrame:
    """The IG's variables of ``frame`` in ``order`` (rows) and IG order (columns), Req/Exp
    present even if empty, IG types; lineage and other columns are left out. Each column
    is taken in order once, rather than the whole frame sorted first and copied again."""
    keep = [v for v in meta.variables if v.name in frame or v.core in ("Req", "Exp")]
    columns: dict[str, Any] = {}
    for var in keep:
        if var.name not in frame:
            columns[var.name] = (np.full(len(order), np.nan) if var.is_numeric
                                 else np.full(len(order), None, dtype=object))
            continue
        if not var.is_numeric:
            coded = _coded_in_order(frame[var.name], order, memo)
            if coded is not None:
                columns[var.name] = coded
                continue
        values = frame[var.name].take(order)  # labels kept: a problem names its record
        if var.is_numeric:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & numbers.isna()
            ctx.at(meta.name, var.name, ()).report(
                "MAP006", "value is not numeric but the variable is Num in SDTMIG",
                frame, bad, var.name, values)
            columns[var.name] = numbers.to_numpy(dtype="float64", na_value=np.nan)
        else:
            text = as_text(values).to_numpy(dtype=object)  # a fresh array: set in place
            missing = pd.isna(text)
            if missing.any():
                text[missing] = None
            columns[var.name] = text
    # one block per column, as inserting them would give: no 2-D copy of the domain
    return pd.DataFrame(columns, index=pd.RangeIndex(len(order)), copy=False)


def _coded_in_order(values: pd.Series, order: np.ndarray,
                    memo: CodesMemo | None = None) -> np.ndarray | None:
    """A text column in ``order``, None for every missing value, taken from its distinct
    values by code; the codes go with it to the stages that write, describe and
    validate the dataset (:func:`cdisc.model.text.remember_codes`), which then do not
    code it again. None for a column that is not all text (or whose codes do not hold)."""
    array = values.to_numpy(dtype=object)
    if values.dtype != object:
        memo = None  # the memo knows a frame's own object columns, not an array made here
    if not (memo.all_text(array) if memo is not None else all_text(array)):
        return None
    coded = memo.codes(array) if memo is not None else coded_text(array)
    if not coded.holds:
        return None
    codes = coded.codes[order]
    codes.flags.writeable = False
    column = np.append(coded.distinct, None)[codes]  # code -1: None
    remember_codes(column, TextCodes(codes, coded.distinct, True), built=True)
    return column


def _lineage(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    return frame[[SOURCE, ROW]].take(order).reset_index(drop=True)


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

    # 2. subject phase; 3. sort; 4. domain phase. The text columns the sort codes keep
    # their codes (memos) until step 5 has checked, sorted and conformed the domain.
    memos = {name: CodesMemo() for name in spec.domains}
    for phase in ("subject", "domain"):
        for name, domain in spec.domains.items():
            if phase == "domain":
                built[name] = sort_domain(built[name], metas[name], memos[name])
            for var, mapping in domain.derive.items():
                if get_algorithm(mapping["algorithm"]).phase == phase:
                    frame = built[name]
                    # the domain phase has the codes of the sorted domain's text columns
                    frame[var] = evaluate(mapping, frame,
                                          ctx.at(name, var, ("domains", name, "derive", var),
                                                 memos[name] if phase == "domain" else None))

    check_orphans(built, ctx)
    check_cutoff(built, spec, ctx)
    check_one_dm_record(built, ctx)

    # 5. long text, SUPPQUAL, conform to the IG
    datasets: dict[str, pd.DataFrame] = {}
    lineage: dict[str, pd.DataFrame] = {}
    for name, domain in spec.domains.items():
        meta = metas[name]
        # the checks, the sort and the conform code each text column once
        memo = memos.pop(name)
        distinct = DistinctValues(built[name], memo)
        check_text(built[name], name, ctx, distinct)
        frame, piece_labels = split_long(built[name], domain, ctx, meta, distinct)
        del distinct
        supp = build_suppqual(frame, domain, spec, piece_labels)
        # The reconciliation below needs only the lineage of the mapped records, and the
        # frame is let go once its conformed copy exists: two copies of a domain at a time.
        built[name] = built[name][[SOURCE, ROW]]
        order = _sort_order(frame, meta, memo)
        datasets[name] = _conform(frame, meta, ctx, order, memo)
        lineage[name] = _lineage(frame, order)
        del frame, memo
        if supp is not None and len(supp):
            supp_name = f"SUPP{name}"
            supp_meta = standards.dataset(supp_name)
            order = _sort_order(supp, supp_meta)
            datasets[supp_name] = _conform(supp, supp_meta, ctx, order)
            lineage[supp_name] = _lineage(supp, order)
        del supp

    recon, excluded = reconcile(sources, built, exclusions, ctx)
    provenance = block_provenance(spec)
    tables = {}
    for name, frame in datasets.items():
        standard = standards.dataset(name)
        tables[name] = Dataset(resolve_metadata(name, frame, standard), frame, lineage[name],
                               tuple(p for p in provenance if p.dataset == name))
    # 6. trial design (TS, TA, TE, TV, TI) from the spec, SV and SE from the domains above
    for name, frame in build_trial_design(spec, datasets, problems).items():
        tables[name] = Dataset(resolve_metadata(name, frame, standards.dataset(name)), frame,
                               None, tuple(p for p in provenance
                                           if p.dataset == name and p.variable in frame))
    return SdtmResult(tables, recon, excluded, problems)


def _columns_of(arg: Arg, value: Any) -> list[str]:
    """Source columns an argument's value names, by its declared kind."""
    if value is None:
        return []
    if arg.kind == "column":
        return [value] if isinstance(value, str) and not arg.key else []
    if arg.kind == "condition" and isinstance(value, dict):
        return condition_columns(value)
    if arg.kind == "template" and isinstance(value, str):
        return template_fields(value)
    if arg.kind == "mapping" and isinstance(value, dict) and "algorithm" in value:
        return list(_source_columns(value))
    if arg.kind == "list_of" and arg.items is not None and isinstance(value, list):
        return [c for item in value for c in _columns_of(arg.items, item)]
    if arg.kind == "record" and isinstance(value, dict):
        return [c for name, field_arg in arg.fields.items()
                for c in _columns_of(field_arg, value.get(name))]
    return []


def _source_columns(mapping: dict[str, Any]) -> tuple[str, ...]:
    """The source columns a mapping reads, in order, each once (define.xml origins)."""
    declaration = get_algorithm(mapping["algorithm"]).declaration
    columns = [c for name, arg in declaration.args.items()
               for c in _columns_of(arg, mapping.get(name))]
    return tuple(dict.fromkeys(columns))


def block_provenance(spec: Spec) -> list[Provenance]:
    """How every variable of every dataset is made, one entry per record block and variable.

    STUDYID and DOMAIN, which the engine fills when a block does not map them,
    are listed as the standard's values; SUPPQUAL qualifiers under their QNAM
    in the SUPP-- dataset; ``derive:`` algorithms without a block; the trial design
    datasets as :func:`.trial_design.provenance` describes them.
    """
    out: list[Provenance] = []
    for name, domain in spec.domains.items():
        has_domain = standards.dataset(name).has("DOMAIN")
        for block in domain.records:
            filled = {"STUDYID": spec.study.studyid}
            if has_domain:
                filled["DOMAIN"] = name
            for var, value in filled.items():
                if var not in block.map:
                    out.append(Provenance(name, var, "hardcode", "standard", {"value": value},
                                          block.index, block.source, (), block.where,
                                          block.json_path))
            for part, mappings in (("map", block.map), ("supp", block.supp)):
                for var, mapping in mappings.items():
                    algo = get_algorithm(mapping["algorithm"])
                    out.append(Provenance(
                        f"SUPP{name}" if part == "supp" else name, var, algo.name,
                        "supp" if part == "supp" else algo.phase,
                        {k: v for k, v in mapping.items() if k != "algorithm"},
                        block.index, block.source, _source_columns(mapping), block.where,
                        (*block.json_path, part, var)))
        for var, mapping in domain.derive.items():
            algo = get_algorithm(mapping["algorithm"])
            out.append(Provenance(name, var, algo.name, algo.phase,
                                  {k: v for k, v in mapping.items() if k != "algorithm"},
                                  json_path=("domains", name, "derive", var)))
    out += trial_design_provenance(spec)  # TS, TA, TE, TV, TI, SV, SE
    return out
