"""``python -m cdisc`` and the installed ``cdisc`` command.

Only the standard library is imported before the command line is parsed, so
an interrupt during start-up is one line too.
"""

from __future__ import annotations

import os
import sys

#: exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


def _quiet_stdout() -> None:
    """After the reader of our output went away, drop what is still buffered."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _run() -> None:
    import click

    from .cli import main

    # The command is invoked directly instead of through click's main(), which would
    # print a blank line on Ctrl-C and turn a closed pipe into exit 1 ("findings").
    try:
        with main.make_context("cdisc", sys.argv[1:]) as context:
            main.invoke(context)
    except click.exceptions.ClickException as exc:  # usage errors: exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None


def run() -> None:
    """Run the command line; Ctrl-C exits 130 with one line, a closed pipe quietly."""
    from .heap import one_heap

    one_heap()  # before any thread exists (see cdisc.heap)
    try:
        _run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # `cdisc validate out | head -1`: the reader has what it wanted
        _quiet_stdout()
        sys.exit(0)
    sys.exit(0)


if __name__ == "__main__":
    run()
