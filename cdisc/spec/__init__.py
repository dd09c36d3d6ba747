"""Load a mapping specification, check it against its JSON Schema and the standards."""

from .adam import AdamSpec
from .loader import load_adam_spec, load_spec
from .model import ColumnSpec, DomainSpec, RecordBlock, SourceSpec, Spec, StudyInfo

__all__ = [
    "AdamSpec",
    "ColumnSpec",
    "DomainSpec",
    "RecordBlock",
    "SourceSpec",
    "Spec",
    "StudyInfo",
    "load_adam_spec",
    "load_spec",
]
