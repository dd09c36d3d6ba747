"""The dataset model every producer and consumer shares.

A :class:`Dataset` is a frame plus everything known about it: its resolved
metadata (labels, types, lengths, order, formats, codelists), the source row
behind each record, and the provenance of every variable per record block.
The SDTM engine and the ADaM derivations produce datasets; the writers (XPT,
Dataset-JSON), define.xml and the validator consume them.

The shared rules that more than one stage applies live here too, so that
they are written once: what text a dataset may hold (:mod:`.text`), which
numbers it can store exactly (:mod:`.numbers`) and what counts as missing
(:mod:`.missing`).

This package imports nothing else of ours (a test checks it), so every layer
can use it.
"""

from .dataset import Dataset, DatasetMeta, Provenance, VariableMeta, resolve_metadata
from .missing import is_missing

__all__ = ["Dataset", "DatasetMeta", "Provenance", "VariableMeta", "is_missing",
           "resolve_metadata"]
