"""Death in DM: DTHFL and DTHDTC agree."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...errors import Problem, Severity
from ..frames import hits, show, text
from ..registry import rule
from ..study import as_study
from .subjects import DM

# DTHFL takes only "Y" or null (SDTMIG 3.4 DM specification), though its codelist
# is the whole NY list; the rule value is the one the CORE rules test for.
YES = "Y"


def _dm_death(datasets: Mapping[str, pd.DataFrame]
              ) -> tuple[pd.DataFrame, pd.Series, pd.Series] | None:
    dm = as_study(datasets).get(DM)
    if dm is None or "DTHFL" not in dm.columns:
        return None
    dthdtc = text(dm, "DTHDTC") if "DTHDTC" in dm.columns else None
    if dthdtc is None:
        dthdtc = pd.Series([None] * len(dm), index=dm.index, dtype=object)
    return dm, text(dm, "DTHFL"), dthdtc


@rule("CV0501", Severity.ERROR, "DTHDTC is populated but DTHFL is not 'Y'",
      "SDTMIG 3.4 section 5.2; CG0435 (CORE-000007), FDA business rule FB0606")
def death_date_without_flag(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, date = found
    bad = date.notna() & flag.ne(YES)
    return hits("CV0501", DM, dm, bad.to_numpy(dtype=bool), variable="DTHFL",
                message=lambda i: f"DTHDTC is {show(date.iat[i])} but DTHFL is "
                f"{show(flag.iat[i])}, not 'Y'")


@rule("CV0502", Severity.WARNING, "DTHFL is 'Y' but DTHDTC is null",
      "SDTMIG 3.4 section 5.2; CORE-000705, FDA business rule FB0610")
def death_flag_without_date(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, date = found
    bad = flag.eq(YES) & date.isna()
    return hits("CV0502", DM, dm, bad.to_numpy(dtype=bool), variable="DTHDTC",
                message="DTHFL is 'Y' but DTHDTC is null (give the date, partial if need be)")


@rule("CV0503", Severity.ERROR, "DTHFL is neither 'Y' nor null",
      "SDTMIG 3.4 section 5.2 (DTHFL 'Y' or null); CG0131 (CORE-000006)")
def death_flag_values(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _dm_death(datasets)
    if found is None:
        return []
    dm, flag, _ = found
    bad = flag.notna() & flag.ne(YES)
    return hits("CV0503", DM, dm, bad.to_numpy(dtype=bool), variable="DTHFL",
                message=lambda i: f"DTHFL is {show(flag.iat[i])}; it is 'Y' or null")
