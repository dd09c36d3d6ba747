"""The datasets of one validation run, with the standard each one is checked against."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Literal

import pandas as pd

from .. import standards
from ..errors import StandardsError

Standard = Literal["SDTM", "ADaM"]
SDTM: Standard = "SDTM"
ADAM: Standard = "ADaM"


@cache  # every rule asks for every dataset; for an unknown one, building the error is costly
def metadata(name: str) -> standards.Dataset | None:
    """The shipped metadata of ``name`` (SUPP-- included), or None for a dataset we do not know."""
    try:
        return standards.dataset(name)
    except StandardsError:
        return None


def detect_standard(name: str, hint: str | None = None) -> Standard:
    """SDTM or ADaM: from the metadata when we know the dataset, else the hint, else the name.

    ADaM dataset names start with ``AD`` (ADaMIG naming convention ADxxxxxx); no SDTM
    domain code in the DOMAIN codelist (C66734) does.
    """
    meta = metadata(name)
    if meta is not None:
        return ADAM if meta.standard == "ADaMIG" else SDTM
    if hint:
        return ADAM if hint.strip().lower() == "adam" else SDTM
    return ADAM if name.upper().startswith("AD") else SDTM


class Study(dict[str, pd.DataFrame]):
    """``dict`` of dataset name (upper case) -> frame, plus each dataset's standard.

    Rules take a plain ``dict[str, DataFrame]`` too (see :func:`as_study`).
    """

    def __init__(self, datasets: Mapping[str, pd.DataFrame],
                 hints: Mapping[str, str] | None = None) -> None:
        super().__init__()
        hints = hints or {}
        self.standards: dict[str, Standard] = {}
        for name, frame in datasets.items():
            key = str(name).strip().upper()
            # Record numbers are 1-based positions; rules index by label too, so the index
            # must be 0..n-1 (as read_xpt gives it; other frames get a fresh one).
            index = frame.index
            plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
            self[key] = frame if plain else frame.reset_index(drop=True)
            self.standards[key] = detect_standard(key, hints.get(name) or hints.get(key))

    def names(self, standard: Standard | None = None) -> list[str]:
        """Dataset names, sorted, optionally only those of one standard."""
        return sorted(n for n in self if standard is None or self.standards[n] == standard)


def as_study(datasets: Mapping[str, pd.DataFrame]) -> Study:
    return datasets if isinstance(datasets, Study) else Study(datasets)
