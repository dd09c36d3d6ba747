"""One conversion run: spec -> sources -> SDTM -> ADaM -> checks -> output folder.

The CLI calls :func:`convert` (and :func:`convert_adam` for SDTM we did not
write); tests and other programs can too. Nothing is written unless every
stage succeeded (see :mod:`cdisc.output.folder`).

The output folder::

    sdtm/     dm.xpt, dm.json, ... (SDTM)
    adam/     adsl.xpt, adrs.xpt, adtte.xpt, ... (ADaM, derived from the SDTM datasets)
    summary/  summary.html/.md/.json, km-<paramcd>.png, swimmer.png
    validation.json, validation.xlsx, run-report.json, recist-review.json
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__, standards
from .adam.recist import RecistOptions, recist_review
from .errors import (
    CdiscError,
    Location,
    MappingError,
    OutputError,
    Problem,
    ProblemLog,
    Severity,
    SourceError,
    StandardsError,
)
from .forked import ForkedCall, worth_forking
from .formats.atomic import json_parts, write_atomic_parts
from .heap import trim_heap
from .limits import DEFAULT_LIMITS, Limits
from .model import Dataset
from .model.text import codes_shared
from .output.folder import (
    check_output_target,
    recover_abandoned,
    staged_output,
    write_marker,
)
from .output.package import Package, build_package, check_package_target
from .output.reports import reconciliation_lines, run_report, write_json
from .output.writers import dataset_jobs
from .progress import ProgressCallback, Stages
from .resources import example_spec_path
from .sdtm.engine import SdtmResult, build_sdtm
from .sources.located import locate_at_source
from .sources.reader import read_sources
from .spec import Spec, load_spec
from .spec.model import StudyInfo
from .validate import ValidationResult, validate_datasets, write_reports
from .validate.define_checks import load_defines
from .validate.engine import dataset_rules, rule_findings
from .workers import Job, run_jobs, use_workers


@dataclass
class ConversionResult:
    """What :func:`convert` wrote. The SDTM datasets' text columns are read-only: the run
    handed each on with its codes, which the writers, define.xml and validation used
    (:func:`cdisc.model.text.remember_codes`); they are the values written, and a
    change to one (``frame.copy()`` first) would not change the files."""

    out_dir: Path
    spec: Spec
    sdtm: SdtmResult
    files: list[Path] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: findings of cdisc.validate on the datasets; the outputs are written even with
    #: errors, and ``cdisc convert`` then exits 1
    validation: ValidationResult | None = None
    #: the ADaM datasets derived from the SDTM ones (ADSL, ADRS, ADTTE)
    adam: dict[str, Dataset] = field(default_factory=dict)
    #: the eCTD package written with ``package_dir`` (its rejection checks: ``package.checks``)
    package: Package | None = None

    @property
    def datasets(self) -> dict[str, Any]:
        """Every dataset written, SDTM and ADaM, as frames by name."""
        return {**self.sdtm.datasets, **{name: t.frame for name, t in self.adam.items()}}

    @property
    def findings(self) -> list[Problem]:
        return list(self.validation.findings) if self.validation is not None else []

    @property
    def reconciliation(self) -> list[Any]:
        return self.sdtm.reconciliation


def relative_location(problem: Problem, base: Path) -> Problem:
    """Report file names relative to the spec folder, so reports carry no machine paths."""
    file = problem.location.file
    if not file:
        return problem
    try:
        rel = os.path.relpath(file, base)
    except ValueError:
        return problem
    return replace(problem, location=replace(problem.location, file=rel))


def _moved(problem: Problem, staging: Path, final: Path) -> Problem:
    file = problem.location.file
    if not file or not file.startswith(str(staging)):
        return problem
    return replace(problem, location=replace(problem.location,
                                             file=str(final) + file[len(str(staging)):]))


def build(spec_path: str | Path | None = None,
          source_dir: str | Path | None = None, *, limits: Limits = DEFAULT_LIMITS,
          allow_outside_sources: bool = False) -> tuple[Spec, SdtmResult]:
    """Load, read and map, raising a :class:`CdiscError` with every problem found."""
    spec = load_spec(spec_path or example_spec_path(), source_dir=source_dir, limits=limits,
                     allow_outside_sources=allow_outside_sources)
    return spec, map_sources(spec)


def read_paths(spec: Spec) -> list[Path]:
    """What a run reads: the spec, its folder, the source folder and every source file."""
    paths = [spec.path, spec.base_dir, *(s.file for s in spec.sources.values())]
    if spec.source_dir is not None:
        paths.append(spec.source_dir)
    return paths


def map_sources(spec: Spec, stages: Stages | None = None) -> SdtmResult:
    """Read the spec's sources and map them to SDTM, raising with every problem found."""
    stages = stages or Stages()
    problems = ProblemLog()
    stages.start("sources")
    sources = read_sources(spec, problems)
    if len(sources) < len(spec.sources):  # a source not read: nothing can be mapped from it
        problems.raise_if_errors(SourceError)
    stages.start("sdtm")
    # mapped even after row problems of the sources, so one run reports both stages'
    result = build_sdtm(spec, sources, problems)
    result = replace(result, problems=locate_at_source(result.problems, spec, sources))
    if result.problems.errors:
        errors = result.problems.errors
        kind = SourceError if any(p.code.startswith("SRC") for p in errors) else MappingError
        error = kind(errors)
        error.reconciliation = reconciliation_lines(result)
        raise error
    return result


#: dataset formats written by default (``convert --format both``)
DEFAULT_FORMATS = ("xpt", "json")


def _write_standard(tables: dict[str, Dataset], folder: Path, standard: str, spec: Spec | StudyInfo,
                    formats: tuple[str, ...], verify: str = "fast") -> list[Path]:
    """Every non-empty dataset in every format into ``folder``, and its define.xml."""
    with codes_shared():
        return [path for paths in run_jobs(_standard_jobs(tables, folder, standard, spec,
                                                          formats, verify))
                for path in paths]


def _standard_jobs(tables: dict[str, Dataset], folder: Path, standard: str,
                   spec: Spec | StudyInfo, formats: tuple[str, ...], verify: str = "fast"
                   ) -> list[Job[list[Path]]]:
    """:func:`_write_standard` as jobs (:mod:`cdisc.workers`): one per dataset file
    (weighed by its cells), and define.xml, which holds a few text columns of one
    dataset at a time (weighed as four columns of the largest): it runs beside the
    smaller files, not beside the largest."""
    from .output.define import write_define

    written = [t for t in tables.values() if len(t)]
    if not written:
        return []
    folder.mkdir()
    # datasets with no records are reported as OUT003: a submission leaves out empty ones
    study = spec.study if isinstance(spec, Spec) else spec
    files = dataset_jobs(written, folder, created=study.created, formats=formats,
                         metadata_ref="define.xml", verify=verify)
    leaf = ".xpt" if "xpt" in formats else f".{formats[0]}"

    def define() -> list[Path]:
        return write_define(folder, written, standard=standard, study=study, leaf_suffix=leaf,
                            spec=spec if isinstance(spec, Spec) else None)

    jobs = [Job(lambda job=job: [job.run()], job.weight) for job in files]
    return [*jobs, Job(define, weight=4 * max(len(t) for t in written))]


def _rendered_review(datasets: dict[str, Any], recist: dict[str, Any]
                     ) -> tuple[list[Problem], list[bytes]] | None:
    """The RECIST review's findings and its JSON file's bytes (None: nothing to review)."""
    review = recist_review(datasets, RecistOptions(**recist))
    if review is None:
        return None
    return review.findings, list(json_parts(review.payload))


def _check_ct(ct_version: str | None, spec: Spec) -> None:
    """--ct must be a shipped CT package and the one the spec (and so define.xml) records."""
    from .validate.engine import check_ct_version

    if ct_version is None:
        return
    check_ct_version(ct_version)
    if ct_version.strip() != spec.study.ct_version:
        raise StandardsError.single(
            "VAL008", f"--ct {ct_version} differs from the spec's study.ct_version "
            f"{spec.study.ct_version}, which define.xml records; change the spec instead",
            file=str(spec.path))


def _first_file_per_dataset(files: list[Path], staging: Path) -> dict[str, str]:
    where: dict[str, str] = {}
    for file in files:  # the first format written (XPT before JSON) names the dataset
        where.setdefault(file.stem.upper(), file.relative_to(staging).as_posix())
    return where


def _empty_notices(tables: dict[str, Dataset]) -> list[Problem]:
    return [Problem("OUT003", f"{name} has no records and is not written (a submission "
                    "leaves out empty datasets)", Location(dataset=name), Severity.NOTICE)
            for name, table in sorted(tables.items()) if not len(table)]


def convert(spec_path: str | Path | None = None, *, source_dir: str | Path | None = None,
            out_dir: str | Path = "out", limits: Limits = DEFAULT_LIMITS,
            allow_outside_sources: bool = False,
            formats: tuple[str, ...] = DEFAULT_FORMATS,
            ct_version: str | None = None,
            package_dir: str | Path | None = None,
            package_formats: tuple[str, ...] = ("xpt",),
            verify: str = "fast",
            workers: int | None = None,
            progress: ProgressCallback | None = None) -> ConversionResult:
    """Convert a study (default: the embedded PEComa example) into ``out_dir``.

    With ``package_dir``, the eCTD module 5 package too (:mod:`cdisc.output.package`:
    m5/datasets/<study>/..., define.xml, the cSDRG/ADRG skeletons), written after
    ``out_dir`` is complete and before it is swapped in; its technical rejection
    checks are in ``ConversionResult.package.checks``. ``progress`` is called with
    ``(stage, "start")`` and ``(stage, "end")`` (:mod:`cdisc.progress`). ``workers``:
    threads that write the dataset files side by side (:mod:`cdisc.workers`; default:
    the cores available); the output does not depend on it.

    SDTM from the sources, ADaM from the SDTM datasets (the spec's ``adam:``
    section), validation of both, the survival and response summary.
    ``out_dir`` is replaced only when it is new, empty or an earlier output of
    ours, and never when it is or contains anything the run reads
    (:func:`cdisc.output.folder.check_output_target`); that is checked before
    the sources are read.
    """
    # each text column is coded once, where SDTM puts it in order, for its two files,
    # define.xml and validation (the datasets do not change after they are built)
    with codes_shared(), use_workers(workers):
        return _convert(spec_path, source_dir=source_dir, out_dir=out_dir, limits=limits,
                        allow_outside_sources=allow_outside_sources, formats=formats,
                        ct_version=ct_version, package_dir=package_dir,
                        package_formats=package_formats, verify=verify, progress=progress)


def _convert(spec_path: str | Path | None, *, source_dir: str | Path | None,
             out_dir: str | Path, limits: Limits, allow_outside_sources: bool,
             formats: tuple[str, ...], ct_version: str | None,
             package_dir: str | Path | None, package_formats: tuple[str, ...], verify: str,
             progress: ProgressCallback | None) -> ConversionResult:
    from .adam import derive_adam
    from .output.summary import write_files
    from .output.summary_job import SummaryJob

    # first, so that a failing run too puts back an output a killed run moved aside
    recover_abandoned(out_dir)
    if package_dir is not None:
        recover_abandoned(package_dir)
    stages = Stages(progress)
    stages.start("spec")
    spec = load_spec(spec_path or example_spec_path(), source_dir=source_dir, limits=limits,
                     allow_outside_sources=allow_outside_sources)
    _check_ct(ct_version, spec)
    protected = read_paths(spec)
    check_output_target(out_dir, protected)
    if package_dir is not None:
        check_package_target(package_dir, out_dir=out_dir, protected=protected)
    # the summary's worker (when one can be forked: the spec stage's progress thread gone)
    # imports its libraries meanwhile
    stages.done()
    summary = SummaryJob()
    result = map_sources(spec, stages)
    # the stage ended (its progress timer, a thread, gone) before the review is forked
    stages.done()
    trim_heap()  # the sources and the mapping's temporaries are gone: before ADaM grows
    base = spec.base_dir
    warnings = [relative_location(p, base) for p in (*spec.notices, *result.problems)
                if p.severity is not Severity.ERROR]
    warnings += _empty_notices(result.tables)
    # The RECIST review needs the SDTM datasets alone: in a small run a forked child makes
    # it, and its JSON text, while ADaM is derived here (cdisc.forked)
    records = sum(len(table) for table in result.tables.values())
    review_job = (ForkedCall(lambda: _rendered_review(result.datasets, spec.recist))
                  if worth_forking(records) else None)
    stages.start("adam")
    review = review_text = None
    if review_job is None:
        review = recist_review(result.datasets, RecistOptions(**spec.recist))
        if review is not None:
            warnings.extend(review.findings)
    try:
        adam = derive_adam(result.tables, spec.adam)
    except Exception:
        if review_job is not None:
            review_job.result()  # its error first, as when the review comes before ADaM
        raise
    if review_job is not None:
        rendered = review_job.result()
        if rendered is not None:
            findings, review_text = rendered
            warnings.extend(findings)
    warnings += _empty_notices(adam)
    hints = {**{name: "SDTM" for name in result.tables}, **{name: "ADaM" for name in adam}}
    frames = {**result.datasets, **{name: table.frame for name, table in adam.items()}}
    out = Path(out_dir)
    stages.done()  # no progress thread while the checks are forked
    trim_heap()  # the same before the write stage, where the run peaks
    # The rules on the datasets alone need nothing the write stage makes: in a small run a
    # forked child runs them while the files are written; the define.xml rules run here
    # after. Forked before the summary's sender thread starts (cdisc.forked.can_fork).
    records += sum(len(table) for table in adam.values())
    checking = (ForkedCall(lambda: rule_findings(frames, dataset_rules(), standard_hint=hints))
                if worth_forking(records) else None)
    if adam:  # drawn by the worker while the datasets are written and validated
        summary.submit({name: table.frame for name, table in adam.items()},
                       title=spec.study.title or spec.study.studyid)
    with staged_output(out, protected) as staging:
        stages.start("write")
        reviewed = None
        if review is not None:
            # written first and let go: at 100,000 subjects its rows are some 0.3 GB that
            # would otherwise be held through the write stage, where the run peaks
            reviewed = staging / "recist-review.json"
            write_json(review.payload, reviewed)
            review = None
        elif review_text is not None:
            reviewed = staging / "recist-review.json"
            write_atomic_parts(reviewed, review_text)
            review_text = None
        try:
            # SDTM and ADaM files and both define.xml side by side (cdisc.workers)
            jobs = [*_standard_jobs(result.tables, staging / "sdtm", "SDTM", spec, formats,
                                    verify),
                    *_standard_jobs(adam, staging / "adam", "ADaM", spec, formats, verify)]
            files = [path for paths in run_jobs(jobs) for path in paths]
            del jobs
        except OutputError as exc:
            # name the file the user asked for, not the temporary folder that is gone
            raise OutputError([_moved(p, staging, out.resolve()) for p in exc.problems]) from None
        where = _first_file_per_dataset([f for f in files if f.stem.upper() in frames], staging)
        # validated as written: the datasets and the define.xml beside them
        stages.start("validate")
        validation = validate_datasets(frames, standard_hint=hints,
                                       defines=load_defines(staging, frames, where),
                                       ct_version=ct_version or spec.study.ct_version,
                                       found=checking.result() if checking else None)
        validation = validation.with_files(where)
        stages.start("reports")
        files += write_reports(validation, staging, limits)  # validation.json/.xlsx beside sdtm/
        counts = {name: len(table) for name, table in {**result.tables, **adam}.items()}
        write_json(run_report(result, counts, warnings, __version__), staging / "run-report.json")
        files.append(staging / "run-report.json")
        if reviewed is not None:
            files.append(reviewed)
        if adam:
            stages.start("summary")
            files += write_files(summary.result(), staging / "summary")
        write_marker(staging, files)
        package = None
        if package_dir is not None:
            stages.start("package")
            where = Path(package_dir)
            with staged_output(where, [*protected, out.resolve()]) as package_staging:
                try:
                    package = build_package(package_staging, studyid=spec.study.studyid,
                                            sdtm=result.tables, adam=adam,
                                            validation=validation, spec=spec,
                                            formats=package_formats)
                except OutputError as exc:  # name the folder asked for, not the staging one
                    raise OutputError([_moved(p, package_staging, where.resolve())
                                       for p in exc.problems]) from None
                write_marker(package_staging, package.files)
            package = package.relocated(where.resolve())
    stages.done()
    final = [out.resolve() / f.relative_to(staging) for f in files]
    return ConversionResult(out.resolve(), spec, result, final, warnings, validation, adam,
                            package)


def _created_for(folder: Path) -> datetime:
    """The timestamp of outputs made from a folder of datasets, never the wall clock.

    SOURCE_DATE_EPOCH when set; else the creation stamp in the header of the
    first XPT file (the SDTM's own); else the SAS epoch, 1960-01-01.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise OutputError.single("OUT012", "SOURCE_DATE_EPOCH is out of range",
                                     value=epoch) from None
    from .formats.xpt import read_xpt_created

    for file in sorted(folder.rglob("*.xpt")):
        try:
            return read_xpt_created(file)
        except CdiscError:
            continue
    return datetime(1960, 1, 1)


@dataclass
class AdamResult:
    out_dir: Path
    adam: dict[str, Dataset]
    files: list[Path] = field(default_factory=list)
    validation: ValidationResult | None = None


def convert_adam(sdtm_dir: str | Path, *, out_dir: str | Path = "out",
                 spec_path: str | Path | None = None, limits: Limits = DEFAULT_LIMITS,
                 formats: tuple[str, ...] = DEFAULT_FORMATS) -> AdamResult:
    """ADaM (and the summary) from a folder of SDTM datasets that any tool wrote.

    ``sdtm_dir`` holds XPT, Dataset-JSON or CSV files; ``spec_path`` a mapping spec
    or a file of ADaM rules alone (:func:`cdisc.spec.load_adam_spec`; the default
    rules without one). Writes ``out_dir/adam/``, ``out_dir/summary/`` and the
    validation reports, all or nothing, as :func:`convert` does.
    """
    from .adam import derive_adam
    from .formats import ALL_READERS
    from .formats.folder import read_dataset_folder
    from .output.summary import write_summary
    from .spec import load_adam_spec

    recover_abandoned(out_dir)
    adam_spec = load_adam_spec(spec_path, limits=limits) if spec_path is not None else None
    protected = [Path(sdtm_dir), *([Path(spec_path)] if spec_path is not None else [])]
    check_output_target(out_dir, protected)
    folder = read_dataset_folder(sdtm_dir, suffixes=tuple(ALL_READERS))
    adam = derive_adam(folder.frames, adam_spec)
    adsl = adam["ADSL"].frame
    studyid = str(adsl["STUDYID"].dropna().iloc[0]) if len(adsl) else "STUDY"
    study = StudyInfo(studyid=studyid, sdtmig_version="3.4",
                      ct_version=standards.ct_versions().get("SDTM CT", ""),
                      data_cutoff=getattr(adam_spec, "data_cutoff", "") or "",
                      created=_created_for(Path(sdtm_dir)))
    frames = {name: table.frame for name, table in adam.items()}
    out = Path(out_dir)
    with staged_output(out, protected) as staging:
        files = _write_standard(adam, staging / "adam", "ADaM", study, formats)
        where = _first_file_per_dataset([f for f in files if f.stem.upper() in frames], staging)
        validation = validate_datasets(frames, standard_hint="ADaM",
                                       defines=load_defines(staging, frames, where))
        validation = validation.with_files(where)
        files += write_reports(validation, staging, limits)
        files += write_summary(frames, staging / "summary", title=studyid)
        write_marker(staging, files)
    final = [out.resolve() / f.relative_to(staging) for f in files]
    return AdamResult(out.resolve(), adam, final, validation)


def write_report(adam_dir: str | Path, out_dir: str | Path = "summary",
                 options: Any = None) -> list[Path]:
    """The survival and response summary of a folder of ADaM datasets, into ``out_dir``.

    ``options``: a :class:`cdisc.output.summary.SummaryOptions` (the defaults without one).
    """
    from .formats import ALL_READERS
    from .formats.folder import read_dataset_folder
    from .output.summary import DEFAULT_OPTIONS, write_summary

    recover_abandoned(out_dir)
    check_output_target(out_dir, [Path(adam_dir)])
    folder = read_dataset_folder(adam_dir, suffixes=tuple(ALL_READERS))
    out = Path(out_dir)
    with staged_output(out, [Path(adam_dir)]) as staging:
        files = write_summary(folder.frames, staging, options or DEFAULT_OPTIONS)
        write_marker(staging, files)
    return [out.resolve() / f.relative_to(staging) for f in files]


__all__ = ["AdamResult", "ConversionResult", "Location", "build", "convert", "convert_adam",
           "relative_location", "write_report"]
