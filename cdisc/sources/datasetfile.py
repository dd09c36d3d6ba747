"""SAS and CDISC dataset files as sources: XPT v5, sas7bdat and Dataset-JSON.

An existing SAS dataset can be re-mapped like a spreadsheet: its cells are
turned into text the way every other source is read (numbers in their
shortest exact form, ``3.0`` as ``3``; SAS date numbers stay numbers, to be
declared ``number`` in the spec; a missing value is an empty cell) and then
typed by the spec's declarations. The row of a record is its 1-based record
number in the dataset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SourceError
from ..limits import Limits
from ..text import number_text

SUFFIXES = (".xpt", ".sas7bdat", ".json", ".ndjson")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    cells = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
                column.dtype):
            text = number_text(column)
        else:
            text = column.astype(object).where(column.notna(), None)
            text = text.map(lambda v: v if v is None or isinstance(v, str) else str(v))
        cells[str(name)] = text.where(text.notna(), "").astype(str)
    return pd.DataFrame(cells, index=pd.RangeIndex(len(frame)))


def read_dataset_file(path: Path, limits: Limits) -> tuple[pd.DataFrame, list[int]]:
    """The dataset's cells as text and each record's number (1, 2, ...)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xpt":
            from ..formats.xpt import read_xpt

            frame, _ = read_xpt(path)
        elif suffix == ".sas7bdat":
            import pyreadstat

            frame, _ = pyreadstat.read_sas7bdat(str(path), disable_datetime_conversion=True,
                                                row_limit=limits.rows + 1)
        else:
            from ..formats.dataset_json import read_dataset_json

            frame, _ = read_dataset_json(path, missing_text=None)
    except SourceError:
        raise
    except Exception as exc:  # each reader has its own error types
        problems = getattr(exc, "problems", None)
        message = problems[0].message if problems else f"{type(exc).__name__}: {exc}"
        raise SourceError.single("SRC003", f"cannot read the dataset: {message}",
                                 file=str(path)) from None
    if len(frame) > limits.rows:
        raise SourceError.single("SRC018", f"more than {limits.rows} records (raise the limit "
                                 f"with --limit rows=N)", file=str(path))
    return _as_text(frame), list(range(1, len(frame) + 1))
