"""Run every registered rule over a set of datasets, or over a folder of XPT files.

>>> import pandas as pd
>>> dm = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["DM"], "USUBJID": ["S-1"]})
>>> result = validate_datasets({"DM": dm})
>>> result.has_errors  # SUBJID, SITEID, SEX, COUNTRY are required
True
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import pandas as pd

from .. import standards
from ..errors import CdiscError, Location, Problem, Severity, StandardsError
from ..formats.folder import read_dataset_folder
from .define_checks import DefineFile, load_defines
from .frames import run_cache
from .registry import InScope, Rule, all_rules
from .study import ADAM, Study, metadata

INTERNAL = "CV0000"  # a rule raised: reported as a finding so the run still ends with a report
#: the CT package whose version ``ct_version`` defaults to (the one the SDTM checks use)
DEFAULT_CT_PACKAGE = "SDTM CT"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    records: int
    standard: str  # "SDTM" or "ADaM"
    label: str | None = None  # from the standards metadata; None for a dataset we do not know
    file: str | None = None  # relative to the validated folder, '/'-separated
    #: Define-XML class (EVENTS, FINDINGS, ...): see :func:`dataset_class`
    dataset_class: str | None = None


@dataclass
class ValidationResult:
    datasets: list[DatasetInfo]
    findings: list[Problem]
    rules: list[Rule] = field(default_factory=list)  # every rule that ran, by id
    #: the controlled terminology version of the run (``--ct``; default the shipped SDTM CT)
    ct_version: str = ""
    #: the run's timestamp (ISO 8601), never the wall clock: see :func:`run_date`
    date: str | None = None
    #: where ``date`` comes from, e.g. "SOURCE_DATE_EPOCH" or "the header of dm.xpt"
    date_source: str | None = None
    #: the folder validated, as the caller named it; None for datasets given in memory
    folder: str | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.findings if p.severity is severity)

    @property
    def summary(self) -> dict[str, int]:
        """Findings per severity; ``reject`` only when rejection checks ran (a package)."""
        rejects = (any(r.severity is Severity.REJECT for r in self.rules)
                   or any(p.severity is Severity.REJECT for p in self.findings))
        return {s.value: self.count(s) for s in Severity
                if s is not Severity.REJECT or rejects}

    @property
    def has_errors(self) -> bool:
        """Any error or reject (exit code 1)."""
        return any(p.severity.blocking for p in self.findings)

    def rule_counts(self) -> Counter[str]:
        return Counter(p.code for p in self.findings)

    def with_files(self, files: Mapping[str, str]) -> ValidationResult:
        """The same result with each dataset's file name (relative, '/'-separated)."""
        return replace(self, datasets=[replace(d, file=files.get(d.name, d.file))
                                       for d in self.datasets])


def _order(p: Problem) -> tuple[str, int, str, str, str]:
    loc = p.location
    return (loc.dataset or "", loc.record or 0, p.code, loc.field or "", p.message)


def dataset_class(name: str, columns: Sequence[object], standard: str) -> str | None:
    """The Define-XML class of a dataset: from the shipped metadata, else from its variables.

    For a dataset we do not ship metadata for, an SDTM dataset with --TESTCD is
    FINDINGS, with --TERM EVENTS, with --TRT INTERVENTIONS (the topic variables
    of the general observation classes, SDTM v2.0 section 2.2); an ADaM dataset
    with PARAMCD is a BASIC DATA STRUCTURE. None when nothing says.
    """
    meta = metadata(name)
    if meta is not None:
        return meta.define_class or meta.dataset_class.upper()
    have = {str(c).upper() for c in columns}
    if standard == ADAM:
        return "BASIC DATA STRUCTURE" if "PARAMCD" in have else None
    prefix = name[:2].upper()
    for topic, cls in (("TESTCD", "FINDINGS"), ("TERM", "EVENTS"), ("TRT", "INTERVENTIONS")):
        if prefix + topic in have:
            return cls
    return None


def check_ct_version(version: str | None) -> str:
    """The CT version of a run: ``version`` if a shipped package has it, else an error.

    None gives the shipped SDTM CT version. Only the shipped packages can be
    used (``cdisc.standards.ct_versions()``); any other version raises
    :class:`~cdisc.errors.StandardsError` (VAL007) naming the shipped ones.
    """
    shipped = standards.ct_versions()
    if version is None:
        return shipped.get(DEFAULT_CT_PACKAGE) or next(iter(sorted(shipped.values())), "")
    wanted = str(version).strip()
    if wanted in shipped.values():
        return wanted
    listed = ", ".join(f"{package} {v}" for package, v in sorted(shipped.items()))
    raise StandardsError.single(
        "VAL007", f"CT version {wanted!r} is not available: this version of cdisc-convert "
        f"ships only {listed} (use --ct {shipped.get(DEFAULT_CT_PACKAGE, wanted)} or leave "
        "--ct out)")


def ct_packages(version: str) -> list[str]:
    """The shipped CT packages of ``version``, e.g. ``["SDTM CT"]``."""
    return sorted(p for p, v in standards.ct_versions().items() if v == version)


def run_rule(rule: Rule, study: Study,
             classes: Mapping[str, str | None] | None = None) -> list[Problem]:
    """The findings of one rule: once on the study, or once per dataset in its scope.

    ``classes`` are the datasets' classes (:func:`dataset_class`; computed when not
    given). A rule that raises becomes a CV0000 finding (for that dataset, when
    scoped), so a defect in one rule does not hide the others' findings.
    """
    if classes is None:
        classes = {name: dataset_class(name, study[name].columns, study.standards[name])
                   for name in study}

    def failed(exc: Exception, dataset: str | None) -> Problem:
        where = f" on {dataset}" if dataset else ""
        return Problem(INTERNAL, f"rule {rule.id} could not run{where}: "
                       f"{type(exc).__name__}: {exc}", Location(dataset=dataset), Severity.ERROR)

    if rule.scope is None:
        try:
            return list(rule.check(study))
        except Exception as exc:
            return [failed(exc, None)]
    out: list[Problem] = []
    for name in study.names():
        frame, standard = study[name], study.standards[name]
        if not rule.scope.matches(name, frame.columns, standard, classes[name]):
            continue
        try:
            out.extend(rule.check(InScope(name, frame, study, standard, classes[name])))
        except Exception as exc:
            out.append(failed(exc, name))
    return out


def validate_datasets(datasets: Mapping[str, pd.DataFrame], *,
                      standard_hint: str | Mapping[str, str] | None = None,
                      defines: Sequence[DefineFile] = (),
                      ct_version: str | None = None,
                      date: str | datetime | None = None,
                      date_source: str | None = None,
                      found: Mapping[str, Sequence[Problem]] | None = None) -> ValidationResult:
    """Every finding of every rule on ``datasets`` (name -> frame), in a stable order.

    Each dataset is checked as SDTM or ADaM: from the shipped metadata when we know
    it, else from ``standard_hint`` ("SDTM"/"ADaM", or a name -> hint mapping), else
    from its name. A dataset we do not know gets the generic checks and a notice.
    A rule with a :class:`~cdisc.validate.registry.Scope` is given only the
    datasets in its scope, one at a time; the others see the whole study.
    A rule that raises becomes a CV0000 finding; the run itself does not fail.
    ``defines`` are the define.xml files to check against the datasets
    (:func:`cdisc.validate.define_checks.load_defines`; the CV12xx rules).

    ``ct_version`` is the CT version of the run (:func:`check_ct_version`: only a
    shipped one; raises StandardsError otherwise); ``date`` the run's timestamp
    for the reports and ``date_source`` where it comes from (default: the
    CreationDateTime of the first define.xml, so the date is the data's, never
    the wall clock). ``found``: the findings of rules already run on these same
    datasets (by rule id, from :func:`rule_findings`, e.g. in another process);
    those rules are not run again.
    """
    ct = check_ct_version(ct_version)
    rules = dataset_rules()
    found = found or {}
    study = _study(datasets, standard_hint, defines)
    classes = _classes(study)
    ran = _run_rules([r for r in rules if r.id not in found], study, classes)
    findings = [p for rule in rules for p in (found[rule.id] if rule.id in found
                                              else ran[rule.id])]
    infos = []
    for name in study.names():
        meta = metadata(name)
        infos.append(DatasetInfo(name, len(study[name]), study.standards[name],
                                 meta.label if meta is not None else None,
                                 dataset_class=classes[name]))
    if date is None:
        date, date_source = _define_date(defines)
    return ValidationResult(infos, sorted(findings, key=_order), rules, ct_version=ct,
                            date=_iso(date), date_source=date_source if date else None)


class _DefineNeeded(BaseException):
    """Raised by a rule that reads define.xml in :func:`rule_findings`, which has none yet:
    a BaseException, so that no ``except Exception`` of a rule (or of :func:`run_rule`,
    which turns errors into CV0000 findings) takes it for an answer."""


class _DefinesLater:
    """``study.defines`` before define.xml is written: any use of it stops the rule."""

    def _needed(self, *_: object) -> NoReturn:
        raise _DefineNeeded

    __bool__ = __len__ = __iter__ = __getitem__ = __contains__ = __getattr__ = _needed


def rule_findings(datasets: Mapping[str, pd.DataFrame], rules: Sequence[Rule], *,
                  standard_hint: str | Mapping[str, str] | None = None,
                  ) -> dict[str, list[Problem]]:
    """The findings of ``rules`` on ``datasets`` before their define.xml exists, by rule id:
    part of :func:`validate_datasets`, which takes them back as ``found`` and runs the
    rest. A rule that reads define.xml is left out here (it stops where it reads it).

    >>> import pandas as pd
    >>> dm = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["DM"], "USUBJID": ["S-1"]})
    >>> found = rule_findings({"DM": dm}, dataset_rules())
    >>> [p.location.field for p in found["CV0105"]]  # Req variables missing
    ['SUBJID', 'SITEID', 'SEX', 'COUNTRY']
    >>> "CV1202" in found  # "Dataset is not described in define.xml": needs define.xml
    False
    """
    study = _study(datasets, standard_hint, ())
    study.defines = _DefinesLater()  # type: ignore[assignment]
    return _run_rules(rules, study, _classes(study))


def _study(datasets: Mapping[str, pd.DataFrame], standard_hint: str | Mapping[str, str] | None,
           defines: Sequence[DefineFile]) -> Study:
    hints: Mapping[str, str] | None
    if isinstance(standard_hint, str):
        hints = {name: standard_hint for name in datasets}
    else:
        hints = standard_hint
    study = Study(datasets, hints)
    study.defines = list(defines)  # read by the define.xml rules (define_checks)
    return study


def _classes(study: Study) -> dict[str, str | None]:
    return {name: dataset_class(name, study[name].columns, study.standards[name])
            for name in study}


def _run_rules(rules: Sequence[Rule], study: Study,
               classes: Mapping[str, str | None]) -> dict[str, list[Problem]]:
    found: dict[str, list[Problem]] = {}
    with run_cache(), _gc_skips_inputs():
        for rule in rules:
            try:
                found[rule.id] = run_rule(rule, study, classes)
            except _DefineNeeded:
                continue
    return found


def _define_date(defines: Sequence[DefineFile]) -> tuple[str | None, str | None]:
    for define in defines:
        if define.document is not None and define.document.creation:
            return define.document.creation, f"CreationDateTime of {define.file}"
    return None, None


def _iso(date: str | datetime | None) -> str | None:
    if isinstance(date, datetime):
        return date.isoformat(timespec="seconds")
    return date.strip() or None if isinstance(date, str) else None


def run_date(folder: str | Path, files: Mapping[str, str],
             defines: Sequence[DefineFile] = ()) -> tuple[str | None, str | None]:
    """The timestamp of a validation of ``folder`` and where it comes from; never the clock.

    SOURCE_DATE_EPOCH when set (reproducible builds); else the CreationDateTime
    of the first define.xml; else the creation stamp in the header of the first
    XPT dataset (in file name order); else None (the reports say "not recorded").
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.lstrip("-").isdigit():
        try:
            stamp = datetime.fromtimestamp(int(epoch), tz=UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise CdiscError.single("VAL008", "SOURCE_DATE_EPOCH is out of range",
                                    value=epoch) from None
        return _iso(stamp), "SOURCE_DATE_EPOCH"
    date, source = _define_date(defines)
    if date:
        return date, source
    from ..formats.xpt import read_xpt_created

    for file in sorted(f for f in files.values() if f.lower().endswith(".xpt")):
        try:
            return _iso(read_xpt_created(Path(folder) / file)), f"the header of {file}"
        except CdiscError:
            continue
    return None, None


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


def validate_folder(path: str | Path, *, ct_version: str | None = None) -> ValidationResult:
    """Read every dataset file under ``path`` (sdtm/ and adam/ subfolders too) and validate.

    A ``define.xml`` in the folder (or beside the datasets) is checked too: its
    schema, and its agreement with the datasets in its own folder (CV12xx).
    ``ct_version`` as for :func:`validate_datasets` (checked before anything is
    read); the reports' date is :func:`run_date`.

    Every format :mod:`cdisc.formats` reads counts (``*.xpt`` today). Raises
    :class:`CdiscError` (nothing is validated) when the folder does not exist,
    holds no dataset file, a file cannot be read, or two files hold the same dataset.
    """
    check_ct_version(ct_version)
    folder = read_dataset_folder(path)
    defines = load_defines(path, folder.frames, folder.files)
    date, source = run_date(path, folder.files, defines)
    result = validate_datasets(folder.frames, standard_hint=folder.hints, defines=defines,
                               ct_version=ct_version, date=date, date_source=source)
    return replace(result.with_files(folder.files), folder=str(path))


# --- a submission package: the dataset rules plus the technical rejection checks -----------


def dataset_rules() -> list[Rule]:
    """Every rule of a set of datasets: all but a package's rejection checks (CV13xx)."""
    from .rules.submission import PACKAGE_FAMILY

    return [r for r in all_rules() if r.family != PACKAGE_FAMILY]


def package_rules() -> list[Rule]:
    """The technical rejection checks of a package (:mod:`cdisc.validate.rules.submission`)."""
    from .rules.submission import PACKAGE_FAMILY

    return [r for r in all_rules() if r.family == PACKAGE_FAMILY]


def _under(problem: Problem, prefix: str) -> Problem:
    """``problem`` with its (relative) file name below ``prefix``."""
    file = problem.location.file
    if not file or Path(file).is_absolute():
        return problem
    return replace(problem, location=replace(problem.location, file=f"{prefix}/{file}"))


def validate_package(path: str | Path, *, max_bytes: int | None = None,
                     only_submission: bool = False, **options: object) -> ValidationResult:
    """Validate an eCTD module 5 study data package: its datasets and its rejection checks.

    ``path`` is the package folder (the one holding ``m5/``; ``m5`` or
    ``m5/datasets`` themselves are accepted). Each study folder
    ``m5/datasets/<study>`` is read from ``tabulations/sdtm/`` (SDTM) and
    ``analysis/adam/datasets/`` (ADaM), the pieces of split datasets in their
    ``split/`` sub-folders excepted, and checked by every rule of
    :func:`validate_datasets` (with the define.xml beside the datasets) and by
    the technical rejection checks (:mod:`cdisc.validate.rules.submission`,
    severity Reject, which makes ``has_errors`` true). ``max_bytes`` is the size
    limit of a dataset file (default FDA's 5 GB); ``only_submission`` runs the
    rejection checks alone; ``options`` go to :func:`validate_datasets`.
    File names in the result are relative to the package folder.

    Raises :class:`CdiscError` when ``path`` holds no ``m5/datasets/<study>``
    folder or a dataset file cannot be read; missing datasets, define.xml or
    folders are findings.
    """
    from .rules.submission import FDA_MAX_BYTES, find_studies

    root, studies = find_studies(path)
    parts = [_validate_study(root, study, max_bytes or FDA_MAX_BYTES, only_submission, options)
             for study in studies]
    first = parts[0]
    rules = {r.id: r for part in parts for r in part.rules}
    return replace(first, datasets=[d for part in parts for d in part.datasets],
                   findings=sorted((p for part in parts for p in part.findings), key=_order),
                   rules=[rules[k] for k in sorted(rules)], folder=str(path))


def _validate_study(root: Path, study_dir: Path, max_bytes: int, only_submission: bool,
                    options: Mapping[str, object]) -> ValidationResult:
    from .define_checks import DEFINE_FILE
    from .rules.submission import SPLIT_FOLDER, scan_study

    package = scan_study(root, study_dir, max_bytes)
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    hints: dict[str, str] = {}
    for folder in package.standards.values():
        if not folder.exists:
            continue
        try:
            read = read_dataset_folder(root / folder.path)
        except CdiscError as exc:
            if all(p.code == "VAL002" for p in exc.problems):
                continue  # a folder without dataset files: the rejection checks say so
            raise CdiscError([_under(p, folder.path) for p in exc.problems]) from None
        for name, relative in sorted(read.files.items()):
            if Path(relative).parts[0] == SPLIT_FOLDER:
                continue  # a piece of a split dataset: the whole one is beside the folder
            if name in frames:
                raise CdiscError.single("VAL003", f"dataset {name} is also in {files[name]}",
                                        file=f"{folder.path}/{relative}", dataset=name)
            frames[name], files[name] = read.frames[name], f"{folder.path}/{relative}"
            hints[name] = folder.standard
    package.files, package.standard_of = files, hints
    # define.xml and the datasets beside it, named relative to the study folder
    in_study = {name: Path(file).relative_to(package.folder).as_posix()
                for name, file in files.items()}
    defines = load_defines(root / package.folder, frames, in_study)
    for define in defines:
        for folder in package.standards.values():
            if f"{package.folder}/{define.file}" == f"{folder.path}/{DEFINE_FILE}":
                folder.define = define
    if only_submission:
        result = ValidationResult([DatasetInfo(
            name, len(frames[name]), hints[name],
            meta.label if (meta := metadata(name)) is not None else None)
            for name in sorted(frames)], [], [])
    else:
        result = validate_datasets(frames, standard_hint=hints, defines=defines,
                                   **options)  # type: ignore[arg-type]
        result = replace(result, findings=[_under(p, package.folder) for p in result.findings])
    study = Study(frames, hints)
    study.defines = defines
    study.package = package  # type: ignore[attr-defined]  (read by the rejection checks)
    rules = package_rules()
    findings = list(result.findings)
    for rule in rules:
        try:
            findings.extend(rule.check(study))
        except Exception as exc:  # a defect in one rule must not hide the others' findings
            findings.append(Problem(INTERNAL, f"rule {rule.id} could not run: "
                                    f"{type(exc).__name__}: {exc}", Location(), Severity.ERROR))
    return replace(result.with_files(files), findings=sorted(findings, key=_order),
                   rules=[*result.rules, *rules])
