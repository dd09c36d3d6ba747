"""Record blocks: one source table's contribution to a domain.

join -> where -> first_per -> aggregate -> map/supp, in that order. Each step
keeps the ``__source__``/``__row__`` lineage of the rows it keeps and lists
the rows it drops (with the reason) in ``exclusions``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Location, Severity
from ..sources.reader import ROW, SOURCE
from ..spec.model import RecordBlock
from ..text import decimals
from .conditions import describe_condition, evaluate_condition
from .dates import to_iso8601
from .distinct import combined_ranks
from .primitives import as_text, evaluate
from .registry import MappingContext
from .suppqual import SUPP_PREFIX


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
        used = merged.loc[matched, f"{join['source']}.{ROW}"].to_numpy().astype(np.int64)
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
    # only the columns that decide the order and the groups are sorted, not the whole frame
    ordered = frame[list(dict.fromkeys([*rule["by"], SOURCE, ROW]))].assign(
        __order__=_order_key(frame, rule["order_by"], bctx)).sort_values(
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
    # each row's group once (the order groupby(by, sort=True, dropna=False) gives), so the
    # aggregations below group by one integer instead of hashing the by-texts each time
    group, first_rows = _group_of(frame, by)
    groups = frame.groupby(group, sort=True)
    parts = {SOURCE: groups[SOURCE].first(), ROW: groups[ROW].min()}
    bctx = ctx.at(block.domain, "", (*block.json_path, "aggregate"))
    for column in rule.get("first", []):
        order = _order_key(frame, column, bctx).reset_index(drop=True).sort_values(
            kind="mergesort", na_position="last").index.to_numpy()
        parts[column] = frame[column].iloc[order].groupby(group[order], sort=True).first()
        varies = frame[column].groupby(group, sort=False).transform("nunique") > 1
        bctx.report("MAP012", f"{column} differs within one aggregate group "
                    f"({', '.join(by)}); the earliest value is used", frame, varies, column,
                    severity=Severity.WARNING)
    for name, column in rule.get("sum", {}).items():
        # RECIST-style sums: one unmeasured part makes the sum unknown, not smaller
        incomplete = frame[column].isna().groupby(group, sort=True).any()
        # 62 + 24.1 + 35.2 is 121.30000000000001 in binary: keep the inputs' precision
        total = groups[column].sum(min_count=1).round(decimals(frame[column]))
        parts[name] = total.where(~incomplete)
    for name, column in rule.get("count", {}).items():
        parts[name] = groups[column].count().astype("float64")
    # the groups' by-values as groupby gives them (types included), from one row a group
    keys = frame[by].iloc[first_rows].groupby(by, sort=True, dropna=False).size().reset_index()
    out = pd.concat([keys[by], pd.DataFrame(parts).reset_index(drop=True)], axis=1)
    ctx.used_rows.setdefault(block.source, set()).update(
        frame[ROW].to_numpy().astype(np.int64).tolist())
    return out


def _group_of(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group among the combinations of ``by`` (0, 1, ... in sorted order, a
    missing value after every other, as ``groupby(by, sort=True, dropna=False)``), and
    the first row of each group."""
    def sorted_codes(column: str) -> tuple[np.ndarray, int]:
        codes, distinct = pd.factorize(frame[column], sort=True)
        return np.where(codes < 0, len(distinct), codes), len(distinct) + 1  # missing: last

    return combined_ranks((sorted_codes(column) for column in by), len(frame))


def build_block(block: RecordBlock, ctx: MappingContext,
                exclusions: list[pd.DataFrame]) -> pd.DataFrame:
    """The block's records: source rows joined, filtered, grouped and mapped."""
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
    columns: dict[str, pd.Series] = {}
    for var, mapping in block.map.items():
        columns[var] = evaluate(mapping, frame, ctx.at(block.domain, var,
                                                       (*block.json_path, "map", var)))
    for qnam, mapping in block.supp.items():
        columns[SUPP_PREFIX + qnam] = evaluate(
            mapping, frame, ctx.at(block.domain, qnam, (*block.json_path, "supp", qnam)))
    columns[SOURCE] = frame[SOURCE]
    columns[ROW] = frame[ROW]
    # one frame from the finished columns, a block each (no 2-D copy), renumbered; the
    # engine's concat of the blocks copies them, so nothing stays shared with the sources
    out = pd.DataFrame(columns, index=frame.index, copy=False)
    out.index = pd.RangeIndex(len(out))
    return out
