"""The rule registry: rule id -> check function, with severity, message, citation and scope.

A rule is a plain function that returns one :class:`~cdisc.errors.Problem` per
finding. Adding a rule is adding a decorated function to a module under
``cdisc/validate/rules/``. There are two kinds:

* **scoped** (preferred): the rule states once which datasets it checks, and the
  engine calls it once per dataset in scope with a :class:`InScope` (the
  dataset's name and frame, and the whole study for cross-references)::

      @rule("CV0999", Severity.WARNING, "AESER is null", "SDTMIG 3.4 section 6.2.1",
            category="Presence", scope=Scope(classes=("EVENTS",), names=("AE",)))
      def aeser_null(ds: InScope) -> list[Problem]:
          return hits("CV0999", ds.name, ds.frame, missing(ds.frame["AESER"]),
                      variable="AESER", message="AESER is null")

* **study-wide** (no ``scope``): ``check(datasets)`` takes every dataset of the
  run by name (a :class:`~cdisc.validate.study.Study`, which is a
  ``dict[str, DataFrame]``) and loops over them itself.

Rule ids are our own (``CV`` = cdisc-convert validator, then four digits). We
do not reuse Pinnacle 21 / FDA Validator ids (SD0001 ...): the same numbers
mean different checks there. The CDISC and FDA ids a rule implements
(SDTMIG conformance rule CGnnnn, CDISC CORE-nnnnnn, FDA business rule FBnnnn)
go into ``citation``. ``category`` is the Pinnacle 21 category the reports show
(Presence, Format, Terminology, ...), stated by every rule next to its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import Problem, Severity

Check = Callable[..., Iterable[Problem]]

#: the categories of the Pinnacle 21 reports, which ours reuse
CATEGORIES = ("Consistency", "Cross-reference", "Format", "Limit", "Metadata", "Presence",
              "Terminology", "System")

def _upper(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v).strip().upper() for v in values)


@dataclass(frozen=True)
class Scope:
    """The datasets a rule checks, stated once.

    A dataset is in scope when its name is one of ``names`` (``"SUPP--"``: every
    SUPP-- dataset) or its class one of
    ``classes`` (either list empty: that test is not made; both empty: every
    dataset), and it is of ``standard`` ("SDTM" / "ADaM") when given, and it has
    every variable of ``variables`` (``--`` stands for the domain prefix, e.g.
    ``"--STDTC"`` is AESTDTC in AE). Classes are the Define-XML class names the
    shipped metadata gives (``EVENTS``, ``FINDINGS``, ``INTERVENTIONS``,
    ``SPECIAL PURPOSE``, ``TRIAL DESIGN``, ``RELATIONSHIP``, ``SUBJECT LEVEL
    ANALYSIS DATASET``, ``BASIC DATA STRUCTURE`` ...); a dataset we do not ship
    metadata for gets its class from its variables (see
    :func:`cdisc.validate.engine.dataset_class`). Case does not matter.
    """

    classes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    standard: str | None = None
    variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for attr in ("classes", "names", "variables"):
            value = getattr(self, attr)
            if isinstance(value, str):  # ("AE") is a string, not a tuple: a common slip
                raise TypeError(f"Scope({attr}=...) takes a tuple of names, not {value!r}")
            object.__setattr__(self, attr, _upper(value))
        if self.standard is not None and self.standard.lower() not in ("sdtm", "adam"):
            raise ValueError(f"Scope(standard={self.standard!r}): 'SDTM' or 'ADaM'")

    def matches(self, name: str, columns: Iterable[Any], standard: str,
                dataset_class: str | None) -> bool:
        """Whether the dataset ``name`` (its columns, standard and class) is in scope."""
        name = name.upper()
        if self.names or self.classes:
            by_name = name in self.names or ("SUPP--" in self.names and name.startswith("SUPP"))
            by_class = dataset_class is not None and dataset_class.upper() in self.classes
            if not by_name and not by_class:
                return False
        if self.standard is not None and standard.lower() != self.standard.lower():
            return False
        if self.variables:
            have = {str(c).upper() for c in columns}
            prefix = name[4:] if name.startswith("SUPP") else name[:2]
            return all(v.replace("--", prefix, 1) in have for v in self.variables)
        return True

    def describe(self) -> str:
        """The scope in words, for the Rules sheet, e.g. ``AE; class EVENTS``."""
        parts = []
        if self.names:
            parts.append(", ".join(self.names))
        if self.classes:
            parts.append("class " + ", ".join(self.classes))
        what = " or ".join(parts) if parts else "every dataset"
        if self.standard:
            what += f" ({'ADaM' if self.standard.lower() == 'adam' else 'SDTM'})"
        if self.variables:
            what += " with " + ", ".join(self.variables)
        return what


@dataclass(frozen=True)
class InScope:
    """What a scoped rule is given: one dataset in its scope, and the whole study."""

    name: str  # upper case, e.g. "AE"
    frame: pd.DataFrame
    study: Mapping[str, pd.DataFrame]  # a Study: every dataset, for cross-references
    standard: str  # "SDTM" / "ADaM"
    dataset_class: str | None  # e.g. "EVENTS"; None when neither metadata nor variables say


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    message: str  # the rule as a statement of what is wrong, for the issue summary
    citation: str  # SDTMIG/ADaMIG section, CDISC CORE id, FDA business rule id
    family: str  # the module the rule lives in, e.g. "subjects"
    check: Check
    #: None: ``check(study)`` sees every dataset; else ``check(InScope)`` per dataset in scope
    scope: Scope | None = None
    category: str = "Consistency"  # the Pinnacle 21 category (see CATEGORIES)

    @property
    def label(self) -> str:
        """The severity as Pinnacle 21 writes it: Error, Warning, Notice."""
        return severity_label(self.severity)


def severity_label(severity: Severity | str) -> str:
    """``error`` -> ``Error`` (the form Pinnacle 21 reports show; ``reject`` -> ``Reject``)."""
    value = severity.value if isinstance(severity, Severity) else str(severity)
    return value.capitalize()


_RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, message: str, citation: str, *, category: str,
         scope: Scope | None = None) -> Callable[[Check], Check]:
    """Register ``check`` under ``rule_id``; the function itself is returned unchanged.

    ``category`` is the rule's Pinnacle 21 category (one of :data:`CATEGORIES`).
    With ``scope`` the engine calls ``check(InScope)`` once per dataset in scope;
    without it, ``check(study)`` once.
    """
    if category not in CATEGORIES:
        raise ValueError(f"rule {rule_id}: category {category!r} is not one of {CATEGORIES}")

    def register(check: Check) -> Check:
        if rule_id in _RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        family = check.__module__.rsplit(".", 1)[-1]
        _RULES[rule_id] = Rule(rule_id, severity, message, citation, family, check, scope,
                               category)
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
    from .rules import submission  # noqa: F401  (package rejection checks: CV13xx)
