"""Tumour domains: TR results link to TU lesions, RS responses to TR groups."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...errors import Problem, Severity
from ..frames import at_rows, hits, show, text
from ..registry import rule
from ..study import as_study


def _links(datasets: Mapping[str, pd.DataFrame], child: str, child_var: str, parent: str,
           parent_var: str) -> tuple[pd.DataFrame, pd.Series] | None:
    """The child frame and a mask of records whose link has no parent record for the subject."""
    study = as_study(datasets)
    kid, dad = study.get(child), study.get(parent)
    if kid is None or dad is None or child_var not in kid.columns or "USUBJID" not in kid.columns:
        return None
    if parent_var not in dad.columns or "USUBJID" not in dad.columns:
        # The parent cannot be linked to at all: every populated link dangles.
        return kid, text(kid, child_var).notna()
    targets = pd.MultiIndex.from_arrays([text(dad, "USUBJID"), text(dad, parent_var)])
    link = text(kid, child_var)
    found = pd.MultiIndex.from_arrays([text(kid, "USUBJID"), link]).isin(targets)
    return kid, link.notna() & ~pd.Series(found, index=kid.index)


@rule("CV0701", Severity.ERROR, "TRLNKID matches no TU.TULNKID of the subject",
      "SDTMIG 3.4 sections 6.3.12.1-6.3.12.2 (TR records link to the TU lesion by --LNKID)",
      category="Cross-reference")
def tr_to_tu(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _links(datasets, "TR", "TRLNKID", "TU", "TULNKID")
    if found is None:
        return []
    tr, bad = found
    link_at = at_rows(tr["TRLNKID"])
    return hits("CV0701", "TR", tr, bad.to_numpy(dtype=bool), variable="TRLNKID",
                message=lambda i: f"TRLNKID {show(link_at(i))} is not a TULNKID of "
                "this subject in TU")


@rule("CV0702", Severity.ERROR, "RSLNKGRP matches no TR.TRLNKGRP of the subject",
      "SDTMIG 3.4 sections 6.3.9.3 and 6.3.12.2 (RS responses link to the TR group by --LNKGRP)",
      category="Cross-reference")
def rs_to_tr(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    found = _links(datasets, "RS", "RSLNKGRP", "TR", "TRLNKGRP")
    if found is None:
        return []
    rs, bad = found
    group_at = at_rows(rs["RSLNKGRP"])
    return hits("CV0702", "RS", rs, bad.to_numpy(dtype=bool), variable="RSLNKGRP",
                message=lambda i: f"RSLNKGRP {show(group_at(i))} is not a TRLNKGRP "
                "of this subject in TR")


@rule("CV0703", Severity.ERROR, "TULNKID identifies more than one lesion of a subject",
      "SDTMIG 3.4 section 6.3.12.1 (TULNKID identifies the lesion; TU keys USUBJID, TUEVAL, "
      "TULNKID)", category="Cross-reference")
def tu_link_unique(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    tu = as_study(datasets).get("TU")
    if tu is None or "TULNKID" not in tu.columns or "USUBJID" not in tu.columns:
        return []
    # Each evaluator identifies lesions on their own, so the link is unique per evaluator.
    keys = [k for k in ("USUBJID", "TUEVAL", "TUEVALID", "TULNKID") if k in tu.columns]
    view = pd.DataFrame({k: text(tu, k) for k in keys})
    dup = view["TULNKID"].notna() & view.duplicated(keep="first")
    return hits("CV0703", "TU", tu, dup.to_numpy(dtype=bool), variable="TULNKID",
                message="TULNKID is already used by an earlier TU record of this subject "
                "(and evaluator)")
