"""A dataset: the frame, its resolved metadata, its record lineage and its provenance.

Example::

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"STUDYID": ["S1"], "AGE": [53.0]})
    >>> meta = DatasetMeta("DM", "Demographics", variables=(
    ...     VariableMeta("STUDYID", "Study Identifier", "Char", 2, 1),
    ...     VariableMeta("AGE", "Age", "Num", 8, 2)))
    >>> ds = Dataset(meta, frame)
    >>> ds.name, ds.meta.variable("AGE").length
    ('DM', 8)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import pandas as pd

from .text import byte_lengths, known_codes

NUMERIC_LENGTH = 8  # bytes of a stored double


@dataclass(frozen=True)
class VariableMeta:
    """What a writer, define.xml and the validator need to know about one variable."""

    name: str
    label: str
    datatype: str  # "Char" or "Num", as the IGs write it
    length: int  # bytes: the longest value for Char (at least 1), 8 for Num
    order: int  # 1-based position in the dataset
    core: str | None = None  # Req / Exp / Perm (SDTM), Req / Cond / Perm (ADaM)
    role: str | None = None
    codelist: str | None = None  # NCI C-code
    display_format: str | None = None  # SAS format, e.g. "DATE9." for ADaM dates
    significant_digits: int | None = None

    @property
    def is_numeric(self) -> bool:
        return self.datatype == "Num"


@dataclass(frozen=True)
class DatasetMeta:
    name: str
    label: str
    standard: str = ""  # "SDTMIG" / "ADaMIG"
    version: str = ""
    dataset_class: str = ""
    structure: str = ""
    keys: tuple[str, ...] = ()
    variables: tuple[VariableMeta, ...] = ()
    subclass: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> VariableMeta:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(f"{name} is not a variable of {self.name}")

    @property
    def labels(self) -> dict[str, str]:
        return {v.name: v.label for v in self.variables}

    @property
    def display_formats(self) -> dict[str, str]:
        return {v.name: v.display_format for v in self.variables if v.display_format}


@dataclass(frozen=True)
class Provenance:
    """How one variable got its values in one record block (or in a derivation).

    ``phase`` is the algorithm's phase ("record", "subject", "domain"), or
    "supp" for a SUPPQUAL qualifier and "standard" for a value the standard
    fixes (STUDYID, DOMAIN). define.xml builds origins, methods and value-level
    metadata from these; nothing is lost when several blocks map one variable.
    """

    dataset: str
    variable: str
    algorithm: str
    phase: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    block: int | None = None  # index of the record block in the spec
    source: str | None = None  # source table of the block
    source_columns: tuple[str, ...] = ()
    where: Mapping[str, Any] | None = None
    json_path: tuple[str | int, ...] = ()

    def __post_init__(self) -> None:  # frozen, so the spec's dicts are copied read-only
        object.__setattr__(self, "arguments", MappingProxyType(dict(self.arguments)))
        if self.where is not None:
            object.__setattr__(self, "where", MappingProxyType(dict(self.where)))


@dataclass
class Dataset:
    """One dataset as every stage after mapping sees it."""

    meta: DatasetMeta
    frame: pd.DataFrame
    #: source name and row behind each record (same order as ``frame``), when known
    lineage: pd.DataFrame | None = None
    provenance: tuple[Provenance, ...] = ()

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def label(self) -> str:
        return self.meta.label

    def __len__(self) -> int:
        return len(self.frame)

    def provenance_of(self, variable: str) -> list[Provenance]:
        return [p for p in self.provenance if p.variable == variable]


class StandardVariable(Protocol):
    name: str
    label: str
    datatype: str
    core: str
    role: str | None
    codelist: str | None
    display_format: str | None


class StandardDataset(Protocol):
    """What :func:`resolve_metadata` reads of a standard's dataset definition."""

    name: str
    label: str
    standard: str
    version: str
    dataset_class: str
    structure: str
    keys: tuple[str, ...]
    subclass: str | None

    @property
    def variables(self) -> Iterable[StandardVariable]: ...


def _length(values: pd.Series, numeric: bool) -> int:
    if numeric:
        return NUMERIC_LENGTH
    known = known_codes(values.to_numpy(dtype=object)) if values.dtype == object else None
    if known is not None and known.holds:  # its distinct values measured, once each
        values = pd.Series(known.distinct, dtype=object)
    return max(1, int(byte_lengths(values).max())) if len(values) else 1


def resolve_metadata(name: str, frame: pd.DataFrame, standard: StandardDataset | None,
                     label: str | None = None) -> DatasetMeta:
    """The metadata of ``frame`` as written: the standard's labels and roles, lengths from data.

    A column the standard does not define keeps an empty label (the writers
    refuse it), so nothing is invented here.
    """
    known = {v.name: v for v in standard.variables} if standard is not None else {}
    variables = []
    for order, column in enumerate(frame.columns, start=1):
        spec = known.get(column)
        numeric = (spec.datatype == "Num" if spec is not None
                   else pd.api.types.is_numeric_dtype(frame[column].dtype))
        variables.append(VariableMeta(
            name=column,
            label=spec.label if spec is not None else "",
            datatype="Num" if numeric else "Char",
            length=_length(frame[column], numeric),
            order=order,
            core=spec.core if spec is not None else None,
            role=spec.role if spec is not None else None,
            codelist=spec.codelist if spec is not None else None,
            display_format=spec.display_format if spec is not None else None,
        ))
    if standard is None:
        return DatasetMeta(name=name, label=label or "", variables=tuple(variables))
    return DatasetMeta(
        name=name, label=label if label is not None else standard.label,
        standard=standard.standard, version=standard.version,
        dataset_class=standard.dataset_class, structure=standard.structure,
        keys=tuple(standard.keys), variables=tuple(variables), subclass=standard.subclass)
