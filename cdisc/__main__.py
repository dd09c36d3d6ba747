"""``python -m cdisc`` and the installed ``cdisc`` command.

Only the standard library is imported before the command line is parsed, so
an interrupt during start-up is one line too.
"""

from __future__ import annotations

import os
import sys

#: exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


def _exit_now(status: list[int | None]) -> None:
    """Registered first, so run last of the exit handlers: end the process with the
    command's status without taking the interpreter apart.

    Freeing every object of a run one by one (the datasets' millions of strings) takes
    0.2 s at 10,000 subjects and seconds beyond, for nothing: the files are written
    and synced, and the other exit handlers (multiprocessing's, which end the
    workers) have run. Only a status the command chose ends here; an uncaught error
    leaves the interpreter to report and exit as usual.
    """
    if status[0] is None:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # the reader went away: as quiet as the command is about it
        except (OSError, ValueError):
            return  # e.g. a full disk under a redirect: the interpreter reports it (exit 120)
    os._exit(status[0])


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


def main() -> None:
    """The process's entry (the ``cdisc`` command, ``python -m cdisc``): :func:`run`, then
    the end of the process without its teardown (:func:`_exit_now`)."""
    import atexit

    status: list[int | None] = [None]
    atexit.register(_exit_now, status)
    try:
        run()
    except SystemExit as exc:
        status[0] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise


if __name__ == "__main__":
    main()
