"""Console output of a run: the problem table, the reconciliation, the datasets.

Every line goes through :func:`echo`, which shows control characters as
visible escapes (:func:`cdisc.text_safety.console_text`): dataset, file and
column names, values and messages come from the user's files, and an ESC or
BEL in them must not reach the terminal.

A failed run's problems also go to ``<out>.errors.json`` (:func:`write_errors_json`):
at most ``Limits.problems_per_code`` problems of each code, with exact counts
of all of them and of those left out, written atomically, and never over a
file that is not an errors.json of ours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import CdiscError, OutputError, Problem, group_by_code, message_chars
from .limits import DEFAULT_LIMITS, Limits
from .output.reports import (
    NOT_OURS,
    WRITE_FAILED,
    json_bytes,
    reconciliation_lines,
    write_atomic,
    write_failed,
)
from .text_safety import clip, echo

if TYPE_CHECKING:
    from .pipeline import ConversionResult


#: problems printed per code; errors.json has up to ``Limits.problems_per_code`` of them
SHOWN_PER_CODE = 20
#: the first key of every errors.json we write: how a later run knows the file is ours
GENERATOR = "cdisc-convert"
# The start of an errors.json we write (json.dumps with indent=2, generator first), and of
# one written before the generator key existed ({"problems": [...], "counts": {...}}).
_PREFIX = f'{{\n  "generator": "{GENERATOR}"'.encode()
_LEGACY_PREFIX = b'{\n  "problems": ['


def errors_payload(problems: Sequence[Problem], limits: Limits = DEFAULT_LIMITS
                   ) -> dict[str, Any]:
    """The errors.json object: the first ``problems_per_code`` of each code, exact counts.

    ``counts`` has every problem of each code, ``omitted`` how many of them are not
    in ``problems`` (codes with none left out are not listed).
    """
    cap = limits.problems_per_code
    groups = group_by_code(problems)
    seen: dict[str, int] = {}
    kept = []
    for p in problems:  # the stage's order, the first `cap` of each code
        n = seen.get(p.code, 0)
        if n < cap:
            kept.append(p.to_dict(limits.message_value_chars))
        seen[p.code] = n + 1
    return {
        "generator": GENERATOR,
        "version": __version__,
        "problems": kept,
        "counts": {code: len(groups[code]) for code in sorted(groups)},
        "omitted": {code: len(groups[code]) - cap for code in sorted(groups)
                    if len(groups[code]) > cap},
        "problems_per_code": cap,
    }


def is_errors_json(path: str | Path) -> bool:
    """True if ``path`` is a regular file (not a link) holding an errors.json we wrote.

    Ours: a JSON object whose first key is ``"generator": "cdisc-convert"``; or, from
    before that key existed, an object with exactly the keys ``problems`` (a list)
    and ``counts`` (an object).
    """
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file():
            return False
        with path.open("rb") as fh:
            head = fh.read(len(_PREFIX))
            if not (head.startswith(_PREFIX) or head.startswith(_LEGACY_PREFIX)):
                return False  # not ours: no need to read a large foreign file
            content = json.loads(head + fh.read())
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        return False
    if not isinstance(content, dict):
        return False
    if content.get("generator") == GENERATOR:
        return True
    return (set(content) == {"problems", "counts"} and isinstance(content["problems"], list)
            and isinstance(content["counts"], dict))


def write_errors_json(path: str | Path, problems: Sequence[Problem],
                      limits: Limits = DEFAULT_LIMITS) -> None:
    """Write the problems of a failed run to ``path`` (see :func:`errors_payload`).

    Creates the parent folders; replaces ``path`` only if it is an errors.json of
    ours (:func:`is_errors_json`) and atomically (a temporary file, fsync, rename),
    so a full disk leaves the old file or none, never a 0-byte or partial one.
    Raises :class:`OutputError` with one problem (one line) when the file cannot
    be written (REP001) or ``path`` holds something else (REP002).
    """
    path = Path(path)
    if os.path.lexists(path) and not is_errors_json(path):
        what = ("a link" if path.is_symlink() else "a folder" if path.is_dir()
                else "a file that is not an errors.json of cdisc-convert")
        raise OutputError.single(NOT_OURS, f"not written: it is {what}, which is not replaced; "
                                 "remove it or name another file", file=str(path))
    data = json_bytes(errors_payload(problems, limits))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(exc, path) from None
    write_atomic(path, data)


def remove_stale_errors_json(path: str | Path) -> bool:
    """Delete ``path`` if it is an errors.json of ours (a successful run calls this).

    Returns True when a file was deleted, False when there was none or it is not
    ours (then it is left alone). Raises :class:`OutputError` (REP001, one line)
    when our file is there but cannot be deleted.
    """
    path = Path(path)
    if not is_errors_json(path):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutputError.single(WRITE_FAILED, f"cannot remove the errors of an earlier run: "
                                 f"{exc.strerror or exc}", file=str(path)) from None
    return True


def print_problems(problems: Sequence[Problem], errors_json: Path | None,
                   limits: Limits = DEFAULT_LIMITS) -> None:
    """Every problem, grouped by code with a count, to stderr; and as JSON if asked.

    Each code shows its first :data:`SHOWN_PER_CODE` problems. The JSON file is
    written by :func:`write_errors_json`; if that fails, one line says why (the
    run has failed already: the caller exits 2 either way).
    """
    written: Path | None = None
    failure: Problem | None = None
    if errors_json is not None:
        try:
            write_errors_json(errors_json, problems, limits)
            written = Path(errors_json)
        except CdiscError as exc:
            failure = exc.problems[0]
    chars = limits.message_value_chars
    groups = group_by_code(problems)
    echo(f"{len(problems)} problem(s) stopped the run:", err=True)
    for code in sorted(groups):
        group = groups[code]
        echo(err=True)
        echo(f"{code} ({len(group)}): {clip(group[0].message.split(':')[0], chars)}", err=True)
        for p in group[:SHOWN_PER_CODE]:
            echo(f"  {p.location.describe(chars)}: {clip(p.message, message_chars(chars))}",
                 err=True)
        if len(group) > SHOWN_PER_CODE:
            if written is None:
                where = "not shown"
            elif len(group) > limits.problems_per_code:
                where = f"the first {limits.problems_per_code} are in {written}"
            else:
                where = f"all in {written}"
            echo(f"  ... and {len(group) - SHOWN_PER_CODE} more ({where})", err=True)
    if written is not None:
        echo(err=True)
        echo(f"problems written to {written}", err=True)
    elif failure is not None:
        echo(err=True)
        echo(f"problems not written to a file: {failure.location.describe(chars)}: "
             f"{failure.message}", err=True)


def print_summary(result: ConversionResult) -> None:
    for line in reconciliation_lines(result.sdtm):
        echo(f"reconciliation  {line}")
    for name, frame in sorted(result.sdtm.datasets.items()):
        echo(f"dataset         {name:<8} {len(frame):>5} records")
    if result.warnings:
        echo(f"{len(result.warnings)} warning(s)/notice(s): see run-report.json")
    echo(f"output          {result.out_dir}")
