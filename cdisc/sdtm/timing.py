"""Records still ongoing at the data cut-off: --ENDTC, --ENRTPT and --ENTPT.

A site writes "ongoing" in a stop-date cell (or ticks an "ongoing at cut-off"
column). SDTMIG 3.4 represents that with the relative timing variables (section
4.4.7): --ENRTPT = ``ONGOING`` (CT C66728, STENRF) relative to the reference time
point --ENTPT, here the study's data cut-off date. The end date itself stays
empty: the record has not ended.

The three algorithms take the same arguments, so one YAML anchor serves all::

    EXENDTC: {algorithm: end_datetime, column: stop_date}
    EXENRTPT: &ongoing {algorithm: end_relative, column: stop_date}
    EXENTPT: {<<: *ongoing, algorithm: end_reference}

DM's reference dates follow: an ongoing record's end counts as its --ENTPT date
(:func:`cdisc.sdtm.derivations.subject_date`), so RFXENDTC is the cut-off and
EPOCH of an event on treatment is TREATMENT.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import standards
from .derivations import ONGOING
from .matching import loose_key
from .primitives import as_text, assign_datetime
from .registry import Arg, MappingContext, algorithm

#: CT codelist of --STRTPT/--ENRTPT (C66728, STENRF)
RELATION_CODELIST = "C66728"
_DATE_TYPES = ("date", "datetime", "time")


def _args(column: Arg) -> dict[str, Arg]:
    return {
        "column": column,
        "markers": Arg.list_of("the texts that mean ongoing, in any case (default: ongoing)",
                               Arg.value("a text", {"type": "string", "minLength": 1})),
        "otherwise": Arg.value(
            "the relation of a record that is not ongoing but has a value in the column, "
            "e.g. BEFORE when every stop date lies before the reference; without it "
            "such a record has none",
            {"enum": sorted(standards.codelist(RELATION_CODELIST).terms)}),
        "reference": Arg.value("the reference time point --ENTPT names (default: "
                               "study.data_cutoff)", {"type": "string", "minLength": 1}),
    }


def ongoing_rows(values: pd.Series, markers: list[str] | None) -> pd.Series:
    """Rows whose cell is one of ``markers`` (default ``ongoing``), ignoring case and blanks.

    >>> ongoing_rows(pd.Series(["Ongoing", " ONGOING", "12/03/2012", None]), None).tolist()
    [True, True, False, False]
    """
    wanted = loose_key(pd.Series(markers or [ONGOING], dtype=object)).tolist()
    return loose_key(as_text(values)).isin(wanted).astype(bool)


def _relation(src: pd.DataFrame, column: str, markers: list[str] | None,
              otherwise: str | None) -> pd.Series:
    ongoing = ongoing_rows(src[column], markers)
    ended = ~ongoing & src[column].notna() & (otherwise is not None)
    out = np.select([ongoing, ended], [ONGOING, otherwise], default=None)
    return pd.Series(out, index=src.index, dtype=object)


@algorithm("end_datetime", "record", args={
    **_args(Arg.column("the collected end (stop) date column", types=_DATE_TYPES,
                       required=True)),
    "time_column": Arg.column("a collected end time column, joined to complete dates",
                              types=_DATE_TYPES),
})
def end_datetime(src: pd.DataFrame, ctx: MappingContext, *, column: str,
                 markers: list[str] | None = None, otherwise: str | None = None,
                 reference: str | None = None, time_column: str | None = None) -> pd.Series:
    """--ENDTC from a stop-date column that may say "ongoing": ongoing -> empty.

    Every other cell is converted as ``assign_datetime`` converts it (a date that
    matches no declared format is MAP002). ``otherwise`` and ``reference`` are
    accepted so the three algorithms share one anchor; they do not change --ENDTC.
    """
    ongoing = ongoing_rows(src[column], markers)
    out = pd.Series(None, index=src.index, dtype=object)
    rest = ~ongoing
    if rest.any():
        out[rest] = assign_datetime(src[rest], ctx, column=column, time_column=time_column)
    return out.where(out.notna(), None)


@algorithm("end_relative", "record", args=_args(
    Arg.column("the collected end (stop) date column, or a column that says ongoing",
               required=True)))
def end_relative(src: pd.DataFrame, ctx: MappingContext, *, column: str,
                 markers: list[str] | None = None, otherwise: str | None = None,
                 reference: str | None = None) -> pd.Series:
    """--ENRTPT: ``ONGOING`` where the column says ongoing (any case), else ``otherwise``
    for a record with a value in the column, else empty.

    ``{algorithm: end_relative, column: stop_date}``: ``Ongoing`` -> ``ONGOING``;
    ``{column: ongoing_at_cutoff, markers: ["Yes"]}`` reads a flag column instead.
    """
    return _relation(src, column, markers, otherwise)


@algorithm("end_reference", "record", args=_args(
    Arg.column("the collected end (stop) date column, or a column that says ongoing",
               required=True)))
def end_reference(src: pd.DataFrame, ctx: MappingContext, *, column: str,
                  markers: list[str] | None = None, otherwise: str | None = None,
                  reference: str | None = None) -> pd.Series:
    """--ENTPT: the reference time point (default the data cut-off date) of every record
    that end_relative gives a relation, so --ENRTPT and --ENTPT are filled together.

    With ``study: {data_cutoff: "2013-01-31"}`` an ongoing record gets ``2013-01-31``;
    ``reference: END OF STUDY`` writes that text instead.
    """
    point: Any = reference if reference is not None else ctx.spec.study.data_cutoff
    related = _relation(src, column, markers, otherwise).notna()
    return pd.Series(np.where(related, point, None), index=src.index, dtype=object)


__all__ = ["ONGOING", "RELATION_CODELIST", "end_datetime", "end_reference", "end_relative",
           "ongoing_rows"]
