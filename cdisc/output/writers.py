"""Dataset writers behind one interface, chosen by format name.

The pipeline asks for a format (``xpt`` today; Dataset-JSON next) and hands
over :class:`cdisc.model.Dataset` objects whose metadata (labels, order,
lengths, formats) is already resolved; a writer only encodes bytes. A new
format is one class with ``format``, ``suffix`` and ``write`` registered in
:data:`WRITERS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ..errors import OutputError
from ..formats import xpt
from ..model import Dataset
from .folder import safe_child


class DatasetWriter(Protocol):
    format: str  # the name ``--format`` takes
    suffix: str  # the file name ending, e.g. ".xpt"

    def write(self, dataset: Dataset, path: Path, *, created: datetime) -> None:
        """Write one dataset to ``path`` all or nothing; raise OutputError with every problem."""


class XptWriter:
    """SAS XPORT version 5 (:mod:`cdisc.formats.xpt`), one member per file."""

    format = "xpt"
    suffix = ".xpt"

    def write(self, dataset: Dataset, path: Path, *, created: datetime) -> None:
        # looked up on the module at call time, so tests can stand in for the encoder
        xpt.write_xpt(dataset.frame, path, name=dataset.name, label=dataset.label,
                      column_labels=dataset.meta.labels, created=created,
                      display_formats=dataset.meta.display_formats or None)


WRITERS: dict[str, DatasetWriter] = {writer.format: writer for writer in (XptWriter(),)}


def writer_for(format_name: str) -> DatasetWriter:
    try:
        return WRITERS[format_name]
    except KeyError:
        raise OutputError.single("OUT004", f"unknown dataset format {format_name!r}; "
                                 f"known: {', '.join(sorted(WRITERS))}") from None


def write_datasets(datasets: Iterable[Dataset], folder: Path, *, created: datetime,
                   formats: Iterable[str] = ("xpt",)) -> list[Path]:
    """Each dataset in each format into ``folder`` (``dm.xpt``, ...); the paths written."""
    written = []
    writers = [writer_for(name) for name in formats]
    for dataset in sorted(datasets, key=lambda d: d.name):
        for writer in writers:
            path = safe_child(folder, f"{dataset.name.lower()}{writer.suffix}")
            writer.write(dataset, path, created=created)
            written.append(path)
    return written
