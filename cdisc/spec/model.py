"""The checked mapping specification as plain, immutable objects.

Mapping arguments stay as the dictionaries the YAML gave (the JSON Schema has
already checked their shape); every object keeps its JSON path so later stages
can point back into the spec file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import Location, Problem
from ..limits import DEFAULT_LIMITS, Limits

JsonPath = tuple[str | int, ...]


def format_json_path(path: JsonPath) -> str:
    """``("domains", "DM", "records", 0)`` -> ``$.domains.DM.records[0]``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def locate(file: str, positions: dict[JsonPath, tuple[int, int]], json_path: JsonPath,
           **extra: Any) -> Location:
    """File, line and column of a spec node (or of its nearest ancestor that has them)."""
    path = tuple(json_path)
    while path and path not in positions:
        path = path[:-1]
    line, column = positions.get(path, (None, None))
    return Location(file=file, line=line, column=column,
                    json_path=format_json_path(tuple(json_path)), **extra)


@dataclass(frozen=True)
class StudyInfo:
    studyid: str
    sdtmig_version: str
    ct_version: str
    data_cutoff: str
    created: datetime
    title: str = ""
    sponsor: str = ""
    adamig_version: str = "1.3"
    usubjid_separator: str = "-"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str  # string / integer / number / date / datetime / time
    formats: tuple[str, ...] = ()
    required: bool = False
    label: str = ""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    file: Path
    subject: str
    columns: dict[str, ColumnSpec]
    key: tuple[str, ...] = ()
    sheet: str | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class RecordBlock:
    """One source table's contribution to a domain: filter, joins, variable mappings."""

    domain: str
    index: int
    source: str
    map: dict[str, dict[str, Any]]
    supp: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: dict[str, Any] | None = None
    join: tuple[dict[str, Any], ...] = ()
    first_per: dict[str, Any] | None = None
    aggregate: dict[str, Any] | None = None

    @property
    def json_path(self) -> JsonPath:
        return ("domains", self.domain, "records", self.index)


@dataclass(frozen=True)
class DomainSpec:
    name: str
    records: tuple[RecordBlock, ...]
    derive: dict[str, dict[str, Any]] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class StudyCodelist:
    name: str
    codelist: str  # C-code or short name as written
    map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    path: Path
    study: StudyInfo
    sources: dict[str, SourceSpec]
    study_ct: dict[str, StudyCodelist]
    domains: dict[str, DomainSpec]
    trial_summary: dict[str, Any] = field(default_factory=dict)
    visits: dict[str, float] = field(default_factory=dict)
    recist: dict[str, Any] = field(default_factory=dict)
    notices: tuple[Problem, ...] = ()
    #: bounds on what the run reads (sources, spec); see :mod:`cdisc.limits`
    limits: Limits = DEFAULT_LIMITS
    #: the folder relative source file names resolve against (``--source``, else the spec's)
    source_dir: Path | None = None
    #: source files may lie outside the source folder only when the user said so
    allow_outside_sources: bool = False
    # json path -> (line, column), 1-based, for every node of the YAML document
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)

    def locate(self, json_path: JsonPath, **extra: Any) -> Location:
        """A Location for a node of the spec; falls back to the nearest ancestor."""
        return locate(str(self.path), self.positions, json_path, **extra)

    @property
    def base_dir(self) -> Path:
        return self.path.parent
