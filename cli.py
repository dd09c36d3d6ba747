"""Command line: ``cdisc convert``, ``cdisc validate``, ``cdisc spec check``.

Parses arguments, calls the library.

Exit codes: 0 success; 1 validation found errors in the data; 2 the run
itself failed (bad spec, unreadable or invalid source records, bad arguments).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from cdisc import __version__
from cdisc.errors import CdiscError
from cdisc.report_console import print_problems, print_summary


@click.group()
@click.version_option(__version__, prog_name="cdisc")
def main() -> None:
    """Case-series records to CDISC SDTM, validated, as SAS XPORT v5."""


def _internal(exc: Exception) -> CdiscError:
    """An unexpected exception is a bug, never data findings: exit 2, with the traceback."""
    traceback.print_exc()
    return CdiscError.single("INTERNAL", f"{type(exc).__name__}: {exc} (a bug in cdisc-convert: "
                             "please report it with the spec and data that caused it)")


def _fail(exc: CdiscError, errors_json: Path | None) -> None:
    print_problems(exc.problems, errors_json)
    for line in exc.reconciliation or ():
        click.echo(f"reconciliation  {line}", err=True)
    sys.exit(2)


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping spec (YAML). Default: the embedded PEComa example.")
@click.option("--source", "source_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the spec's source files are relative to (default: the spec's folder).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="Output folder (replaced atomically).")
@click.option("--errors-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Where a failed run writes its problems (default: <out>.errors.json).")
def convert(spec_path: Path | None, source_dir: Path | None, out_dir: Path,
            errors_json: Path | None) -> None:
    """Convert source records to SDTM (XPT v5) in OUT."""
    from cdisc.pipeline import convert as run_convert

    try:
        result = run_convert(spec_path, source_dir=source_dir, out_dir=out_dir)
    except CdiscError as exc:
        _fail(exc, errors_json or out_dir.with_name(out_dir.name + ".errors.json"))
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), errors_json or out_dir.with_name(out_dir.name + ".errors.json"))
    print_summary(result)
    if result.validation is not None:
        from cdisc.validate import summary_line

        click.echo(f"{summary_line(result.validation)}: see validation.json")
        if result.validation.has_errors:
            sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write validation.json and validation.xlsx into this folder.")
def validate(folder: Path, report_dir: Path | None) -> None:
    """Validate the XPT datasets in FOLDER (and its sdtm/, adam/ subfolders).

    Exit code 0: no errors; 1: errors found; 2: the run failed (unreadable input).
    """
    from cdisc.validate import print_report, validate_folder, write_reports

    try:
        result = validate_folder(folder)
        print_report(result)
        if report_dir is not None:
            for path in write_reports(result, report_dir):
                click.echo(f"report          {path}")
    except CdiscError as exc:
        _fail(exc, None)
    except OSError as exc:  # the report folder cannot be written
        _fail(CdiscError.single("VAL004", f"cannot write the report: {exc}",
                                file=str(report_dir)), None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    sys.exit(1 if result.has_errors else 0)


@main.group()
def spec() -> None:
    """Work with mapping specs."""


@spec.command("check")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
def spec_check(spec_path: Path) -> None:
    """Check a mapping spec (schema, columns, variables, CT) without converting."""
    from cdisc.spec import load_spec

    try:
        loaded = load_spec(spec_path)
    except CdiscError as exc:
        _fail(exc, None)
    except Exception as exc:  # the exit code must say "run failed", not "findings"
        _fail(_internal(exc), None)
    for notice in loaded.notices:
        click.echo(str(notice))
    click.echo(f"{spec_path}: OK ({len(loaded.domains)} domains, {len(loaded.sources)} sources)")


if __name__ == "__main__":
    main()
