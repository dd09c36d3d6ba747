"""The checked mapping specification as plain, immutable objects.

Mapping arguments stay as the dictionaries the YAML gave (the JSON Schema has
already checked their shape); every object keeps its JSON path so later stages
can point back into the spec file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DerivationError, Location, Problem
from ..limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from .adam import AdamSpec
    from .submission import SubmissionSpec
    from .trial_design import TrialDesign, TsParameter

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
    """A declared source column: ``name`` is how the spec refers to it, ``header`` the
    text of its header cell in the file (the name when the spec gives no ``header:``)."""

    name: str
    type: str  # string / integer / number / date / datetime / time
    formats: tuple[str, ...] = ()
    required: bool = False
    label: str = ""
    header: str = ""

    def __post_init__(self) -> None:
        if not self.header:
            object.__setattr__(self, "header", self.name)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    file: Path
    subject: str
    columns: dict[str, ColumnSpec]
    key: tuple[str, ...] = ()
    sheet: str | None = None
    json_path: JsonPath = ()
    #: CSV only: the cell separator; None: recognised from the header line
    delimiter: str | None = None
    #: CSV only: the text encoding; None: UTF-8, or what a byte order mark says
    encoding: str | None = None
    #: number columns (CSV, and text cells of XLSX): the decimal mark and thousands separator
    decimal: str = "."
    thousands: str | None = None

    def header_of(self, column: str) -> str:
        """The header text of a declared column as the user sees it in the file."""
        declared = self.columns.get(column)
        return declared.header if declared is not None else column


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
    #: the ``adam:`` section (:mod:`cdisc.spec.adam`); the default rules when absent
    adam: AdamSpec | None = None
    #: the ``submission:`` section (:mod:`cdisc.spec.submission`); None when absent
    submission: SubmissionSpec | None = None
    #: ``trial_summary:`` as TS parameters (:mod:`cdisc.spec.trial_design`)
    trial_parameters: tuple[TsParameter, ...] = ()
    #: the ``trial_design:`` section (TA, TE, TV, TI, SV, SE); None when absent
    trial_design: TrialDesign | None = None
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


@dataclass(frozen=True)
class RecistOptions:
    """Choices that RECIST 1.1 leaves to the protocol.

    confirm: require confirmation of CR/PR (non-randomised trials, RECIST 1.1
        s4.6.1, Table 3); otherwise the best time-point response stands.
    confirm_min_days: the confirming CR/PR must be at least this many days
        after the response it confirms ("no less than 4 weeks", s4.6.1).
    confirm_max_ne: NE time points tolerated between a response and its
        confirmation (as admiralonco's ``max_nr_ne``, default 1).
    sd_min_days: SD (or NON-CR/NON-PD) counts for the best response only at a
        time point at least this many days after the reference date (s4.4.3,
        "in general not less than 6-8 weeks"); days = ADT - reference date, so
        the reference day is day 0 (not the SDTM study-day convention).
    reference: ``"first_assessment"`` -- day counting from the date of the
        baseline tumour assessment (earliest TRDTC at the baseline visit,
        column BASEDT) -- or ``"RFSTDTC"`` -- from DM.RFSTDTC (pass ``dm`` to
        :func:`cdisc.adam.recist.best_overall_response`).
    evaluator: whose read is derived and compared: a --EVAL value
        (``INVESTIGATOR``), a --EVALID value (``RADIOLOGIST 1``) or
        ``ACCEPTED`` (--ACPTFL = Y).
    """

    confirm: bool = False
    confirm_min_days: int = 28
    sd_min_days: int = 42
    reference: str = "first_assessment"
    evaluator: str = "INVESTIGATOR"
    confirm_max_ne: int = 1

    def __post_init__(self) -> None:
        if self.reference not in ("first_assessment", "RFSTDTC"):
            raise DerivationError.single(
                "RECIST010", "the RECIST reference must be 'first_assessment' or 'RFSTDTC'",
                field="reference", value=self.reference)

