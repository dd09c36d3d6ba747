"""Load a mapping specification, check it against its JSON Schema and the standards."""

from .loader import load_spec
from .model import ColumnSpec, DomainSpec, RecordBlock, SourceSpec, Spec, StudyInfo

__all__ = [
    "ColumnSpec",
    "DomainSpec",
    "RecordBlock",
    "SourceSpec",
    "Spec",
    "StudyInfo",
    "load_spec",
]
