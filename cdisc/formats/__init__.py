"""File formats of datasets: encoding and decoding bytes, nothing about studies.

SAS XPORT v5 (:mod:`.xpt`) today; Dataset-JSON goes beside it. The writers in
:mod:`cdisc.output` and the validator's folder reader both use these codecs,
so this package sits below them and imports only :mod:`cdisc.model` and
:mod:`cdisc.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

#: file suffix -> reader returning the frame and the header's dataset name and label
READERS: dict[str, Callable[[Path], tuple[pd.DataFrame, str, str]]] = {}


def _read_xpt(path: Path) -> tuple[pd.DataFrame, str, str]:
    from .xpt import read_xpt

    frame, meta = read_xpt(path)
    return frame, meta.name, meta.label


READERS[".xpt"] = _read_xpt


def dataset_suffixes() -> tuple[str, ...]:
    """Suffixes of the dataset files we can read, e.g. ``(".xpt",)``."""
    return tuple(READERS)
