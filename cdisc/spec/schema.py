"""The mapping spec's JSON Schema, and the algorithms it declares.

``schemas/mapping-spec.schema.json`` is the spec's shape (the loader validates
every spec against it) and, through the ``args_<name>`` definitions that
``tools/build_spec_schema.py`` generates from the algorithms' declarations,
what each algorithm takes, where it may be used and what it reads
(:mod:`cdisc.spec.algorithms`). The spec checker works from this data, so the
spec layer needs no import of the algorithms themselves.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..resources import schemas_dir
from .algorithms import Declared, declared_algorithms


@cache
def spec_schema() -> dict[str, Any]:
    return json.loads((schemas_dir() / "mapping-spec.schema.json").read_text(encoding="utf-8"))


@cache
def spec_validator() -> Any:
    """The spec schema's validator, one per process (jsonschema is imported on first use)."""
    import jsonschema

    return jsonschema.Draft202012Validator(spec_schema())


@cache
def spec_algorithms() -> dict[str, Declared]:
    """Every algorithm the spec schema declares, by name."""
    return declared_algorithms(spec_schema())
