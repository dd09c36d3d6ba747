"""format (text from several columns) and convert_unit (results in a standard unit)."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from cdisc import standards
from cdisc.errors import CdiscError, ProblemLog
from cdisc.sdtm.registry import MappingContext
from cdisc.sdtm.text_format import format_text
from cdisc.sdtm.units import conversion_factor, conversion_table, convert_unit
from cdisc.sources import read_sources
from cdisc.spec import load_spec
from cdisc.spec.algorithms import template_fields, template_parts

from helpers import MINI_FILES, MINI_SPEC, write_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ctx(mini_study) -> MappingContext:
    spec = load_spec(mini_study)
    problems = ProblemLog()
    return MappingContext(spec, read_sources(spec, problems), problems).at(
        "EX", "EXDOSRGM", ("domains", "EX", "records", 0))


def frame(**columns) -> pd.DataFrame:
    data = pd.DataFrame(columns)
    data["__source__"] = "doses"
    data["__row__"] = range(2, 2 + len(data))
    return data


# -- format --------------------------------------------------------------------------------

def test_template_language():
    assert template_parts("CYCLE {cycle} DAY {day}") == [("CYCLE ", "cycle"), (" DAY ", "day")]
    assert template_fields("{a} {{literal}} {pts.site} {a}") == ["a", "pts.site"]
    for bad in ("CYCLE {cycle", "{}", "{day!r}", "{day:>3}", "x}"):
        with pytest.raises(ValueError):
            template_parts(bad)


def test_format_builds_text_and_errors_on_a_missing_part_by_default(ctx):
    src = frame(cycle=[1.0, 2.0, None, 3.0], day=[1.0, 8.0, 15.0, None])
    out = format_text(src, ctx, template="CYCLE {cycle} DAY {day}")
    assert out.tolist() == ["CYCLE 1 DAY 1", "CYCLE 2 DAY 8", None, None]
    assert [(p.code, p.location.row, p.location.field) for p in ctx.problems] == [
        ("MAP022", 4, "cycle"), ("MAP022", 5, "day")]


def test_format_null_and_omit(ctx):
    src = frame(site=["LIVER", "LUNG", None], detail=["segment 4", None, None])
    assert format_text(src, ctx, template="{site} ({detail})", missing="null").tolist() == [
        "LIVER (segment 4)", None, None]
    assert format_text(src, ctx, template="{site}  {detail}", missing="omit").tolist() == [
        "LIVER  segment 4", "LUNG", None]  # rows with every part keep their blanks
    assert len(ctx.problems) == 0


def test_format_placeholders_are_checked_at_spec_check(tmp_path):
    line = "          EXDOSE: {algorithm: assign, column: dose}\n"
    for template, expected in (("CYCLE {cycle}", "SPEC014"), ("DOSE {dose", "SPEC061"),
                               ("no placeholder", "SPEC061")):
        spec = MINI_SPEC.replace(line, line + "          EXDOSRGM: {algorithm: format, "
                                 f"template: '{template}'}}\n")
        with pytest.raises(CdiscError) as caught:
            load_spec(write_study(tmp_path / expected / str(len(template)), spec, MINI_FILES))
        assert [(p.code, p.location.json_path) for p in caught.value.problems] == [
            (expected, "$.domains.EX.records[0].map.EXDOSRGM.template")]


def test_format_placeholders_count_as_read_and_as_provenance(tmp_path):
    line = "          EXDOSE: {algorithm: assign, column: dose}\n"
    spec_text = MINI_SPEC.replace(line, line + "          EXDOSRGM: {algorithm: format, "
                                  "template: '{dose} mg from {start}'}\n")
    spec = load_spec(write_study(tmp_path, spec_text, MINI_FILES))
    from cdisc.sdtm.engine import block_provenance

    (made,) = [p for p in block_provenance(spec) if p.variable == "EXDOSRGM"]
    assert made.source_columns == ("dose", "start")


# -- convert_unit --------------------------------------------------------------------------

def test_every_unit_of_the_table_is_a_ct_unit_with_its_preferred_term():
    unit = standards.codelist("C71620")
    with (ROOT / "schemas" / "metadata" / "unit-conversions.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(conversion_table()) == 23
    for row in rows:
        assert unit.terms[row["unit"]].preferred_term == row["preferred_term"], row["unit"]
        assert row["dimension"] in ("length", "mass", "volume") and row["source"]


def test_conversion_factors_are_exact_ratios():
    assert conversion_factor("cm", "mm") == 10.0
    assert conversion_factor("in", "mm") == 25.4
    assert conversion_factor("LB", "kg") == 0.45359237
    assert conversion_factor("oz", "g") == 28.349523125
    assert conversion_table()["oz"].factor * 16 == conversion_table()["LB"].factor
    assert conversion_factor("mL", "dL") == float(Fraction(1, 100))
    with pytest.raises(ValueError, match="mass unit"):
        conversion_factor("mg", "mm")


def test_convert_unit_from_a_fixed_unit_without_float_noise(ctx):
    src = frame(size=[2.5, 1.1, 0.3, None])
    out = convert_unit(src, ctx, column="size", unit="cm", to="mm")
    assert out.tolist()[:3] == [25.0, 11.0, 3.0] and pd.isna(out[3])
    assert convert_unit(frame(w=[1.1]), ctx, column="w", unit="in", to="mm").tolist() == [27.94]
    assert len(ctx.problems) == 0


def test_convert_unit_per_row_with_a_study_map_and_located_errors(tmp_path):
    entry = "  SEX: {codelist: C66731, map: {Female: F, Male: M}}\n"
    spec = load_spec(write_study(tmp_path, MINI_SPEC.replace(
        entry, entry + "  UNITS: {codelist: C71620, map: {Centimetre: cm}}\n"), MINI_FILES))
    ctx = MappingContext(spec, {}, ProblemLog()).at("EX", "EXDOSE", ())
    src = frame(size=[25.0, 2.5, 1.0, 3.0, 4.0, 5.0],
                unit=["mm", "Centimetre", "cm", "mg", "furlong", None])
    out = convert_unit(src, ctx, column="size", unit_column="unit", codelist="UNITS", to="mm")
    assert out.tolist()[:3] == [25.0, 25.0, 10.0] and out[3:].isna().all()
    found = [(p.code, p.location.row, p.location.field, p.location.value) for p in ctx.problems]
    assert found == [("MAP025", 6, "unit", "furlong"), ("MAP025", 5, "unit", "mg"),
                     ("MAP025", 7, "unit", 5.0)]
    assert [p.message.split(";")[0].split(",")[0] for p in ctx.problems] == [
        "EX.EXDOSE: the unit is not in the conversion table "
        "(schemas/metadata/unit-conversions.csv)",
        "EX.EXDOSE: the unit is not a length unit", "EX.EXDOSE: the result has no unit"]
    # an empty unit cell falls back to the fixed unit
    again = convert_unit(frame(size=[5.0], unit=[None]), ctx, column="size",
                         unit_column="unit", unit="cm", to="mm")
    assert again.tolist() == [50.0]


def test_convert_unit_needs_a_unit(ctx):
    assert convert_unit(frame(size=[1.0]), ctx, column="size", to="mm").isna().all()
    (problem,) = ctx.problems
    assert problem.code == "MAP025" and problem.location.json_path == "$.domains.EX.records[0]"
