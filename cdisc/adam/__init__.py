"""ADaM derivations from SDTM datasets: ADSL, ADRS, ADTTE, and the RECIST 1.1 review.

ADaM is derived from SDTM datasets, never from raw source records, so it works
on SDTM this tool did not write. :func:`derive_adam` runs the datasets in
dependency order: ADSL (:mod:`.adsl`), then ADRS (:mod:`.adrs`, when the SDTM
has RS), then ADTTE (:mod:`.adtte`), whose parameters may read ADSL, ADRS and
any SDTM domain. The rules are the spec's ``adam:`` section
(:class:`cdisc.spec.adam.AdamSpec`); without one the defaults apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdisc.model import Dataset
from cdisc.spec.adam import AdamSpec

from .adsl import derive_adsl
from .adtte import derive_adtte
from .common import frames_of

try:  # ADRS is built beside this module; without it ADaM is ADSL and ADTTE
    from .adrs import derive_adrs
except ImportError:  # pragma: no cover - only while ADRS is not yet in the tree
    derive_adrs = None  # type: ignore[assignment]

__all__ = ["AdamSpec", "derive_adam", "derive_adrs", "derive_adsl", "derive_adtte"]


def derive_adam(sdtm: Mapping[str, Any], spec: AdamSpec | None = None) -> dict[str, Dataset]:
    """ADSL, ADRS (when RS is given) and ADTTE from the SDTM datasets ``sdtm``.

    ``sdtm``: dataset name -> frame (or :class:`cdisc.model.Dataset`), SUPP--
    datasets included (their qualifiers are read as variables of the parent).
    Returns the ADaM datasets by name, each with its metadata, lineage and
    provenance. Raises :class:`cdisc.errors.DerivationError` with every
    problem of the first dataset that cannot be derived.
    """
    spec = spec or AdamSpec()
    frames = frames_of(sdtm)
    out: dict[str, Dataset] = {"ADSL": derive_adsl(frames, spec)}
    if "RS" in frames and derive_adrs is not None:
        out["ADRS"] = derive_adrs(frames, out["ADSL"].frame, spec.recist)
    parameters = spec.tte_parameters("ADRS" in out)
    if spec.adtte is None:  # the default parameters need the first dose (no EX: no TRTSDT)
        parameters = tuple(p for p in parameters if p.start.dataset != "ADSL"
                           or p.start.date in out["ADSL"].frame.columns)
    if parameters:
        inputs = {**frames, **{name: ds.frame for name, ds in out.items()}}
        out["ADTTE"] = derive_adtte(inputs, spec, parameters=parameters)
    return out
