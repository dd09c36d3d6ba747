"""The layers import in one direction only (issue 9), read from the source with ``ast``.

spec -> sources -> sdtm -> adam -> validate -> output, with a foundation every
layer may use. The validator checks datasets whoever produced them, so it uses
nothing of the producers; ADaM derives from SDTM datasets, never from raw
records, so it does not read sources; the dataset model imports nothing of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cdisc"

#: modules and packages under cdisc/ that any layer may import
FOUNDATION = {"model", "errors", "limits", "text", "text_safety", "resources", "standards",
              "formats", "workers", "forked", "heap", "__init__"}

#: what each layer may import besides the foundation (and itself)
ALLOWED = {
    "model": set(),
    "formats": set(),
    "spec": set(),
    "sources": {"spec"},
    "sdtm": {"spec", "sources"},
    "adam": {"spec"},
    "validate": set(),
    "output": {"spec", "sources", "sdtm", "adam", "validate"},
}

#: foundation modules and what of ours they may import
FOUNDATION_ALLOWED = {
    "model": set(),
    "errors": {"limits", "text_safety"},
    "limits": set(),
    "text": set(),
    "text_safety": set(),
    "resources": set(),
    "standards": {"errors", "resources"},
    "formats": {"model", "errors", "workers"},
    "workers": set(),
    "forked": {"workers"},
    "heap": set(),
    "__init__": set(),
}


def _imports(path: Path) -> set[str]:
    """Top-level names under cdisc that a module imports (``cdisc.sdtm.engine`` -> ``sdtm``).

    ``from cdisc import x`` (or ``from .. import x`` reaching cdisc) names the
    submodule ``x`` when there is one, else an attribute of cdisc/__init__.py.
    """
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = module[:-1]  # the package a relative import starts from (also for __init__)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom):
            base = (list(package[: len(package) - node.level + 1]) if node.level else [])
            target = [*base, *(node.module.split(".") if node.module else [])]
            if target == ["cdisc"]:
                targets += [["cdisc", alias.name] for alias in node.names]
            else:
                targets.append(target)
        elif isinstance(node, ast.Import):
            targets += [alias.name.split(".") for alias in node.names]
        for target in targets:
            if target[0] != "cdisc":
                continue
            name = target[1] if len(target) > 1 else "__init__"
            exists = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
            found.add(name if exists else "__init__")
    return found


def _layer(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "schemas" not in p.parts
                  and "mappings" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    layer = _layer(path)
    imported = _imports(path) - {layer}
    if layer in FOUNDATION_ALLOWED:
        allowed = FOUNDATION_ALLOWED[layer]
    elif layer in ALLOWED:
        allowed = FOUNDATION | ALLOWED[layer]
    else:  # pipeline, cli, __main__, report_console: the top, may use everything
        return
    assert imported <= allowed, (
        f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(imported - allowed)}")


def test_the_model_imports_nothing_of_ours():
    for path in (PACKAGE / "model").rglob("*.py"):
        assert _imports(path) <= {"model"}, path
