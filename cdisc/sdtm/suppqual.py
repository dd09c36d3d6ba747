"""SUPPQUAL: non-standard variables and text over 200 bytes (SDTMIG 3.4 section 4.5.3, 8.4)."""

from __future__ import annotations

import pandas as pd

from .. import standards
from ..model.text import MAX_CHAR
from ..sources.reader import ROW, SOURCE
from ..spec.model import DomainSpec, Spec
from .primitives import as_text, split_text
from .registry import MappingContext

#: prefix of the columns that carry a block's supp: values until SUPP-- is built
SUPP_PREFIX = "__supp__"
#: QORIG of a SUPP value whose mapping names no origin
DEFAULT_ORIGIN = "CRF"


def split_long(frame: pd.DataFrame, domain: DomainSpec, ctx: MappingContext,
                meta: standards.Dataset) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
    """Text over 200 bytes: SUPPQUAL pieces where allowed (SDTMIG 4.5.3), else an error.

    Returns the frame and, for each SUPP piece created, its (QLABEL, QORIG).
    """
    piece_labels: dict[str, tuple[str, str]] = {}
    mappings = {var: m for b in domain.records for var, m in b.map.items()}
    mappings.update({SUPP_PREFIX + q: m for b in domain.records for q, m in b.supp.items()})
    for column in list(frame.columns):
        if column in (SOURCE, ROW) or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        text = frame[column].astype("string")
        long = text.str.len().gt(MAX_CHAR).fillna(False)
        if not long.any():
            continue
        name = column.removeprefix(SUPP_PREFIX)
        if not mappings.get(column, {}).get("split_long_text"):
            ctx.at(domain.name, name, ()).report(
                "MAP007", f"text is longer than {MAX_CHAR} bytes; set split_long_text: true on "
                "this mapping to put the rest in SUPPQUAL (SDTMIG 4.5.3), or shorten it",
                frame, long, name, text)
            continue
        pieces = split_text(text)
        frame[column] = pieces[0]
        for i, piece in enumerate(pieces[1:], start=1):
            qnam = f"{name[:8 - len(str(i))]}{i}"
            frame[SUPP_PREFIX + qnam] = piece
            base = mappings.get(column, {})
            label = base.get("label") or (meta.variable(name).label if meta.has(name) else name)
            piece_labels[qnam] = (label[:40], base.get("origin", DEFAULT_ORIGIN))
    return frame, piece_labels


def build_suppqual(frame: pd.DataFrame, domain: DomainSpec, spec: Spec,
              piece_labels: dict[str, tuple[str, str]]) -> pd.DataFrame | None:
    columns = [c for c in frame.columns if c.startswith(SUPP_PREFIX)]
    if not columns:
        return None
    seqvar = f"{domain.name}SEQ"
    declared = {q: m for b in domain.records for q, m in b.supp.items()}
    idvar = None if domain.name == "DM" else seqvar
    long = frame.melt(
        id_vars=["USUBJID", SOURCE, ROW] + ([seqvar] if idvar else []),
        value_vars=columns, var_name="QNAM", value_name="QVAL",
    ).dropna(subset=["QVAL"])
    long = long[long["QVAL"].astype("string").str.len() > 0]
    long["QNAM"] = long["QNAM"].str.removeprefix(SUPP_PREFIX)

    # QLABEL/QORIG/QEVAL per QNAM, looked up once per QNAM rather than per record
    qnams = long["QNAM"].unique()
    labels = {q: declared[q].get("label", q) if q in declared
              else piece_labels.get(q, (q, DEFAULT_ORIGIN))[0] for q in qnams}
    origins = {q: declared[q].get("origin", DEFAULT_ORIGIN) if q in declared
               else piece_labels.get(q, (q, DEFAULT_ORIGIN))[1] for q in qnams}
    evaluators = {q: declared.get(q, {}).get("evaluator") for q in qnams}

    supp = pd.DataFrame({
        "STUDYID": spec.study.studyid,
        "RDOMAIN": domain.name,
        "USUBJID": long["USUBJID"],
        "IDVAR": idvar or None,
        "IDVARVAL": as_text(long[seqvar]) if idvar else None,
        "QNAM": long["QNAM"],
        "QLABEL": long["QNAM"].map(labels),
        "QVAL": as_text(long["QVAL"]),
        "QORIG": long["QNAM"].map(origins),
        "QEVAL": long["QNAM"].map(evaluators),
        SOURCE: long[SOURCE],
        ROW: long[ROW],
    })
    return supp
