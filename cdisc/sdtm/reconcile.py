"""Record-count reconciliation: every source row is mapped or excluded with a reason."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import Location, Severity
from ..sources.reader import ROW, SOURCE, SourceTable
from .registry import MappingContext


@dataclass
class Reconciliation:
    source: str
    file: str
    read: int
    mapped: int
    excluded: int


def reconcile(sources: dict[str, SourceTable], built: dict[str, pd.DataFrame],
               exclusions: list[pd.DataFrame], ctx: MappingContext
               ) -> tuple[list[Reconciliation], pd.DataFrame]:
    """Each source row is mapped (in some output record, or read by a join/lookup)
    or excluded with a reason; rows no mapping touches are listed too."""
    used = _used_rows(built, ctx)
    excluded = (pd.concat(exclusions, ignore_index=True).astype({SOURCE: str, ROW: int})
                if exclusions else pd.DataFrame({SOURCE: [], ROW: [], "reason": []}))
    # A row filtered out by one block but used by another is used.
    elsewhere = np.zeros(len(excluded), dtype=bool)
    # the exclusions of one block may be millions of rows: their sources compared as codes
    source_codes, source_names = pd.factorize(excluded[SOURCE].to_numpy(dtype=object))
    excluded_rows = excluded[ROW].to_numpy()
    for code, name in enumerate(source_names):
        if name in used:
            at = source_codes == code
            elsewhere[at] = np.isin(excluded_rows[at], used[name])
    excluded = excluded[~elsewhere].reset_index(drop=True)
    if len(excluded):
        excluded = excluded.groupby([SOURCE, ROW], as_index=False)["reason"].agg("; ".join)
    records: list[Reconciliation] = []
    extra: list[pd.DataFrame] = []
    for name, table in sources.items():
        rows = table.frame[ROW].astype(int)
        is_used = rows.isin(used.get(name, np.zeros(0, dtype=np.int64)))
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


def _used_rows(built: dict[str, pd.DataFrame], ctx: MappingContext) -> dict[str, np.ndarray]:
    """Per source name, the distinct rows some output record came from or a join or lookup
    read, gathered as arrays per source rather than a frame of every record."""
    parts: dict[str, list[np.ndarray]] = {}
    for name, rows in ctx.used_rows.items():
        parts.setdefault(str(name), []).append(np.fromiter(rows, dtype=np.int64,
                                                           count=len(rows)))
    for frame in built.values():
        if SOURCE not in frame:
            continue
        codes, names = pd.factorize(frame[SOURCE].to_numpy(dtype=object))
        rows = frame[ROW].to_numpy().astype(np.int64)
        for i, name in enumerate(names):
            parts.setdefault(str(name), []).append(rows[codes == i])
    return {name: pd.unique(np.concatenate(found)) for name, found in parts.items()}
