"""Command line: ``cdisc convert``, ``validate``, ``inspect``, ``init``, ``spec ...``.

Parses arguments, calls the library. The installed ``cdisc`` command and
``python -m cdisc`` enter through :func:`cdisc.__main__.main`, which turns an
interrupt and a closed output pipe into their conventional exit codes.

Exit codes: 0 success; 1 validation found errors in the data; 2 the run
itself failed (bad spec, unreadable or invalid source records, bad arguments,
an output folder that may not be replaced); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from cdisc import __version__
from cdisc.errors import CdiscError
from cdisc.limits import DEFAULT_LIMITS, Limits
from cdisc.report_console import echo, print_problems, print_summary, remove_stale_errors_json

# --- --quiet / --verbose ------------------------------------------------------------------
# On the group (`cdisc -q convert`) or on a command (`cdisc convert -q`); kept in the
# context's meta, which every nested context shares, so the commands' signatures stay as
# they are.

_QUIET, _VERBOSE = "cdisc.quiet", "cdisc.verbose"


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_QUIET if param.name == "quiet" else _VERBOSE] = True
    if ctx.meta.get(_QUIET) and ctx.meta.get(_VERBOSE):
        raise click.UsageError("--quiet and --verbose exclude each other")


def _output_options(command: Any) -> Any:
    """``-q/--quiet`` and ``-v/--verbose`` on a command (or the group)."""
    command = click.option(
        "-v", "--verbose", "verbose", is_flag=True, expose_value=False, callback=_remember,
        help="Also print how long each stage took (on stderr).")(command)
    return click.option(
        "-q", "--quiet", "quiet", is_flag=True, expose_value=False, callback=_remember,
        help="Print only errors and the final summary line.")(command)


def _quiet() -> bool:
    return bool(click.get_current_context().meta.get(_QUIET))


def _say(line: Any = "") -> None:
    """A line of the normal output, left out with --quiet (errors and summaries are not)."""
    if not _quiet():
        echo(line)


def _progress() -> Any:
    """The progress display of this command: slow stages on a terminal, times with -v."""
    from cdisc import progress

    meta = click.get_current_context().meta
    return progress.ConsoleProgress(show=not meta.get(_QUIET) and progress.stderr_is_terminal(),
                                    verbose=bool(meta.get(_VERBOSE)),
                                    delay=progress.SLOW_STAGE_SECONDS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cdisc")
@_output_options
def main() -> None:
    """Case-series records to CDISC SDTM, validated, as SAS XPORT v5."""


def _internal(exc: Exception) -> CdiscError:
    """An unexpected exception is a bug, never data findings: exit 2, with the traceback."""
    if isinstance(exc, BrokenPipeError):
        raise exc  # the reader of our output is gone: cdisc.__main__ ends quietly
    traceback.print_exc()
    return CdiscError.single("INTERNAL", f"{type(exc).__name__}: {exc} (a bug in cdisc-convert: "
                             "please report it with the spec and data that caused it)")


def _fail(exc: CdiscError, errors_json: Path | None, limits: Limits = DEFAULT_LIMITS) -> None:
    print_problems(exc.problems, errors_json, limits)
    for line in exc.reconciliation or ():
        echo(f"reconciliation  {line}", err=True)
    sys.exit(2)


def _limits(values: tuple[str, ...]) -> Limits:
    overrides: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise click.BadParameter(f"{value!r}: write NAME=NUMBER, e.g. rows=10000000; the "
                                     f"limits are {', '.join(Limits.names())}",
                                     param_hint="--limit")
        overrides[name.strip()] = int(number)
    try:
        return DEFAULT_LIMITS.with_overrides(overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None


def _default_errors_json(out_dir: Path, exc: CdiscError | None) -> Path | None:
    """``<out>.errors.json`` beside the output folder, unless that folder was refused.

    A refused output folder (OUT010) may be the study folder, ``/`` or a link:
    nothing is written beside it unless ``--errors-json`` names a file.
    """
    if exc is not None and any(p.code == "OUT010" for p in exc.problems):
        return None
    absolute = Path(os.path.abspath(out_dir))
    if not absolute.name:
        return None
    return absolute.with_name(absolute.name + ".errors.json")


CT_OPTION = click.option(
    "--ct", "ct_version", metavar="VERSION",
    help="Controlled Terminology version to validate against and record in the reports, "
    "e.g. 2025-03-28. Only the CT shipped with cdisc-convert is available; another version "
    "is refused (exit 2) with the shipped ones listed. Default: the spec's (or the shipped) "
    "SDTM CT.")

FORMAT_OPTION = click.option(
    "--format", "format_choice", type=click.Choice(["xpt", "json", "ndjson", "both"]),
    default="both", show_default=True,
    help="Dataset files to write: SAS XPORT v5, Dataset-JSON 1.1, its NDJSON form, or "
    "both XPT and Dataset-JSON.")


def _formats(choice: str) -> tuple[str, ...]:
    from cdisc.output.writers import formats_for

    return formats_for(choice)


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping spec (YAML). Default: the embedded PEComa example.")
@click.option("--source", "source_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the spec's source files are relative to (default: the spec's folder).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="Output folder (replaced atomically).")
@click.option("--errors-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Where a failed run writes its problems (default: <out>.errors.json).")
@click.option("--limit", "limit_values", multiple=True, metavar="NAME=N",
              help="Raise a safety limit, e.g. --limit rows=10000000 (names: "
              + ", ".join(Limits.names()) + ").")
@click.option("--allow-outside-sources", is_flag=True,
              help="Let the spec read source files outside the source folder (../, absolute "
              "paths); refused by default.")
@FORMAT_OPTION
@CT_OPTION
@click.option("--package", "package_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the eCTD module 5 package into this folder "
              "(m5/datasets/<study>/tabulations/sdtm, analysis/adam/datasets, define.xml, "
              "cSDRG/ADRG skeletons) and run the FDA technical rejection checks on it; a "
              "reject exits 1 like an error.")
@click.option("--package-format", "package_format", type=click.Choice(["xpt", "both"]),
              default="xpt", show_default=True,
              help="Dataset files of the package: XPT v5, or XPT and Dataset-JSON 1.1.")
@click.option("--verify", type=click.Choice(["fast", "full"]), default="fast",
              show_default=True,
              help="How each XPT file is checked after writing: our own decoder against what "
              "was encoded, or also a full read-back with pandas and pyreadstat.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Threads that write the dataset files side by side (default: the cores "
              "available, at most 4); with 2 or more, a run under 2 GiB also makes the "
              "RECIST review and the checks on the datasets in forked processes beside "
              "the other stages (Linux). The output is the same for any N; 1 writes one "
              "file at a time and forks no stage (the summary keeps its own worker), and "
              "uses the least memory.")
@_output_options
def convert(spec_path: Path | None, source_dir: Path | None, out_dir: Path,
            errors_json: Path | None, limit_values: tuple[str, ...],
            allow_outside_sources: bool, format_choice: str, ct_version: str | None,
            package_dir: Path | None, package_format: str, verify: str,
            workers: int | None) -> None:
    """Convert source records to SDTM and ADaM (XPT v5 and Dataset-JSON) in OUT.

    OUT/sdtm and OUT/adam hold the datasets and their define.xml, OUT/summary the
    survival and response summary, OUT/validation.* the findings.

    OUT is replaced as a whole, and only when it is new, empty or an earlier
    output of cdisc (it holds the .cdisc-output.json marker and nothing else);
    the folders the run reads, and any folder containing them, are refused.
    """
    from cdisc.pipeline import convert as run_convert

    limits = _limits(limit_values)
    progress = _progress()
    try:
        result = run_convert(spec_path, source_dir=source_dir, out_dir=out_dir, limits=limits,
                             allow_outside_sources=allow_outside_sources,
                             formats=_formats(format_choice), ct_version=ct_version,
                             package_dir=package_dir, package_formats=_formats(package_format),
                             verify=verify, workers=workers, progress=progress)
    except CdiscError as exc:
        progress.close()
        _fail(exc, errors_json or _default_errors_json(out_dir, exc), limits)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        progress.close()
        _fail(_internal(exc), errors_json or _default_errors_json(out_dir, None), limits)
    stale = errors_json or _default_errors_json(out_dir, None)
    if stale is not None:
        try:  # the problems of an earlier failed run are no longer true
            remove_stale_errors_json(stale)
        except CdiscError as exc:
            echo(f"warning: {exc.problems[0]}", err=True)
    if not _quiet():
        print_summary(result)
    if result.validation is not None:
        from cdisc.validate import summary_line

        echo(f"{summary_line(result.validation)}: see validation.json")
    package = result.package
    if package is not None and package.checks is not None:
        _say(f"package         {package.paths.root}")
        for problem in package.checks.findings:
            _say(f"{problem.severity.value:<8}{problem.code}  {problem.location.describe()}: "
                 f"{problem.message}")
        rejects = sum(1 for p in package.checks.findings if p.severity.value == "reject")
        echo(f"package checks  {rejects} reject(s) (FDA technical rejection criteria)")
    if ((result.validation is not None and result.validation.has_errors)
            or (package is not None and package.checks is not None
                and package.checks.has_errors)):
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write validation.json, validation.xlsx and validation.html into this folder.")
@CT_OPTION
@click.option("--package", "as_package", is_flag=True,
              help="FOLDER is an eCTD package (it holds m5/datasets/<study>/...): validate its "
              "datasets and run the FDA technical rejection checks (severity Reject, exit 1).")
@_output_options
def validate(folder: Path, report_dir: Path | None, ct_version: str | None,
             as_package: bool) -> None:
    """Validate the XPT datasets in FOLDER (and its sdtm/, adam/ subfolders).

    Exit code 0: no errors; 1: errors found; 2: the run failed (unreadable input).
    """
    from cdisc.output.folder import recover_abandoned
    from cdisc.validate import print_report, validate_folder, write_reports

    try:
        recover_abandoned(folder)  # an output a killed `convert` moved aside is put back
        if as_package:
            from cdisc.validate import validate_package

            result = validate_package(folder, ct_version=ct_version)
        else:
            result = validate_folder(folder, ct_version=ct_version)
        if _quiet():
            from cdisc.validate import summary_line

            echo(summary_line(result))
        else:
            print_report(result)
        if report_dir is not None:
            for path in write_reports(result, report_dir):
                _say(f"report          {path}")
    except CdiscError as exc:
        _fail(exc, None)
    except BrokenPipeError:
        raise
    except OSError as exc:  # the report folder cannot be written
        _fail(CdiscError.single("VAL004", f"cannot write the report: {exc}",
                                file=str(report_dir)), None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    sys.exit(1 if result.has_errors else 0)


@main.command()
@click.option("--sdtm", "sdtm_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of SDTM datasets (XPT, Dataset-JSON or CSV), written by any tool.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True,
              help="Output folder (replaced atomically, as for convert).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path),
              help="A mapping spec or a file of ADaM rules (adam: section); default rules "
              "without one.")
@click.option("--limit", "limit_values", multiple=True, metavar="NAME=N",
              help="Raise a safety limit (see convert --help).")
@FORMAT_OPTION
@_output_options
def adam(sdtm_dir: Path, out_dir: Path, spec_path: Path | None, limit_values: tuple[str, ...],
         format_choice: str) -> None:
    """Derive ADaM (ADSL, ADRS, ADTTE) and the summary from a folder of SDTM datasets."""
    from cdisc.pipeline import convert_adam

    limits = _limits(limit_values)
    try:
        result = convert_adam(sdtm_dir, out_dir=out_dir, spec_path=spec_path, limits=limits,
                              formats=_formats(format_choice))
    except CdiscError as exc:
        _fail(exc, None, limits)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None, limits)
    for name, table in sorted(result.adam.items()):
        _say(f"dataset         {name:<8} {len(table):>5} records")
    _say(f"output          {result.out_dir}")
    if result.validation is not None:
        from cdisc.validate import summary_line

        echo(f"{summary_line(result.validation)}: see validation.json")
        if result.validation.has_errors:
            sys.exit(1)


@main.command()
@click.argument("adam_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("summary"), show_default=True,
              help="Folder for summary.html/.md/.json and the plots (replaced atomically).")
@click.option("--median-ci", type=click.Choice(["loglog", "spss"]), default="loglog",
              show_default=True, help="CI of the median shown: lifelines' log(-log) "
              "transform, or the symmetric median +/- 1.96 SE that SPSS reports.")
@click.option("--landmark", "landmarks", multiple=True, metavar="TIME",
              help="Survival rate at TIME (1y, 6m, 26w, 180d); repeatable. Default: 1y.")
@click.option("--confirmed", is_flag=True,
              help="Response table from the confirmed best response (ADRS CBOR).")
@click.option("--response-population", metavar="FLAG",
              help="ADSL flag of the response table's denominator, e.g. EFFFL.")
@_output_options
def report(adam_dir: Path, out_dir: Path, median_ci: str, landmarks: tuple[str, ...],
           confirmed: bool, response_population: str | None) -> None:
    """The survival and response summary of a folder of ADaM datasets (ADSL, ADRS, ADTTE)."""
    from cdisc.output.summary import SummaryOptions
    from cdisc.pipeline import write_report

    try:
        options = SummaryOptions(median_ci=median_ci, landmarks=landmarks or ("1y",),
                                 confirmed=confirmed, response_population=response_population)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        files = write_report(adam_dir, out_dir, options)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    for path in files[:-1]:
        _say(f"report          {path}")
    if files:
        echo(f"report          {files[-1]}")


@main.command()
@click.option("--data", "data_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The sdtm/ or adam/ folder of datasets to describe.")
@click.option("--spec", "spec_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The mapping spec the datasets were made with (origins, methods).")
@_output_options
def define(data_dir: Path, spec_path: Path) -> None:
    """Write define.xml (and define.html) again for an existing folder of datasets."""
    from cdisc.output.define import regenerate_define

    try:
        path = regenerate_define(data_dir, spec_path)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    echo(f"define          {path}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--rows", "rows", type=click.IntRange(min=0), default=5, show_default=True,
              help="Records shown in the table.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON document (stable keys) instead of the table.")
@_output_options
def inspect(path: Path, rows: int, as_json: bool) -> None:
    """Show a dataset file (XPT, Dataset-JSON, NDJSON, CSV) or a folder of them.

    A file: its name, label, record count, variables (label, type, length,
    display format) and the first records. A folder: one line per dataset.
    Exit code 0: shown; 2: the file or folder cannot be read.
    """
    import json

    from cdisc.output.inspect import inspect_path, problem_line, render

    try:
        document = inspect_path(path, rows=rows)
    except CdiscError as exc:
        echo(problem_line(exc), err=True)
        sys.exit(2)
    except Exception as exc:  # the exit code must say "run failed"
        _fail(_internal(exc), None)
    if as_json:
        # ensure_ascii: control characters and non-ASCII arrive as \u escapes, never raw
        click.echo(json.dumps(document, indent=2, ensure_ascii=True))
    else:
        for line in render(document):
            echo(line)
    if document.get("problems"):
        sys.exit(2)


@main.group()
def spec() -> None:
    """Work with mapping specs."""


#: the --limit of the commands that read a spec (and no source records)
SPEC_LIMIT_OPTION = click.option(
    "--limit", "limit_values", multiple=True, metavar="NAME=N",
    help="Raise a safety limit, e.g. --limit spec_bytes=50000000.")


@spec.command("check")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@SPEC_LIMIT_OPTION
@_output_options
def spec_check(spec_path: Path, limit_values: tuple[str, ...]) -> None:
    """Check a mapping spec (schema, columns, variables, CT) without converting."""
    from cdisc.spec import load_spec

    limits = _limits(limit_values)
    try:
        loaded = load_spec(spec_path, limits=limits)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    for notice in loaded.notices:
        _say(str(notice))
    echo(f"{spec_path}: OK ({len(loaded.domains)} domains, {len(loaded.sources)} sources)")



# --- files the user names: a spec workbook, a spec, a starter spec ---------------------------

#: an --out file that exists and is not replaced without --force
OUT_EXISTS = "OUT040"

FORCE_OPTION = click.option(
    "--force", is_flag=True,
    help="Replace the --out file if it exists (written to a temporary file and renamed, so "
    "it is never left half-written). Without it an existing file is left alone (exit 2).")


def _check_new_file(path: Path, force: bool) -> None:
    """OUT040 unless ``path`` may be written: new, or existing and ``force`` given."""
    if path.is_dir():
        raise CdiscError.single(OUT_EXISTS, "this is a folder: name the file to write",
                                file=str(path))
    if os.path.lexists(path) and not force:
        raise CdiscError.single(OUT_EXISTS, "the file exists and was not replaced; give --force "
                                "to replace it, or name another file", file=str(path))
    if not path.parent.is_dir():
        raise CdiscError.single(OUT_EXISTS, "its folder does not exist", file=str(path))


def _write_new_file(path: Path, data: bytes, force: bool) -> None:
    """Write a file the user asked for: never over an existing one without ``force``.

    Raises :class:`CdiscError` (OUT040 for a file that exists, REP001 when it cannot
    be written); the file is written all or nothing (:func:`write_atomic`).
    """
    from cdisc.formats.atomic import write_atomic

    _check_new_file(path, force)
    write_atomic(path, data)


@spec.command("export")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The workbook to write (.xlsx).")
@FORCE_OPTION
@SPEC_LIMIT_OPTION
@_output_options
def spec_export(spec_path: Path, out_path: Path, force: bool,
                limit_values: tuple[str, ...]) -> None:
    """Write a mapping spec as an Excel workbook (Pinnacle 21 layout plus the mapping rules).

    Datasets, Variables, ValueLevel, Codelists and Methods are laid out as a
    Pinnacle 21 specification for reviewers; Study, Sources, Blocks, Mappings,
    Visits and Rules hold the mapping rules, so that `cdisc spec import` gives
    the spec back (docs/spec-format.md, "Excel specification workbooks").
    """
    from cdisc.spec.workbook import export_workbook

    limits = _limits(limit_values)
    try:
        data = export_workbook(spec_path, limits=limits)
        _write_new_file(out_path, data, force)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed"
        _fail(_internal(exc), None)
    echo(f"workbook        {out_path}")


@spec.command("import")
@click.argument("workbook_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The YAML spec to write.")
@FORCE_OPTION
@SPEC_LIMIT_OPTION
@_output_options
def spec_import(workbook_path: Path, out_path: Path, force: bool,
                limit_values: tuple[str, ...]) -> None:
    """Write the mapping spec an Excel spec workbook holds (as `cdisc spec export` writes it).

    The YAML is written, then checked as `cdisc spec check` does: exit 2 when the
    workbook cannot be read (each problem with its sheet, row and column) or the
    spec it holds has errors. Source file names stay as the workbook has them:
    relative ones are relative to the written spec (or to `convert --source`).
    """
    from cdisc.spec import load_spec
    from cdisc.spec.workbook import workbook_to_yaml

    limits = _limits(limit_values)
    try:
        text = workbook_to_yaml(workbook_path, limits=limits)
        _write_new_file(out_path, text.encode("utf-8"), force)
        _say(f"spec            {out_path}")
        loaded = load_spec(out_path, limits=limits)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed"
        _fail(_internal(exc), None)
    for notice in loaded.notices:
        _say(str(notice))
    echo(f"{out_path}: OK ({len(loaded.domains)} domains, {len(loaded.sources)} sources)")



@main.command()
@click.option("--source", "source_path", required=True,
              type=click.Path(exists=True, path_type=Path),
              help="The study's files: a CSV or XLSX file (every sheet is read), or a folder "
              "of them.")
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The starter spec to write (YAML), e.g. my_study.yaml beside the data.")
@FORCE_OPTION
@click.option("--limit", "limit_values", multiple=True, metavar="NAME=N",
              help="Raise a safety limit, e.g. --limit rows=10000000.")
@_output_options
def init(source_path: Path, out_path: Path, force: bool, limit_values: tuple[str, ...]) -> None:
    """Write a commented starter spec from a study's spreadsheets.

    Reads every sheet and CSV file, recognises the usual columns (patient id,
    sex, dates of birth, consent, death and last contact, drug, dose, adverse
    event term and grade, lesion, diameter, response, ...) by their headers,
    infers types and date formats (day or month first is decided from the
    data), and writes a spec mapping what it recognised. What the files cannot
    tell is left as TODO: `cdisc convert` on the starter lists what is still
    to fill in (exit 2) until none is left.
    """
    from cdisc.sources.profile import profile_sources
    from cdisc.spec.starter import starter_spec, starter_yaml

    limits = _limits(limit_values)
    try:
        _check_new_file(out_path, force)  # before reading anything
        starter = starter_spec(profile_sources(source_path, limits), out_path.absolute())
        _write_new_file(out_path, starter_yaml(starter).encode("utf-8"), force)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed"
        _fail(_internal(exc), None)
    document = starter.document
    for name, source in document["sources"].items():
        _say(f"source          {name:<16} {source['file']}"
             + (f", sheet {source['sheet']!r}" if "sheet" in source else ""))
    for name, domain in document["domains"].items():
        _say(f"domain          {name:<8} {len(domain['records'])} record block(s)")
    echo(f"starter         {out_path}: {len(document['sources'])} source(s), "
         f"{len(document['domains'])} domain(s), {starter.todos} TODO value(s) to fill in")


if __name__ == "__main__":
    from cdisc.__main__ import main as command

    command()
