"""Progress of a run's stages: what the pipeline reports and how the command line shows it.

The pipeline knows its stages (spec, sources, sdtm, adam, write, validate,
reports, package) but not who is watching; it calls a :data:`ProgressCallback`
with ``(stage, "start")`` and ``(stage, "end")``. :class:`Stages` makes that one
line per stage in the pipeline (starting a stage ends the one before), and
:class:`ConsoleProgress` is the command line's view of it:

* a stage still running after a second gets a line on stderr, and its end
  another with the time it took; a quick run prints nothing. Only when stderr
  is a terminal: a log file or a pipe gets no progress lines;
* ``--verbose`` prints every stage's time, terminal or not;
* ``--quiet`` prints no progress at all.

A stage that fails gets no end event: the error the run prints says why.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO

from .text_safety import console_text

#: ``callback(stage, event)`` with event ``"start"`` or ``"end"``
ProgressCallback = Callable[[str, str], None]

START, END = "start", "end"
#: a stage that runs longer than this gets a progress line on a terminal
SLOW_STAGE_SECONDS = 1.0


class Stages:
    """Reports stages one after the other to a callback (none: does nothing).

    >>> seen = []
    >>> stages = Stages(lambda stage, event: seen.append((stage, event)))
    >>> stages.start("spec"); stages.start("sources"); stages.done()
    >>> seen
    [('spec', 'start'), ('spec', 'end'), ('sources', 'start'), ('sources', 'end')]
    """

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self.callback = callback
        self.current: str | None = None

    def start(self, stage: str) -> None:
        """``stage`` begins; the stage before it (if any) has ended."""
        self.done()
        self.current = stage
        if self.callback is not None:
            self.callback(stage, START)

    def done(self) -> None:
        """The current stage has ended (nothing when none is running)."""
        stage, self.current = self.current, None
        if stage is not None and self.callback is not None:
            self.callback(stage, END)


class ConsoleProgress:
    """Shows stage events on a stream (stderr): slow stages, and every time when verbose.

    ``show``: print a line for a stage still running after ``delay`` seconds and
    one when it ends (the command line passes "stderr is a terminal and not
    --quiet"). ``verbose``: print each stage's time when it ends.
    """

    def __init__(self, *, show: bool, verbose: bool = False,
                 delay: float = SLOW_STAGE_SECONDS,
                 stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.show = show
        self.verbose = verbose
        self.delay = delay
        self.stream = stream
        self.clock = clock
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._announced: set[str] = set()
        self.timings: dict[str, float] = {}

    def _write(self, line: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        with self._lock:
            try:
                stream.write(console_text(line) + "\n")
                stream.flush()
            except (OSError, ValueError):  # the terminal went away: progress is not worth a crash
                pass

    def _announce(self, stage: str) -> None:
        with self._lock:
            if stage not in self._started:
                return  # ended in the meantime
            self._announced.add(stage)
        self._write(f"{stage:<15} ...")

    def __call__(self, stage: str, event: str) -> None:
        if event == START:
            self._started[stage] = self.clock()
            if self.show:
                if self.delay <= 0:
                    self._announce(stage)
                else:
                    timer = threading.Timer(self.delay, self._announce, args=(stage,))
                    timer.daemon = True
                    self._timers[stage] = timer
                    timer.start()
            return
        if event != END or stage not in self._started:
            return
        timer = self._timers.pop(stage, None)
        if timer is not None:
            timer.cancel()
            # gone before the run goes on: a stage may be forked next (cdisc.forked), which
            # is safe only without other threads
            timer.join()
        with self._lock:
            elapsed = self.clock() - self._started.pop(stage)
            announced = stage in self._announced
            self._announced.discard(stage)
        self.timings[stage] = elapsed
        if self.verbose:
            self._write(f"time            {stage:<10} {elapsed:7.2f} s")
        elif announced:
            self._write(f"{stage:<15} done ({elapsed:.1f} s)")

    def close(self) -> None:
        """Stop pending announcements (a failed run's stage never ends)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._started.clear()


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["END", "SLOW_STAGE_SECONDS", "START", "ConsoleProgress", "ProgressCallback", "Stages",
           "stderr_is_terminal"]
