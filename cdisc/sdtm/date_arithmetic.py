"""Date arithmetic on ISO 8601 variables: AGE in completed years, days between two dates.

Both are domain-phase derivations, so they read dates the subject phase made
(DM.RFSTDTC from EX). Dates are the domain's ISO 8601 values; a partial date
stands for its whole period (:func:`cdisc.sdtm.dates.iso_period`) and a result
is given only when every date of the periods gives the same one, never guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Severity
from .dates import iso_period, iso_to_date
from .registry import Arg, MappingContext, algorithm

#: the AGEU term (CT C66781) of an age in completed years
_AGE_UNIT = "YEARS"
#: what AGE is when a partial date leaves two ages possible (the ``ambiguous`` argument)
AMBIGUOUS_RULES = ("missing", "lowest", "highest")


def completed_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    """Whole years from ``birth`` to ``on`` (datetime64 Series; NaT gives NaN).

    The birthday counts from its month and day: someone born on 29 February is
    a year older on 1 March of a common year.

    >>> d = lambda *s: pd.Series(pd.to_datetime(list(s)))
    >>> completed_years(d("1960-05-10", "1960-05-10", "2000-02-29"),
    ...                 d("2010-05-09", "2010-05-10", "2001-02-28")).tolist()
    [49.0, 50.0, 0.0]
    """
    years = on.dt.year - birth.dt.year
    before_birthday = (on.dt.month * 100 + on.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return (years - before_birthday.astype("float64")).astype("float64")


def _variable(tgt: pd.DataFrame, ctx: MappingContext, name: str, role: str) -> pd.Series | None:
    if name in tgt:
        return tgt[name].astype("string")
    ctx.problems.add("MAP023", f"{ctx.domain}.{ctx.variable}: the {role} variable {name} is "
                     f"not mapped or derived in {ctx.domain} before {ctx.variable}",
                     ctx.spec.locate(ctx.json_path))
    return None


@algorithm("age", "domain", args={
    "birth": Arg.variable("the date of birth (default BRTHDTC); may be partial, e.g. a "
                          "year of birth"),
    "reference": Arg.variable("the date the age is taken at (default RFSTDTC)"),
    "ambiguous": Arg.value("when a partial date leaves two ages possible: missing "
                           "(default, with a notice), lowest or highest",
                           {"enum": list(AMBIGUOUS_RULES)}),
})
def age(tgt: pd.DataFrame, ctx: MappingContext, *, birth: str = "BRTHDTC",
        reference: str = "RFSTDTC", ambiguous: str = "missing") -> pd.Series:
    """AGE in completed years from the birth date to a reference date (SDTMIG 3.4 DM AGE:
    "may be derived from RFSTDTC and BRTHDTC").

    ``1960-05-10`` to ``2010-05-09`` is 49. A partial date stands for its whole
    period: born ``1960-05`` gives 49 on ``2010-06-01`` (every day of May 1960
    does), but born ``1960`` on ``2010-05-09`` could be 49 or 50: AGE is then
    missing with a notice (MAP024), or the ``lowest``/``highest`` of the two when
    the spec says so. A birth date after the reference date is an error (MAP024).
    AGEU follows with ``age_unit`` (``YEARS`` where AGE has a value).
    """
    births = _variable(tgt, ctx, birth, "birth date")
    references = _variable(tgt, ctx, reference, "reference date")
    if births is None or references is None:
        return pd.Series(np.nan, index=tgt.index, dtype="float64")
    born_first, born_last = iso_period(births)
    ref_first, ref_last = iso_period(references)
    lowest = completed_years(born_last, ref_first)
    highest = completed_years(born_first, ref_last)
    known = lowest.notna() & highest.notna()
    negative = known & (highest < 0)
    ctx.report("MAP024", f"{birth} is after {reference}: no age", tgt, negative, birth)
    two = known & ~negative & (lowest != highest)
    out = lowest.where(known & ~negative & ~two)
    if ambiguous == "missing":
        ctx.report("MAP024", f"{birth} and {reference} leave more than one age "
                   f"possible, so AGE is empty (ambiguous: lowest or highest in the spec "
                   "picks one)", tgt, two, birth, births.astype(object) + " .. "
                   + references.astype(object), severity=Severity.NOTICE)
    else:
        chosen = (lowest if ambiguous == "lowest" else highest).clip(lower=0)
        out = out.where(~two, chosen)
    no_reference = births.notna() & references.isna()
    ctx.report("MAP024", f"{reference} is empty, so AGE cannot be derived", tgt, no_reference,
               reference, births.astype(object), severity=Severity.NOTICE)
    return out.astype("float64")


@algorithm("age_unit", "domain", args={
    "age": Arg.variable("the age variable (default AGE)"),
})
def age_unit(tgt: pd.DataFrame, ctx: MappingContext, *, age: str = "AGE") -> pd.Series:
    """AGEU ``YEARS`` where AGE has a value, empty where it has none (the unit ``age`` gives).

    >>> age_unit(pd.DataFrame({"AGE": [51.0, None]}), None).tolist()
    ['YEARS', None]
    """
    years = _AGE_UNIT
    present = tgt[age].notna() if age in tgt else pd.Series(False, index=tgt.index)
    return pd.Series(np.where(present, years, None), index=tgt.index, dtype=object)


@algorithm("date_diff", "domain", args={
    "start": Arg.variable("the earlier date variable", required=True),
    "end": Arg.variable("the later date variable", required=True),
    "inclusive": Arg.value("count both the start and the end day (end - start + 1), as a "
                           "duration of treatment does", {"type": "boolean"}),
})
def date_diff(tgt: pd.DataFrame, ctx: MappingContext, *, start: str, end: str,
              inclusive: bool = False) -> pd.Series:
    """Days from one date variable to another: ``end - start`` (``+ 1`` with ``inclusive``).

    ``2012-01-10`` to ``2012-02-29`` is 50 days (51 inclusive). A partial or
    missing date gives a missing result; an end before the start a negative one.
    """
    first = _variable(tgt, ctx, start, "start date")
    last = _variable(tgt, ctx, end, "end date")
    if first is None or last is None:
        return pd.Series(np.nan, index=tgt.index, dtype="float64")
    days = (iso_to_date(last) - iso_to_date(first)).dt.days.astype("float64")
    return days + 1 if inclusive else days


__all__ = ["AMBIGUOUS_RULES", "age", "age_unit", "completed_years", "date_diff"]
