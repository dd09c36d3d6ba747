"""Independent RECIST 1.1 re-derivation from SDTM TU/TR, and its comparison with RS.

Reference: Eisenhauer EA et al., "New response evaluation criteria in solid
tumours: revised RECIST guideline (version 1.1)", Eur J Cancer 2009;45:228-247.
Comments cite it as "RECIST 1.1 s4.3.1" (section) or "Table 1" (its tables).

Inputs are SDTMIG 3.4 data frames, e.g. as read from CSV or XPT:

* TU -- USUBJID, TULNKID, TUSTRESC (TARGET / NON-TARGET / NEW), TULOC (a
  location containing ``LYMPH NODE`` makes the lesion nodal), VISITNUM/VISIT
  (where a NEW lesion was first seen), TUEVAL/TUEVALID/TUACPTFL.
* TR -- USUBJID, TRLNKID, TRTESTCD, TRSTRESN, TRSTRESC, VISITNUM, VISIT, TRDTC,
  optional TRGRPID, TRSTAT, TREVAL/TREVALID/TRACPTFL, TRLOBXFL/TRBLFL.
* RS -- USUBJID, RSTESTCD (OVRLRESP per time point, BESTRESP per subject),
  RSSTRESC, VISITNUM/VISIT/RSDTC, RSEVAL/RSEVALID/RSACPTFL.

How the SDTM encodes things, and what is read (checked on the pharmaversesdtm
``*_onco_recist`` example):

* Target lesion size: non-nodal lesions use TRTESTCD LDIAM (longest diameter);
  nodal lesions use the short axis -- SAXIS when present, else LPERP (the
  longest perpendicular, which is the short axis of a node), else LDIAM
  (RECIST 1.1 s3.1, s4.3.2: "only the short axis of these nodes will
  contribute to the sum").  A TRSTRESC of ``TOO SMALL TO MEASURE`` without
  TRSTRESN counts as 5 mm (RECIST 1.1 s4.3.2).  A record with TRSTAT ``NOT DONE``
  is a missing measurement.
* Any TR summary record (TRTESTCD SUMDIAM and the like) is ignored: the sum of
  diameters is always recomputed from the lesions.
* Non-target and new lesion status: TRTESTCD TUMSTATE, TRSTRESC ``ABSENT`` /
  ``PRESENT`` / ``UNEQUIVOCAL PROGRESSION`` (``EQUIVOCAL`` for a doubtful new
  lesion; ``NOT EVALUABLE``, ``NOT ASSESSED`` or no record = not assessed).
  Duplicate records of one lesion at one visit (the example repeats every
  non-target status twice) are reduced to the worst status / largest size.
* New lesions: a TU record with TUSTRESC ``NEW`` at the visit where it was
  identified, or TR records at later visits of a lesion that TU (or TRGRPID)
  marks ``NEW``, unless its status is ``ABSENT``/``EQUIVOCAL``.
* Baseline: the visit flagged TRLOBXFL (or TRBLFL) = Y, else the subject's
  first VISITNUM with target/non-target records.  Every later VISITNUM is a
  post-baseline time point.
* Evaluator: TU/TR/RS often hold several reads (the example has INVESTIGATOR
  and INDEPENDENT ASSESSOR RADIOLOGIST 1 and 2).  ``RecistOptions.evaluator``
  picks one: a value of --EVAL (``INVESTIGATOR``) or --EVALID
  (``RADIOLOGIST 1``), or ``ACCEPTED`` for the records with --ACPTFL = Y (the
  adjudicated read).  Default: the investigator, the read that RS OVRLRESP by
  the investigator is compared with.  A selection that still holds two
  evaluators for one subject and visit is refused (RECIST013).  A subject
  without TU records of that evaluator takes its lesions from all its TU
  records (lesions identified once for every read).
* ADT: the earliest TRDTC of the time point.  A TRDTC of year and month only
  (``2014-02``) is imputed to the 1st of the month and the REASON says so;
  a year-only date gives no ADT.

Nothing here reads files: the caller passes data frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdisc.errors import DerivationError, Location, Problem, Severity
from cdisc.formats.atomic import JsonRecords
from cdisc.model.text import factorize
from cdisc.spec.model import RecistOptions

from .common import distinct_text, per_distinct_text

__all__ = [
    "RecistOptions",
    "agreement_summary",
    "best_overall_response",
    "compare_with_investigator",
    "first_confirmed_response",
    "timepoint_responses",
]

TP_COLUMNS = [
    "USUBJID",
    "VISITNUM",
    "VISIT",
    "ADT",
    "SUMDIAM",
    "BASE_SUM",
    "NADIR_SUM",
    "PCHG_BASE",
    "PCHG_NADIR",
    "TRGRESP",
    "NTRGRESP",
    "NEWLPROG",
    "OVRLRESP",
    "REASON",
    "BASEDT",
    "EVALUATOR",
]
BOR_COLUMNS = ["USUBJID", "BOR", "BOR_DATE", "REASON"]

NON_CR_NON_PD = "NON-CR/NON-PD"
NA = "NA"  # no lesions of that kind at baseline (RECIST 1.1 Table 1 vs Table 2)

_TARGET_TESTS = ("LDIAM", "LPERP", "SAXIS")
_SUMMARY_TESTS = ("SUMDIAM", "SUMLDIAM", "SUMNLNLD", "SUMNLD", "PCBSD", "PCHGNAD", "ACNSD")
_NODE_PRIORITY = {"SAXIS": 0, "LPERP": 1, "LDIAM": 2}  # short axis first
_NOT_ASSESSED = {"", "NOT EVALUABLE", "NE", "NOT ASSESSED", "NOT DONE", "UNKNOWN", "ND"}


# --------------------------------------------------------------------------- helpers


def _texts(s: pd.Series) -> np.ndarray:
    return s.astype(object).where(s.notna(), "").astype(str).to_numpy(dtype=object)


def _up(s: pd.Series) -> pd.Series:
    """Strings stripped and upper-cased; missing -> ''."""
    return pd.Series(per_distinct_text(s, lambda d: d.str.strip().str.upper()),
                     index=s.index, dtype=object)


def _raw(s: pd.Series) -> pd.Series:
    """Strings stripped; missing -> ''."""
    return pd.Series(per_distinct_text(s, lambda d: d.str.strip()), index=s.index,
                     dtype=object)


def _col(df: pd.DataFrame, name: str, fallback: str | None = None) -> pd.Series:
    if name in df.columns:
        return df[name]
    if fallback is not None and fallback in df.columns:
        return df[fallback]
    return pd.Series(np.full(len(df), None, dtype=object), index=df.index, dtype=object)


def _has(texts: pd.Series, part: str) -> pd.Series:
    """Whether each text holds ``part`` (``str.contains`` of plain text), tested once per
    distinct text; False for a missing one."""
    codes, distinct = factorize(texts.to_numpy(dtype=object))
    found = np.fromiter((isinstance(d, str) and part in d for d in distinct), dtype=bool,
                        count=len(distinct))
    return pd.Series(np.append(found, False)[codes], index=texts.index)  # code -1: False


def _require(df: pd.DataFrame, dataset: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DerivationError.single(
            "RECIST011", f"{dataset} lacks the variable(s) the RECIST review needs: "
            f"{', '.join(missing)}", dataset=dataset, field=missing[0])


def _dates(dtc: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 --DTC -> (date, imputed flag).  YYYY-MM is imputed to day 1."""
    # each distinct text is read once (a date column repeats its values)
    codes, distinct = factorize(_texts(dtc))
    s = pd.Series(distinct, dtype=object).str.strip().str[:10]
    full = s.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    month = s.str.fullmatch(r"\d{4}-\d{2}")
    text = s.where(full, (s + "-01").where(month, ""))
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").to_numpy()
    imputed = (month & ~full).to_numpy(dtype=bool)
    return (pd.Series(dates[codes], index=dtc.index),
            pd.Series(imputed[codes], index=dtc.index))


def _day_number(dates: pd.Series) -> pd.Series:
    """Days since 1970-01-01: a time point number that orders assessments by date."""
    return (dates - pd.Timestamp("1970-01-01")).dt.days.astype(float)


def _num(v: object) -> str:
    """2.0 -> '2', 2.5 -> '2.5' (visit numbers in messages)."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
    if np.isnan(f):
        return "?"
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _ge(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    """a >= b, with float noise at the boundary counted as equal (-30.0% is PR)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return (a >= b) | np.isclose(a, b, rtol=1e-9, atol=1e-9)


def _evaluator_rows(df: pd.DataFrame, prefix: str, evaluator: str) -> np.ndarray | None:
    """Which rows are of one evaluator (see RecistOptions.evaluator); None when ``df``
    names no evaluator (every row is)."""
    ev, evid, acpt = f"{prefix}EVAL", f"{prefix}EVALID", f"{prefix}ACPTFL"
    if ev not in df.columns and evid not in df.columns and acpt not in df.columns:
        return None
    want = evaluator.strip().upper()
    if want == "ACCEPTED":
        if acpt not in df.columns:
            raise DerivationError.single("RECIST012", f"evaluator 'ACCEPTED' needs {acpt}",
                                         dataset=prefix, field=acpt)
        return _up(df[acpt]).eq("Y").to_numpy()
    mask = np.zeros(len(df), dtype=bool)
    for col in (ev, evid):
        if col in df.columns:
            mask |= _up(df[col]).eq(want).to_numpy()
    return mask


def _select_evaluator(df: pd.DataFrame, prefix: str, evaluator: str) -> pd.DataFrame:
    """Rows of one evaluator (see RecistOptions.evaluator)."""
    mask = _evaluator_rows(df, prefix, evaluator)
    return df if mask is None else _rows(df, mask)


def _rows(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``df[mask]``, and ``df`` itself when every row is kept: one reader's TR (millions
    of records in a large study) is not copied for nothing."""
    return df if mask.all() else df[mask]


def _subset(df: pd.DataFrame, mask: pd.Series, columns: list[str]) -> pd.DataFrame:
    """``df.loc[mask, columns]`` as a frame of its own, each column its own array: the
    records of one derivation (millions at 100,000 subjects) taken column by column,
    without pandas first merging every column of ``df`` into one block."""
    rows = np.flatnonzero(mask.to_numpy(dtype=bool))
    return pd.DataFrame({name: df[name].to_numpy()[rows] for name in columns},
                        index=df.index[rows], copy=False)


def _check_single_reader(df: pd.DataFrame, prefix: str, evaluator: str) -> None:
    evid = f"{prefix}EVALID"
    if evid not in df.columns or df.empty or "VISITNUM" not in df.columns:
        return
    ids = _up(df[evid])
    # three columns, not a copy of the dataset (TR: millions of records)
    n = (pd.DataFrame({"USUBJID": df["USUBJID"], "VISITNUM": df["VISITNUM"], "_ID": ids})
         .groupby(["USUBJID", "VISITNUM"], dropna=False)["_ID"].nunique())
    if (n > 1).any():
        ids = sorted(set(ids) - {""})
        raise DerivationError.single(
            "RECIST013", f"evaluator {evaluator!r} selects several {evid} per subject and "
            f"visit ({', '.join(ids)}); choose one of them or 'ACCEPTED' (recist: evaluator "
            "in the spec)", dataset=prefix, field=evid)


# --------------------------------------------------------------------------- inputs


def _sorted_codes(*columns: pd.Series) -> tuple[np.ndarray, list[pd.Series]]:
    """The distinct values of ``columns`` (stripped text, sorted) and each column as codes
    into them: subjects and lesion ids.

    The derivation merges, groups and sorts by subject and lesion a dozen times: on
    integers that is several times faster than on text, and the codes sort as the text
    does. Each column's distinct values are stripped and sorted, not its records.
    """
    parts = [distinct_text(c, lambda d: d.str.strip()) for c in columns]  # as _raw
    codes, values = factorize(np.concatenate([texts for _, texts in parts]), sort=True)
    out, start = [], 0
    for (column_codes, texts), column in zip(parts, columns, strict=True):
        remap = codes[start:start + len(texts)]
        start += len(texts)
        out.append(pd.Series(remap[column_codes], index=column.index))  # -1: the last, ""
    return values, out


def _lesions(tu: pd.DataFrame, subject: pd.Series, lesion: pd.Series, blank: int
             ) -> pd.DataFrame:
    """One row per USUBJID x lesion: ROLE (TARGET/NON-TARGET/NEW), NODE, TU visit.

    ``subject``, ``lesion``: TU's USUBJID and TULNKID as :func:`_sorted_codes` codes;
    ``blank``: the code of an empty TULNKID (-1: none is)."""
    role = _up(_col(tu, "TUSTRESC", "TUORRES"))
    les = pd.DataFrame(
        {
            "USUBJID": subject,
            "LNKID": lesion,
            "ROLE": role,
            "NODE": _has(_up(_col(tu, "TULOC")), "LYMPH NODE"),
            "TUVISITNUM": pd.to_numeric(_col(tu, "VISITNUM"), errors="coerce"),
            "TUVISIT": _raw(_col(tu, "VISIT")),
            "TUDT": _dates(_col(tu, "TUDTC"))[0],
        }
    )
    les = les[les["ROLE"].isin(["TARGET", "NON-TARGET", "NEW"]) & les["LNKID"].ne(blank)]
    return les.drop_duplicates(["USUBJID", "LNKID"]).reset_index(drop=True)


def _status(stresc: pd.Series) -> pd.Series:
    """TUMSTATE result -> PD / PRESENT / ABSENT / EQUIVOCAL / NaN (not assessed)."""
    codes, distinct = factorize(_up(stresc).to_numpy(dtype=object))
    s = pd.Series(distinct, dtype=object)  # each distinct result once
    out = pd.Series("PRESENT", index=s.index, dtype=object)
    out[s.isin(_NOT_ASSESSED)] = np.nan
    out[s.str.contains("ABSENT") | s.eq("NOT PRESENT") | s.eq("NON-PATHOLOGICAL")] = "ABSENT"
    out[s.eq("EQUIVOCAL")] = "EQUIVOCAL"
    out[s.str.contains("UNEQUIVOCAL")] = "PD"
    return pd.Series(out.to_numpy(dtype=object)[codes], index=stresc.index, dtype=object)


_STATUS_RANK = {"ABSENT": 1, "EQUIVOCAL": 2, "PRESENT": 3, "PD": 4}


def _tr_records(tr: pd.DataFrame, lesions: pd.DataFrame, subject: pd.Series,
                lesion: pd.Series) -> pd.DataFrame:
    adt, imputed = _dates(_col(tr, "TRDTC"))
    columns = {
        "USUBJID": subject,
        "LNKID": lesion,
        "TESTCD": _up(tr["TRTESTCD"]),
        # a copy: VAL is changed in place below, and to_numeric may return TR's own array
        "VAL": pd.to_numeric(_col(tr, "TRSTRESN"), errors="coerce").copy(),
        "STRESC": _up(_col(tr, "TRSTRESC", "TRORRES")),
        "VISITNUM": pd.to_numeric(tr["VISITNUM"], errors="coerce"),
        "VISIT": _raw(_col(tr, "VISIT")),
        "ADT": adt,
        "ADT_IMPUTED": imputed,
        "GRP": _up(_col(tr, "TRGRPID")),
        "STAT": _up(_col(tr, "TRSTAT")),
        "BLFL": _up(_col(tr, "TRLOBXFL", "TRBLFL")),
    }
    # the columns are new arrays on TR's index: one block each, not copied into one
    t = pd.DataFrame({name: column.to_numpy() for name, column in columns.items()},
                     index=tr.index, copy=False)
    # Summary results are not trusted: the sum is recomputed from the lesions.
    t = _rows(t, ~t["TESTCD"].isin(_SUMMARY_TESTS).to_numpy())
    # A site that names no visits (a clinic's scan dates): a subject without any TR
    # VISITNUM takes its full assessment dates as its time points, in time order;
    # the comparison with RS then matches them by date (RSDTC = ADT).
    named = t.loc[t["VISITNUM"].notna(), "USUBJID"].unique()
    dated = ~t["USUBJID"].isin(named) & t["ADT"].notna() & ~t["ADT_IMPUTED"]
    t["VISITNUM"] = t["VISITNUM"].where(~dated, _day_number(t["ADT"]))
    t["DATED"] = dated
    t = _rows(t, t["VISITNUM"].notna().to_numpy())
    t.index = pd.RangeIndex(len(t))  # ours: numbered in place, not copied
    # RECIST 1.1 s4.3.2: a lesion "too small to measure" counts as 5 mm.
    too_small = t["VAL"].isna() & _has(t["STRESC"], "TOO SMALL")
    t.loc[too_small, "VAL"] = 5.0
    not_done = t["STAT"].eq("NOT DONE")
    t.loc[not_done, "VAL"] = np.nan
    t.loc[not_done, "STRESC"] = ""
    # each record's lesion (TU has one row per subject and lesion): two columns looked up,
    # not a merge that copies every column of millions of records
    at = _lesion_rows(lesions, t["USUBJID"].to_numpy(), t["LNKID"].to_numpy())
    t["ROLE"] = np.append(lesions["ROLE"].to_numpy(dtype=object), np.nan)[at]
    t["NODE"] = np.append(lesions["NODE"].to_numpy(dtype=object), np.nan)[at]
    grp_role = t["GRP"].where(t["GRP"].isin(["TARGET", "NON-TARGET", "NEW"]))
    t["ROLE"] = t["ROLE"].where(t["ROLE"].notna(), grp_role)
    t["NODE"] = t["NODE"].eq(True)
    return t


def _lesion_rows(lesions: pd.DataFrame, subject: np.ndarray, lesion: np.ndarray
                 ) -> np.ndarray:
    """The row of ``lesions`` (unique USUBJID x LNKID codes) of each subject and lesion
    code pair; -1 where it has none."""
    known_lesion = lesions["LNKID"].to_numpy(dtype=np.int64)
    span = int(max(known_lesion.max(initial=0), lesion.max(initial=0))) + 1
    known = lesions["USUBJID"].to_numpy(dtype=np.int64) * span + known_lesion
    return pd.Index(known).get_indexer(subject.astype(np.int64) * span + lesion)


def _baseline_visits(t: pd.DataFrame) -> pd.Series:
    """USUBJID -> baseline VISITNUM (flagged, else the first with lesion records)."""
    known = _subset(t, t["ROLE"].isin(["TARGET", "NON-TARGET"]), ["USUBJID", "VISITNUM", "BLFL"])
    first = known.groupby("USUBJID")["VISITNUM"].min()
    flagged = known[known["BLFL"].eq("Y")].groupby("USUBJID")["VISITNUM"].max()
    anything = t.groupby("USUBJID")["VISITNUM"].min()  # no baseline lesion at all
    return flagged.combine_first(first).combine_first(anything).rename("BASEVISITNUM")


def _target_sizes(t: pd.DataFrame) -> pd.DataFrame:
    """USUBJID x VISITNUM x LNKID -> VAL, the size that enters the sum."""
    m = _subset(t, (t["ROLE"] == "TARGET") & t["TESTCD"].isin(_TARGET_TESTS) & t["VAL"].notna(),
                ["USUBJID", "VISITNUM", "LNKID", "VAL", "NODE", "TESTCD"])
    # RECIST 1.1 s4.3.2: nodes are measured by short axis, other lesions by longest diameter.
    m["PRIO"] = np.where(
        m["NODE"], m["TESTCD"].map(_NODE_PRIORITY), np.where(m["TESTCD"].eq("LDIAM"), 0, np.nan)
    )
    m = m[m["PRIO"].notna()]
    keys = ["USUBJID", "VISITNUM", "LNKID"]
    m = m.groupby([*keys, "PRIO"], as_index=False)["VAL"].max()
    m = m.sort_values([*keys, "PRIO"]).drop_duplicates(keys)
    # A target lesion reported only as ABSENT (TUMSTATE) measures 0 mm.
    gone = _subset(t, (t["ROLE"] == "TARGET") & t["TESTCD"].eq("TUMSTATE")
                   & _status(t["STRESC"]).eq("ABSENT"), keys).drop_duplicates()
    gone = gone.merge(m[keys], on=keys, how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"][keys].assign(VAL=0.0)
    return pd.concat([m[[*keys, "VAL"]], gone], ignore_index=True)


def _per_visit(
    keys: pd.DataFrame, lesions: pd.DataFrame, values: pd.DataFrame, column: str
) -> pd.DataFrame:
    """Every (USUBJID, VISITNUM) of ``keys`` crossed with the subject's lesions."""
    grid = keys.merge(lesions, on="USUBJID")
    return grid.merge(values, on=["USUBJID", "VISITNUM", "LNKID"], how="left")[
        [*grid.columns, column]
    ]


def _join_ids(g: pd.DataFrame, mask: pd.Series, name: str, lnkids: np.ndarray
              ) -> pd.DataFrame:
    """USUBJID, VISITNUM -> comma-separated LNKIDs of the rows in ``mask`` (``lnkids``: the
    text of each LNKID code)."""
    sub = g.loc[mask, ["USUBJID", "VISITNUM", "LNKID"]]
    sub = sub.assign(LNKID=lnkids[sub["LNKID"].to_numpy(dtype=np.intp)])
    if sub.empty:
        return pd.DataFrame(
            {
                "USUBJID": pd.Series(dtype=g["USUBJID"].dtype),
                "VISITNUM": pd.Series(dtype=float),
                name: pd.Series(dtype=object),
            }
        )
    out = sub.groupby(["USUBJID", "VISITNUM"])["LNKID"].agg(", ".join)
    return out.rename(name).reset_index()


def _target_summary(keys: pd.DataFrame, targets: pd.DataFrame, sizes: pd.DataFrame,
                    lnkids: np.ndarray) -> pd.DataFrame:
    g = _per_visit(keys, targets, sizes, "VAL")
    # RECIST 1.1 s4.3.1 CR: "disappearance of all target lesions"; a node counts as
    # disappeared when its short axis is < 10 mm (s4.3.2), so the sum need not be 0.
    g["GONE"] = np.where(g["NODE"], g["VAL"] < 10, g["VAL"] == 0)
    g["MISS"] = g["VAL"].isna()
    out = g.groupby(["USUBJID", "VISITNUM"]).agg(
        T_N=("LNKID", "size"),
        T_MISS=("MISS", "sum"),
        T_SUM=("VAL", "sum"),
        T_GONE=("GONE", "sum"),
    )
    return out.reset_index().merge(
        _join_ids(g, g["MISS"], "T_MISSING", lnkids), on=["USUBJID", "VISITNUM"], how="left"
    )


def _nontarget_summary(
    keys: pd.DataFrame, nontargets: pd.DataFrame, t: pd.DataFrame, lnkids: np.ndarray
) -> pd.DataFrame:
    st = _subset(t, (t["ROLE"] == "NON-TARGET") & t["TESTCD"].eq("TUMSTATE"),
                 ["USUBJID", "VISITNUM", "LNKID", "STRESC"])
    st["RANK"] = _status(st["STRESC"]).map(_STATUS_RANK)
    st = st[st["RANK"].notna()]
    # Duplicate records of one lesion at one visit: keep the worst status.
    st = st.groupby(["USUBJID", "VISITNUM", "LNKID"], as_index=False)["RANK"].max()
    g = _per_visit(keys, nontargets, st, "RANK")
    g["MISS"] = g["RANK"].isna()
    g["PD"] = g["RANK"].eq(_STATUS_RANK["PD"])
    g["ABS"] = g["RANK"].eq(_STATUS_RANK["ABSENT"])
    out = g.groupby(["USUBJID", "VISITNUM"]).agg(
        NT_N=("LNKID", "size"), NT_MISS=("MISS", "sum"), NT_PD=("PD", "sum"), NT_ABS=("ABS", "sum")
    )
    out = out.reset_index()
    for mask, name in ((g["MISS"], "NT_MISSING"), (g["PD"], "NT_PDIDS")):
        out = out.merge(_join_ids(g, mask, name, lnkids), on=["USUBJID", "VISITNUM"],
                        how="left")
    return out


def _new_lesions(t: pd.DataFrame, lesions: pd.DataFrame, base: pd.Series,
                 lnkids: np.ndarray) -> pd.DataFrame:
    """USUBJID x VISITNUM -> NEW_IDS (unequivocal new lesions), EQUIV_IDS."""
    keys = ["USUBJID", "VISITNUM", "LNKID"]
    n = _subset(t, t["ROLE"].eq("NEW"), ["USUBJID", "VISITNUM", "LNKID", "STRESC", "TESTCD", "VAL"])
    status = _status(n["STRESC"])
    measured = n["TESTCD"].isin(_TARGET_TESTS) & n["VAL"].gt(0)
    n["KIND"] = np.select(
        [status.eq("EQUIVOCAL"), status.isin(["PRESENT", "PD"]) | measured],
        ["EQUIVOCAL", "NEW"],
        default="",
    )
    rec = n[keys + ["KIND"]]
    # A TU NEW record at a visit without TR status for that lesion: new at that visit.
    tu_new = lesions[lesions["ROLE"].eq("NEW") & lesions["TUVISITNUM"].notna()].rename(
        columns={"TUVISITNUM": "VISITNUM"}
    )[keys]
    tu_new = tu_new.merge(rec[keys].drop_duplicates(), on=keys, how="left", indicator=True)
    tu_new = tu_new[tu_new["_merge"] == "left_only"][keys].assign(KIND="NEW")
    allnew = pd.concat([rec, tu_new], ignore_index=True)
    allnew = allnew.merge(base, left_on="USUBJID", right_index=True, how="left")
    allnew = allnew[allnew["VISITNUM"] > allnew["BASEVISITNUM"].fillna(-np.inf)]
    # NEW beats EQUIVOCAL for the same lesion and visit.
    allnew = allnew[allnew["KIND"].ne("")].sort_values("KIND", ascending=False)
    allnew = allnew.drop_duplicates(keys).sort_values(keys)
    new_ids = _join_ids(allnew, allnew["KIND"].eq("NEW"), "NEW_IDS", lnkids)
    eq_ids = _join_ids(allnew, allnew["KIND"].eq("EQUIVOCAL"), "EQUIV_IDS", lnkids)
    return new_ids.merge(eq_ids, on=["USUBJID", "VISITNUM"], how="outer")


# --------------------------------------------------------------------------- time points


def timepoint_responses(
    tu: pd.DataFrame, tr: pd.DataFrame, options: RecistOptions = RecistOptions()
) -> pd.DataFrame:
    """RECIST 1.1 response at every post-baseline assessment, derived from TU/TR only.

    Returns one row per USUBJID x post-baseline VISITNUM of the chosen evaluator
    (``options.evaluator``), sorted by USUBJID, VISITNUM, with:

    * ADT -- date of the assessment (datetime64; earliest TRDTC; YYYY-MM -> day 1);
    * SUMDIAM -- sum of target lesion sizes (short axis for nodes), missing when
      a baseline target lesion was not measured; BASE_SUM; NADIR_SUM -- the
      smallest complete sum *before* this assessment, baseline included (the
      reference for PD, RECIST 1.1 s4.3.1); PCHG_BASE, PCHG_NADIR (percent;
      PCHG_NADIR is missing when the nadir is 0 mm);
    * TRGRESP -- CR / PR / SD / PD / NE, ``NA`` without target lesions;
    * NTRGRESP -- CR / NON-CR/NON-PD / PD / NE, ``NA`` without non-target lesions;
    * NEWLPROG -- Y when an unequivocal new lesion is seen;
    * OVRLRESP -- Table 1 (target disease) or Table 2 (non-target disease only);
      NE when there was no disease at baseline and no new lesion;
    * REASON -- short text of the rule that decided OVRLRESP;
    * BASEDT -- date of the baseline assessment; EVALUATOR -- whose read.
    """
    _require(tu, "TU", ["USUBJID", "TULNKID"])
    _require(tr, "TR", ["USUBJID", "TRLNKID", "TRTESTCD", "VISITNUM"])
    tu_all = tu
    tu = _select_evaluator(tu, "TU", options.evaluator)
    tr = _select_evaluator(tr, "TR", options.evaluator)
    # A subject whose TU has no record of this evaluator (lesions identified once
    # for all reads) takes its lesions from every TU record of the subject.
    orphan = ~_raw(tu_all["USUBJID"]).isin(set(_raw(tu["USUBJID"])))
    tu = pd.concat([tu, tu_all[orphan.to_numpy()]], ignore_index=True)
    _check_single_reader(tr, "TR", options.evaluator)

    subjects, (tu_subject, tr_subject) = _sorted_codes(tu["USUBJID"], tr["USUBJID"])
    lnkids, (tu_lesion, tr_lesion) = _sorted_codes(tu["TULNKID"], tr["TRLNKID"])
    blank = np.flatnonzero(lnkids == "")
    lesions = _lesions(tu, tu_subject, tu_lesion, int(blank[0]) if len(blank) else -1)
    t = _tr_records(tr, lesions, tr_subject, tr_lesion)
    base = _baseline_visits(t)
    t["BASEVISITNUM"] = base.reindex(pd.RangeIndex(len(subjects))).to_numpy()[
        t["USUBJID"].to_numpy()]  # a column looked up per subject code, not a merge

    # Assessments: post-baseline visits with TR records, or a TU NEW lesion.
    post = t.loc[t["VISITNUM"] > t["BASEVISITNUM"].fillna(-np.inf),
                 ["USUBJID", "VISITNUM", "VISIT", "ADT", "ADT_IMPUTED"]]  # what is read
    visit_dates = (
        post.sort_values("ADT")
        .groupby(["USUBJID", "VISITNUM"])
        .agg(VISIT=("VISIT", "first"), ADT=("ADT", "min"), ADT_IMPUTED=("ADT_IMPUTED", "first"))
    )
    tu_new = lesions[lesions["ROLE"].eq("NEW") & lesions["TUVISITNUM"].notna()]
    tu_new = tu_new.merge(base, left_on="USUBJID", right_index=True, how="left")
    tu_new = tu_new[tu_new["TUVISITNUM"] > tu_new["BASEVISITNUM"].fillna(-np.inf)]
    tu_visits = (
        tu_new.groupby(["USUBJID", "TUVISITNUM"])
        .agg(VISIT=("TUVISIT", "first"), ADT=("TUDT", "min"))
        .rename_axis(["USUBJID", "VISITNUM"])
        .assign(ADT_IMPUTED=False)
    )
    tp = visit_dates.combine_first(tu_visits).reset_index()
    tp["ADT_IMPUTED"] = tp["ADT_IMPUTED"].eq(True)
    keys = tp[["USUBJID", "VISITNUM"]]

    base_keys = base.rename("VISITNUM").reset_index()
    basedt = _subset(t, t["VISITNUM"].eq(t["BASEVISITNUM"]), ["USUBJID", "ADT"]).groupby(
        "USUBJID")["ADT"].min()

    targets = lesions[lesions["ROLE"].eq("TARGET")][["USUBJID", "LNKID", "NODE"]]
    nontargets = lesions[lesions["ROLE"].eq("NON-TARGET")][["USUBJID", "LNKID"]]
    sizes = _target_sizes(t)

    tsum = _target_summary(keys, targets, sizes, lnkids)
    bsum = _target_summary(base_keys, targets, sizes, lnkids)
    bsum = bsum.assign(BASE_SUM=bsum["T_SUM"].where(bsum["T_MISS"].eq(0)))[["USUBJID", "BASE_SUM"]]
    ntsum = _nontarget_summary(keys, nontargets, t, lnkids)
    newl = _new_lesions(t, lesions, base, lnkids)

    tp = (
        tp.merge(tsum, on=["USUBJID", "VISITNUM"], how="left")
        .merge(bsum, on="USUBJID", how="left")
        .merge(ntsum, on=["USUBJID", "VISITNUM"], how="left")
        .merge(newl, on=["USUBJID", "VISITNUM"], how="left")
        .sort_values(["USUBJID", "VISITNUM"], kind="stable")
        .reset_index(drop=True)
    )
    tp["BASEDT"] = tp["USUBJID"].map(basedt)
    has_t = tp["T_N"].fillna(0).gt(0)
    has_nt = tp["NT_N"].fillna(0).gt(0)

    complete = has_t & tp["T_MISS"].eq(0)
    tp["SUMDIAM"] = tp["T_SUM"].where(complete)
    # Nadir: smallest complete sum so far, baseline included (RECIST 1.1 s4.3.1 PD).
    prev = tp.groupby("USUBJID")["SUMDIAM"].shift()
    prev = prev.groupby(tp["USUBJID"]).cummin().groupby(tp["USUBJID"]).ffill()
    tp["NADIR_SUM"] = np.fmin(tp["BASE_SUM"], prev).where(has_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp["PCHG_BASE"] = (tp["SUMDIAM"] - tp["BASE_SUM"]) / tp["BASE_SUM"] * 100
        tp["PCHG_NADIR"] = ((tp["SUMDIAM"] - tp["NADIR_SUM"]) / tp["NADIR_SUM"] * 100).where(
            tp["NADIR_SUM"].gt(0)
        )

    # --- target lesions, RECIST 1.1 s4.3.1
    inc = tp["T_SUM"] - tp["NADIR_SUM"]  # measured lesions only when some are missing
    # CR is tested before PD: nodes shrunk below 10 mm are "disappeared" (s4.3.2), so
    # a node growing from 5 to 8 mm after a CR is not progression.
    t_cr = complete & tp["T_GONE"].eq(tp["T_N"])
    # PD: >= 20% above the nadir AND >= 5 mm absolute.  With lesions missing, PD
    # still follows when the measured ones alone meet it (s4.4.2: the missing
    # lesions could only add to the sum).
    t_pd = has_t & ~t_cr & _ge(inc, 5.0) & _ge(inc, 0.2 * tp["NADIR_SUM"])
    t_ne = has_t & (tp["T_MISS"].gt(0) | tp["BASE_SUM"].isna())
    # PR: >= 30% decrease from the BASELINE sum.
    t_pr = complete & _ge(tp["BASE_SUM"] - tp["SUMDIAM"], 0.3 * tp["BASE_SUM"])
    tp["TRGRESP"] = np.select(
        [~has_t, t_cr, t_pd, t_ne, t_pr], [NA, "CR", "PD", "NE", "PR"], default="SD"
    )

    # --- non-target lesions, RECIST 1.1 s4.3.3 (CR: all absent, nodes non-pathological;
    # PD: unequivocal progression; NE when not all assessed, s4.4.2)
    tp["NTRGRESP"] = np.select(
        [~has_nt, tp["NT_PD"].gt(0), tp["NT_MISS"].gt(0), tp["NT_ABS"].eq(tp["NT_N"])],
        [NA, "PD", "NE", "CR"],
        default=NON_CR_NON_PD,
    )

    # --- new lesions, RECIST 1.1 s4.3.5: an unequivocal new lesion is PD.
    new = tp["NEW_IDS"].notna() & tp["NEW_IDS"].ne("")
    tp["NEWLPROG"] = np.where(new, "Y", "N")

    # --- overall response: Table 1 (target disease), Table 2 (non-target only)
    trg, ntr = tp["TRGRESP"], tp["NTRGRESP"]
    tp["OVRLRESP"] = np.select(
        [
            new | trg.eq("PD") | ntr.eq("PD"),  # Table 1/2: any PD or new lesion -> PD
            has_t & trg.eq("NE"),  # Table 1: target not all evaluated, non-PD -> NE
            has_t & trg.eq("CR") & ntr.isin(["CR", NA]),  # Table 1: CR + CR -> CR
            has_t & trg.eq("CR"),  # Table 1: CR + NON-CR/NON-PD or NE -> PR
            has_t & trg.eq("PR"),  # Table 1: PR + non-PD or not all evaluated -> PR
            has_t & trg.eq("SD"),  # Table 1: SD + non-PD or not all evaluated -> SD
            ~has_t & has_nt,  # Table 2: non-target disease only -> NT response
        ],
        ["PD", "NE", "CR", "PR", "PR", "SD", ntr],
        default="NE",  # no disease at baseline (no Table row applies)
    )
    tp["EVALUATOR"] = options.evaluator
    tp["REASON"] = _reasons(tp)
    # a time point numbered by its date (a site without visits) has no VISITNUM
    dated = t.loc[t["DATED"], "USUBJID"].unique()
    tp["VISITNUM"] = tp["VISITNUM"].where(~tp["USUBJID"].isin(dated))
    tp["USUBJID"] = subjects[tp["USUBJID"].to_numpy(dtype=np.intp)]
    return tp[TP_COLUMNS]


def _pct(x: float) -> str:
    return f"{x:+.2f}%"


#: the variables :func:`_tp_reason` reads (a dated column would make a Timestamp a row)
_REASON_READS = ["OVRLRESP", "TRGRESP", "NTRGRESP", "VISIT", "VISITNUM", "NEWLPROG", "NEW_IDS",
                 "T_MISSING", "T_MISS", "T_SUM", "NADIR_SUM", "NT_PDIDS", "BASE_SUM",
                 "PCHG_NADIR", "PCHG_BASE", "NT_MISSING", "EQUIV_IDS", "ADT_IMPUTED"]


def _reasons(tp: pd.DataFrame) -> np.ndarray:
    """:func:`_tp_reason` of every time point. The most common one, PR or SD by the target
    sum alone, is written from whole columns; the others go through :func:`_tp_reason`."""
    equivocal = np.fromiter((isinstance(v, str) and bool(v) for v in tp["EQUIV_IDS"]),
                            dtype=bool, count=len(tp))
    by_sum = (tp["TRGRESP"].isin(["PR", "SD"]) & tp["NEWLPROG"].ne("Y")
              & tp["NTRGRESP"].ne("PD") & ~tp["ADT_IMPUTED"].astype(bool)).to_numpy() & ~equivocal
    out = np.empty(len(tp), dtype=object)
    rows = np.flatnonzero(by_sum)
    out[rows] = [
        f"target sum {_pct(base)} from baseline"
        f"{'' if nadir != nadir else f', {_pct(nadir)} from nadir'} -> {resp}"  # NaN: no nadir
        for base, nadir, resp in zip(tp["PCHG_BASE"].to_numpy(dtype=float)[rows].tolist(),
                                     tp["PCHG_NADIR"].to_numpy(dtype=float)[rows].tolist(),
                                     tp["TRGRESP"].to_numpy(dtype=object)[rows], strict=True)]
    others = np.flatnonzero(~by_sum)
    out[others] = [_tp_reason(r) for r in
                   tp[_REASON_READS].iloc[others].itertuples(index=False)]
    return out


def _tp_reason(r) -> str:
    """Short text of the rule that decided OVRLRESP."""
    parts: list[str] = []
    ovr, trg, ntr = r.OVRLRESP, r.TRGRESP, r.NTRGRESP
    visit = r.VISIT or f"VISITNUM {_num(r.VISITNUM)}"
    if r.NEWLPROG == "Y":
        parts.append(f"new lesion {r.NEW_IDS} at {visit} -> PD")
    if trg == "PD":
        partial = f" (partial sum, {r.T_MISSING} not measured)" if r.T_MISS else ""
        inc = r.T_SUM - r.NADIR_SUM
        rel = f"{inc / r.NADIR_SUM * 100:+.2f}%, " if r.NADIR_SUM else ""
        parts.append(
            f"target sum {r.T_SUM:.2f} mm is {rel}{inc:+.2f} mm from nadir "
            f"{r.NADIR_SUM:.2f} mm{partial} -> PD"
        )
    if ntr == "PD":
        parts.append(f"non-target unequivocal progression ({r.NT_PDIDS}) -> PD")
    if not parts:
        if trg == "NE":
            what = (
                "baseline target sum incomplete"
                if pd.isna(r.BASE_SUM)
                else f"target lesion(s) {r.T_MISSING} not measured"
            )
            parts.append(f"{what} -> NE")
        elif trg == "CR":
            parts.append("all target lesions disappeared (nodes < 10 mm)")
        elif trg in ("PR", "SD"):
            nadir = "" if pd.isna(r.PCHG_NADIR) else f", {_pct(r.PCHG_NADIR)} from nadir"
            parts.append(f"target sum {_pct(r.PCHG_BASE)} from baseline{nadir} -> {trg}")
        if trg in ("CR", NA):
            if ntr == "NE":
                parts.append(f"non-target lesion(s) {r.NT_MISSING} not assessed")
            elif ntr in ("CR", NON_CR_NON_PD):
                parts.append(f"non-target {ntr}")
        if trg == "CR":
            table = "Table 1" if ntr != NA else "targets only"
            parts.append(f"-> {ovr} ({table})")
        elif trg == NA and ntr != NA:
            parts.append(f"-> {ovr} (Table 2, non-target disease only)")
        elif trg == NA and ntr == NA:
            parts.append("no target or non-target lesions at baseline -> NE")
    if isinstance(r.EQUIV_IDS, str) and r.EQUIV_IDS:
        parts.append(f"equivocal new lesion {r.EQUIV_IDS} not counted")
    if r.ADT_IMPUTED:
        parts.append("ADT imputed to day 1 of a partial TRDTC")
    return "; ".join(parts).replace("; -> ", " -> ")


# --------------------------------------------------------------------------- best response

_RANK = {"CR": 0, "PR": 1, "SD": 2, NON_CR_NON_PD: 3, "PD": 4, "NE": 5}


def best_overall_response(
    timepoints: pd.DataFrame,
    options: RecistOptions = RecistOptions(),
    dm: pd.DataFrame | None = None,
    *,
    reasons: bool = True,
) -> pd.DataFrame:
    """Best overall response per subject (RECIST 1.1 s4.4.3, s4.6.1, Table 3).

    ``reasons=False``: REASON is left empty (None), for a caller that does not read it;
    without confirmation the responses are then picked on whole columns.

    One row per USUBJID of ``timepoints``: BOR, BOR_DATE (the ADT of the time
    point that gives the BOR), REASON.  Subjects without any post-baseline
    time point are not in ``timepoints`` and so not here (report them as NE
    from ADSL).  Only time points up to and including the first PD count
    ("from the start of treatment until ... progression").

    Days are counted as ADT - reference date (``options.reference``).  A time
    point without ADT can neither satisfy ``sd_min_days`` nor confirm.

    Without confirmation: the best time-point response in the order CR > PR >
    SD > NON-CR/NON-PD > PD > NE.  SD and NON-CR/NON-PD count only at a time
    point at least ``sd_min_days`` after the reference; an earlier one counts
    as NE, so "early SD then PD" gives PD and "early SD, then nothing" gives NE
    (s4.4.3).  CR and PR count whenever they occur.

    With confirmation (Table 3; as admiralonco's confirmed BOR): a CR is
    confirmed by the first CR at least ``confirm_min_days`` later when every
    time point in between is CR or NE (at most ``confirm_max_ne`` NE); a PR by
    the first CR or PR at least ``confirm_min_days`` later with only CR, PR or
    NE in between (at most ``confirm_max_ne`` NE) and no PR after a CR.  An
    unconfirmed CR/PR still counts as SD when it is at least ``sd_min_days``
    after the reference (Table 3: "PR then SD/PD/NE -> SD provided minimum
    criteria for SD duration met").  CR followed by PR is not confirmed as
    either (Table 3 allows "SD, PD or PR" after review; here SD/PD by duration).
    For a subject with non-target disease only (TRGRESP ``NA`` throughout)
    that stable category is called NON-CR/NON-PD (Table 2 footnote).

    Ties (several time points with the best response): the earliest gives
    BOR_DATE.  NE never beats anything and never breaks a confirmation by
    itself.  A subject with only NE gives NE with no BOR_DATE.
    """
    if options.reference == "RFSTDTC":
        if dm is None or "RFSTDTC" not in dm.columns:
            raise DerivationError.single(
                "RECIST014", "the RECIST reference RFSTDTC needs DM with RFSTDTC",
                dataset="DM", field="RFSTDTC")
        ref = pd.Series(_dates(dm["RFSTDTC"])[0].to_numpy(), index=_raw(dm["USUBJID"]))
        ref = ref[~ref.index.duplicated()]
        refdt = timepoints["USUBJID"].map(ref)
        ref_name = "RFSTDTC"
    else:
        refdt = timepoints["BASEDT"]
        ref_name = "the baseline assessment"
    tp = timepoints.assign(_REF=pd.to_datetime(refdt))
    tp["_DAYS"] = (pd.to_datetime(tp["ADT"]) - tp["_REF"]).dt.days
    tp = tp.sort_values(["USUBJID", "VISITNUM"], kind="stable")
    tp = tp[tp["USUBJID"].notna().to_numpy()]  # a record without a subject has no BOR
    if tp.empty:
        return pd.DataFrame([], columns=BOR_COLUMNS)
    # whole columns once; each subject is then a slice of plain lists (a handful of
    # time points), never a frame of its own
    subjects = tp["USUBJID"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    ends = np.r_[starts[1:], len(subjects)]
    columns = _Timepoints(
        resp=tp["OVRLRESP"].tolist(), days=tp["_DAYS"].to_numpy(dtype=float).tolist(),
        visits=tp["VISIT"].tolist(), target=tp["TRGRESP"].ne(NA).to_numpy().tolist())
    # s4.4.3: SD must be met at least once >= sd_min_days after the reference.
    long_enough = _ge(tp["_DAYS"].to_numpy(dtype=float), options.sd_min_days)
    if not options.confirm and not reasons:
        bor, at = _unconfirmed_bor(tp, long_enough, starts, ends)
        dates = tp["ADT"].iloc[at[at >= 0]].tolist()
        chosen = np.full(len(at), pd.NaT, dtype=object)
        chosen[at >= 0] = dates if dates else []
        return pd.DataFrame({"USUBJID": subjects[starts], "BOR": bor,
                             "BOR_DATE": chosen.tolist(), "REASON": None},
                            columns=BOR_COLUMNS)
    long_enough = long_enough.tolist()
    picked = [_bor_one(columns, long_enough, int(a), int(b), options, ref_name)
              for a, b in zip(starts, ends, strict=True)]
    chosen = iter(tp["ADT"].iloc[[i for _, i, _ in picked if i is not None]].tolist())
    rows = [[subjects[a], bor, pd.NaT if i is None else next(chosen), text]
            for a, (bor, i, text) in zip(starts, picked, strict=True)]
    return pd.DataFrame(rows, columns=BOR_COLUMNS)


def _unconfirmed_bor(tp: pd.DataFrame, long_enough: np.ndarray, starts: np.ndarray,
                     ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_bor_one` without confirmation, for every subject at once: each subject's
    BOR and the row (of ``tp``, sorted by subject; -1 for none) of the time point that
    gives it. ``starts``/``ends``: each subject's rows."""
    group = np.repeat(np.arange(len(starts)), ends - starts)
    resp = tp["OVRLRESP"].to_numpy(dtype=object)
    is_pd = resp == "PD"
    first_pd = _first_per_group(is_pd, group, len(starts))
    # the time points up to and including the first PD (RECIST 1.1 s4.4.3)
    cut = np.where(first_pd >= 0, first_pd, ends - 1)
    kept = np.arange(len(resp)) <= cut[group]
    stable = kept & np.isin(resp, ["SD", NON_CR_NON_PD]) & long_enough
    target = np.zeros(len(starts), dtype=bool)
    target[group[kept & tp["TRGRESP"].ne(NA).to_numpy()]] = True
    found = [_first_per_group(kept & (resp == "CR"), group, len(starts)),
             _first_per_group(kept & (resp == "PR"), group, len(starts)),
             _first_per_group(stable, group, len(starts)), first_pd]
    bor = np.select([f >= 0 for f in found],
                    ["CR", "PR", np.where(target, "SD", NON_CR_NON_PD), "PD"], "NE")
    at = np.select([f >= 0 for f in found], found, -1)
    return bor.astype(object), at


def _first_per_group(mask: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """The first row of each group (rows sorted by group) where ``mask`` holds, -1 where
    it holds nowhere."""
    rows = np.flatnonzero(mask)
    first = np.full(groups, -1, dtype=np.int64)
    owners = group[rows]
    leads = np.r_[True, owners[1:] != owners[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    first[owners[leads]] = rows[leads]
    return first


@dataclass(frozen=True)
class _Timepoints:
    """The time points of every subject as lists, sorted by subject and visit."""

    resp: list[str]
    days: list[float]  # from the reference date; NaN without ADT
    visits: list[object]
    target: list[bool]  # TRGRESP is not NA


def _label(visit: object, days: float) -> str:
    d = "day ?" if pd.isna(days) else f"day {int(days)}"
    return f"{visit} ({d})"


def _ge_one(a: float, b: float) -> bool:
    """:func:`_ge` of two numbers (the same arithmetic as numpy's isclose)."""
    return a >= b or (abs(a - b) <= 1e-9 + 1e-9 * abs(b) and math.isfinite(b)) or a == b


def _bor_one(tps: _Timepoints, long_all: list[bool], start: int, end: int, o: RecistOptions,
             ref_name: str) -> tuple[str, int | None, str]:
    """(BOR, the position in ``tps`` of the time point that gives it, REASON) of the
    subject whose time points are ``start:end``."""
    resp = tps.resp[start:end]
    if "PD" in resp:  # RECIST 1.1 s4.4.3: best response until progression
        end = start + resp.index("PD") + 1
        resp = resp[: resp.index("PD") + 1]
    days = tps.days[start:end]
    visits = tps.visits[start:end]
    has_target = any(tps.target[start:end])
    stable = "SD" if has_target else NON_CR_NON_PD
    long_enough = long_all[start:end]
    notes: list[str] = []

    def first(mask: Iterable[bool]) -> int | None:
        return next((i for i, m in enumerate(mask) if m), None)

    def result(bor: str, i: int | None, why: str) -> tuple[str, int | None, str]:
        text = "; ".join([why, *notes])
        return bor, (start + i if i is not None else None), text

    if o.confirm:
        cr_i, cr_j = _confirmed(resp, days, o, anchor=("CR",), ok=("CR", "NE"))
        if cr_i is not None:
            return result(
                "CR",
                cr_i,
                f"CR at {_label(visits[cr_i], days[cr_i])} confirmed by "
                f"CR at {visits[cr_j]} (+{int(days[cr_j] - days[cr_i])} days)",
            )
        pr_i, pr_j = _confirmed(resp, days, o, anchor=("PR",), ok=("CR", "PR", "NE"))
        if pr_i is not None:
            return result(
                "PR",
                pr_i,
                f"PR at {_label(visits[pr_i], days[pr_i])} confirmed by "
                f"{resp[pr_j]} at {visits[pr_j]} (+{int(days[pr_j] - days[pr_i])} days)",
            )
        unconf = [f"{r} at {visits[i]}" for i, r in enumerate(resp) if r in ("CR", "PR")]
        if unconf:
            notes.append(f"not confirmed >= {o.confirm_min_days} days: {', '.join(unconf)}")
        sd_i = first(
            r in ("CR", "PR", "SD", NON_CR_NON_PD) and ok
            for r, ok in zip(resp, long_enough, strict=True)
        )
    else:
        for best in ("CR", "PR"):
            i = first(r == best for r in resp)
            if i is not None:
                return result(best, i, f"{best} at {_label(visits[i], days[i])} (unconfirmed)")
        sd_i = first(
            r in ("SD", NON_CR_NON_PD) and ok for r, ok in zip(resp, long_enough, strict=True)
        )
    if sd_i is not None:
        return result(
            stable,
            sd_i,
            f"{resp[sd_i]} at {_label(visits[sd_i], days[sd_i])} >= "
            f"{o.sd_min_days} days after {ref_name} -> {stable}",
        )
    early = [
        _label(visits[i], days[i])
        for i, r in enumerate(resp)
        if r in ("CR", "PR", "SD", NON_CR_NON_PD)
    ]
    if early:
        notes.append(f"stable disease only before day {o.sd_min_days}: {', '.join(early)}")
    if "PD" in resp:
        i = resp.index("PD")
        return result("PD", i, f"PD at {_label(visits[i], days[i])}")
    return result("NE", None, "no evaluable response")


def _confirmed(
    resp: list[str],
    days: Sequence[float],
    o: RecistOptions,
    anchor: tuple[str, ...],
    ok: tuple[str, ...],
) -> tuple[int | None, int | None]:
    """First confirmed response (index, confirming index), RECIST 1.1 s4.6.1 / Table 3."""
    for i, r in enumerate(resp):
        if r not in anchor or math.isnan(days[i]):
            continue
        later = [
            j
            for j in range(i + 1, len(resp))
            if resp[j] in ("CR", "PR")
            and resp[j] in ok
            and _ge_one(days[j] - days[i], o.confirm_min_days)
        ]
        if not later:
            continue
        j = later[0]
        between = resp[i + 1 : j + 1]
        if not all(b in ok for b in between) or between.count("NE") > o.confirm_max_ne:
            continue
        if "CR" in between and "PR" in between[between.index("CR") :]:
            continue  # PR after CR: not a confirmation (Table 3 note)
        return i, j
    return None, None


def first_confirmed_response(
    responses: Sequence[str], days: Sequence[float], options: RecistOptions = RecistOptions()
) -> tuple[int | None, int | None]:
    """The earliest confirmed CR or PR: (its index, the index of its confirmation).

    ``responses`` are one subject's time-point responses in date order, up to and
    including the first PD; ``days`` the days from the reference date (missing =
    NaN).  The confirmation rule is the one :func:`best_overall_response` applies
    (RECIST 1.1 s4.6.1, Table 3; ``confirm_min_days``, ``confirm_max_ne``, no PR
    after a CR), but any confirmed response counts and the earliest wins, as
    admiralonco's confirmed response (events ``crsp_y_cr``/``crsp_y_pr``, first
    ADT).  ``(None, None)`` when nothing is confirmed.
    """
    resp = [str(r) for r in responses]
    d = np.asarray(days, dtype=float).tolist()
    found = [
        _confirmed(resp, d, options, anchor=("CR",), ok=("CR", "NE")),
        _confirmed(resp, d, options, anchor=("PR",), ok=("CR", "PR", "NE")),
    ]
    return min((f for f in found if f[0] is not None), default=(None, None))


# --------------------------------------------------------------------------- comparison


def _rs_select(rs: pd.DataFrame, testcd: str, evaluator: str) -> pd.DataFrame:
    _require(rs, "RS", ["USUBJID", "RSTESTCD"])
    keep = _up(rs["RSTESTCD"]).eq(testcd).to_numpy()
    evaluator_rows = _evaluator_rows(rs, "RS", evaluator)
    if evaluator_rows is not None:
        keep &= evaluator_rows
    # the variables read, of the rows kept: RS is not copied whole
    read = ["USUBJID", "VISITNUM", "VISIT", "RSDTC", "RSSTRESC", "RSORRES", "RSEVALID"]
    r = rs.loc[keep, [c for c in read if c in rs.columns]]
    _check_single_reader(r, "RS", evaluator)
    return pd.DataFrame(
        {
            "USUBJID": _raw(r["USUBJID"]).to_numpy(),
            "VISITNUM": pd.to_numeric(_col(r, "VISITNUM"), errors="coerce").to_numpy(),
            "RSVISIT": _raw(_col(r, "VISIT")).to_numpy(),
            "RSDT": _dates(_col(r, "RSDTC"))[0].to_numpy(),
            "INV": _up(_col(r, "RSSTRESC", "RSORRES")).to_numpy(),
            "RECORD": np.flatnonzero(keep) + 1,  # 1-based row of rs
        }
    )


def _match_timepoints(
    derived_tp: pd.DataFrame, rs: pd.DataFrame, evaluator: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RS OVRLRESP rows matched to derived time points (by VISITNUM, else by date)."""
    r = _rs_select(rs, "OVRLRESP", evaluator)
    d = derived_tp[["USUBJID", "VISITNUM", "VISIT", "ADT", "OVRLRESP", "REASON"]].copy()
    d["USUBJID"] = _raw(d["USUBJID"])
    d["DID"] = np.arange(len(d))
    by_visit = r[r["VISITNUM"].notna()].merge(d, on=["USUBJID", "VISITNUM"], how="left")
    by_date = (
        r[r["VISITNUM"].isna()]
        .drop(columns="VISITNUM")
        .merge(d, left_on=["USUBJID", "RSDT"], right_on=["USUBJID", "ADT"], how="left")
    )
    m = pd.concat([by_visit, by_date], ignore_index=True)
    derived_only = d[~d["DID"].isin(m["DID"].dropna())]
    return m, derived_only


def _who(evaluator: str) -> str:
    return "investigator" if evaluator.strip().upper() == "INVESTIGATOR" else evaluator


def compare_with_investigator(
    derived_tp: pd.DataFrame,
    derived_bor: pd.DataFrame,
    rs: pd.DataFrame,
    evaluator: str = "INVESTIGATOR",
) -> list[Problem]:
    """Disagreements between the derivation and the evaluator's RS, as warnings.

    RECIST001, one per time point: RS OVRLRESP (matched by USUBJID and
    VISITNUM, by RSDTC = ADT when RS has no VISITNUM) differs from the derived
    OVRLRESP, or exists on one side only.  RECIST002, one per subject: RS
    BESTRESP differs from the derived BOR (derive ``derived_bor`` with the
    study's confirmation rule first).  A derived BOR without an RS BESTRESP is
    reported only when RS holds BESTRESP for this evaluator at all.
    Location names dataset RS, USUBJID, RSSTRESC and its record number (1-based
    row of ``rs``); the message names the visit, both responses and the reason.
    """
    return _disagreements(_match_timepoints(derived_tp, rs, evaluator), derived_bor, rs,
                          evaluator)


def _disagreements(matched: tuple[pd.DataFrame, pd.DataFrame], derived_bor: pd.DataFrame,
                   rs: pd.DataFrame, evaluator: str) -> list[Problem]:
    """:func:`compare_with_investigator` of the time points :func:`_match_timepoints`
    matched."""
    who = _who(evaluator)
    problems: list[Problem] = []
    m, derived_only = matched
    # only the time points that disagree (or exist on one side) make a finding
    m = m[(m["DID"].isna() | (m["INV"] != m["OVRLRESP"])).to_numpy()]
    for row in m.itertuples(index=False):
        visit = row.RSVISIT or (row.VISIT if isinstance(row.VISIT, str) else "")
        vn = row.VISITNUM if pd.notna(row.VISITNUM) else None
        where = (f"{visit} (VISITNUM {_num(vn)})" if visit or vn is not None
                 else f"assessment of {row.RSDT:%Y-%m-%d}" if pd.notna(row.RSDT)
                 else "assessment without visit or date")
        if pd.isna(row.DID):
            msg = f"{where}: no TR assessment to derive a response from; {who} {row.INV}"
        elif row.INV != row.OVRLRESP:
            msg = f"{where}: {row.REASON}; {who} {row.INV}"
        else:
            continue
        problems.append(
            Problem(
                "RECIST001",
                msg,
                Location(
                    dataset="RS",
                    usubjid=row.USUBJID,
                    field="RSSTRESC",
                    value=row.INV,
                    record=int(row.RECORD),
                ),
                Severity.WARNING,
            )
        )
    for row in derived_only.itertuples(index=False):
        problems.append(
            Problem(
                "RECIST001",
                f"{row.VISIT} (VISITNUM {_num(row.VISITNUM)}): {row.REASON}; "
                f"no {who} OVRLRESP in RS",
                Location(dataset="RS", usubjid=row.USUBJID, field="RSSTRESC"),
                Severity.WARNING,
            )
        )

    b = _rs_select(rs, "BESTRESP", evaluator)
    bor = derived_bor.assign(USUBJID=_raw(derived_bor["USUBJID"]))
    mb = b.merge(bor, on="USUBJID", how="outer" if len(b) else "left", indicator="MATCH")
    # only the subjects that disagree (or are on one side) make a finding
    mb = mb[((mb["MATCH"] != "both") | (mb["INV"] != mb["BOR"])).to_numpy()]
    for row in mb.itertuples(index=False):
        loc = Location(
            dataset="RS",
            usubjid=row.USUBJID,
            field="RSSTRESC",
            value=None if pd.isna(row.INV) else row.INV,
            record=None if pd.isna(row.RECORD) else int(row.RECORD),
        )
        if row.MATCH == "left_only":
            msg = f"best response: no derived BOR (no post-baseline TR); {who} {row.INV}"
        elif row.MATCH == "right_only":
            msg = f"best response: derived {row.BOR} ({row.REASON}); no {who} BESTRESP in RS"
        elif row.INV != row.BOR:
            msg = f"best response: derived {row.BOR} ({row.REASON}); {who} {row.INV}"
        else:
            continue
        problems.append(Problem("RECIST002", msg, loc, Severity.WARNING))
    return problems


def agreement_summary(
    derived_tp: pd.DataFrame, rs: pd.DataFrame, evaluator: str = "INVESTIGATOR"
) -> dict:
    """Time-point agreement with RS OVRLRESP of ``evaluator``.

    Returns ``{"evaluator", "compared", "agree", "disagree", "pairs",
    "rs_only", "derived_only"}`` where ``compared`` counts time points present
    on both sides and ``pairs`` maps (RS response, derived response) to a
    count, agreeing pairs included.
    """
    return _agreement(_match_timepoints(derived_tp, rs, evaluator), evaluator)


def _agreement(matched: tuple[pd.DataFrame, pd.DataFrame], evaluator: str) -> dict:
    """:func:`agreement_summary` of the time points :func:`_match_timepoints` matched."""
    m, derived_only = matched
    both = m[m["DID"].notna()]
    pairs = both.groupby(["INV", "OVRLRESP"]).size()
    agree = int((both["INV"] == both["OVRLRESP"]).sum())
    return {
        "evaluator": evaluator,
        "compared": len(both),
        "agree": agree,
        "disagree": len(both) - agree,
        "pairs": {(str(i), str(d)): int(n) for (i, d), n in pairs.items()},
        "rs_only": int(m["DID"].isna().sum()),
        "derived_only": len(derived_only),
    }


def _date_texts(dates: pd.Series) -> pd.Series:
    """YYYY-MM-DD of each date, NaN when missing (as ``.dt.strftime("%Y-%m-%d")``)."""
    if dates.dtype == "datetime64[ns]":  # every year 4 digits: numpy formats it alike
        text = np.datetime_as_string(dates.to_numpy(), unit="D").astype(object)
        return pd.Series(text, index=dates.index).where(dates.notna())
    return dates.dt.strftime("%Y-%m-%d").where(dates.notna())


@dataclass(frozen=True)
class RecistReview:
    findings: list[Problem]  # one per disagreement with the investigator
    #: JSON-ready (cdisc.formats.atomic.json_parts): options, agreement, findings, derived
    #: responses (JsonRecords)
    payload: dict[str, object]


def recist_review(
    datasets: Mapping[str, pd.DataFrame], options: RecistOptions = RecistOptions()
) -> RecistReview | None:
    """Re-derive RECIST 1.1 from TU/TR and set it beside the investigator's RS.

    Returns a JSON-ready dict (``None`` when the package has no TU/TR/RS):
    the derived time-point and best overall responses, the agreement summary
    and one finding per disagreement. Nothing in RS is changed: a disagreement
    is a finding for a reviewer (e.g. a clinical decision to continue despite
    a new lesion), never a correction.
    """
    if not {"TU", "TR", "RS"} <= set(datasets):
        return None
    tu, tr, rs = datasets["TU"], datasets["TR"], datasets["RS"]
    dm = datasets.get("DM")
    try:
        selected = _select_evaluator(tr, "TR", options.evaluator)
    except DerivationError as exc:
        selected, why = tr.iloc[0:0], exc.problems[0].message
    else:
        readers = sorted({str(v) for c in ("TREVAL", "TREVALID") if c in tr
                          for v in tr[c].dropna().unique() if str(v)})
        why = f"TREVAL/TREVALID hold {', '.join(readers) or 'nothing'}"
    if len(tr) and selected.empty:
        # a misspelt evaluator must not look like "nothing to compare"
        finding = Problem("RECIST003", f"the RECIST evaluator {options.evaluator!r} selects no "
                          f"TR record ({why}); nothing was re-derived", Location(dataset="TR"),
                          Severity.WARNING)
        return RecistReview([finding], {"options": {"evaluator": options.evaluator},
                                        "findings": [finding.to_dict()]})
    timepoints = timepoint_responses(tu, tr, options)
    best = best_overall_response(timepoints, options, dm=dm)
    matched = _match_timepoints(timepoints, rs, options.evaluator)  # read once for both
    findings = _disagreements(matched, best, rs, options.evaluator)
    summary = _agreement(matched, options.evaluator)

    def records(frame: pd.DataFrame) -> JsonRecords:
        # dates straight to their text (as objects, each would be a Timestamp first)
        dated = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        plain = frame.drop(columns=dated)
        text = plain.astype(object).where(plain.notna(), None)
        for column in dated:
            text[column] = _date_texts(frame[column])
        return JsonRecords(text[list(frame.columns)])

    return RecistReview(findings, {
        "options": {
            "confirm": options.confirm,
            "confirm_min_days": options.confirm_min_days,
            "sd_min_days": options.sd_min_days,
            "reference": options.reference,
            "evaluator": options.evaluator,
        },
        "agreement": {
            **{k: v for k, v in summary.items() if k != "pairs"},
            "pairs": [
                {"investigator": inv, "derived": der, "count": n}
                for (inv, der), n in sorted(summary["pairs"].items())
            ],
        },
        "findings": [p.to_dict() for p in findings],
        "timepoints": records(timepoints),
        "best_overall_response": records(best),
    })
