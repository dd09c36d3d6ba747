"""The wheel carries every sub-package and the shipped data (a missing one only shows
after `pip install .`, never in a checkout)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_python_package_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "cdisc").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"] == {"cdisc": "cdisc", "cdisc.schemas": "schemas",
                                     "cdisc.mappings": "mappings"}


def test_shipped_data_matches_the_package_data_patterns():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]
    for package, folder in (("cdisc.schemas", "schemas"), ("cdisc.mappings", "mappings")):
        suffixes = {p.rsplit(".", 1)[-1] for p in patterns[package]}
        shipped = [p for p in (REPO / folder).rglob("*") if p.is_file()
                   and "__pycache__" not in p.parts]
        missing = [str(p.relative_to(REPO)) for p in shipped if p.suffix[1:] not in suffixes]
        assert missing == [], f"not matched by package-data: {missing}"
