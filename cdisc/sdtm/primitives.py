"""Record-phase mapping algorithms: the sdtm.oak vocabulary, one function each.

Each takes the block's source rows ``src`` (joined columns appear as
``source.column``) and returns a Series aligned with it. Bad records are
reported through ``ctx.report`` and come back missing.
"""

from __future__ import annotations

import keyword
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Severity
from ..sources.reader import ROW
from ..spec.algorithms import COMMON_KEYS
from ..text import number_text
from .conditions import evaluate_condition
from .ct import resolve_codelist
from .dates import combine_date_time, to_iso8601
from .distinct import per_distinct
from .matching import loose_ct_values
from .registry import Arg, MappingContext, algorithm, get_algorithm

#: keys of a mapping that describe it (define.xml, SUPPQUAL) rather than compute it
DESCRIPTIVE_KEYS = frozenset(COMMON_KEYS)

_ZFILL = Arg.value("left-pad the value with zeros to this many characters (7 -> 007 for 3)",
                   {"type": "integer", "minimum": 1, "maximum": 20})
_DATE_TYPES = ("date", "datetime", "time")


def evaluate(mapping: dict[str, Any], frame: pd.DataFrame, ctx: MappingContext) -> pd.Series:
    """Run the algorithm a mapping names on ``frame``."""
    algo = get_algorithm(mapping["algorithm"])
    kwargs = {
        (f"{k}_" if keyword.iskeyword(k) else k): v
        for k, v in mapping.items()
        if k not in DESCRIPTIVE_KEYS
    }
    result = algo.func(frame, ctx, **kwargs)
    return result.reindex(frame.index)


def as_text(values: pd.Series) -> pd.Series:
    """Numbers as SAS would print them as text: 3.0 -> "3", 2.5 -> "2.5".

    Text stays as it is; an object column mixing text and numbers (from a
    ``condition`` with numeric and text branches) has its numbers converted.
    See :func:`cdisc.text.number_text`.
    """
    if values.dtype == object:
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            return values  # the common case, decided in C without a per-cell call
        numeric = values.map(type).isin(_NUMBER_TYPES)
        if not numeric.any():
            return values
        out = values.copy()
        out[numeric] = _number_text(values[numeric])
        return out
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    return _number_text(values)


def _number_text(numbers: pd.Series) -> pd.Series:
    """:func:`cdisc.text.number_text` once per distinct number (a diameter column holds a
    few dozen): the rows share its text, which saves a conversion and a string per record.
    The text depends on the number's value alone, so equal numbers may share it."""
    codes, distinct = pd.factorize(numbers, use_na_sentinel=True)
    text = np.append(number_text(pd.Series(distinct)).to_numpy(dtype=object), None)
    return pd.Series(text[codes], index=numbers.index, dtype=object)


_NUMBER_TYPES = (int, float, np.int64, np.float64, np.int32, np.float32)


@algorithm("assign", "record", copies="column", args={
    "column": Arg.column("the source column", required=True),
    "zfill": _ZFILL,
})
def assign(src: pd.DataFrame, ctx: MappingContext, *, column: str,
           zfill: int | None = None) -> pd.Series:
    """Copy a source column unchanged (``assign_no_ct`` in sdtm.oak).

    ``zfill`` left-pads identifiers with zeros: ``7`` -> ``"007"`` for ``zfill: 3``.

    >>> assign(pd.DataFrame({"age": [26, 63]}), None, column="age").tolist()
    [26, 63]
    """
    values = src[column]
    if zfill:
        text = as_text(values)
        padded = per_distinct(text, lambda d: d.astype("string").str.zfill(zfill).astype(object))
        other = (pd.Series(padded, index=text.index, dtype=object) if padded is not None
                 else text.astype("string").str.zfill(zfill))
        return text.where(text.isna(), other).astype(object)
    return values


@algorithm("hardcode", "record", args={
    "value": Arg.value("the value of every record", {"type": ["string", "number"]},
                       required=True),
})
def hardcode(src: pd.DataFrame, ctx: MappingContext, *, value: Any) -> pd.Series:
    """The same value on every record (``hardcode_no_ct``).

    >>> hardcode(pd.DataFrame(index=[0, 1]), None, value="mg").tolist()
    ['mg', 'mg']
    """
    return pd.Series(value, index=src.index, dtype=object)


@algorithm("hardcode_ct", "record", args={
    "value": Arg.term("the submission value of every record", of="codelist", required=True),
    "codelist": Arg.codelist("the codelist the value is a term of", required=True),
})
def hardcode_ct(src: pd.DataFrame, ctx: MappingContext, *, value: str,
                codelist: str) -> pd.Series:
    """A fixed CDISC submission value; the spec check proves it is in ``codelist``.

    >>> hardcode_ct(pd.DataFrame(index=[0]), None, value="ORAL", codelist="ROUTE").tolist()
    ['ORAL']
    """
    return hardcode(src, ctx, value=value)


@algorithm("assign_ct", "record", args={
    "column": Arg.column("the source column of collected values", required=True),
    "codelist": Arg.codelist("the study_ct entry (or CDISC codelist) that maps them",
                             required=True),
    "ignore_case": Arg.value("match the map and the submission values ignoring case and "
                             "blanks (female, Female, F -> F)", {"type": "boolean"}),
})
def assign_ct(src: pd.DataFrame, ctx: MappingContext, *, column: str,
              codelist: str, ignore_case: bool = False) -> pd.Series:
    """Collected value -> submission value through the study CT map.

    A value already equal to a submission value of the codelist passes
    unchanged; anything else is an error naming the record (never guessed).
    With ``study_ct: {SEX: {codelist: C66731, map: {Female: F}}}``,
    ``Female`` -> ``F``, ``F`` -> ``F``, ``female`` -> error; with ``ignore_case: true``
    ``female`` and ``f`` -> ``F`` too (:mod:`cdisc.sdtm.matching`).
    """
    resolved = resolve_codelist(ctx.spec, codelist)
    values = as_text(src[column])
    reported = pd.Series(False, index=src.index)
    if ignore_case:
        out, reported = loose_ct_values(src, ctx, column, values, resolved)
    else:
        def submission(collected: pd.Series) -> pd.Series:
            mapped = collected.map(resolved.map)
            direct = collected.where(collected.isin(list(resolved.codelist.terms)))
            return mapped.where(mapped.notna(), direct)

        # once per distinct collected value (a column of a few terms over every record)
        found = per_distinct(values, lambda d: submission(d).astype(object))
        out = (pd.Series(found, index=values.index, dtype=object) if found is not None
               else submission(values))
    failed = values.notna() & out.isna() & ~reported
    ctx.report(
        "MAP001",
        f"value is not in the study CT map {codelist!r} and is not a submission value of "
        f"{resolved.codelist.code} ({resolved.codelist.short_name})",
        src, failed, column, values,
    )
    return out.astype(object).where(out.notna(), None)


@algorithm("assign_datetime", "record", args={
    "column": Arg.column("the collected date (or datetime) column", types=_DATE_TYPES,
                         required=True),
    "time_column": Arg.column("a collected time column, joined to complete dates",
                              types=_DATE_TYPES),
})
def assign_datetime(src: pd.DataFrame, ctx: MappingContext, *, column: str,
                    time_column: str | None = None) -> pd.Series:
    """Collected date (and time) in the column's declared format(s) -> ISO 8601.

    Partial dates stay partial (``UN-JUL-2012`` -> ``2012-07``); impossible
    dates (``30-FEB-2012``) are errors. See :mod:`cdisc.sdtm.dates`.
    """
    spec = ctx.column_spec(column)
    iso, problems = to_iso8601(src[column], spec.formats if spec else ())
    for reason, rows in problems.groupby("reason").groups.items():
        mask = pd.Series(src.index.isin(rows), index=src.index)
        ctx.report("MAP002", f"date {reason}", src, mask, column)
    if time_column:
        tspec = ctx.column_spec(time_column)
        times, tproblems = to_iso8601(src[time_column], tspec.formats if tspec else ())
        mask = pd.Series(src.index.isin(tproblems.index), index=src.index)
        ctx.report("MAP002", "time is not a valid time in the declared format", src, mask,
                   time_column)
        iso = combine_date_time(iso.astype("string"), times.astype("string")).astype(object)
        iso = iso.where(pd.notna(iso), None)
    return iso


@algorithm("condition", "record", args={
    "cases": Arg.list_of("the cases, in order: the first whose when holds computes the value",
                         Arg.record({"when": Arg.condition(required=True),
                                     "then": Arg.mapping(required=True)}), required=True),
    "else": Arg.mapping("the mapping for rows no case holds for"),
})
def condition(src: pd.DataFrame, ctx: MappingContext, *, cases: list[dict[str, Any]],
              else_: dict[str, Any] | None = None) -> pd.Series:
    """If/else-if/else: the first case whose ``when`` holds computes the value.

    Each branch runs only on its own rows, so a branch's checks (CT, dates)
    never fire on records the branch does not apply to::

        algorithm: condition
        cases:
          - when: {column: ongoing, equals: "Yes"}
            then: {algorithm: hardcode, value: ONGOING}
        else: {algorithm: hardcode, value: BEFORE}
    """
    out = pd.Series(None, index=src.index, dtype=object)
    remaining = pd.Series(True, index=src.index)
    for case in cases:
        hit = remaining & evaluate_condition(case["when"], src)
        if hit.any():
            out[hit] = evaluate(case["then"], src[hit], ctx)
        remaining &= ~hit
    if else_ is not None and remaining.any():
        out[remaining] = evaluate(else_, src[remaining], ctx)
    return out


def _subject_column(ctx: MappingContext, source: str) -> str:
    return ctx.spec.sources[source].subject


@algorithm("lookup", "record", args={
    "source": Arg.source("the source to take the column from", required=True),
    "column": Arg.column("the column of that source", of="source", required=True),
    "on": Arg.column("the key column of the block's source (default: its subject column)",
                     key=True, schema={"$ref": "#/$defs/identifier"}),
    "right_on": Arg.column("the key column of the other source (default: its subject "
                           "column)", of="source", key=True,
                           schema={"$ref": "#/$defs/identifier"}),
    "required": Arg.value("every row must find a match (default true)", {"type": "boolean"}),
})
def lookup(src: pd.DataFrame, ctx: MappingContext, *, source: str, column: str,
           on: str | None = None, right_on: str | None = None,
           required: bool = True) -> pd.Series:
    """Take ``column`` from another source, matched on a key (a many-to-one merge).

    ``on`` defaults to the block source's subject column and ``right_on`` to
    the other source's; the other source must have one row per key.
    """
    table = ctx.sources[source].frame
    right_key = right_on or _subject_column(ctx, source)
    left_key = on or ctx.spec.sources[ctx.block_source or source].subject
    right = table[[right_key, column, ROW]].dropna(subset=[right_key])
    dup = right[right_key].duplicated(keep=False)
    if dup.any():
        ctx.report("MAP003", f"lookup source {source!r} has several rows for one {right_key}",
                   table.loc[right.index], dup, right_key)
        right = right[~right[right_key].duplicated(keep="first")]
    keys = as_text(src[left_key])
    index = pd.Series(right.index, index=as_text(right[right_key]).to_numpy())
    matched = keys.map(index)
    if required:
        ctx.report("MAP004", f"no row in {source!r} with {right_key} equal to this record's "
                   f"{left_key}", src, src[left_key].notna() & matched.isna(), left_key)
    used = table.loc[matched.dropna().astype(int).unique(), ROW]
    ctx.used_rows.setdefault(source, set()).update(int(r) for r in used)
    values = table[column].reindex(matched.to_numpy())
    return pd.Series(values.to_numpy(), index=src.index)


@algorithm("coalesce", "record", args={
    "of": Arg.list_of("the mappings, in order", Arg.mapping(), min_items=2, required=True),
})
def coalesce(src: pd.DataFrame, ctx: MappingContext, *, of: list[dict[str, Any]]) -> pd.Series:
    """The first non-missing value of several mappings, in order.

    E.g. the death date, else the last contact date.
    """
    out = pd.Series(None, index=src.index, dtype=object)
    for mapping in of:
        todo = out.isna()
        if not todo.any():
            break
        out[todo] = evaluate(mapping, src[todo], ctx)
    return out


@algorithm("usubjid", "record", args={
    "column": Arg.column("the subject identifier column", required=True),
    "zfill": _ZFILL,
})
def usubjid(src: pd.DataFrame, ctx: MappingContext, *, column: str,
            zfill: int | None = None) -> pd.Series:
    """STUDYID + separator + subject id: ``PECOMA`` and ``3`` -> ``PECOMA-003`` (zfill 3)."""
    subject = assign(src, ctx, column=column, zfill=zfill)
    subject = as_text(subject) if zfill is None else subject
    prefix = ctx.spec.study.studyid + ctx.spec.study.usubjid_separator
    joined = per_distinct(subject, lambda d: (prefix + d.astype("string")).astype(object))
    out = (pd.Series(joined, index=subject.index, dtype=object, name=subject.name)
           if joined is not None
           else (prefix + subject.astype("string")).astype(object))
    ctx.report("MAP005", "subject identifier is missing", src, subject.isna(), column,
               severity=Severity.ERROR)
    return out.where(subject.notna(), None)


@algorithm("visitnum", "record", args={
    "column": Arg.column("the collected visit name column", required=True),
})
def visitnum(src: pd.DataFrame, ctx: MappingContext, *, column: str) -> pd.Series:
    """VISITNUM from the collected visit name through the spec's ``visits:`` table.

    With ``visits: {BASELINE: 0, WEEK 8: 8}``, ``WEEK 8`` -> 8; a visit not in the
    table is an error naming the record (planned visits are study design, TV).
    """
    numbers = as_text(src[column]).map(ctx.spec.visits)  # the visits table is keyed by text
    ctx.report("MAP009", "visit name is not in the spec's visits: table", src,
               src[column].notna() & numbers.isna(), column)
    return numbers.astype("float64")


__all__ = [
    "as_text",
    "assign",
    "assign_ct",
    "assign_datetime",
    "coalesce",
    "condition",
    "evaluate",
    "hardcode",
    "hardcode_ct",
    "lookup",
    "usubjid",
    "visitnum",
]
