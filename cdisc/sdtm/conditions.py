"""Row conditions evaluated on frames: ``where:`` filters and the ``condition`` algorithm.

The condition language (its shape, walking it, describing it) is the spec's,
:mod:`cdisc.spec.conditions`; this module evaluates a condition on rows::

    {"column": "grade", "in": [3, 4]}
    {"all": [{"column": "death_date", "is_missing": false},
             {"not": {"column": "cause", "equals": "Unknown"}}]}

A missing value equals nothing, so ``equals``/``in`` are false for it and
``not_equals``/``not_in`` are true.
"""

from __future__ import annotations

# re-exported: the engine's exclusion reasons (cdisc/sdtm/blocks.py) and its evaluation
from ..spec.conditions import describe_condition as describe_condition
from ..spec.conditions import evaluate_condition as evaluate_condition
