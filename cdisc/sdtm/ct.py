"""Study controlled terminology: collected value -> CDISC submission value."""

from __future__ import annotations

from dataclasses import dataclass

from .. import standards
from ..spec.model import Spec


@dataclass(frozen=True)
class ResolvedCodelist:
    name: str  # as the spec refers to it
    codelist: standards.Codelist
    map: dict[str, str]  # collected -> submission value (study CT)

    def allowed(self) -> set[str]:
        """Submission values a mapped record may carry."""
        return set(self.codelist.terms) | set(self.map.values())


def resolve_codelist(spec: Spec, name: str) -> ResolvedCodelist:
    """A study_ct entry by name, else a CDISC codelist by C-code or short name.

    Raises :class:`cdisc.errors.StandardsError` for an unknown codelist.
    """
    study = spec.study_ct.get(name)
    if study is not None:
        return ResolvedCodelist(name, standards.codelist(study.codelist), dict(study.map))
    return ResolvedCodelist(name, standards.codelist(name), {})
