"""Checks on the mapped domains that no single algorithm can make.

Each reports through the context, so a problem names the source file and row
the offending record came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Severity
from ..model import text as text_rules
from ..sources.reader import ROW, SOURCE
from ..spec.model import Spec
from .distinct import DistinctValues, per_distinct
from .registry import MappingContext
from .suppqual import SUPP_PREFIX


def check_one_dm_record(built: dict[str, pd.DataFrame], ctx: MappingContext) -> None:
    """DM has one record per subject (SDTMIG 3.4 section 5.1): duplicates name both rows."""
    dm = built.get("DM")
    if dm is None or "USUBJID" not in dm:
        return
    duplicate = dm["USUBJID"].notna() & dm["USUBJID"].duplicated(keep=False)
    ctx.at("DM", "USUBJID", ()).report(
        "MAP011", "subject has more than one demographics record", dm, duplicate, "USUBJID")


def check_text(frame: pd.DataFrame, name: str, ctx: MappingContext,
               distinct: DistinctValues | None = None) -> None:
    """Character values must be printable ASCII (FDA Technical Conformance Guide, XPT v5).

    Collected text was checked for control characters where it was read; this
    catches what mapping made (a spec value, a lookup) and non-ASCII text, at the
    source row, before anything is written. The rule is :mod:`cdisc.model.text`.
    ``distinct`` gives the frame's distinct values, if another check has them.
    """
    distinct = distinct or DistinctValues(frame)
    for column in frame.columns:
        if column in (SOURCE, ROW) or frame[column].dtype != object:
            continue
        values = frame[column]
        found = distinct(column)
        if not text_rules.not_printable_ascii(values if found is None else found).any():
            continue  # each distinct value looked at once in the common case
        bad_ascii = text_rules.non_ascii(values)
        bad_control = text_rules.control_characters(values)
        variable = column.removeprefix(SUPP_PREFIX)
        where = ctx.at(name, variable, ())
        if bad_ascii.any():
            where.report(
                "MAP010", "text has non-ASCII characters (XPT v5 and the FDA TCG require "
                "ASCII); transliterate it in the source", frame,
                pd.Series(bad_ascii, index=frame.index), variable, values)
        if bad_control.any():
            where.report(
                "MAP014", "text has a control character (tab, line break, NUL, ...), which a "
                "transport file cannot hold", frame,
                pd.Series(bad_control & ~bad_ascii, index=frame.index), variable, values)


def check_cutoff(built: dict[str, pd.DataFrame], spec: Spec, ctx: MappingContext) -> None:
    """A date after the study's data cut-off is suspicious (a typo, or data the cut excludes)."""
    cutoff = spec.study.data_cutoff
    for name, frame in built.items():
        for column in (c for c in frame.columns if c.endswith("DTC") and frame[c].dtype == object):
            late = pd.Series(_after(frame[column], cutoff), index=frame.index)
            ctx.at(name, column, ()).report(
                "MAP013", f"date is after the data cut-off {cutoff}", frame, late,
                column, severity=Severity.WARNING)


def _after(dates: pd.Series, cutoff: str) -> np.ndarray:
    """True where the date part (first ten characters) is later than ``cutoff``."""
    def later(values: pd.Series) -> np.ndarray:
        return values.astype("string").str.slice(0, 10).gt(cutoff).fillna(False).to_numpy(
            dtype=bool)

    decided = per_distinct(dates, later)  # a few thousand distinct dates, not every record
    return decided if decided is not None else later(dates)


def check_orphans(built: dict[str, pd.DataFrame], ctx: MappingContext) -> None:
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
