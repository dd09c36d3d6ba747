"""Locate shipped data (schemas/, mappings/) in a wheel or in a source checkout."""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Traversable:
    """Return the shipped folder ``name`` ("schemas" or "mappings").

    Installed from a wheel, the folders are the sub-packages ``cdisc.schemas``
    and ``cdisc.mappings`` (see pyproject's package-dir). Run from a checkout,
    ``cdisc`` is the source folder and they sit beside it.
    """
    installed = importlib.resources.files("cdisc") / name
    if installed.is_dir():
        return installed
    return _CHECKOUT_ROOT / name


def schemas_dir() -> Traversable:
    return data_dir("schemas")


def mappings_dir() -> Traversable:
    return data_dir("mappings")


def example_spec_path() -> Path:
    """The embedded PEComa example's spec, as a real file path."""
    spec = mappings_dir() / "pecoma" / "pecoma.yaml"
    return Path(str(spec))
