"""Run every registered rule over a set of datasets, or over a folder of XPT files.

>>> import pandas as pd
>>> dm = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["DM"], "USUBJID": ["S-1"]})
>>> result = validate_datasets({"DM": dm})
>>> result.has_errors  # SUBJID, SITEID, SEX, COUNTRY are required
True
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import CdiscError, Location, Problem, Severity
from ..formats import READERS, dataset_suffixes
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
                      standard_hint: str | Mapping[str, str] | None = None) -> ValidationResult:
    """Every finding of every rule on ``datasets`` (name -> frame), in a stable order.

    Each dataset is checked as SDTM or ADaM: from the shipped metadata when we know
    it, else from ``standard_hint`` ("SDTM"/"ADaM", or a name -> hint mapping), else
    from its name. A dataset we do not know gets the generic checks and a notice.
    A rule that raises becomes a CV0000 finding; the run itself does not fail.
    """
    hints: Mapping[str, str] | None
    if isinstance(standard_hint, str):
        hints = {name: standard_hint for name in datasets}
    else:
        hints = standard_hint
    study = Study(datasets, hints)
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


def _hint(relative: Path) -> str | None:
    for part in relative.parts[:-1]:
        if part.lower() in ("sdtm", "adam"):
            return part
    return None


# glibc mallopt() parameters and their defaults (malloc/malloc.c), and the environment
# variables that override the defaults at start-up
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_DEFAULTS = {_M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", 128 * 1024),
                    _M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", 128 * 1024)}
_KEEP_FREED = {_M_TRIM_THRESHOLD: 256 * 1024**2, _M_MMAP_THRESHOLD: 32 * 1024**2}


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (mallopt's parameters are glibc's), else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (AttributeError, OSError, ValueError):  # not glibc, no confstr (Windows, macOS)
        return None
    return libc


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """While reading many XPT files, let the C allocator reuse freed memory (glibc only).

    pyreadstat (1.3) allocates and fills 100,000 rows per column for every XPT
    file it reads (a v5 file does not say how many records it holds) and frees
    them once the frame is built. glibc gives that memory back to the kernel and
    maps it again for the next file: about a thousand page faults per small
    file, most of the time of a folder of small files (10,000 files: 11.5
    million page faults, 16 s of system time). Inside this block freed memory
    stays with the process for reuse; on leaving, glibc's default thresholds (or
    the MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_ values) are set again,
    fixed rather than adaptive from then on, and the memory is released. Does
    nothing on other C libraries.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    for param, value in _KEEP_FREED.items():
        libc.mallopt(param, value)
    try:
        yield
    finally:
        for param, (variable, default) in _MALLOC_DEFAULTS.items():
            setting = os.environ.get(variable, "")
            libc.mallopt(param, int(setting) if setting.isdigit() else default)
        libc.malloc_trim(0)


def validate_folder(path: str | Path) -> ValidationResult:
    """Read every dataset file under ``path`` (sdtm/ and adam/ subfolders too) and validate.

    Every format :mod:`cdisc.formats` reads counts (``*.xpt`` today). Raises
    :class:`CdiscError` (nothing is validated) when the folder does not exist,
    holds no dataset file, a file cannot be read, or two files hold the same dataset.
    """
    root = Path(path)
    if not root.is_dir():
        raise CdiscError.single("VAL001", "not a folder", file=str(path))
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in dataset_suffixes()
        # Hidden folders are staging/backup copies (see cdisc.output.folder), not inputs.
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise CdiscError.single("VAL002", "no dataset files to validate (" + ", ".join(
            f"*{s}" for s in dataset_suffixes()) + ")", file=str(path))
    frames: dict[str, pd.DataFrame] = {}
    where: dict[str, str] = {}
    hints: dict[str, str] = {}
    problems: list[Problem] = []
    with reuse_freed_memory():
        for file in files:
            relative = file.relative_to(root).as_posix()
            try:
                frame, member, _label = READERS[file.suffix.lower()](file)
            except CdiscError as exc:
                problems += [replace(p, location=replace(p.location, file=relative))
                             for p in exc.problems]
                continue
            name = (member or file.stem).strip().upper()
            if name in frames:
                problems.append(Problem("VAL003", f"dataset {name} is also in {where[name]}",
                                        Location(file=relative, dataset=name)))
                continue
            frames[name], where[name] = frame, relative
            hint = _hint(file.relative_to(root))
            if hint:
                hints[name] = hint
    if problems:
        raise CdiscError(problems)
    return validate_datasets(frames, standard_hint=hints).with_files(where)

