"""The ``submission:`` section of a spec: what the eCTD package and the reviewer's guides need.

Plain immutable objects built from the schema-valid YAML (``$defs/submission`` in
``schemas/mapping-spec.schema.json``); :mod:`cdisc.output.package` reads them.
Nothing is required: without the section the package uses the FDA defaults and
the reviewer's guides say, for each finding left, that the sponsor still has
to explain it.

::

    submission:
      explanations:              # rule id -> why the finding is left (cSDRG/ADRG section
        CV0105: >-               #   "Data Conformance Summary")
          RACE was not collected in this retrospective case series.
      max_dataset_bytes: 5000000000   # split datasets over this size (FDA TCG 3.3.2: 5 GB)
      split_by:                  # dataset -> the variable a split keeps together
        LB: LBCAT

``split_by`` follows the Technical Conformance Guide: a large dataset is split
on a variable that makes sense to a reviewer (a category such as LBCAT, or
PARAMCD for ADaM); a dataset without one is split by records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import JsonPath

SECTION = "submission"


@dataclass(frozen=True)
class SubmissionSpec:
    #: rule id (e.g. ``CV0105``) -> the sponsor's explanation of the findings left
    explanations: Mapping[str, str] = field(default_factory=dict)
    #: datasets larger than this many bytes are split; None: the agency's limit
    max_dataset_bytes: int | None = None
    #: dataset name -> the variable whose groups a split keeps in one piece
    split_by: Mapping[str, str] = field(default_factory=dict)
    json_path: JsonPath = (SECTION,)


def build_submission(section: Mapping[str, Any] | None) -> SubmissionSpec | None:
    """The section as objects; None when the spec has no ``submission:``."""
    if section is None:
        return None
    return SubmissionSpec(
        explanations={str(k).strip().upper(): " ".join(str(v).split())
                      for k, v in (section.get("explanations") or {}).items()},
        max_dataset_bytes=section.get("max_dataset_bytes"),
        split_by={str(k).upper(): str(v).upper()
                  for k, v in (section.get("split_by") or {}).items()},
    )


__all__ = ["SECTION", "SubmissionSpec", "build_submission"]
