"""File formats of datasets: encoding and decoding bytes, nothing about studies.

SAS XPORT v5 (:mod:`.xpt`) and CDISC Dataset-JSON 1.1 (:mod:`.dataset_json`,
``.json`` and ``.ndjson``). The writers in :mod:`cdisc.output` and the
validator's folder reader both use these codecs, so this package sits below
them and imports only :mod:`cdisc.model` and :mod:`cdisc.errors`.

A :class:`Reader` per file suffix: ``read(path)`` gives the frame and the
dataset's name and label; ``sniff(path)``, when a reader has one, says whether
a file of its suffix is in its format at all. An output folder holds report
JSON files (``validation.json``, ``run-report.json``, ...) beside Dataset-JSON
datasets, so the Dataset-JSON reader answers "not mine" for a ``.json`` file
without a top-level ``datasetJSONVersion`` and the folder reader skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by the readers when they run: the CLI's --help needs none
    import pandas as pd

ReadFunction = Callable[[Path], "tuple[pd.DataFrame, str, str]"]


@dataclass(frozen=True)
class Reader:
    """How to read one file suffix. Calling it reads (``READERS[".xpt"](path)``)."""

    suffix: str
    read: ReadFunction
    #: False when a file with this suffix is not in this format (skip it); None: always mine
    sniff: Callable[[Path], bool] | None = None
    #: when one dataset is in files of several formats, the lowest rank is the one used
    rank: int = 100
    #: ``holds(path, frame, name)``: True when the file is known to hold exactly ``frame``
    #: as dataset ``name`` without reading it whole (a copy of a dataset read from a
    #: preferred format); False: read it and compare
    holds: Callable[[Path, pd.DataFrame, str], bool] | None = None

    def __call__(self, path: Path) -> tuple[pd.DataFrame, str, str]:
        return self.read(path)

    def accepts(self, path: Path) -> bool:
        return self.sniff is None or self.sniff(path)


def _read_xpt(path: Path) -> tuple[pd.DataFrame, str, str]:
    from .xpt import read_xpt

    frame, meta = read_xpt(path)
    return frame, meta.name, meta.label


def _read_dataset_json(path: Path) -> tuple[pd.DataFrame, str, str]:
    from .dataset_json import read_dataset_json

    frame, meta = read_dataset_json(path)
    return frame, meta.name, meta.label


def _holds_frame(path: Path, frame: pd.DataFrame, name: str) -> bool:
    from .dataset_json import holds_frame

    return holds_frame(path, frame, name)


def _is_dataset_json(path: Path) -> bool:
    from .dataset_json import is_dataset_json

    return is_dataset_json(path)


def _read_csv(path: Path) -> tuple[pd.DataFrame, str, str]:
    """A dataset kept as CSV (one header line; "" and "NA" are missing; numbers inferred)."""
    import pandas as pd

    from ..errors import CdiscError

    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=["", "NA"],
                            encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise CdiscError.single("VAL005", f"cannot read the CSV dataset: {exc}",
                                file=str(path)) from None
    text = frame.select_dtypes(include="object").columns
    frame[text] = frame[text].astype(object).where(frame[text].notna(), None)
    return frame, path.stem.upper(), ""


#: file suffix -> reader; what ``cdisc validate`` and ``cdisc adam --sdtm`` read
READERS: dict[str, Reader] = {
    ".xpt": Reader(".xpt", _read_xpt, rank=0),
    ".json": Reader(".json", _read_dataset_json, _is_dataset_json, rank=1, holds=_holds_frame),
    ".ndjson": Reader(".ndjson", _read_dataset_json, _is_dataset_json, rank=2,
                      holds=_holds_frame),
}
#: formats read only when a command asks for them (``cdisc adam --sdtm`` reads CSV too)
EXTRA_READERS: dict[str, Reader] = {".csv": Reader(".csv", _read_csv, rank=3)}
ALL_READERS = {**READERS, **EXTRA_READERS}


def dataset_suffixes() -> tuple[str, ...]:
    """Suffixes of the dataset files we can read, e.g. ``(".xpt", ".json", ".ndjson")``."""
    return tuple(READERS)
