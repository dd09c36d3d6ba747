"""Placeholders a starter spec leaves for the user: ``"TODO: the data cut-off date"``.

``cdisc init`` writes a value it cannot know (the study identifier, the data
cut-off, a day/month order the data do not decide, the submission value of a
collected term it could not match) as text starting with ``TODO``. A spec
that still has one is not checked any further: the loader lists every
placeholder left, at its line, as SPEC070, so ``cdisc convert`` on an
untouched starter says what is still missing instead of reporting what the
placeholders break (a date that is not a date, a format that is no format).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Problem
from .model import JsonPath, locate

#: how every placeholder value starts
PLACEHOLDER = "TODO"
#: the problem code of a placeholder left in a spec
STILL_TO_FILL = "SPEC070"


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip().startswith(PLACEHOLDER)


def _placeholders(node: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _placeholders(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _placeholders(value, (*path, i))
    elif is_placeholder(node):
        yield path, node


def placeholder_problems(document: Any, file: str,
                         positions: dict[JsonPath, tuple[int, int]]) -> list[Problem]:
    """One SPEC070 per placeholder value left in ``document``, at its line."""
    problems = []
    for path, text in _placeholders(document, ()):
        what = text.strip()[len(PLACEHOLDER):].lstrip(" :-") or "a value"
        problems.append(Problem(STILL_TO_FILL, f"still to fill in: {what}",
                                locate(file, positions, path)))
    return problems


__all__ = ["PLACEHOLDER", "STILL_TO_FILL", "is_placeholder", "placeholder_problems"]
