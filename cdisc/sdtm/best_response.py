"""RS BESTRESP from the collected per-visit overall responses (RECIST 1.1).

When a site recorded each assessment's overall response but no best overall
response, ``best_response`` derives it per subject from those rows, by the rules
the ADaM BOR uses (:func:`cdisc.adam.recist.best_overall_response`, which this
module may not import: tests keep the two in agreement on the same responses):

* only assessments on or after the reference start count (the earliest date of
  ``reference``, default the subject's first assessment), and only up to and
  including the first PD (RECIST 1.1 s4.4.3: best response "until disease
  progression");
* without confirmation, CR beats PR beats SD beats PD beats NE; SD (or
  NON-CR/NON-PD) counts only at least ``sd_min_days`` after the reference
  (s4.4.3), earlier it is NE;
* with confirmation (s4.6.1, Table 3), a CR needs a later CR at least
  ``confirm_min_days`` after it with only CR or NE between (at most
  ``confirm_max_ne`` NE); a PR a later CR or PR so, with only CR, PR or NE
  between and no PR after a CR. An unconfirmed CR/PR counts as SD when it is at
  least ``sd_min_days`` after the reference;
* the stable category is SD when the subject has a qualifying CR, PR or SD,
  else NON-CR/NON-PD (non-target disease only, Table 2).

``confirm``, ``confirm_min_days``, ``sd_min_days`` default to the spec's
``recist:`` options. Everything is column operations per subject; the
confirmation pairs each assessment with the later ones of its subject.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..sources.reader import ROW
from ..spec.model import RecistOptions
from .ct import resolve_codelist
from .dates import iso_period, to_iso8601
from .primitives import as_text
from .registry import Arg, MappingContext, algorithm

CR, PR, SD, NON_CR_NON_PD, PD, NE = "CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"
#: the time-point responses RECIST 1.1 knows (CT C96785 submission values)
RESPONSES = (CR, PR, SD, NON_CR_NON_PD, PD, NE)
_STABLE = (SD, NON_CR_NON_PD)


def _days(iso: pd.Series) -> pd.Series:
    """Days since 1970 of a complete date, or of the 1st of the month for ``YYYY-MM``
    (as the ADaM BOR imputes it); a year alone gives none."""
    first, _ = iso_period(iso)
    usable = iso.astype("string").str.len().ge(7).fillna(False).astype(bool)
    days = (first - pd.Timestamp("1970-01-01")).dt.days.astype("float64")
    return days.where(usable)


def best_overall_response(assessments: pd.DataFrame, options: RecistOptions) -> pd.Series:
    """Best overall response per subject from ``assessments``.

    ``assessments`` has columns SUBJECT, DAY (days from the subject's reference
    date; a row before the reference is left out), RESPONSE (one of
    :data:`RESPONSES`) and ORDER (a tie-break inside one day); the result is
    indexed by SUBJECT.

    >>> rows = pd.DataFrame({"SUBJECT": ["1", "1", "2"], "DAY": [56.0, 91.0, 30.0],
    ...                      "RESPONSE": ["SD", "PD", "SD"], "ORDER": [0, 1, 2]})
    >>> best_overall_response(rows, RecistOptions(sd_min_days=42)).to_dict()
    {'1': 'SD', '2': 'NE'}
    """
    subjects = pd.Index(assessments["SUBJECT"].drop_duplicates())
    rows = assessments[assessments["DAY"].ge(0)].sort_values(
        ["SUBJECT", "DAY", "ORDER"], kind="mergesort").reset_index(drop=True)
    resp, subject = rows["RESPONSE"], rows["SUBJECT"]
    # up to and including the first PD
    pd_before = resp.eq(PD).astype(int).groupby(subject).cumsum().groupby(subject).shift(
        fill_value=0)
    rows = rows[pd_before.eq(0).to_numpy()].reset_index(drop=True)
    resp, subject = rows["RESPONSE"], rows["SUBJECT"]
    long_enough = rows["DAY"].ge(options.sd_min_days)

    def any_of(mask: pd.Series) -> pd.Series:
        return mask.groupby(subject).any().reindex(subjects, fill_value=False)

    target = any_of(resp.isin([CR, PR, SD]) & long_enough)
    stable = pd.Series(np.where(target, SD, NON_CR_NON_PD), index=subjects)
    if options.confirm:
        confirmed_cr, confirmed_pr = _confirmed(rows, options)
        first = any_of(confirmed_cr), any_of(confirmed_pr)
        counts_stable = any_of(resp.isin([CR, PR, SD, NON_CR_NON_PD]) & long_enough)
    else:
        first = any_of(resp.eq(CR)), any_of(resp.eq(PR))
        counts_stable = any_of(resp.isin(_STABLE) & long_enough)
    best = np.select([first[0], first[1], counts_stable, any_of(resp.eq(PD))],
                     [CR, PR, stable, PD], default=NE)
    return pd.Series(best, index=subjects, dtype=object)


def _confirmed(rows: pd.DataFrame, options: RecistOptions) -> tuple[pd.Series, pd.Series]:
    """Per row: is it a CR (first series) or PR (second) confirmed by a later assessment?"""
    rows = rows.assign(K=rows.groupby("SUBJECT").cumcount())
    resp = rows["RESPONSE"]
    by = rows["SUBJECT"]
    cum = pd.DataFrame({
        "NE": resp.eq(NE).astype(int).groupby(by).cumsum(),
        "NOT_CR": (~resp.isin([CR, NE])).astype(int).groupby(by).cumsum(),
        "NOT_CRPR": (~resp.isin([CR, PR, NE])).astype(int).groupby(by).cumsum(),
        # the last PR up to each row and the first CR from it on ("no PR after a CR")
        "LAST_PR": rows["K"].where(resp.eq(PR)).groupby(by).ffill(),
        "NEXT_CR": rows["K"].where(resp.eq(CR)).groupby(by).bfill(),
    })
    rows = pd.concat([rows, cum], axis=1)
    pairs = rows.merge(rows, on="SUBJECT", suffixes=("", "_J"))
    pairs = pairs[(pairs["K_J"] > pairs["K"])
                  & (pairs["DAY_J"] - pairs["DAY"] >= options.confirm_min_days)]

    def valid(anchor: str, confirms: list[str], bad: str) -> pd.Series:
        cand = pairs[pairs["RESPONSE"].eq(anchor) & pairs["RESPONSE_J"].isin(confirms)]
        # RECIST Table 3: the first such later assessment confirms, or nothing does
        cand = cand.sort_values(["SUBJECT", "K", "K_J"]).drop_duplicates(["SUBJECT", "K"])
        ok = ((cand[f"{bad}_J"] - cand[bad]).eq(0)
              & (cand["NE_J"] - cand["NE"]).le(options.confirm_max_ne))
        if anchor == PR:  # the anchor is a PR, so its NEXT_CR lies after it
            ok &= ~(cand["NEXT_CR"].le(cand["K_J"]) & cand["LAST_PR_J"].gt(cand["NEXT_CR"]))
        hit = cand[ok.to_numpy()]
        return pd.Series(rows.set_index(["SUBJECT", "K"]).index.isin(
            hit.set_index(["SUBJECT", "K"]).index), index=rows.index)

    return valid(CR, [CR], "NOT_CR"), valid(PR, [CR, PR], "NOT_CRPR")


def _subject_dates(table: pd.DataFrame, subject: str, column: str, ctx: MappingContext,
                   source: str) -> pd.Series:
    spec = ctx.spec.sources[source].columns.get(column)
    iso, _ = to_iso8601(table[column], spec.formats if spec else ())
    return pd.DataFrame({"S": as_text(table[subject]), "D": _days(iso)}).groupby("S")["D"].min()


@algorithm("best_response", "record", args={
    "source": Arg.source("the source of the per-visit overall responses", required=True),
    "column": Arg.column("its overall response column", of="source", required=True),
    "date": Arg.column("its assessment date column", of="source", required=True),
    "codelist": Arg.codelist("a study_ct entry mapping the collected responses to CR, PR, "
                             "SD, NON-CR/NON-PD, PD, NE"),
    "reference": Arg.record({
        "source": Arg.source("a source", required=True),
        "column": Arg.column("a date column of it", of="source", required=True),
    }, "the reference start: per subject the earliest date of this column (e.g. the first "
       "dose); default the subject's first assessment"),
    "confirm": Arg.value("CR and PR need confirmation (default recist: confirm)",
                         {"type": "boolean"}),
    "confirm_min_days": Arg.value("days from a response to its confirmation (default recist: "
                                  "confirm_min_days, 28)", {"type": "integer", "minimum": 1}),
    "sd_min_days": Arg.value("days from the reference SD must last (default recist: "
                             "sd_min_days, 42)", {"type": "integer", "minimum": 0}),
})
def best_response(src: pd.DataFrame, ctx: MappingContext, *, source: str, column: str,
                  date: str, codelist: str | None = None,
                  reference: dict[str, Any] | None = None, confirm: bool | None = None,
                  confirm_min_days: int | None = None,
                  sd_min_days: int | None = None) -> pd.Series:
    """RECIST 1.1 best overall response of each record's subject, from another source's
    per-visit overall responses (see the module doc for the rules).

    E.g. RS BESTRESP when the site recorded none: ``RSSTRESC: {algorithm: coalesce, of:
    [{algorithm: assign_ct, column: best_response, codelist: RESPONSE}, {algorithm:
    best_response, source: responses, column: overall_response, date: assessment_date,
    codelist: RESPONSE}]}``. A response that is not a RECIST response after the map
    is an error at its row (MAP026); a subject without assessments gets none.
    """
    options = RecistOptions(**ctx.spec.recist)
    options = RecistOptions(
        confirm=options.confirm if confirm is None else confirm,
        confirm_min_days=options.confirm_min_days if confirm_min_days is None
        else confirm_min_days,
        sd_min_days=options.sd_min_days if sd_min_days is None else sd_min_days,
        confirm_max_ne=options.confirm_max_ne)
    table = ctx.sources[source].frame
    subject = ctx.spec.sources[source].subject
    collected = as_text(table[column])
    responses = collected
    if codelist is not None:
        resolved = resolve_codelist(ctx.spec, codelist)
        mapped = collected.map(resolved.map)
        responses = mapped.where(mapped.notna(), collected)
    unknown = collected.notna() & ~responses.isin(list(RESPONSES))
    ctx.report("MAP026", f"the response is not one of {', '.join(RESPONSES)}"
                 + (f" after the map {codelist!r}" if codelist else "")
                 + ": it cannot count toward the best response", table, unknown, column,
                 collected)
    spec = ctx.spec.sources[source].columns.get(date)
    iso, _ = to_iso8601(table[date], spec.formats if spec else ())
    days = _days(iso)
    undated = responses.isin(list(RESPONSES)) & days.isna()
    ctx.report("MAP026", "the assessment has no usable date (a year alone is not one): it "
                 "cannot count toward the best response", table, undated, date)
    subjects = as_text(table[subject])
    if reference is not None:
        start = _subject_dates(ctx.sources[reference["source"]].frame,
                               ctx.spec.sources[reference["source"]].subject,
                               reference["column"], ctx, reference["source"])
    else:
        start = pd.DataFrame({"S": subjects, "D": days}).groupby("S")["D"].min()
    usable = responses.isin(list(RESPONSES)) & days.notna()
    assessments = pd.DataFrame({
        "SUBJECT": subjects[usable], "DAY": (days - subjects.map(start))[usable],
        "RESPONSE": responses[usable], "ORDER": table.loc[usable, ROW]})
    # every row with a response or a date was read (counted, or reported above)
    read = collected.notna() | days.notna()
    ctx.used_rows.setdefault(source, set()).update(int(r) for r in table.loc[read, ROW])
    best = best_overall_response(assessments.dropna(subset=["DAY"]), options)
    keys = as_text(src[ctx.spec.sources[ctx.block_source or source].subject])
    out = keys.map(best)
    return out.astype(object).where(out.notna(), None)


__all__ = ["RESPONSES", "best_overall_response", "best_response"]
