"""One conversion run: spec -> sources -> SDTM -> checks -> output folder.

The CLI calls :func:`convert`; tests and other programs can too. Nothing is
written unless every stage succeeded (see :mod:`cdisc.output.folder`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__
from .adam.recist import RecistOptions, recist_review
from .errors import (
    Location,
    MappingError,
    OutputError,
    Problem,
    ProblemLog,
    Severity,
    SourceError,
)
from .limits import DEFAULT_LIMITS, Limits
from .output.folder import (
    check_output_target,
    recover_abandoned,
    staged_output,
    write_marker,
)
from .output.reports import reconciliation_lines, run_report, write_json
from .output.writers import write_datasets
from .resources import example_spec_path
from .sdtm.engine import SdtmResult, build_sdtm
from .sources.reader import read_sources
from .spec import Spec, load_spec
from .validate import ValidationResult, validate_datasets, write_reports


@dataclass
class ConversionResult:
    out_dir: Path
    spec: Spec
    sdtm: SdtmResult
    files: list[Path] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: findings of cdisc.validate on the datasets; the outputs are written even with
    #: errors, and ``cdisc convert`` then exits 1
    validation: ValidationResult | None = None


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


def map_sources(spec: Spec) -> SdtmResult:
    """Read the spec's sources and map them to SDTM, raising with every problem found."""
    problems = ProblemLog()
    sources = read_sources(spec, problems)
    problems.raise_if_errors(SourceError)
    result = build_sdtm(spec, sources, problems)
    if problems.errors:
        error = MappingError(problems.errors)
        error.reconciliation = reconciliation_lines(result)
        raise error
    return result


def write_outputs(spec: Spec, result: SdtmResult, staging: Path) -> list[Path]:
    """Every dataset file of a successful run, into ``staging``."""
    sdtm_dir = staging / "sdtm"
    sdtm_dir.mkdir()
    # datasets with no records are reported as OUT003 by convert(): a submission leaves
    # out empty datasets
    tables = [table for table in result.tables.values() if len(table)]
    return write_datasets(tables, sdtm_dir, created=spec.study.created)


def convert(spec_path: str | Path | None = None, *, source_dir: str | Path | None = None,
            out_dir: str | Path = "out", limits: Limits = DEFAULT_LIMITS,
            allow_outside_sources: bool = False) -> ConversionResult:
    """Convert a study (default: the embedded PEComa example) into ``out_dir``.

    ``out_dir`` is replaced only when it is new, empty or an earlier output of
    ours, and never when it is or contains anything the run reads
    (:func:`cdisc.output.folder.check_output_target`); that is checked before
    the sources are read.
    """
    # first, so that a failing run too puts back an output a killed run moved aside
    recover_abandoned(out_dir)
    spec = load_spec(spec_path or example_spec_path(), source_dir=source_dir, limits=limits,
                     allow_outside_sources=allow_outside_sources)
    protected = read_paths(spec)
    check_output_target(out_dir, protected)
    result = map_sources(spec)
    base = spec.base_dir
    warnings = [relative_location(p, base) for p in (*spec.notices, *result.problems)
                if p.severity is not Severity.ERROR]
    warnings += [Problem("OUT003", f"{name} has no records and is not written (a submission "
                         "leaves out empty datasets)", Location(dataset=name), Severity.NOTICE)
                 for name, frame in sorted(result.datasets.items()) if frame.empty]
    review = recist_review(result.datasets, RecistOptions(**spec.recist))
    if review is not None:
        warnings.extend(review.findings)
    validation = validate_datasets(result.datasets, standard_hint="SDTM")
    out = Path(out_dir)
    with staged_output(out, protected) as staging:
        try:
            files = write_outputs(spec, result, staging)
        except OutputError as exc:
            # name the file the user asked for, not the temporary folder that is gone
            raise OutputError([_moved(p, staging, out.resolve()) for p in exc.problems]) from None
        validation = validation.with_files(
            {f.stem.upper(): f.relative_to(staging).as_posix() for f in files})
        files += write_reports(validation, staging, limits)  # validation.json/.xlsx beside sdtm/
        counts = {name: len(frame) for name, frame in result.datasets.items()}
        write_json(run_report(result, counts, warnings, __version__), staging / "run-report.json")
        files.append(staging / "run-report.json")
        if review is not None:
            write_json(review.payload, staging / "recist-review.json")
            files.append(staging / "recist-review.json")
        write_marker(staging, files)
    final = [out.resolve() / f.relative_to(staging) for f in files]
    return ConversionResult(out.resolve(), spec, result, final, warnings, validation)


__all__ = ["ConversionResult", "Location", "build", "convert", "relative_location"]
