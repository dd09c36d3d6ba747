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


def _read_csv(path: Path) -> tuple[pd.DataFrame, str, str]:
    """A dataset kept as CSV (one header line; "" and "NA" are missing; numbers inferred)."""
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


READERS[".xpt"] = _read_xpt
#: formats read only when a command asks for them (``cdisc adam --sdtm`` reads CSV too)
EXTRA_READERS: dict[str, Callable[[Path], tuple[pd.DataFrame, str, str]]] = {
    ".csv": _read_csv}
ALL_READERS = {**READERS, **EXTRA_READERS}


def dataset_suffixes() -> tuple[str, ...]:
    """Suffixes of the dataset files we can read, e.g. ``(".xpt",)``."""
    return tuple(READERS)
