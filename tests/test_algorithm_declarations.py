"""Algorithms declare their arguments once; the spec schema and the spec checks follow.

The declarations next to each function (``@algorithm(..., args=..., needs=...)``)
are written into ``schemas/mapping-spec.schema.json`` by
``tools/build_spec_schema.py``; the spec checker works from the schema's
annotations alone. These tests keep the three from drifting apart, and show
that a new algorithm is checked without any change to the checker.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from cdisc.sdtm.registry import algorithm, known_algorithms
from cdisc.spec import check as spec_check
from cdisc.spec import load_spec
from cdisc.spec.algorithms import (
    KINDS,
    Arg,
    Declaration,
    declared_algorithms,
    mapping_defs,
    signature_problems,
)
from cdisc.spec.check import check_spec
from cdisc.spec.schema import spec_algorithms, spec_schema

from helpers import MINI_FILES, MINI_SPEC, write_study

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "mapping-spec.schema.json"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_spec_schema",
                                                  ROOT / "tools" / "build_spec_schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_schema_is_what_the_declarations_generate():
    text = SCHEMA.read_text(encoding="utf-8")
    assert _tool().build(text) == text, (
        "schemas/mapping-spec.schema.json is out of date: run python tools/build_spec_schema.py")


def test_every_function_signature_matches_its_declaration():
    for name, algo in known_algorithms().items():
        assert signature_problems(algo.declaration, algo.func) == [], name
        assert algo.declaration.description, f"{name}: give the function a docstring"


def test_a_signature_that_differs_from_its_declaration_does_not_register():
    with pytest.raises(TypeError, match="'cut' is declared but not a keyword-only"):
        @algorithm("test_wrong_signature", "record", args={
            "column": Arg.column("a column", required=True),
            "cut": Arg.value("a number", {"type": "integer"})})
        def wrong(src, ctx, *, column):
            """Not registered."""
    with pytest.raises(TypeError, match="'column' is required but the parameter has default"):
        @algorithm("test_wrong_default", "record", args={
            "column": Arg.column("a column", required=True)})
        def wrong_default(src, ctx, *, column=None):
            """Not registered."""
    assert "test_wrong_signature" not in known_algorithms()


def test_the_checker_reads_back_what_each_algorithm_declares():
    declared = spec_algorithms()
    registered = known_algorithms()
    assert set(declared) == set(registered)
    for name, algo in registered.items():
        found = declared[name]
        assert found.phase == algo.phase
        assert found.needs == tuple(tuple(n.split(".")) for n in algo.declaration.needs)
        assert found.copies == algo.declaration.copies
    assert declared["study_day"].needs == (("DM", "RFSTDTC"),)
    assert declared["epoch"].needs == (("DM", "RFXSTDTC"), ("DM", "RFXENDTC"))


def _refers(node):
    if isinstance(node, dict):
        if "x-refers" in node:
            yield node["x-refers"]
        for value in node.values():
            yield from _refers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refers(value)


def test_every_kind_of_reference_has_a_check():
    assert set(spec_check._REFERS) == set(KINDS)
    assert set(_refers(spec_schema())) <= set(KINDS)


def test_every_algorithm_has_a_line_in_the_spec_format_docs():
    docs = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", docs, flags=re.MULTILINE))
    assert set(known_algorithms()) <= listed


def _imports(path: Path, package: tuple[str, ...]) -> list[str]:
    """Absolute names of every module (or name) a file imports, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            out += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    return out


def test_the_spec_layer_imports_no_later_stage():
    forbidden = {"sdtm", "adam", "sources", "validate", "output", "formats", "pipeline", "cli"}
    for path in sorted((ROOT / "cdisc" / "spec").glob("*.py")):
        for name in _imports(path, ("cdisc", "spec")):
            parts = name.split(".")
            assert not (parts[0] == "cdisc" and len(parts) > 1 and parts[1] in forbidden), (
                f"cdisc/spec/{path.name} imports {name}")


def test_moved_names_are_the_same_objects_at_their_old_places():
    from cdisc.adam.recist import RecistOptions as from_adam
    from cdisc.sdtm.conditions import describe_condition as from_sdtm
    from cdisc.sdtm.dates import check_format as from_dates
    from cdisc.spec.conditions import describe_condition
    from cdisc.spec.dateformats import check_format
    from cdisc.spec.model import RecistOptions

    assert from_adam is RecistOptions
    assert from_dates is check_format
    assert from_sdtm is describe_condition


# -- a new algorithm is checked from its declaration alone -----------------------------

NEW = Declaration("shift_date", "domain", needs=("EX.EXSTDTC", "EX.EXNOPE"), args={
    "dtc": Arg.variable("the date to shift", required=True),
    "layout": Arg.date_format("how to write it"),
    "codes": Arg.list_of("codes", Arg.record({
        "codelist": Arg.codelist("a codelist", required=True),
        "term": Arg.term("one of its terms", of="codelist", required=True)})),
})


def _with(declaration: Declaration) -> dict:
    schema = json.loads(json.dumps(spec_schema()))
    defs = schema["$defs"]
    generated = mapping_defs({declaration.name: declaration})
    defs["mapping"]["properties"]["algorithm"]["enum"].append(declaration.name)
    defs.update(generated["args"])
    return schema


def test_a_new_algorithm_is_checked_without_a_change_to_the_checker(tmp_path):
    spec = load_spec(write_study(tmp_path, MINI_SPEC, MINI_FILES))
    ae = spec.domains["AE"]
    derive = {**ae.derive, "AEENDTC": {
        "algorithm": "shift_date", "dtc": "AENDTC", "layout": "DD/MM",
        "codes": [{"codelist": "SEX", "term": "X"}, {"codelist": "NOPE", "term": "Y"}]}}
    spec = replace(spec, domains={**spec.domains, "AE": replace(ae, derive=derive)})
    problems = list(check_spec(spec, declared_algorithms(_with(NEW))))
    found = [(p.code, p.location.json_path) for p in problems]
    where = "$.domains.AE.derive.AEENDTC"
    assert found == [
        ("SPEC019", f"{where}.dtc"),  # AENDTC is not mapped in AE
        ("SPEC021", f"{where}.layout"),  # DD/MM has no year
        ("SPEC016", f"{where}.codes[0].term"),  # X is not a term of SEX (C66731)
        ("SPEC015", f"{where}.codes[1].codelist"),
        ("SPEC019", where),  # EX.EXNOPE is not derived
    ]
    assert "shift_date reads EX.EXNOPE" in problems[-1].message
    # used in a record block, it is in the wrong place
    block = spec.domains["AE"].records[0]
    moved = replace(block, map={**block.map, "AEENDTC": derive["AEENDTC"]})
    spec = replace(spec, domains={**spec.domains, "AE": replace(
        spec.domains["AE"], records=(moved,), derive=ae.derive)})
    found = [(p.code, p.location.json_path) for p in check_spec(spec,
                                                                 declared_algorithms(_with(NEW)))]
    assert found == [("SPEC013", "$.domains.AE.records[0].map.AEENDTC.algorithm")]


def test_declarations_are_checked_when_made():
    with pytest.raises(ValueError, match="a term needs of="):
        Declaration("x", "record", args={"t": Arg("term", "a term")})
    with pytest.raises(ValueError, match="phase 'row'"):
        Declaration("x", "row")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a key every mapping has"):
        Declaration("x", "record", args={"label": Arg.value("text", {"type": "string"})})
    with pytest.raises(ValueError, match="not DOMAIN.VARIABLE"):
        Declaration("x", "domain", needs=("RFSTDTC",))
    with pytest.raises(ValueError, match="copies='value' is not a column"):
        Declaration("x", "record", copies="value",
                    args={"value": Arg.value("text", {"type": "string"})})
