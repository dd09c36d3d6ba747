"""Validation of SDTM/ADaM datasets: schema-compiled structure checks plus conformance rules.

>>> from cdisc.validate import validate_folder, write_reports   # doctest: +SKIP
>>> result = validate_folder("out")                              # doctest: +SKIP
>>> write_reports(result, "out")                                 # doctest: +SKIP

Rules live in :mod:`cdisc.validate.rules` (one module per family) and register
themselves in :mod:`cdisc.validate.registry`.
"""

from .engine import (
    DatasetInfo,
    ValidationResult,
    validate_datasets,
    validate_folder,
    validate_package,
)
from .registry import Rule, all_rules, get_rule
from .report import print_report, summary_line, to_json, write_reports

__all__ = [
    "DatasetInfo", "Rule", "ValidationResult", "all_rules", "get_rule", "print_report",
    "summary_line", "to_json", "validate_datasets", "validate_folder", "validate_package",
    "write_reports",
]
