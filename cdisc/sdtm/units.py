"""Results in a standard unit: a size collected in cm as mm in --STRESN.

The conversion factors are data, ``schemas/metadata/unit-conversions.csv``: each
unit (a CDISC CT UNIT submission value, C71620) with its dimension (length, mass,
volume) and its size in the dimension's base unit, written as exact decimals
with their source. A value converts from one unit to another of the same
dimension by the ratio of the two factors, computed exactly (fractions) and
applied once, and the result is rounded to 12 significant digits so that float
noise never shows (2.5 cm is 25 mm, not 25.000000000000004).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
import pandas as pd

from ..resources import schemas_dir
from .ct import resolve_codelist
from .primitives import as_text
from .registry import Arg, MappingContext, algorithm

_TABLE = ("metadata", "unit-conversions.csv")
#: significant digits a converted result keeps
SIGNIFICANT_DIGITS = 12


@dataclass(frozen=True)
class Unit:
    name: str  # CT UNIT submission value, e.g. "mm"
    dimension: str  # length / mass / volume
    factor: Fraction  # size in the dimension's base unit
    base: str


@cache
def conversion_table() -> dict[str, Unit]:
    """The units of ``schemas/metadata/unit-conversions.csv`` by submission value."""
    resource = schemas_dir()
    for part in _TABLE:
        resource = resource / part
    rows = csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8")))
    return {r["unit"]: Unit(r["unit"], r["dimension"], Fraction(r["factor"]), r["base"])
            for r in rows}


def conversion_factor(source: str, target: str) -> float:
    """How many ``target`` units one ``source`` unit is: ``conversion_factor("cm", "mm")`` is 10.

    Raises KeyError for a unit not in the table and ValueError across dimensions.
    """
    table = conversion_table()
    a, b = table[source], table[target]
    if a.dimension != b.dimension:
        raise ValueError(f"{source} is a {a.dimension} unit and {target} a {b.dimension} unit")
    return float(a.factor / b.factor)


def round_significant(values: pd.Series, digits: int = SIGNIFICANT_DIGITS) -> pd.Series:
    """Each number rounded to ``digits`` significant digits (vectorised; NaN and 0 stay)."""
    x = values.to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(x)))
    scale = np.where(np.isfinite(magnitude), digits - 1 - magnitude, 0)
    # round(x * 10^s) / 10^s gives the double nearest the rounded decimal
    power = np.power(10.0, scale)
    out = np.where(np.isfinite(magnitude), np.round(x * power) / power, x)
    return pd.Series(out, index=values.index, dtype="float64")


def _unit_names() -> list[str]:
    return sorted(conversion_table())


@algorithm("convert_unit", "record", args={
    "column": Arg.column("the collected result", types=("integer", "number"), required=True),
    "unit_column": Arg.column("the column holding each result's collected unit"),
    "unit": Arg.value("the unit results were collected in (every row, or the rows whose "
                      "unit cell is empty)", {"enum": _unit_names()}),
    "codelist": Arg.codelist("a study_ct entry mapping collected unit spellings (Centimetre) "
                             "to UNIT submission values"),
    "to": Arg.value("the standard unit (--STRESU)", {"enum": _unit_names()}, required=True),
})
def convert_unit(src: pd.DataFrame, ctx: MappingContext, *, column: str, to: str,
                 unit_column: str | None = None, unit: str | None = None,
                 codelist: str | None = None) -> pd.Series:
    """A numeric result in the unit ``to``: ``{column: size, unit: cm, to: mm}`` makes 2.5 -> 25.

    The collected unit is the row's ``unit_column`` value (through ``codelist``'s
    map when given), else ``unit``. A unit not in the conversion table, or of
    another dimension than ``to`` (mg -> mm), is an error at the row (MAP025).
    Map --STRESU with ``hardcode_ct`` (``value: mm, codelist: UNIT``).
    """
    values = pd.to_numeric(src[column], errors="coerce")
    if unit_column is None and unit is None:
        ctx.problems.add("MAP025", f"{ctx.domain}.{ctx.variable}: convert_unit needs the "
                         "collected unit: give unit_column or unit",
                         ctx.spec.locate(ctx.json_path))
        return pd.Series(np.nan, index=src.index, dtype="float64")
    units = pd.Series(unit, index=src.index, dtype=object)
    where = column
    if unit_column is not None:
        collected = as_text(src[unit_column])
        if codelist is not None:
            mapped = collected.map(resolve_codelist(ctx.spec, codelist).map)
            collected = mapped.where(mapped.notna(), collected)
        units = collected.where(collected.notna(), unit)
        where = unit_column
    table = conversion_table()
    factors = {name: conversion_factor(name, to) for name, u in table.items()
               if u.dimension == table[to].dimension}
    factor = units.map(factors).astype("float64")
    present = values.notna()
    unknown = present & units.notna() & ~units.isin(list(table))
    other = present & units.isin(list(table)) & factor.isna()
    no_unit = present & units.isna()
    ctx.report("MAP025", "the unit is not in the conversion table "
               "(schemas/metadata/unit-conversions.csv); map it to a UNIT submission value "
               f"({', '.join(_unit_names())})", src, unknown, where, units)
    ctx.report("MAP025", f"the unit is not a {table[to].dimension} unit, so the result cannot "
               f"be given in {to}", src, other, where, units)
    ctx.report("MAP025", "the result has no unit", src, no_unit, where, values)
    return round_significant(values * factor)


__all__ = ["SIGNIFICANT_DIGITS", "Unit", "conversion_factor", "conversion_table",
           "convert_unit", "round_significant"]
