"""Command line: ``cdisc convert``, ``cdisc validate``, ``cdisc inspect``, ``cdisc spec check``.

Parses arguments, calls the library. The installed ``cdisc`` command and
``python -m cdisc`` enter through :func:`cdisc.__main__.run`, which turns an
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

import click

from cdisc import __version__
from cdisc.errors import CdiscError
from cdisc.limits import DEFAULT_LIMITS, Limits
from cdisc.report_console import echo, print_problems, print_summary, remove_stale_errors_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cdisc")
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
def convert(spec_path: Path | None, source_dir: Path | None, out_dir: Path,
            errors_json: Path | None, limit_values: tuple[str, ...],
            allow_outside_sources: bool, format_choice: str, ct_version: str | None,
            package_dir: Path | None, package_format: str, verify: str) -> None:
    """Convert source records to SDTM and ADaM (XPT v5 and Dataset-JSON) in OUT.

    OUT/sdtm and OUT/adam hold the datasets and their define.xml, OUT/summary the
    survival and response summary, OUT/validation.* the findings.

    OUT is replaced as a whole, and only when it is new, empty or an earlier
    output of cdisc (it holds the .cdisc-output.json marker and nothing else);
    the folders the run reads, and any folder containing them, are refused.
    """
    from cdisc.pipeline import convert as run_convert

    limits = _limits(limit_values)
    try:
        result = run_convert(spec_path, source_dir=source_dir, out_dir=out_dir, limits=limits,
                             allow_outside_sources=allow_outside_sources,
                             formats=_formats(format_choice), ct_version=ct_version,
                             package_dir=package_dir, package_formats=_formats(package_format),
                             verify=verify)
    except CdiscError as exc:
        _fail(exc, errors_json or _default_errors_json(out_dir, exc), limits)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), errors_json or _default_errors_json(out_dir, None), limits)
    stale = errors_json or _default_errors_json(out_dir, None)
    if stale is not None:
        try:  # the problems of an earlier failed run are no longer true
            remove_stale_errors_json(stale)
        except CdiscError as exc:
            echo(f"warning: {exc.problems[0]}", err=True)
    print_summary(result)
    if result.validation is not None:
        from cdisc.validate import summary_line

        echo(f"{summary_line(result.validation)}: see validation.json")
    package = result.package
    if package is not None and package.checks is not None:
        echo(f"package         {package.paths.root}")
        for problem in package.checks.findings:
            echo(f"{problem.severity.value:<8}{problem.code}  {problem.location.describe()}: "
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
        print_report(result)
        if report_dir is not None:
            for path in write_reports(result, report_dir):
                echo(f"report          {path}")
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
        echo(f"dataset         {name:<8} {len(table):>5} records")
    echo(f"output          {result.out_dir}")
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
    for path in files:
        echo(f"report          {path}")


@main.command()
@click.option("--data", "data_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The sdtm/ or adam/ folder of datasets to describe.")
@click.option("--spec", "spec_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The mapping spec the datasets were made with (origins, methods).")
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


@spec.command("check")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--limit", "limit_values", multiple=True, metavar="NAME=N",
              help="Raise a safety limit, e.g. --limit spec_bytes=50000000.")
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
        echo(str(notice))
    echo(f"{spec_path}: OK ({len(loaded.domains)} domains, {len(loaded.sources)} sources)")


if __name__ == "__main__":
    from cdisc.__main__ import run

    run()
