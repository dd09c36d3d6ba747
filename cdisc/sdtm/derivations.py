"""Subject- and domain-phase derivations every SDTM domain needs.

These read the domain being built (``tgt``) and, through ``ctx.domains``, the
other domains: DM's reference dates come from EX/DS, --DY and EPOCH from DM.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model.text import CodesMemo, all_text, factorize
from .conditions import evaluate_condition
from .dates import iso_period, iso_to_date, study_day_from
from .registry import Arg, MappingContext, algorithm

#: --ENRTPT of a record still going on at its reference time point (CT C66728, STENRF)
ONGOING = "ONGOING"

_DTC = Arg.variable("the --DTC variable of this domain", required=True)


def _per_subject(tgt: pd.DataFrame, ctx: MappingContext, variable: str
                 ) -> tuple[pd.Series, np.ndarray]:
    """DM's ``variable`` for each distinct USUBJID of ``tgt``, and each record's position
    among them: ``values.iloc[positions]`` is the variable for each record.

    The subjects are coded once (with the domain's codes, ``ctx.codes``, in the domain
    phase); a column that is not all text, or has a record without USUBJID, is looked
    up record by record.
    """
    array = tgt["USUBJID"].to_numpy(dtype=object)
    memo = ctx.codes if ctx.codes is not None else CodesMemo()
    coded = memo.codes(array) if memo.all_text(array) else None
    if coded is None or not coded.holds or (coded.codes < 0).any():
        # (a record without USUBJID is looked up as its own missing value, as DM has it)
        subjects, positions = tgt["USUBJID"].reset_index(drop=True), np.arange(len(tgt))
    else:
        subjects, positions = pd.Series(coded.distinct, dtype=object), coded.codes
    dm = ctx.domains.get("DM")
    if dm is None or variable not in dm:
        return pd.Series(None, index=range(len(subjects)), dtype=object), positions
    lookup = dm.drop_duplicates("USUBJID").set_index("USUBJID")[variable]
    return subjects.map(lookup).reset_index(drop=True), positions


def _per_record(values: pd.Series, positions: np.ndarray, index: pd.Index) -> pd.Series:
    """Per-subject ``values`` (e.g. of :func:`_per_subject`) taken to each record."""
    return pd.Series(values.to_numpy()[positions], index=index, dtype=values.dtype)


@algorithm("subject_date", "subject", args={
    "agg": Arg.value("min: the earliest date, max: the latest", {"enum": ["min", "max"]},
                     required=True),
    "from": Arg.list_of("the dates to choose from", Arg.record({
        "domain": Arg.domain("a domain of this spec", required=True),
        "variable": Arg.value("a date variable of that domain",
                              {"$ref": "#/$defs/variable_name"}, required=True),
        "where": Arg.condition("which records of that domain (a condition on its "
                               "variables)"),
    }), required=True),
})
def subject_date(tgt: pd.DataFrame, ctx: MappingContext, *, agg: str,
                 from_: list[dict[str, Any]]) -> pd.Series:
    """Earliest or latest date per subject over variables of other domains.

    RFXSTDTC is ``{agg: min, from: [{domain: EX, variable: EXSTDTC}]}``; RFPENDTC
    the ``max`` over every date the subject has. A partial date (``2012-07``)
    stands for its whole period: it wins only when it is certainly earliest
    (``min``) or latest (``max``); when a complete date falls inside its
    period, the complete date is taken, so one partial date never makes
    RFSTDTC partial (and every --DY of the subject missing) when the record
    next to it says more. ``{2012-07, 2012-07-15}`` gives 2012-07-15 for min
    and max; ``{2012-08, 2012-07-15}`` gives 2012-07-15 (min) and 2012-08 (max).

    A record still ongoing at the data cut-off (--ENRTPT ``ONGOING``, see
    :mod:`cdisc.sdtm.timing`) has not ended: for ``max`` over its --ENDTC it
    counts as ending at its --ENTPT when that is a date, else at
    ``study.data_cutoff``. So RFXENDTC of a subject still treated at the cut-off
    is the cut-off date: the last exposure the data can show (SDTMIG 3.4 DM
    RFXENDTC, "last date/time of exposure"), not the start of the last dose record.
    """
    frames = []
    for item in from_:
        domain = ctx.domains.get(item["domain"])
        if domain is None or item["variable"] not in domain:
            continue
        rows = domain
        if "where" in item:
            rows = domain[evaluate_condition(item["where"], domain)]
        frames.append(pd.DataFrame({"USUBJID": rows["USUBJID"].to_numpy(dtype=object),
                                    "DTC": rows[item["variable"]].to_numpy(dtype=object)}))
        ends = _ongoing_ends(rows, item["variable"], ctx.spec.study.data_cutoff) if (
            agg == "max") else None
        if ends is not None and len(ends):
            frames.append(ends.astype(object))
    if not frames:
        return pd.Series(None, index=tgt.index, dtype=object)
    best = _best_per_subject(pd.concat(frames, ignore_index=True), agg)
    out = tgt["USUBJID"].map(best)
    return out.astype(object).where(out.notna(), None)


def _best_per_subject(dates: pd.DataFrame, agg: str) -> pd.Series:
    """The earliest (``min``) or latest (``max``) DTC text of each USUBJID of ``dates``.

    Dates are ordered by their text right-padded to 19 characters with a character
    below "-" (for max) or above "9" (for min), then by the text: a partial date loses
    against any complete date inside its own period. Each distinct date is ranked once;
    each subject takes its best rank.
    """
    if not all_text(dates["DTC"].to_numpy(dtype=object)):  # a date as the text it prints
        dates = dates.assign(DTC=dates["DTC"].astype("string").astype(object))
    date_codes, distinct = factorize(dates["DTC"])
    subject_codes, subjects = factorize(dates["USUBJID"])
    keep = (date_codes >= 0) & (subject_codes >= 0)
    if not keep.any():
        return pd.Series([], dtype=object)
    texts = pd.Series(distinct, dtype=object).astype("string")  # the text of each date
    keys = texts.str.pad(19, side="right", fillchar=" " if agg == "max" else "~").tolist()
    texts = texts.tolist()
    order = sorted(range(len(texts)), key=lambda i: (keys[i], texts[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    by_subject = pd.Series(rank[date_codes[keep]]).groupby(subject_codes[keep])
    best = by_subject.max() if agg == "max" else by_subject.min()
    return pd.Series(np.asarray(texts, dtype=object)[order][best.to_numpy()],
                     index=subjects[best.index.to_numpy()], dtype=object)


def _ongoing_ends(rows: pd.DataFrame, variable: str, cutoff: str) -> pd.DataFrame | None:
    """USUBJID and end date of the records of ``rows`` ongoing at their reference point.

    Only an --ENDTC counts (``EXENDTC`` -> ``EXENRTPT``/``EXENTPT``); the end is
    --ENTPT when it is an ISO 8601 date, else the cut-off.
    """
    prefix = variable.removesuffix("ENDTC")
    relation, point = f"{prefix}ENRTPT", f"{prefix}ENTPT"
    if prefix == variable or relation not in rows:
        return None
    ongoing = rows[rows[relation].astype("string").eq(ONGOING).fillna(False).astype(bool)]
    named = (ongoing[point].astype("string") if point in ongoing
             else pd.Series(pd.NA, index=ongoing.index, dtype="string"))
    is_date = named.str.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?").fillna(False).astype(bool)
    return pd.DataFrame({"USUBJID": ongoing["USUBJID"],
                         "DTC": named.where(is_date, cutoff).astype("string")})


@algorithm("seq", "domain")
def seq(tgt: pd.DataFrame, ctx: MappingContext) -> pd.Series:
    """--SEQ: 1, 2, ... per USUBJID in the domain's sorted order.

    The engine sorts every domain by its SDTMIG keys and then by all other
    variables before this runs, so the numbering does not depend on the order
    of rows in the source files.

    >>> seq(pd.DataFrame({"USUBJID": ["A", "A", "B"]}), None).tolist()
    [1.0, 2.0, 1.0]
    """
    return (tgt.groupby("USUBJID", sort=False).cumcount() + 1).astype("float64")


@algorithm("study_day", "domain", needs=("DM.RFSTDTC",), args={"dtc": _DTC})
def study_day(tgt: pd.DataFrame, ctx: MappingContext, *, dtc: str) -> pd.Series:
    """--DY from --DTC and DM.RFSTDTC (SDTMIG 3.4 section 4.4.4; no day 0).

    --DTC itself is never changed; a partial date gives a missing --DY.
    """
    reference, positions = _per_subject(tgt, ctx, "RFSTDTC")
    return study_day_from(tgt[dtc].astype("string"), reference.astype("string"), positions)


def _subject_dates(tgt: pd.DataFrame, ctx: MappingContext, variable: str
                   ) -> tuple[pd.Series, np.ndarray]:
    """:func:`_per_subject` of a DM date, as dates (:func:`iso_to_date`)."""
    values, positions = _per_subject(tgt, ctx, variable)
    return iso_to_date(values), positions


@algorithm("epoch", "domain", needs=("DM.RFXSTDTC", "DM.RFXENDTC"), args={"dtc": _DTC})
def epoch(tgt: pd.DataFrame, ctx: MappingContext, *, dtc: str) -> pd.Series:
    """EPOCH from --DTC against DM.RFXSTDTC/RFXENDTC (CT codelist C99079).

    Before the first dose: SCREENING; first to last dose (dates inclusive):
    TREATMENT; after the last dose: FOLLOW-UP. A partial date gets the epoch
    its whole period lies in (``2010-04`` inside a treatment from 2010-03-08 to
    2010-05-02 is TREATMENT) and none when the period straddles two epochs.
    """
    start, end = iso_period(tgt[dtc])
    first = _per_record(*_subject_dates(tgt, ctx, "RFXSTDTC"), tgt.index)
    last = _per_record(*_subject_dates(tgt, ctx, "RFXENDTC"), tgt.index)
    out = np.full(len(tgt), None, dtype=object)
    # the first rule that holds wins (as np.select), assigned last; a Python str put in an
    # object array is shared by the rows, where np.select would make one string per row
    for holds, name in ((start > last, "FOLLOW-UP"),
                        ((start >= first) & (end <= last), "TREATMENT"),
                        (end < first, "SCREENING")):
        out[holds.to_numpy(dtype=bool)] = name
    return pd.Series(out, index=tgt.index, dtype=object)
