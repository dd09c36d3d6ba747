"""What the ADSL and ADTTE derivations share: dates, conditions, SUPP-- qualifiers, records.

* **Dates.** ADaM dates are numeric SAS dates (days since 1960-01-01, format
  DATE9.). An input date may be such a number (an ADaM dataset read from XPT),
  a datetime64 or ISO 8601 text (an SDTM --DTC, or an ADaM dataset kept as
  CSV). Only the date part counts. A partial ISO 8601 date (``2011-12``,
  ``2011``) gives a date only when the rule imputes it: ``first`` (the 1st,
  January) or ``last`` (the month's last day, December) possible date, with
  the ADaMIG imputation flag D (day imputed) or M (month and day). Days are
  counted with the proleptic Gregorian calendar of ISO 8601 for every year
  0001-9999, in numpy, not with pandas timestamps (which stop at 2262).
* **Conditions.** A spec's ``where`` evaluated on an SDTM or ADaM frame;
  missing is :func:`cdisc.model.is_missing` (None, NaN, "" and blanks, as an
  XPT file reads back), and a missing value equals nothing.
* **SUPP--.** A qualifier of a parent domain (e.g. SUPPEX.EXONGO) is read as a
  column of the parent (as pharmaverse ``metatools::combine_supp``), matched
  on USUBJID and IDVAR/IDVARVAL (or USUBJID alone when IDVAR is empty).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cdisc.errors import Location, Problem, ProblemLog, Severity
from cdisc.model import Provenance
from cdisc.model.missing import is_missing
from cdisc.model.text import all_text, factorize, known_codes
from cdisc.spec.conditions import condition_columns as condition_columns
from cdisc.spec.conditions import evaluate_condition
from cdisc.text import number_text

#: lineage columns (as the SDTM engine names them): the dataset and 1-based record behind a row
SOURCE, ROW = "__source__", "__row__"
#: working columns added to a selection of records
SUBJECT, RECORD = "_USUBJID", "_RECORD"
#: days from 0001-01-01 (ordinal 1) to the SAS epoch 1960-01-01
_SAS_EPOCH = _dt.date(1960, 1, 1).toordinal()
_UNIX_TO_SAS = 3653  # days from 1960-01-01 to 1970-01-01
_ISO = r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T[0-9:.,+\-Z]*)?$"
DATE_FLAGS = {"D": "day imputed", "M": "month and day imputed"}


# --------------------------------------------------------------------------- text


def text(values: pd.Series) -> pd.Series:
    """Values as stripped text, missing (None, NaN, blank) as None; whole numbers without
    their decimals (``1.0`` -> ``"1"``), so a sequence number matches IDVARVAL."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        return number_text(values)  # the one way every stage writes numbers as text
    coded = text_coded(values)
    if coded is not None:  # each distinct text once; code -1 (missing): the None at the end
        codes, distinct = coded
        each = pd.Series(distinct, dtype=object)
        out = np.full(len(each) + 1, None, dtype=object)
        present = ~is_missing(each)
        out[:-1][present] = each[present].str.strip().to_numpy(dtype=object)
        return pd.Series(out[codes], index=values.index, dtype=object)
    out = np.full(len(values), None, dtype=object)
    present = ~is_missing(values)
    out[present] = stripped(values[present].astype(str).to_numpy(dtype=object))
    return pd.Series(out, index=values.index, dtype=object)


def text_coded(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Each value's code (-1: missing) and the distinct values of a column of text (or
    nothing): the codes the run made for an SDTM column, else made here. None when some
    value is not text (``1`` and ``1.0`` would be one value while their text differs)."""
    array = values.to_numpy(dtype=object)
    if not all_text(array):
        return None
    known = known_codes(array)
    if known is not None and known.holds:
        return known.codes, known.distinct
    return factorize(array)


def stripped(texts: np.ndarray) -> np.ndarray:
    """Each text (an object array of str) without leading and trailing blanks."""
    return per_distinct(texts, lambda distinct: distinct.str.strip())


def per_distinct(texts: np.ndarray, transform: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``transform`` of an object array of str, applied to each distinct text once.

    A column repeats its values (subject ids, codes, dates: a few thousand distinct
    texts in a million records), and string methods cost per value.
    """
    codes, distinct = factorize(texts)
    return transform(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)[codes]


def per_distinct_text(values: pd.Series, transform: Callable[[pd.Series], pd.Series]
                      ) -> np.ndarray:
    """``transform`` of each value's text ("" for a missing one), applied once per
    distinct value -- from the codes the run made for the column when it has them
    (an SDTM column: :func:`cdisc.model.text.known_codes`), without a text copy of it.

    >>> per_distinct_text(pd.Series([" a", None, " a"]), lambda d: d.str.strip()).tolist()
    ['a', '', 'a']
    """
    codes, table = distinct_text(values, transform)
    return table[codes]


def distinct_text(values: pd.Series, transform: Callable[[pd.Series], pd.Series]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`per_distinct_text` before it is spread to the records: each record's code
    and the transformed text of each code (code -1, a missing value: the last, "")."""
    coded = known_codes(values.to_numpy(dtype=object)) if values.dtype == object else None
    if coded is not None and coded.holds:
        texts = pd.Series(np.append(coded.distinct, ""), dtype=object).astype(str)
        return coded.codes, transform(texts).to_numpy(dtype=object)
    text = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)
    codes, distinct = factorize(text)
    return codes, transform(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)


def objects(values: pd.Series | np.ndarray) -> np.ndarray:
    """An object array with None for every missing value (a character column, even when
    every value is missing: a float NaN column would be written as numeric)."""
    arr = np.asarray(values, dtype=object).copy()
    arr[pd.isna(arr)] = None
    return arr


# --------------------------------------------------------------------------- conditions


def evaluate(cond: Mapping[str, Any] | None, frame: pd.DataFrame) -> pd.Series:
    """The spec condition ``cond`` on every row of ``frame`` (True for ``None``)."""
    return evaluate_condition(cond, frame)


# --------------------------------------------------------------------------- dates


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _month_days(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 1, 12) - 1]
    return days + ((m == 2) & leap)


def iso_dates(values: pd.Series, impute: str = "none", highest: str = "M"
              ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """ISO 8601 text -> (SAS days, imputation flag, unreadable).

    ``impute``: "none" (a partial date gives no date), "first" or "last";
    ``highest``: "D" (only a missing day is imputed) or "M" (month and day).
    ``unreadable`` marks non-missing values that are no ISO 8601 date at all
    (``2012-02-30``, ``12/03/2011``), which the caller reports.
    """
    # a date column repeats its values (one per record, a few thousand distinct dates):
    # each distinct text is read once and the results are spread back to the records
    coded = text_coded(values)
    if coded is not None:  # code -1 (missing): the "" at the end
        codes, distinct = coded
        each = pd.Series(np.append(distinct, ""), dtype=object)
        raw = each.where(~is_missing(each), "").str.strip()
    else:
        texts = values.to_numpy(dtype=object, copy=True)
        texts[is_missing(values)] = ""
        codes, distinct = factorize(pd.Series(texts, dtype=object).astype(str).to_numpy())
        raw = pd.Series(distinct, dtype=object).str.strip()
    days, flags, unreadable = _iso_distinct(raw, impute, highest)
    return (pd.Series(days[codes], index=values.index),
            pd.Series(flags[codes], index=values.index, dtype=object),
            pd.Series(unreadable[codes], index=values.index))


def _iso_distinct(raw: pd.Series, impute: str, highest: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`iso_dates` of stripped texts ("" when missing), as arrays."""
    parts = raw.str.extract(_ISO)
    matched = parts[0].notna().to_numpy()
    has_m, has_d = parts[1].notna().to_numpy(), parts[2].notna().to_numpy()
    y = pd.to_numeric(parts[0], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    m = pd.to_numeric(parts[1], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
    d = pd.to_numeric(parts[2], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
    # what is written must exist: year 0001-9999, month 1-12, a day the month has
    readable = matched & (y >= 1) & (~has_m | ((m >= 1) & (m <= 12)))
    readable &= ~has_d | ((d >= 1) & (d <= _month_days(y, np.clip(m, 1, 12))))
    complete = readable & has_d
    flag = np.full(len(raw), None, dtype=object)
    usable = complete.copy()
    if impute != "none":
        day_only = readable & has_m & ~has_d
        month_too = readable & ~has_m & (highest == "M")
        last = impute == "last"
        m = np.where(month_too, 12 if last else 1, m)
        d = np.where(day_only | month_too, _month_days(y, np.clip(m, 1, 12)) if last else 1, d)
        flag[day_only] = "D"
        flag[month_too] = "M"
        usable |= day_only | month_too
    out = np.full(len(raw), np.nan)
    out[usable] = _days_from_civil(y[usable], m[usable], d[usable]) + _UNIX_TO_SAS
    unreadable = ~raw.eq("").to_numpy() & ~readable
    return out.astype(float), flag, unreadable


def sas_dates(values: pd.Series, impute: str = "none", highest: str = "M"
              ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Any date column -> (SAS days, imputation flag, unreadable); see :func:`iso_dates`."""
    none = pd.Series(None, index=values.index, dtype=object)
    ok = pd.Series(False, index=values.index)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        days = (values - pd.Timestamp("1960-01-01")).dt.days.astype(float)
        return days, none, ok
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        days = values.astype(float)
        return days.where(np.isfinite(days)), none, ok
    return iso_dates(values, impute, highest)


def iso_text(days: float | None) -> str:
    """A SAS date as ISO 8601 text, for messages."""
    if days is None or (isinstance(days, float) and np.isnan(days)):
        return "(none)"
    return _dt.date.fromordinal(int(days) + _SAS_EPOCH).isoformat()


def flag_variable(date_variable: str) -> str | None:
    """The imputation flag of an ADaM date: DTHDT -> DTHDTF, ADT -> ADTF; None for --DTC."""
    return f"{date_variable[:-2]}DTF" if date_variable.endswith("DT") else None


# --------------------------------------------------------------------------- datasets


def frames_of(datasets: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Dataset name (upper case) -> frame; accepts frames or model Datasets."""
    return {str(k).upper(): getattr(v, "frame", v) for k, v in datasets.items()}


def with_supp(frames: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    """The SDTM dataset ``name`` with its SUPP-- qualifiers as columns (QNAM -> QVAL).

    A qualifier whose QNAM is already a variable of the parent is left out: the
    parent's own variable wins.
    """
    base = frames.get(name)
    supp = frames.get(f"SUPP{name}")
    if base is None or supp is None or supp.empty or "USUBJID" not in base.columns:
        return base
    if not {"USUBJID", "QNAM", "QVAL"} <= set(supp.columns):
        return base
    s = pd.DataFrame({
        "USUBJID": text(supp["USUBJID"]),
        "IDVAR": text(supp["IDVAR"]) if "IDVAR" in supp.columns else None,
        "IDVARVAL": text(supp["IDVARVAL"]) if "IDVARVAL" in supp.columns else None,
        "QNAM": text(supp["QNAM"]),
        "QVAL": supp["QVAL"].astype(object).where(~is_missing(supp["QVAL"]), None),
    })
    s = s[s["QNAM"].notna() & ~s["QNAM"].isin(list(base.columns))]
    out = base.copy()
    subject = text(base["USUBJID"])
    for idvar, group in s.groupby(s["IDVAR"].fillna(""), sort=True):
        keys = ["USUBJID"] if idvar == "" else ["USUBJID", "IDVARVAL"]
        if idvar and idvar not in base.columns:
            continue
        wide = group.pivot_table(index=keys, columns="QNAM", values="QVAL", aggfunc="first")
        wide.columns = [str(c) for c in wide.columns]
        left = pd.DataFrame({"USUBJID": subject})
        if idvar:
            left["IDVARVAL"] = text(base[idvar])
        joined = left.merge(wide.reset_index(), on=keys, how="left")
        for qnam in wide.columns:
            if qnam in out.columns:
                out[qnam] = out[qnam].where(~is_missing(out[qnam]), joined[qnam].to_numpy())
            else:
                out[qnam] = joined[qnam].to_numpy()
    return out


class Reader:
    """Record selections from the datasets of one derivation, problems collected.

    ``frames`` are the datasets by name; a dataset's SUPP-- qualifiers are read
    as its columns. Every selection names where in the spec it comes from, so a
    missing dataset or variable is located there.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], locate, problems: ProblemLog,
                 code: str) -> None:
        self.frames = dict(frames)
        self.locate = locate
        self.problems = problems
        self.code = code  # prefix of problem codes, e.g. "ADSL"
        self._cache: dict[str, pd.DataFrame | None] = {}
        self._subjects: dict[str, np.ndarray] = {}  # text(USUBJID) of a dataset read narrow

    def dataset(self, name: str) -> pd.DataFrame | None:
        if name not in self._cache:
            frame = with_supp(self.frames, name) if not name.startswith("AD") else \
                self.frames.get(name)
            if frame is not None:
                # a shallow copy renumbered: the columns added below are the copy's, and
                # the dataset's values are not copied (reset_index would copy them all)
                frame = frame.copy(deep=False)
                frame.index = pd.RangeIndex(len(frame))
                frame[RECORD] = np.arange(1, len(frame) + 1)
                if "USUBJID" in frame.columns:
                    frame[SUBJECT] = text(frame["USUBJID"])
            self._cache[name] = frame
        return self._cache[name]

    def select(self, dataset: str, where: Mapping[str, Any] | None, variables: Iterable[str],
               json_path: tuple, what: str, optional: bool = False,
               narrow: bool = False) -> pd.DataFrame | None:
        """The records of ``dataset`` matching ``where``; None (and a problem) when the
        dataset or a variable it needs is missing. A default rule the spec did not ask for
        is ``optional``: then None without a problem. ``narrow``: only the variables
        named (with their --DTF/--TMF flags), the record number and the subject -- not a
        copy of every variable of a large dataset for one date."""
        variables = list(variables)
        needed = ["USUBJID", *variables, *condition_columns(where)]
        if narrow:
            found = self._narrow(dataset, where, needed, variables)
            if found is not None:
                return found
        frame = self.dataset(dataset)
        if optional and (frame is None or any(v not in frame.columns for v in needed)):
            return None
        if frame is None:
            self.problems.add(f"{self.code}001", f"{what} reads {dataset}, which is not among "
                              f"the datasets given ({', '.join(sorted(self.frames)) or 'none'})",
                              self.locate(json_path, dataset=dataset))
            return None
        absent = [v for v in dict.fromkeys(needed) if v not in frame.columns]
        for var in absent:
            self.problems.add(f"{self.code}002", f"{what} reads {dataset}.{var}, which {dataset} "
                              "does not have (nor its SUPP-- qualifiers)",
                              self.locate(json_path, dataset=dataset, field=var))
        if absent:
            return None
        mask = evaluate(where, frame).to_numpy()
        if narrow:
            return frame.loc[mask, _narrow_columns(frame, needed, variables)]
        return frame[mask]

    def _narrow(self, dataset: str, where: Mapping[str, Any] | None, needed: list[str],
                variables: list[str]) -> pd.DataFrame | None:
        """:meth:`select` ``narrow`` straight from the dataset when its own variables hold
        all it needs (no SUPP-- qualifier): no copy of the whole dataset is made or kept
        (one per dataset would hold every SDTM dataset twice while ADSL looks for dates).
        None when that does not apply."""
        base = self.frames.get(dataset)
        if base is None or dataset.startswith("AD") or dataset in self._cache or any(
                v not in base.columns for v in needed):
            return None
        if where:
            tested = base[list(dict.fromkeys(condition_columns(where)))].reset_index(drop=True)
            rows = np.flatnonzero(evaluate(where, tested).to_numpy())
        else:
            rows = np.arange(len(base))
        # every record: the dataset's own arrays (and the codes the run made for them)
        every = not where
        out = pd.DataFrame({c: base[c].to_numpy() if every else base[c].to_numpy()[rows]
                            for c in _narrow_columns(base, needed, variables)}, index=rows,
                           copy=False)
        out[RECORD] = rows + 1
        if dataset not in self._subjects:
            self._subjects[dataset] = text(base["USUBJID"]).to_numpy(dtype=object)
        out[SUBJECT] = self._subjects[dataset][rows]
        return out

    def dates(self, frame: pd.DataFrame, dataset: str, variable: str, impute: str = "none",
              highest: str = "M") -> tuple[pd.Series, pd.Series]:
        """SAS days and imputation flags of ``frame[variable]``; an unreadable date is an
        error at its record. An ADaM date's flag comes from its --DTF variable."""
        days, flags, bad = sas_dates(frame[variable], impute, highest)
        for i in np.flatnonzero(bad.to_numpy()):
            row = frame.iloc[i]
            self.problems.add(f"{self.code}007", f"{dataset}.{variable} {row[variable]!r} is not "
                              "an ISO 8601 date", Location(
                                  dataset=dataset, usubjid=row.get(SUBJECT),
                                  record=int(row[RECORD]), field=variable,
                                  value=row[variable]))
        companion = flag_variable(variable)
        if companion and companion in frame.columns:  # an ADaM date keeps its own flag
            flags = flags.where(flags.notna(), text(frame[companion]).where(days.notna()))
        return days, flags


def _narrow_columns(frame: pd.DataFrame, needed: list[str], variables: list[str]
                    ) -> list[str]:
    """What a narrow selection keeps of ``frame``: the variables needed, the --DTF/--TMF
    flags of the dates among them, the record number and the subject (when there)."""
    flags = filter(None, (flag_variable(v) for v in variables))
    return [c for c in dict.fromkeys([*needed, *flags, RECORD, SUBJECT]) if c in frame.columns]


def provenance(dataset: str, variable: str, algorithm: str, arguments: Mapping[str, Any],
               *, source: str | None = None, columns: Iterable[str] = (),
               where: Mapping[str, Any] | None = None, json_path: tuple = ()) -> Provenance:
    """A derived variable's provenance (phase "derived")."""
    return Provenance(dataset, variable, algorithm, "derived", dict(arguments), None, source,
                      tuple(dict.fromkeys(columns)), where, tuple(json_path))


def warning(code: str, message: str, location: Location) -> Problem:
    return Problem(code, message, location, Severity.WARNING)
