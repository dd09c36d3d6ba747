"""Dataset writers behind one interface, chosen by format name.

The pipeline asks for formats (``xpt``, ``json``, ``ndjson``) and hands over
:class:`cdisc.model.Dataset` objects whose metadata (labels, order, lengths,
formats) is already resolved; a writer only encodes bytes. A new format is
one class with ``format``, ``suffix`` and ``write`` registered in
:data:`WRITERS`.

* ``xpt``: SAS XPORT v5 (:mod:`cdisc.formats.xpt`), ``dm.xpt``;
* ``json``: CDISC Dataset-JSON 1.1 (:mod:`cdisc.formats.dataset_json`), ``dm.json``;
* ``ndjson``: its NDJSON representation for large datasets, ``dm.ndjson``.

:data:`FORMAT_CHOICES` maps what ``convert --format`` accepts to formats
(``both`` is XPT and Dataset-JSON).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from .. import __version__
from ..errors import OutputError
from ..formats import dataset_json, xpt
from ..model import Dataset
from ..model.text import codes_shared
from ..workers import Job, own_frame, run_jobs
from .folder import safe_child

#: the sourceSystem of the Dataset-JSON files we write
SOURCE_SYSTEM = ("cdisc-convert", __version__)


class DatasetWriter(Protocol):
    format: str  # the name ``--format`` takes
    suffix: str  # the file name ending, e.g. ".xpt"

    def write(self, dataset: Dataset, path: Path, *, created: datetime) -> None:
        """Write one dataset to ``path`` all or nothing; raise OutputError with every problem."""


class XptWriter:
    """SAS XPORT version 5 (:mod:`cdisc.formats.xpt`), one member per file."""

    format = "xpt"
    suffix = ".xpt"

    def __init__(self, verify: str = "fast") -> None:
        #: "fast": our own decoder against what was encoded; "full": pandas and pyreadstat too
        self.verify = verify

    def write(self, dataset: Dataset, path: Path, *, created: datetime) -> None:
        # looked up on the module at call time, so tests can stand in for the encoder
        kwargs = {"verify": self.verify} if self.verify != "fast" else {}
        xpt.write_xpt(dataset.frame, path, name=dataset.name, label=dataset.label,
                      column_labels=dataset.meta.labels, created=created,
                      display_formats=dataset.meta.display_formats or None, **kwargs)


class DatasetJsonWriter:
    """CDISC Dataset-JSON 1.1 (:mod:`cdisc.formats.dataset_json`): encoded, read back and
    compared with the frame, then written atomically.

    ``metadata_ref`` is the ``metaDataRef`` attribute (e.g. ``"define.xml"``
    when define.xml is written beside the datasets); left out when None. ``verify``:
    "fast" parses a sample of the rows back (every value is still decoded and
    compared), "full" all of them.
    """

    def __init__(self, *, ndjson: bool = False, metadata_ref: str | None = None,
                 verify: str = "fast") -> None:
        self.ndjson = ndjson
        self.metadata_ref = metadata_ref
        self.verify = verify
        self.format = "ndjson" if ndjson else "json"
        self.suffix = ".ndjson" if ndjson else ".json"

    def with_metadata_ref(self, metadata_ref: str | None) -> DatasetJsonWriter:
        return DatasetJsonWriter(ndjson=self.ndjson, metadata_ref=metadata_ref,
                                 verify=self.verify)

    def with_verify(self, verify: str) -> DatasetJsonWriter:
        return DatasetJsonWriter(ndjson=self.ndjson, metadata_ref=self.metadata_ref,
                                 verify=verify)

    def write(self, dataset: Dataset, path: Path, *, created: datetime) -> None:
        header = dataset_json.Header(source_system=SOURCE_SYSTEM,
                                     metadata_ref=self.metadata_ref)
        dataset_json.write_dataset_json(dataset, path, created=created, ndjson=self.ndjson,
                                        header=header, verify=self.verify)


WRITERS: dict[str, DatasetWriter] = {writer.format: writer for writer in (
    XptWriter(), DatasetJsonWriter(), DatasetJsonWriter(ndjson=True))}

#: ``convert --format`` value -> the formats written
FORMAT_CHOICES: dict[str, tuple[str, ...]] = {
    "xpt": ("xpt",), "json": ("json",), "ndjson": ("ndjson",), "both": ("xpt", "json")}


def writer_for(format_name: str) -> DatasetWriter:
    try:
        return WRITERS[format_name]
    except KeyError:
        raise OutputError.single("OUT004", f"unknown dataset format {format_name!r}; "
                                 f"known: {', '.join(sorted(WRITERS))}") from None


def formats_for(choice: str) -> tuple[str, ...]:
    """The formats a ``--format`` value stands for (``both`` -> xpt and json)."""
    if choice in FORMAT_CHOICES:
        return FORMAT_CHOICES[choice]
    raise OutputError.single("OUT004", f"unknown dataset format {choice!r}; known: "
                             f"{', '.join(FORMAT_CHOICES)}")


def write_datasets(datasets: Iterable[Dataset], folder: Path, *, created: datetime,
                   formats: Iterable[str] = ("xpt",),
                   metadata_ref: str | None = None, verify: str = "fast") -> list[Path]:
    """Each dataset in each format into ``folder`` (``dm.xpt``, ``dm.json``, ...); the
    paths written. ``metadata_ref`` goes into the Dataset-JSON files (``metaDataRef``)."""
    jobs = dataset_jobs(datasets, folder, created=created, formats=formats,
                        metadata_ref=metadata_ref, verify=verify)
    with codes_shared():  # each text column is coded once for all the formats
        return run_jobs(jobs)


def dataset_jobs(datasets: Iterable[Dataset], folder: Path, *, created: datetime,
                 formats: Iterable[str] = ("xpt",), metadata_ref: str | None = None,
                 verify: str = "fast") -> list[Job[Path]]:
    """:func:`write_datasets` as one job per file (:mod:`cdisc.workers`), for a stage that
    runs them beside other work; run them inside :func:`cdisc.model.text.codes_shared`."""
    writers = [writer_for(name) for name in formats]
    if verify != "fast":
        writers = [XptWriter(verify) if isinstance(w, XptWriter)
                   else w.with_verify(verify) if isinstance(w, DatasetJsonWriter) else w
                   for w in writers]
    if metadata_ref is not None:
        writers = [w.with_metadata_ref(metadata_ref) if isinstance(w, DatasetJsonWriter)
                   else w for w in writers]
    return [_write_job(writer, dataset, folder, created)
            for dataset in sorted(datasets, key=lambda d: d.name) for writer in writers]


def _write_job(writer: DatasetWriter, dataset: Dataset, folder: Path, created: datetime
               ) -> Job[Path]:
    """Writing one file: a job of its own (:mod:`cdisc.workers`), weighed by its cells (a
    writer's working memory grows with them)."""
    path = safe_child(folder, f"{dataset.name.lower()}{writer.suffix}")
    own = replace(dataset, frame=own_frame(dataset.frame))

    def write() -> Path:
        writer.write(own, path, created=created)
        return path

    return Job(write, weight=max(1, len(dataset.frame) * len(dataset.frame.columns)))
