"""Run every registered rule over a set of datasets, or over a folder of XPT files.

>>> import pandas as pd
>>> dm = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["DM"], "USUBJID": ["S-1"]})
>>> result = validate_datasets({"DM": dm})
>>> result.has_errors  # SUBJID, SITEID, SEX, COUNTRY are required
True
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import Location, Problem, Severity
from ..formats.folder import read_dataset_folder
from .define_checks import DefineFile, load_defines
from .frames import run_cache
from .registry import Rule, all_rules
from .study import Study, metadata

INTERNAL = "CV0000"  # a rule raised: reported as a finding so the run still ends with a report


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    records: int
    standard: str  # "SDTM" or "ADaM"
    label: str | None = None  # from the standards metadata; None for a dataset we do not know
    file: str | None = None  # relative to the validated folder, '/'-separated


@dataclass
class ValidationResult:
    datasets: list[DatasetInfo]
    findings: list[Problem]
    rules: list[Rule] = field(default_factory=list)  # every rule that ran, by id

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.findings if p.severity is severity)

    @property
    def summary(self) -> dict[str, int]:
        return {s.value: self.count(s) for s in Severity}

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.findings)

    def rule_counts(self) -> Counter[str]:
        return Counter(p.code for p in self.findings)

    def with_files(self, files: Mapping[str, str]) -> ValidationResult:
        """The same result with each dataset's file name (relative, '/'-separated)."""
        return replace(self, datasets=[replace(d, file=files.get(d.name, d.file))
                                       for d in self.datasets])


def _order(p: Problem) -> tuple[str, int, str, str, str]:
    loc = p.location
    return (loc.dataset or "", loc.record or 0, p.code, loc.field or "", p.message)


def validate_datasets(datasets: Mapping[str, pd.DataFrame], *,
                      standard_hint: str | Mapping[str, str] | None = None,
                      defines: Sequence[DefineFile] = ()) -> ValidationResult:
    """Every finding of every rule on ``datasets`` (name -> frame), in a stable order.

    Each dataset is checked as SDTM or ADaM: from the shipped metadata when we know
    it, else from ``standard_hint`` ("SDTM"/"ADaM", or a name -> hint mapping), else
    from its name. A dataset we do not know gets the generic checks and a notice.
    A rule that raises becomes a CV0000 finding; the run itself does not fail.
    ``defines`` are the define.xml files to check against the datasets
    (:func:`cdisc.validate.define_checks.load_defines`; the CV12xx rules).
    """
    hints: Mapping[str, str] | None
    if isinstance(standard_hint, str):
        hints = {name: standard_hint for name in datasets}
    else:
        hints = standard_hint
    study = Study(datasets, hints)
    study.defines = list(defines)  # read by the define.xml rules (define_checks)
    findings: list[Problem] = []
    rules = all_rules()
    with run_cache(), _gc_skips_inputs():
        for rule in rules:
            try:
                findings.extend(rule.check(study))
            except Exception as exc:  # a defect in one rule must not hide the others' findings
                findings.append(Problem(INTERNAL, f"rule {rule.id} could not run: "
                                        f"{type(exc).__name__}: {exc}", Location(),
                                        Severity.ERROR))
    infos = []
    for name in study.names():
        meta = metadata(name)
        infos.append(DatasetInfo(name, len(study[name]), study.standards[name],
                                 meta.label if meta is not None else None))
    return ValidationResult(infos, sorted(findings, key=_order), rules)


@contextmanager
def _gc_skips_inputs() -> Iterator[None]:
    """Keep the cyclic garbage collector off the input frames while the rules run.

    The rules make many short-lived objects; each full collection would walk every
    object of every input dataset again (10,000 datasets: a large share of the
    run). ``gc.freeze`` parks what exists now outside the collector until the
    rules are done. Left alone when the caller froze objects already.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def validate_folder(path: str | Path) -> ValidationResult:
    """Read every dataset file under ``path`` (sdtm/ and adam/ subfolders too) and validate.

    A ``define.xml`` in the folder (or beside the datasets) is checked too: its
    schema, and its agreement with the datasets in its own folder (CV12xx).

    Every format :mod:`cdisc.formats` reads counts (``*.xpt`` today). Raises
    :class:`CdiscError` (nothing is validated) when the folder does not exist,
    holds no dataset file, a file cannot be read, or two files hold the same dataset.
    """
    folder = read_dataset_folder(path)
    defines = load_defines(path, folder.frames, folder.files)
    return validate_datasets(folder.frames, standard_hint=folder.hints,
                             defines=defines).with_files(folder.files)
