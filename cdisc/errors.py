"""Problems with a location, and the exceptions that carry them.

Every stage reports what is wrong as :class:`Problem` objects that say *where*
(spec file/line/column/JSON path, or source file/row/column/value, or output
dataset/variable/record). A stage collects all of its problems before it
raises, so a user fixes a spec or a spreadsheet in one pass, not one error per
run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from .limits import DEFAULT_LIMITS
from .text_safety import clip, json_value, quoted

#: characters of a value quoted in a location (``Limits.message_value_chars``)
VALUE_CHARS = DEFAULT_LIMITS.message_value_chars


def message_chars(value_chars: int) -> int:
    """Characters of a whole message: its own words plus some quoted values or names."""
    return 10 * value_chars


class Severity(StrEnum):
    """How bad a problem is, most severe first.

    ``REJECT`` is a finding of the agencies' technical rejection criteria (FDA
    eCTD validation 1734/1736: a submission that fails one is not received).
    It sorts above ``ERROR`` and counts as one wherever errors count
    (:attr:`blocking`: ``has_errors``, exit code 1).
    """

    REJECT = "reject"
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        """0 for the most severe (reject), then error, warning, notice."""
        return _SEVERITY_RANK[self]

    @property
    def blocking(self) -> bool:
        """Reject and error: a run with one has errors (exit 1)."""
        return self in (Severity.REJECT, Severity.ERROR)


_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


@dataclass(frozen=True)
class Location:
    """Where a problem is. Only the fields that apply are set."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    json_path: str | None = None
    sheet: str | None = None  # worksheet of an XLSX source
    row: int | None = None  # 1-based line of a CSV (header = 1) or Excel row
    field: str | None = None  # source column or target variable
    value: Any = None
    dataset: str | None = None
    usubjid: str | None = None
    record: int | None = None  # 1-based record number in an output dataset

    def __str__(self) -> str:
        return self.describe()

    def describe(self, value_chars: int = VALUE_CHARS) -> str:
        """The location as text; values and names from the data are clipped to ``value_chars``.

        numpy numbers print as plain numbers (``1e+100``). The result may still hold
        control characters from the data: console output escapes them
        (:func:`cdisc.text_safety.console_text`).
        """
        def data(text: str) -> str:
            return clip(text, value_chars)

        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.json_path:
            parts.append(f"at {data(self.json_path)}")
        if self.sheet:
            parts.append(f"sheet {quoted(self.sheet, value_chars)}")
        if self.dataset:
            parts.append(f"dataset {data(str(self.dataset))}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.usubjid:
            parts.append(f"USUBJID {data(str(self.usubjid))}")
        if self.field:
            parts.append(f"field {data(str(self.field))}")
        if self.value is not None:
            parts.append(f"value {quoted(self.value, value_chars)}")
        return ", ".join(parts) if parts else "(no location)"

    def to_dict(self, value_chars: int = VALUE_CHARS) -> dict[str, Any]:
        """The fields that are set; a long value is clipped (see :func:`~cdisc.text_safety.clip`).

        Numbers stay numbers (numpy ones as Python's), short text stays as it is.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[f.name] = json_value(v, value_chars) if f.name == "value" else v
        return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with a stable machine-readable code."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return self.describe()

    def describe(self, value_chars: int = VALUE_CHARS) -> str:
        return (f"{self.severity.value} {self.code}: {self.location.describe(value_chars)}: "
                f"{clip(self.message, message_chars(value_chars))}")

    def to_dict(self, value_chars: int = VALUE_CHARS) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": clip(self.message, message_chars(value_chars)),
            "location": self.location.to_dict(value_chars),
        }


class ProblemLog:
    """Collects problems of one run; stages add to it and go on."""

    def __init__(self) -> None:
        self._problems: list[Problem] = []

    def add(
        self,
        code: str,
        message: str,
        location: Location | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self._problems.append(Problem(code, message, location or Location(), severity))

    def extend(self, problems: Iterable[Problem]) -> None:
        self._problems.extend(problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._problems)

    def __len__(self) -> int:
        return len(self._problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self._problems if p.severity.blocking]  # error or reject

    def raise_if_errors(self, exc_type: type[CdiscError] | None = None) -> None:
        if self.errors:
            raise (exc_type or CdiscError)(self.errors)

    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self._problems], indent=2, default=str)


class CdiscError(Exception):
    """A run that cannot go on. Carries every problem found, each with a location."""

    #: lines of the source-record reconciliation, when the run got as far as mapping
    reconciliation: list[str] | None = None

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: list[Problem] = (
            [problems] if isinstance(problems, Problem) else list(problems)
        )
        first = self.problems[0] if self.problems else None
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}" if first else self.__class__.__name__)

    @classmethod
    def single(cls, code: str, message: str, **where: Any) -> CdiscError:
        return cls(Problem(code, message, Location(**where)))


class SpecError(CdiscError):
    """The mapping specification is malformed or inconsistent."""


class SourceError(CdiscError):
    """A source file cannot be read, or its records break the declared rules."""


class MappingError(CdiscError):
    """Source records could not be mapped (dates, CT, types, orphans)."""


class DerivationError(CdiscError):
    """An analysis result (ADaM, the RECIST review) cannot be derived from the SDTM datasets."""


class OutputError(CdiscError):
    """A dataset breaks a transport rule (XPT v5 names, lengths, ASCII) or a write failed."""


class StandardsError(CdiscError):
    """Standards metadata (schemas/) is missing or names an unknown dataset/codelist."""


def group_by_code(problems: Iterable[Problem]) -> dict[str, list[Problem]]:
    """Problems by code (codes in first-seen order, problems in their order)."""
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        groups.setdefault(p.code, []).append(p)
    return groups
