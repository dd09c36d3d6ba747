"""The survival and response summary of ADaM datasets: what a case-series paper reports.

:func:`summarize` reads ADSL, ADRS and ADTTE (frames by name, standard ADaM
variable names) and returns the figures as a JSON-ready dict;
:func:`write_summary` writes them into a folder as ``summary.html`` (one page:
tables and the plots), ``summary.md``, ``summary.json``, one
``km-<paramcd>.png`` per ADTTE parameter and ``swimmer.png``.

What is computed, and how
-------------------------
* **Time to event** (ADTTE, per PARAMCD): n, events (CNSR = 0), censored
  (CNSR > 0); the Kaplan-Meier median (lifelines: the first time S(t) <= 0.5)
  with its 95% CI. The default CI is lifelines': the pointwise log(-log) CI of
  S(t) (Greenwood variance) inverted at 0.5 (Brookmeyer-Crowley), so its upper
  limit is "not reached" whenever the upper band stays above 0.5. The option
  ``median_ci="spss"`` reports instead the symmetric interval IBM SPSS prints,
  median +/- z * SE, with the SE of the median as in Collett (Modelling
  Survival Data in Medical Research, section 2.4.2) and the SPSS KM procedure:
  SE(S(t50)) / f(t50), SE(S) by Greenwood's formula at the median and the
  density f(t50) = (S(u) - S(l)) / (l - u), u the latest event time with
  S >= 0.55, l the earliest with S <= 0.45 (time 0 with S = 1 when no event
  time reaches 0.55). Both intervals are always in the JSON; the option picks
  the one the page shows. Landmark survival rates (1 year by default) with
  the log(-log) CI; median follow-up by reverse Kaplan-Meier (Schemper & Smith
  1996: censorings are the events). Every estimate comes from lifelines'
  ``KaplanMeierFitter``; only the Greenwood sum and the SPSS density step are
  arithmetic on lifelines' event table.
* **Response** (ADRS PARAMCD BOR, or CBOR with ``confirmed=True``): CR, PR,
  SD, NON-CR/NON-PD, PD, NE and "missing" counts over the analysis
  population, the objective response rate (CR + PR) and the disease control
  rate (CR + PR + SD + NON-CR/NON-PD), with exact Clopper-Pearson CIs.
* **Treatment duration** (ADSL TRTDURD): n, median, range, mean, SD, and how
  many are still on treatment (EOTSTT = "ONGOING", or a Y flag named by the
  options).

Times are converted to days from AVAL and AVALU (DAYS, WEEKS, MONTHS = 365.25/12
days, YEARS = 365.25 days); one year is 365.25 days, one month 365.25/12 days.
Dates may be SAS day counts (as read from XPT), datetimes or ISO 8601 text.
The output has no timestamps and the plots no software stamp, so the same
input gives the same bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..errors import DerivationError, Location, Problem
from ..formats.atomic import json_parts, write_atomic
from ..model.text import factorize

#: error codes of the summary
MISSING_VARIABLE = "SUM001"  # a variable the summary needs is not in the dataset
BAD_VALUE = "SUM002"  # a value the summary cannot use (AVAL, CNSR, AVALU, a date)
DUPLICATE_RESPONSE = "SUM003"  # more than one best-response record for a subject

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
UNIT_DAYS = {"DAYS": 1.0, "DAY": 1.0, "D": 1.0, "WEEKS": 7.0, "WEEK": 7.0,
             "MONTHS": DAYS_PER_MONTH, "MONTH": DAYS_PER_MONTH,
             "YEARS": DAYS_PER_YEAR, "YEAR": DAYS_PER_YEAR}
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": DAYS_PER_YEAR}
_LANDMARK = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$", re.IGNORECASE)
_LANDMARK_UNITS = {"d": ("day", 1.0), "w": ("week", 7.0), "m": ("month", DAYS_PER_MONTH),
                   "y": ("year", DAYS_PER_YEAR)}
SAS_EPOCH = pd.Timestamp("1960-01-01")

#: response categories in table order, with their labels
RESPONSES = {
    "CR": "Complete response (CR)",
    "PR": "Partial response (PR)",
    "SD": "Stable disease (SD)",
    "NON-CR/NON-PD": "Non-CR/non-PD",
    "PD": "Progressive disease (PD)",
    "NE": "Not evaluable (NE)",
    "MISSING": "No assessment (missing)",
}
#: rows shown even when nobody is in them
ALWAYS_SHOWN = ("CR", "PR", "SD", "PD", "NE")
OBJECTIVE_RESPONSE = ("CR", "PR")
DISEASE_CONTROL = ("CR", "PR", "SD", "NON-CR/NON-PD")
#: parameters shown first, in this order; the others follow alphabetically (PARAMN wins)
PREFERRED_PARAMS = ("OS", "PFS", "EFS", "DFS", "TTP", "DOR", "DURRSP", "TTR", "TOT")


def parse_landmark(text: str) -> tuple[float, str]:
    """``"1y"`` -> (365.25, "1 year"); ``"6m"`` -> (182.625, "6 months")."""
    m = _LANDMARK.match(str(text))
    if not m:
        raise ValueError(f"a landmark is a number and d, w, m or y (e.g. '1y', '6m'): {text!r}")
    value = float(m.group(1))
    name, days = _LANDMARK_UNITS[m.group(2).lower()]
    number = m.group(1).rstrip("0").rstrip(".") if "." in m.group(1) else m.group(1)
    return value * days, f"{number} {name}{'' if value == 1 else 's'}"


def landmark_adjective(text: str) -> str:
    """``"1y"`` -> '1-year', ``"6m"`` -> '6-month' (as in '1-year survival rate')."""
    parse_landmark(text)
    m = _LANDMARK.match(str(text))
    number = m.group(1).rstrip("0").rstrip(".") if "." in m.group(1) else m.group(1)
    return f"{number}-{_LANDMARK_UNITS[m.group(2).lower()][0]}"


@dataclass(frozen=True)
class SummaryOptions:
    """What the summary computes and how it shows it.

    landmarks: survival rates at these times, each a number and a unit:
        ``"1y"``, ``"6m"``, ``"26w"``, ``"180d"`` (a month is 365.25/12 days).
    time_unit: the unit times are shown in (tables and plot axes): ``"days"``,
        ``"weeks"``, ``"months"``, ``"years"``, or ``"auto"`` (years when the
        longest time is over three years, else months).
    median_ci: the CI of the median the page shows: ``"loglog"`` (lifelines'
        default) or ``"spss"`` (median +/- z * SE, SE as SPSS computes it).
        The JSON holds both.
    confidence: the level of every CI.
    confirmed: the response table uses ADRS CBOR (confirmed best overall
        response) instead of BOR.
    population: the ADSL flag (value ``Y``) of the analysis population, for
        every section; when ADSL lacks it, all ADSL subjects are used and the
        page says so. ``None``: all ADSL subjects.
    response_population: the ADSL flag of the response table's denominator
        (e.g. a response-evaluable flag); ``None``: the analysis population.
    ongoing_flag: an ADSL variable whose ``Y`` says treatment is ongoing, used
        when ADSL has no EOTSTT.
    swimmer_max_subjects: at most this many bars; beyond it, subjects with a
        response assessment first, then the longest durations (the page says
        how many are shown).
    embed_images: put the PNGs into the HTML as base64 (a single-file page)
        instead of linking them.
    dpi: resolution of the PNGs.
    """

    landmarks: tuple[str, ...] = ("1y",)
    time_unit: str = "auto"
    median_ci: str = "loglog"
    confidence: float = 0.95
    confirmed: bool = False
    population: str | None = "SAFFL"
    response_population: str | None = None
    ongoing_flag: str | None = None
    swimmer_max_subjects: int = 60
    embed_images: bool = False
    dpi: int = 150

    def __post_init__(self) -> None:
        if isinstance(self.landmarks, str):
            raise ValueError("landmarks is a tuple of times such as ('1y', '6m')")
        for text in self.landmarks:
            parse_landmark(text)
        if self.time_unit not in (*TIME_UNITS, "auto"):
            raise ValueError(f"time_unit must be one of {', '.join([*TIME_UNITS, 'auto'])}")
        if self.median_ci not in ("loglog", "spss"):
            raise ValueError("median_ci must be 'loglog' or 'spss'")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must be at least 0.5 and below 1")
        if self.swimmer_max_subjects < 1:
            raise ValueError("swimmer_max_subjects must be at least 1")
        if not 50 <= self.dpi <= 600:
            raise ValueError("dpi must be between 50 and 600")


DEFAULT_OPTIONS = SummaryOptions()

#: the variables of a dataset the summary reads, where it reads a few of many: what a
#: worker drawing the summary is sent (ADRS has a record per subject and assessment)
READS: dict[str, tuple[str, ...]] = {
    "ADRS": ("USUBJID", "PARAMCD", "PARAM", "AVALC", "ADT", "ANL01FL"),
}


def summary_inputs(adam: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``adam`` with only the variables the summary reads (:data:`READS`): the same
    summary, from a fraction of the data."""
    return {name: frame[[c for c in frame.columns if c in READS[name]]] if name in READS
            else frame for name, frame in adam.items()}


# ------------------------------------------------------------------------ small helpers


def _num(x: Any, digits: int = 6) -> float | None:
    """A finite float rounded for JSON, or None (NaN, infinity, missing)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    r = round(v, digits)
    return 0.0 if r == 0 else r


def _text(series: pd.Series) -> pd.Series:
    """Text values stripped; missing as ''."""
    out = series.astype("object").where(series.notna(), "")
    if infer_dtype(out, skipna=False) == "string":  # all text: each distinct value once
        codes, distinct = factorize(out.to_numpy(dtype=object))
        texts = pd.Series(distinct, dtype=object).str.strip().to_numpy(dtype=object)
        return pd.Series(texts[codes], index=series.index, dtype=object)
    return out.map(lambda v: v.decode("ascii", "replace") if isinstance(v, bytes) else str(v)
                   ).str.strip()


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    return _text(frame[name]).str.upper() == "Y"


def _dates(series: pd.Series, dataset: str, variable: str,
           problems: list[Problem]) -> pd.Series:
    """Dates as datetime64 (NaT when missing): SAS day counts, datetimes or ISO 8601 text."""
    if pd.api.types.is_datetime64_any_dtype(series):
        s = pd.to_datetime(series)
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        return s.dt.normalize()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        days = pd.to_numeric(series, errors="coerce").round().to_numpy(dtype="float64")
        # seconds resolution spans every year 0001-9999 (nanoseconds end in 2262)
        stamps = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[s]")
        known = ~np.isnan(days)
        stamps[known] = (np.datetime64("1960-01-01", "s")
                         + days[known].astype("int64").astype("timedelta64[D]"))
        return pd.Series(stamps, index=series.index)
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    for i, v in series.items():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
            continue
        if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "year"):
            out[i] = pd.Timestamp(v).normalize()
            continue
        text = v.decode("ascii", "replace") if isinstance(v, bytes) else str(v).strip()
        if text == "":
            continue
        stamp = pd.to_datetime(text[:10], format="%Y-%m-%d", errors="coerce")
        if pd.isna(stamp):
            problems.append(Problem(BAD_VALUE, "not a date (a SAS date, a datetime or "
                                    "YYYY-MM-DD is needed)",
                                    Location(dataset=dataset, field=variable, value=text,
                                             record=_record(series, i))))
        else:
            out[i] = stamp
    return out


def _study_days(dates: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Study day (the start is day 1) of datetime64 dates at midnight; NaN without either."""
    with np.errstate(invalid="ignore"):
        return (dates - start) / np.timedelta64(1, "D") + 1


def _record(frame_or_series: pd.DataFrame | pd.Series, label: Any) -> int:
    return int(frame_or_series.index.get_loc(label)) + 1


def _require(frame: pd.DataFrame, dataset: str, names: tuple[str, ...],
             problems: list[Problem]) -> bool:
    missing = [n for n in names if n not in frame.columns]
    for n in missing:
        problems.append(Problem(MISSING_VARIABLE, f"{dataset} has no {n}, which the summary "
                                "needs", Location(dataset=dataset, field=n)))
    return not missing


def _subject_ids(adsl: pd.DataFrame | None) -> dict[str, str]:
    """USUBJID -> the label shown for the subject (SUBJID when unique, else USUBJID)."""
    if adsl is None or "USUBJID" not in adsl.columns:
        return {}
    usubjid = _text(adsl["USUBJID"])
    if "SUBJID" in adsl.columns:
        subjid = _text(adsl["SUBJID"])
        if subjid.ne("").all() and subjid.is_unique:
            return dict(zip(usubjid, subjid, strict=True))
    return dict(zip(usubjid, usubjid, strict=True))


def _sort_key(value: str) -> tuple:
    """Natural order: '2' before '10'."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", value) if p)


# ------------------------------------------------------------------------- the analysis


@dataclass
class _Param:
    paramcd: str
    param: str
    days: np.ndarray  # time to event or censoring, in days
    event: np.ndarray  # bool
    start: str  # what the time is measured from ("first dose"), "" when not known


class _Analysis:
    """The prepared datasets and every figure (``result``), shared by the writers."""

    def __init__(self, adam: Mapping[str, pd.DataFrame], options: SummaryOptions) -> None:
        self.options = options
        frames = {str(k).upper(): v for k, v in adam.items() if v is not None}
        self.adsl = frames.get("ADSL")
        self.adrs = frames.get("ADRS")
        self.adtte = frames.get("ADTTE")
        self.notes: list[str] = []
        self.problems: list[Problem] = []
        self.labels = _subject_ids(self.adsl)
        self.population = self._population(options.population, "analysis population")
        self.params = self._tte() if self.adtte is not None else []
        self.response = self._response() if self.adrs is not None else None
        self.duration = self._duration() if self.adsl is not None else None
        self.swimmer = self._swimmer() if self.adsl is not None else None
        if self.problems:
            raise DerivationError(list(dict.fromkeys(self.problems)))  # each problem once
        self.unit = self._unit()
        self.result = self._result()

    # -- population
    def _population(self, flag: str | None, what: str) -> set[str] | None:
        """The subjects of a population, or None (no ADSL: every subject found)."""
        adsl = self.adsl
        if adsl is None:
            self.notes.append(f"No ADSL: the {what} is every subject in the datasets.")
            return None
        if not _require(adsl, "ADSL", ("USUBJID",), self.problems):
            return None
        ids = _text(adsl["USUBJID"])
        if flag is None:
            return set(ids)
        if flag not in adsl.columns:
            self.notes.append(f"ADSL has no {flag}: the {what} is all {len(ids)} ADSL "
                              "subjects.")
            return set(ids)
        return set(ids[_flag(adsl, flag)])

    def _population_text(self, flag: str | None, chosen: set[str] | None) -> str:
        if chosen is None:
            return "all subjects in the datasets (no ADSL)"
        if flag is None or self.adsl is None or flag not in self.adsl.columns:
            return "all ADSL subjects"
        return f"ADSL {flag} = Y"

    # -- ADTTE
    def _tte(self) -> list[_Param]:
        tte = self.adtte
        if not _require(tte, "ADTTE", ("USUBJID", "PARAMCD", "AVAL", "CNSR"), self.problems):
            return []
        keep = pd.Series(True, index=tte.index)
        if self.population is not None:
            keep = _text(tte["USUBJID"]).isin(self.population)
            dropped = _text(tte["USUBJID"])[~keep].nunique()
            if dropped:
                self.notes.append(f"ADTTE: {dropped} subjects outside the analysis population "
                                  "are left out.")
        tte = tte[keep]
        aval = pd.to_numeric(tte["AVAL"], errors="coerce")
        cnsr = pd.to_numeric(tte["CNSR"], errors="coerce")
        if "AVALU" in tte.columns:
            units = _text(tte["AVALU"]).str.upper()
            if (units == "").any():
                self.notes.append(f"ADTTE: {int((units == '').sum())} records have no AVALU: "
                                  "AVAL is read as days.")
        else:
            units = pd.Series("DAYS", index=tte.index)
            self.notes.append("ADTTE has no AVALU: AVAL is read as days.")
        with np.errstate(invalid="ignore"):
            bad_aval = (aval.isna() | (aval < 0)).to_numpy()
            bad_cnsr = (cnsr.isna() | (cnsr < 0) | (cnsr != np.round(cnsr))).to_numpy()
        bad_unit = (~units.isin(list(UNIT_DAYS)) & units.ne("")).to_numpy()
        for pos in np.flatnonzero(bad_aval | bad_cnsr | bad_unit):  # record order
            i = tte.index[pos]
            where = dict(dataset="ADTTE", record=_record(self.adtte, i),
                         usubjid=str(tte.at[i, "USUBJID"]))
            if bad_aval[pos]:
                self.problems.append(Problem(BAD_VALUE, "AVAL must be a time of 0 or more",
                                             Location(field="AVAL", value=tte.at[i, "AVAL"],
                                                      **where)))
            if bad_cnsr[pos]:
                self.problems.append(Problem(BAD_VALUE, "CNSR must be 0 (event) or a positive "
                                             "integer (censored)",
                                             Location(field="CNSR", value=tte.at[i, "CNSR"],
                                                      **where)))
            if bad_unit[pos]:
                self.problems.append(Problem(BAD_VALUE, "AVALU must be DAYS, WEEKS, MONTHS or "
                                             "YEARS", Location(field="AVALU",
                                                               value=units.iat[pos], **where)))
        if self.problems:
            return []
        days = aval * units.map(UNIT_DAYS).fillna(1.0)
        paramcd = _text(tte["PARAMCD"])
        param = _text(tte["PARAM"]) if "PARAM" in tte.columns else paramcd
        startdesc = self._start_description(tte)
        order = self._param_order(tte, paramcd)
        out = []
        for code in order:
            rows = paramcd == code
            label = next((p for p in param[rows] if p), code)
            out.append(_Param(code, label, days[rows].to_numpy(float),
                              (cnsr[rows] == 0).to_numpy(bool), startdesc.get(code, "")))
        return out

    def _param_order(self, tte: pd.DataFrame, paramcd: pd.Series) -> list[str]:
        codes = sorted(set(paramcd) - {""})
        if "PARAMN" in tte.columns:
            paramn = pd.to_numeric(tte["PARAMN"], errors="coerce")
            first = {c: paramn[paramcd == c].min() for c in codes}
            return sorted(codes, key=lambda c: (pd.isna(first[c]),
                                                0 if pd.isna(first[c]) else first[c], c))
        rank = {c: i for i, c in enumerate(PREFERRED_PARAMS)}
        return sorted(codes, key=lambda c: (rank.get(c, len(rank)), c))

    def _start_description(self, tte: pd.DataFrame) -> dict[str, str]:
        """PARAMCD -> 'first dose' / 'randomisation' when STARTDT is always that ADSL date."""
        out: dict[str, str] = {}
        adsl = self.adsl
        if "STARTDT" not in tte.columns or adsl is None or "USUBJID" not in adsl.columns:
            return out
        scratch: list[Problem] = []
        start = _dates(tte["STARTDT"], "ADTTE", "STARTDT", scratch)
        subjects = _text(tte["USUBJID"])
        paramcd = _text(tte["PARAMCD"])
        for variable, words in (("TRTSDT", "first dose"), ("RANDDT", "randomisation")):
            if variable not in adsl.columns:
                continue
            ref = _dates(adsl[variable], "ADSL", variable, scratch)
            ref.index = _text(adsl["USUBJID"])
            ref = ref[~ref.index.duplicated()]
            mapped = subjects.map(ref)
            for code in set(paramcd):
                rows = paramcd == code
                if code not in out and start[rows].notna().all() and \
                        (start[rows] == mapped[rows]).all():
                    out[code] = words
        return out

    # -- ADRS
    def _bor_records(self) -> tuple[str, pd.DataFrame] | None:
        adrs = self.adrs
        code = "CBOR" if self.options.confirmed else "BOR"
        if not _require(adrs, "ADRS", ("USUBJID", "PARAMCD", "AVALC"), self.problems):
            return None
        rows = adrs[_text(adrs["PARAMCD"]).str.upper() == code]
        if "ANL01FL" in rows.columns and _flag(rows, "ANL01FL").any():
            rows = rows[_flag(rows, "ANL01FL")]
        return code, rows

    def _response(self) -> dict[str, Any] | None:
        found = self._bor_records()
        if found is None:
            return None
        code, rows = found
        if rows.empty:
            self.notes.append(f"ADRS has no PARAMCD {code} records: no response table.")
            return None
        subjects = _text(rows["USUBJID"])
        for usubjid in sorted(set(subjects[subjects.duplicated()])):
            self.problems.append(Problem(DUPLICATE_RESPONSE, f"more than one {code} record "
                                         "(ANL01FL does not single one out)",
                                         Location(dataset="ADRS", usubjid=usubjid,
                                                  field="PARAMCD", value=code)))
        if self.problems:
            return None
        values = dict(zip(subjects, _text(rows["AVALC"]).str.upper(), strict=True))
        flag = self.options.response_population
        chosen = (self.population if flag is None
                  else self._population(flag, "response population"))
        flag_used = self.options.population if flag is None else flag
        denominator = sorted(chosen if chosen is not None else set(values), key=_sort_key)
        outside = len(set(values) - set(denominator))
        if outside:
            self.notes.append(f"ADRS {code}: {outside} subjects outside the response "
                              "population are left out.")
        counts: dict[str, int] = {}
        for usubjid in denominator:
            value = values.get(usubjid, "") or "MISSING"
            counts[value] = counts.get(value, 0) + 1
        n = len(denominator)
        keys = [k for k in RESPONSES if k in ALWAYS_SHOWN or counts.get(k)]
        keys += sorted(k for k in counts if k not in RESPONSES)
        param = next((p for p in _text(rows["PARAM"])), "") if "PARAM" in rows.columns else ""
        level = self.options.confidence
        return {
            "paramcd": code,
            "param": param or code,
            "population": self._population_text(flag_used, chosen),
            "n": n,
            "categories": [{"code": k, "label": RESPONSES.get(k, k), "n": counts.get(k, 0),
                            "percent": _num(100 * counts.get(k, 0) / n) if n else None}
                           for k in keys],
            "rates": [
                _rate("objective_response", "Objective response rate (CR + PR)",
                      sum(counts.get(k, 0) for k in OBJECTIVE_RESPONSE), n, level),
                _rate("disease_control", "Disease control rate (CR + PR + SD + non-CR/non-PD)",
                      sum(counts.get(k, 0) for k in DISEASE_CONTROL), n, level),
            ],
        }

    # -- ADSL
    def _adsl_subjects(self) -> pd.DataFrame:
        adsl = self.adsl
        ids = _text(adsl["USUBJID"])
        keep = ids.isin(self.population) if self.population is not None else ids.ne("")
        return adsl[keep.to_numpy()]

    def _ongoing(self, adsl: pd.DataFrame) -> tuple[pd.Series | None, str]:
        if "EOTSTT" in adsl.columns:
            return _text(adsl["EOTSTT"]).str.upper() == "ONGOING", "ADSL EOTSTT = ONGOING"
        flag = self.options.ongoing_flag
        if flag and flag in adsl.columns:
            return _flag(adsl, flag), f"ADSL {flag} = Y"
        return None, ""

    def _treatment_days(self, adsl: pd.DataFrame) -> pd.Series:
        """TRTDURD, or TRTEDT - TRTSDT + 1 where TRTDURD is missing."""
        dur = (pd.to_numeric(adsl["TRTDURD"], errors="coerce") if "TRTDURD" in adsl.columns
               else pd.Series(np.nan, index=adsl.index))
        if {"TRTSDT", "TRTEDT"} <= set(adsl.columns):
            start = _dates(adsl["TRTSDT"], "ADSL", "TRTSDT", self.problems)
            end = _dates(adsl["TRTEDT"], "ADSL", "TRTEDT", self.problems)
            dur = dur.fillna((end - start).dt.days + 1)
        return dur

    def _duration(self) -> dict[str, Any] | None:
        if not _require(self.adsl, "ADSL", ("USUBJID",), self.problems):
            return None
        adsl = self._adsl_subjects()
        if "TRTDURD" not in adsl.columns and not {"TRTSDT", "TRTEDT"} <= set(adsl.columns):
            self.notes.append("ADSL has neither TRTDURD nor TRTSDT/TRTEDT: no treatment "
                              "duration.")
            return None
        dur = self._treatment_days(adsl)
        ongoing, source = self._ongoing(adsl)
        values = dur.dropna()
        if values.empty:
            return None
        return {
            "variable": "TRTDURD" if "TRTDURD" in adsl.columns else "TRTEDT - TRTSDT + 1",
            "unit": "days",
            "n": int(len(values)),
            "missing": int(dur.isna().sum()),
            "median": _num(values.median()),
            "min": _num(values.min()),
            "max": _num(values.max()),
            "mean": _num(values.mean()),
            "sd": _num(values.std(ddof=1)) if len(values) > 1 else None,
            "ongoing": int(ongoing.sum()) if ongoing is not None else None,
            "ongoing_source": source or None,
        }

    def _swimmer(self) -> list[dict[str, Any]] | None:
        adsl = self._adsl_subjects()
        if "TRTSDT" not in adsl.columns:
            self.notes.append("ADSL has no TRTSDT: no swimmer plot.")
            return None
        start = _dates(adsl["TRTSDT"], "ADSL", "TRTSDT", self.problems)
        start.index = _text(adsl["USUBJID"])
        dur = self._treatment_days(adsl)
        dur.index = start.index
        ongoing, _ = self._ongoing(adsl)
        if ongoing is not None:
            ongoing.index = start.index

        def day(dates: pd.Series, ids: pd.Series) -> pd.Series:
            """Study day of each subject's date (``dates`` and ``start`` are both by subject,
            in the same order); NaN without either date."""
            return pd.Series(_study_days(dates.to_numpy(), start.to_numpy()),
                             index=dates.index, dtype=float)

        ids = pd.Series(start.index, index=start.index)
        death = (day(_dates(adsl["DTHDT"], "ADSL", "DTHDT", self.problems).set_axis(ids.index),
                     ids) if "DTHDT" in adsl.columns else pd.Series(np.nan, index=ids.index))
        alive = (day(_dates(adsl["LSTALVDT"], "ADSL", "LSTALVDT", self.problems)
                     .set_axis(ids.index), ids)
                 if "LSTALVDT" in adsl.columns else pd.Series(np.nan, index=ids.index))
        os_end = self._os_end(ids)
        death = death.fillna(os_end["death"])
        alive = alive.fillna(os_end["alive"])
        assessments = self._assessments(start)
        bor = self._bor_by_subject()
        rows = []
        to_last_alive = []
        # every column as a list by position (all are in ADSL's order), so one subject
        # costs list look-ups, not Series look-ups by label
        on_list = (ongoing.astype(bool).tolist() if ongoing is not None
                   else [False] * len(ids))
        dur_list, alive_list, death_list = dur.tolist(), alive.tolist(), death.tolist()
        no_start = start.isna().tolist()
        subjects = ids.index.tolist()
        for pos in sorted(range(len(subjects)), key=lambda k: _sort_key(subjects[k])):
            usubjid = subjects[pos]
            on = on_list[pos]
            days = dur_list[pos]
            if pd.isna(days) and on and pd.notna(alive_list[pos]):
                days = alive_list[pos]  # ongoing without an end date: on treatment until then
                to_last_alive.append(self.labels.get(usubjid, usubjid))
            if no_start[pos] or pd.isna(days):
                continue
            rows.append({
                "usubjid": usubjid,
                "label": self.labels.get(usubjid, usubjid),
                "treatment_days": _num(days),
                "ongoing": on,
                "best_response": bor.get(usubjid),
                "assessments": assessments.get(usubjid, []),
                "death_day": _num(death_list[pos]),
                "last_alive_day": _num(alive_list[pos]),
            })
        if to_last_alive:
            self.notes.append("Swimmer plot: ongoing treatment without an end date is drawn to "
                              f"the last date known alive for {', '.join(to_last_alive)}.")
        return rows

    def _os_end(self, ids: pd.Series) -> pd.DataFrame:
        """Death / last-alive study days from ADTTE OS, for ADSLs without DTHDT/LSTALVDT."""
        out = pd.DataFrame({"death": np.nan, "alive": np.nan}, index=ids.index)
        tte = self.adtte
        if tte is None or not {"USUBJID", "PARAMCD", "CNSR", "AVAL"} <= set(tte.columns):
            return out
        os_rows = tte[(_text(tte["PARAMCD"]).str.upper() == "OS").to_numpy()]
        unit = (_text(os_rows["AVALU"]).str.upper() if "AVALU" in os_rows.columns
                else pd.Series("DAYS", index=os_rows.index))
        found = pd.DataFrame({
            "usubjid": os_rows["USUBJID"].astype(str).str.strip().to_numpy(),
            "column": np.where(pd.to_numeric(os_rows["CNSR"], errors="coerce").to_numpy(
                dtype=float) == 0, "death", "alive"),
            "days": pd.to_numeric(os_rows["AVAL"], errors="coerce").to_numpy(dtype=float)
            * unit.map(UNIT_DAYS).fillna(1.0).to_numpy(dtype=float),
        })
        found = found[found["usubjid"].isin(out.index)]
        # a subject's later OS record wins, as it did when they were read one by one
        for column, last in found.drop_duplicates(["usubjid", "column"], keep="last"
                                                  ).groupby("column"):
            out.loc[last["usubjid"].to_numpy(), column] = last["days"].to_numpy()
        return out

    def _assessments(self, start: pd.Series) -> dict[str, list[dict[str, Any]]]:
        """Per subject, the ADRS OVR responses (study day, AVALC); BOR when there is no OVR."""
        adrs = self.adrs
        if adrs is None or not {"USUBJID", "PARAMCD", "AVALC", "ADT"} <= set(adrs.columns):
            return {}
        codes = _text(adrs["PARAMCD"]).str.upper()
        ovr = adrs[codes == "OVR"]
        if "ANL01FL" in ovr.columns and _flag(ovr, "ANL01FL").any():
            ovr = ovr[_flag(ovr, "ANL01FL")]
        found = self._bor_records()
        bor = found[1] if found else adrs.iloc[0:0]
        known = start[~start.index.duplicated()]
        parts = []
        for source, frame in (("OVR", ovr), ("BOR", bor)):
            dates = _dates(frame["ADT"], "ADRS", "ADT", self.problems)
            subjects = _text(frame["USUBJID"])
            values = _text(frame["AVALC"]).str.upper()
            day = _study_days(dates.to_numpy(), subjects.map(known).to_numpy())
            keep = subjects.isin(known.index).to_numpy() & ~np.isnan(day) & \
                ~values.isin(["", "MISSING"]).to_numpy()
            if source == "BOR" and parts:  # BOR only for subjects without an OVR
                keep &= ~subjects.isin(parts[0]["usubjid"]).to_numpy()
            parts.append(pd.DataFrame({"usubjid": subjects.to_numpy()[keep],
                                       "day": day[keep].astype(np.int64),
                                       "response": values.to_numpy()[keep], "source": source}))
        found = pd.concat(parts, ignore_index=True).sort_values(
            ["usubjid", "day", "response"], kind="stable")
        out: dict[str, list[dict[str, Any]]] = {}
        for usubjid, day, response, source in zip(found["usubjid"].tolist(),
                                                  found["day"].tolist(),
                                                  found["response"].tolist(),
                                                  found["source"].tolist(), strict=True):
            out.setdefault(usubjid, []).append({"day": day, "response": response,
                                                "source": source})
        return out

    def _bor_by_subject(self) -> dict[str, str]:
        if self.adrs is None:
            return {}
        found = self._bor_records()
        if not found:
            return {}
        rows = found[1]
        return {s: v for s, v in zip(_text(rows["USUBJID"]), _text(rows["AVALC"]).str.upper(),
                                     strict=True) if v}

    # -- figures
    def _unit(self) -> str:
        if self.options.time_unit != "auto":
            return self.options.time_unit
        longest = max([float(p.days.max()) for p in self.params if len(p.days)] +
                      [float(r["treatment_days"]) for r in self.swimmer or []] + [0.0])
        return "years" if longest > 3 * DAYS_PER_YEAR else "months"

    def _result(self) -> dict[str, Any]:
        o = self.options
        return {
            "options": {**asdict(o), "landmarks": list(o.landmarks),
                        "time_unit_shown": self.unit},
            "methods": methods(o),
            "inputs": {name: (None if frame is None else int(len(frame)))
                       for name, frame in (("ADSL", self.adsl), ("ADRS", self.adrs),
                                           ("ADTTE", self.adtte))},
            "population": self._population_text(o.population, self.population),
            "time_to_event": [km_summary(p, o) for p in self.params],
            "response": self.response,
            "treatment_duration": self.duration,
            "swimmer": self.swimmer,
            "notes": self.notes,
        }


def _rate(code: str, label: str, k: int, n: int, level: float) -> dict[str, Any]:
    from scipy.stats import binomtest

    if n == 0:
        return {"code": code, "label": label, "n": 0, "responders": k, "percent": None,
                "ci": None}
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return {"code": code, "label": label, "n": n, "responders": k,
            "percent": _num(100 * k / n),
            "ci": {"method": "exact (Clopper-Pearson)", "level": level,
                   "lower": _num(100 * ci.low), "upper": _num(100 * ci.high)}}


def methods(options: SummaryOptions) -> dict[str, str]:
    """The method statements the page prints, also in the JSON."""
    level = f"{options.confidence:.0%}"
    return {
        "kaplan_meier": "Kaplan-Meier estimates (lifelines KaplanMeierFitter); the median is "
                        "the first time the estimate is 0.5 or below.",
        "median_ci_loglog": f"{level} CI of the median: the log(-log) pointwise CI of S(t) "
                            "(Greenwood variance) inverted at 0.5 (Brookmeyer-Crowley; "
                            "lifelines' default); NR = not reached.",
        "median_ci_spss": f"{level} CI of the median as SPSS reports it: median +/- z x SE, "
                          "SE = Greenwood SE of S at the median / density estimate "
                          "(S(u) - S(l)) / (l - u), u the latest event time with S >= 0.55, "
                          "l the earliest with S <= 0.45 (Collett 2.4.2); a lower limit "
                          "below 0 is shown as 0.",
        "landmark": f"Landmark survival rates: Kaplan-Meier estimate at the time, {level} "
                    "log(-log) CI; not estimable beyond the longest follow-up.",
        "follow_up": "Median follow-up: reverse Kaplan-Meier (censorings counted as events, "
                     "events as censorings).",
        "response": f"Response rates with {level} exact (Clopper-Pearson) CIs; objective "
                    "response = CR + PR, disease control = CR + PR + SD + non-CR/non-PD.",
        "time": "One month is 365.25/12 days, one year 365.25 days.",
    }


def km_summary(p: _Param, options: SummaryOptions) -> dict[str, Any]:
    """Every time-to-event figure of one parameter (times in days)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    alpha = 1 - options.confidence
    n, events = len(p.days), int(p.event.sum())
    out: dict[str, Any] = {"paramcd": p.paramcd, "param": p.param, "start": p.start,
                           "n": n, "events": events, "censored": n - events}
    if n == 0:
        return out
    km = KaplanMeierFitter(alpha=alpha).fit(p.days, p.event)
    median = float(km.median_survival_time_)
    ci = median_survival_times(km.confidence_interval_)
    lower, upper = (float(v) for v in ci.iloc[0])
    out["median"] = {
        "days": _num(median),
        "reached": math.isfinite(median),
        "ci": {"method": "log(-log), Brookmeyer-Crowley (lifelines)",
               "level": options.confidence, "lower_days": _num(lower),
               "upper_days": _num(upper)},
        "ci_spss": spss_median_ci(km, options.confidence),
    }
    out["landmarks"] = [_landmark(km, p, text) for text in options.landmarks]
    reverse = KaplanMeierFitter(alpha=alpha).fit(p.days, ~p.event)
    follow = float(reverse.median_survival_time_)
    out["follow_up"] = {"method": "reverse Kaplan-Meier", "median_days": _num(follow),
                        "reached": math.isfinite(follow),
                        "longest_days": _num(p.days.max())}
    table = km.event_table
    times = table.index
    # lifelines' estimates at the event table's times, as whole columns
    sf = km.survival_function_.iloc[:, 0].loc[times].tolist()
    band = km.confidence_interval_.loc[times]
    lower, upper = band.iloc[:, 0].tolist(), band.iloc[:, 1].tolist()
    at_risk, observed, censored = (table[c].tolist() for c in ("at_risk", "observed", "censored"))
    out["km_table"] = [
        {"days": _num(t), "at_risk": int(at_risk[k]), "events": int(observed[k]),
         "censored": int(censored[k]), "survival": _num(sf[k]),
         "lower": _num(lower[k]), "upper": _num(upper[k])}
        for k, t in enumerate(times.tolist()) if t > 0 or observed[k] or censored[k]
    ]
    return out


def _greenwood_sum(km: Any, t: float) -> float:
    """Greenwood's sum d / (n (n - d)) over the event times up to ``t`` (lifelines' table).

    A time where everyone at risk has the event adds nothing (lifelines does the same).
    """
    table = km.event_table
    rows = table[(table.index <= t) & (table["observed"] > 0)]
    n, d = rows["at_risk"].to_numpy(float), rows["observed"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, d / (n * (n - d)), 0.0)
    return float(terms.sum())


def spss_median_ci(km: Any, level: float = 0.95) -> dict[str, Any]:
    """The symmetric CI of the Kaplan-Meier median that SPSS prints: median +/- z * SE.

    SE(median) = SE(S(median)) / f, with SE(S) by Greenwood's formula and the
    density f = (S(u) - S(l)) / (l - u): u the latest event time with S >= 0.55
    (time 0, S = 1, when there is none), l the earliest with S <= 0.45 (Collett,
    Modelling Survival Data in Medical Research, 2.4.2). Not estimable when the
    median is not reached or no event time has S <= 0.45.
    """
    from scipy.stats import norm

    out: dict[str, Any] = {"method": "median +/- z x SE (SPSS; Collett 2.4.2)",
                           "level": level, "se_days": None, "lower_days": None,
                           "upper_days": None, "lower_truncated": False}
    median = float(km.median_survival_time_)
    if not math.isfinite(median):
        return out
    table = km.event_table
    sf = km.survival_function_.iloc[:, 0]
    at_events = table.index[table["observed"] > 0]
    event_times = [float(t) for t in at_events]
    s_at = dict(zip(event_times, sf.loc[at_events].astype(float).tolist(), strict=True))
    upper_side = [t for t in event_times if s_at[t] >= 0.55 - 1e-12]
    lower_side = [t for t in event_times if s_at[t] <= 0.45 + 1e-12]
    if not lower_side:
        return out
    u = max(upper_side) if upper_side else 0.0
    s_u = s_at[u] if upper_side else 1.0
    lo = min(lower_side)
    density = (s_u - s_at[lo]) / (lo - u)
    s_median = float(sf.loc[median])
    se_s = s_median * math.sqrt(_greenwood_sum(km, median))
    if density <= 0:
        return out
    se = se_s / density
    z = float(norm.ppf(1 - (1 - level) / 2))
    lower = median - z * se
    out.update({"se_days": _num(se), "lower_days": _num(max(lower, 0.0)),
                "upper_days": _num(median + z * se), "lower_truncated": lower < 0,
                "density_points_days": [_num(u), _num(lo)]})
    return out


def _landmark(km: Any, p: _Param, text: str) -> dict[str, Any]:
    days, label = parse_landmark(text)
    out: dict[str, Any] = {"landmark": text, "label": label, "days": _num(days),
                           "estimable": False, "survival": None, "lower": None, "upper": None,
                           "at_risk": int((p.days >= days).sum())}
    if days > float(p.days.max()):
        return out
    band = km.confidence_interval_.loc[:days].iloc[-1]
    out.update({"estimable": True,
                "survival": _num(float(km.survival_function_at_times(days).iloc[0]) * 100),
                "lower": _num(float(band.iloc[0]) * 100),
                "upper": _num(float(band.iloc[1]) * 100)})
    return out


# --------------------------------------------------------------------------- public API


def summarize(adam: Mapping[str, pd.DataFrame],
              options: SummaryOptions = DEFAULT_OPTIONS) -> dict:
    """The summary's figures, JSON-ready (times in days; see the module docstring).

    ``adam`` maps dataset names (ADSL, ADRS, ADTTE; any may be absent) to
    frames. Raises :class:`DerivationError` with every problem when a dataset
    lacks a variable the summary needs or holds a value it cannot use.
    """
    return _Analysis(adam, options).result


def render_summary(adam: Mapping[str, pd.DataFrame],
                   options: SummaryOptions = DEFAULT_OPTIONS, *, title: str = ""
                   ) -> dict[str, bytes]:
    """The files of :func:`write_summary` as bytes by file name, plots first.

    Reads nothing and writes nothing, so it can run anywhere (e.g. in a worker process,
    :mod:`cdisc.output.summary_job`); the same input gives the same bytes.
    """
    from .summary_plots import km_plot, swimmer_plot
    from .summary_render import render_html, render_markdown

    analysis = _Analysis(adam, options)
    result = analysis.result
    result["title"] = title or "Survival and response summary"
    files: dict[str, bytes] = {}
    images: dict[str, str] = {}
    used: set[str] = set()
    for p, figures in zip(analysis.params, result["time_to_event"], strict=True):
        if not len(p.days):
            continue
        name = _png_name(p.paramcd, used)
        files[name] = km_plot(p, figures, analysis.unit, options)
        images[p.paramcd] = name
        figures["plot"] = name
    if analysis.swimmer:
        png, shown, which = swimmer_plot(analysis.swimmer, analysis.unit, options)
        files["swimmer.png"] = png
        images["swimmer"] = "swimmer.png"
        result["swimmer_plot"] = {"file": "swimmer.png", "subjects_shown": shown,
                                  "subjects": len(analysis.swimmer), "selection": which}
    # in ~1 MB pieces joined once: json.dumps(indent=2) would hold every small piece of
    # the text at once (the swimmer rows of 100,000 subjects: about a gigabyte)
    files["summary.json"] = b"".join(json_parts(result))
    files["summary.md"] = render_markdown(result).encode("utf-8")
    embedded = ({key: files[name] for key, name in images.items()}
                if options.embed_images else None)
    files["summary.html"] = render_html(result, embedded).encode("utf-8")
    return files


def write_summary(adam: Mapping[str, pd.DataFrame], folder: Path,
                  options: SummaryOptions = DEFAULT_OPTIONS, *, title: str = "") -> list[Path]:
    """Write summary.html, summary.md, summary.json and the PNGs into ``folder``.

    The folder is created when missing; each file is written atomically. Returns
    the paths written, plots first. The same input gives the same bytes.
    """
    return write_files(render_summary(adam, options, title=title), folder)


def write_files(files: Mapping[str, bytes], folder: Path) -> list[Path]:
    """Each file of :func:`render_summary` into ``folder`` (created when missing), atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        write_atomic(folder / name, data)
        written.append(folder / name)
    return written


def _png_name(paramcd: str, used: set[str]) -> str:
    stem = re.sub(r"[^a-z0-9_-]+", "_", paramcd.lower()).strip("_") or "param"
    name, i = f"km-{stem}.png", 2
    while name in used:
        name, i = f"km-{stem}-{i}.png", i + 1
    used.add(name)
    return name
