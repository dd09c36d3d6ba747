"""The rule registry: rule id -> check function, with severity, message and citation.

A rule is a plain function ``check(datasets) -> findings`` that takes every
dataset of the run by name (a :class:`~cdisc.validate.study.Study`, which is a
``dict[str, DataFrame]``) and returns one :class:`~cdisc.errors.Problem` per
finding. Adding a rule is adding a decorated function to a module under
``cdisc/validate/rules/``::

    @rule("CV0999", Severity.WARNING, "AESER is null", "SDTMIG 3.4 section 6.2.1")
    def aeser_null(datasets):
        ...
        return hits("CV0999", "AE", frame, mask, variable="AESER")

Rule ids are our own (``CV`` = cdisc-convert validator, then four digits). We
do not reuse Pinnacle 21 / FDA Validator ids (SD0001 ...): the same numbers
mean different checks there. The CDISC and FDA ids a rule implements
(SDTMIG conformance rule CGnnnn, CDISC CORE-nnnnnn, FDA business rule FBnnnn)
go into ``citation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from ..errors import Problem, Severity

Check = Callable[[Mapping[str, pd.DataFrame]], Iterable[Problem]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    message: str  # the rule as a statement of what is wrong, for the issue summary
    citation: str  # SDTMIG/ADaMIG section, CDISC CORE id, FDA business rule id
    family: str  # the module the rule lives in, e.g. "subjects"
    check: Check


_RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, message: str, citation: str) -> Callable[[Check], Check]:
    """Register ``check`` under ``rule_id``; the function itself is returned unchanged."""

    def register(check: Check) -> Check:
        if rule_id in _RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        family = check.__module__.rsplit(".", 1)[-1]
        _RULES[rule_id] = Rule(rule_id, severity, message, citation, family, check)
        return check

    return register


def get_rule(rule_id: str) -> Rule:
    _load()
    return _RULES[rule_id]


def all_rules() -> list[Rule]:
    """Every registered rule, by id."""
    _load()
    return [_RULES[k] for k in sorted(_RULES)]


def _load() -> None:
    # Importing the package imports every rule module, which registers its rules.
    from . import define_checks, rules  # noqa: F401  (define.xml checks: CV12xx)
