"""Independent jobs of one stage side by side, in threads of this process.

Why threads, not processes: the jobs read the same frames, which a second
process would have to copy or pickle, and most of their time is spent where
Python lets go of its lock (numpy's whole-column work, parsing, writing and
syncing files). A stage hands over jobs that share nothing they change.

Why a weight: a run's memory peaks while its largest dataset is worked on. Each
job states what it holds while it runs (``weight``, e.g. the records x
variables of the file it writes; 0 for a job that holds little beyond the
data), and jobs run together only while the weights in flight stay within the
largest single job's: side by side never needs much more memory than the
largest job alone (at 100,000 subjects, letting the two largest files be
written together took the run from 5.8 to 6.3 GB). The heaviest start first,
and a lighter job that fits goes ahead of a heavier one waiting; weight-0 jobs
start before all of them, as they fit beside anything.

Deterministic: results come back in the order the jobs were given, and the
failure raised is that of the first failing job in that order (with several
workers, the jobs before a failure still run and the ones after it that have
not started are dropped; one worker stops at the first), so a run with one
worker and a run with several raise the same error and write the same bytes.
When the main thread is interrupted (Ctrl-C), nothing more starts and the
running jobs end at their next :func:`stop_if_asked`. Each job runs in a copy
of the caller's context (:mod:`contextvars`), so it sees the blocks the caller
is in, such as :func:`cdisc.model.text.codes_shared`.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

import pandas as pd

_T = TypeVar("_T")

#: at most this many threads however many cores there are (more would mostly wait for
#: Python's lock)
MAX_WORKERS = 4

_workers: contextvars.ContextVar[int | None] = contextvars.ContextVar("cdisc workers",
                                                                      default=None)
#: set when the stage running a job is being stopped (the main thread was interrupted)
_stop: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("cdisc stop",
                                                                             default=None)


class Stopped(Exception):
    """Raised in a job by :func:`stop_if_asked` once its stage is being stopped."""


def stop_if_asked() -> None:
    """Raise :class:`Stopped` when the stage running this job is being stopped (Ctrl-C in
    the main thread): a long job calls it between chunks, so that it ends (and removes
    its temporary file) before the stage's folder is cleaned up."""
    event = _stop.get()
    if event is not None and event.is_set():
        raise Stopped("the stage was stopped")


@dataclass(frozen=True)
class Job(Generic[_T]):
    """One piece of a stage: ``run()`` and what it holds while it runs (``weight``, any unit
    shared by the stage's jobs; 0 for little)."""

    run: Callable[[], _T]
    weight: int = 0


def available_workers() -> int:
    """The cores this process may run on, at most :data:`MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every system
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def default_workers() -> int:
    """Threads a stage uses: as set by :func:`use_workers`, else :func:`available_workers`."""
    chosen = _workers.get()
    return available_workers() if chosen is None else chosen


class use_workers:  # noqa: N801 - used as a context manager, like contextlib's
    """Inside the block, stages run their jobs with ``count`` threads (1: one after another,
    in the calling thread; None: :func:`available_workers`)."""

    def __init__(self, count: int | None) -> None:
        if count is not None and count < 1:
            raise ValueError(f"workers must be 1 or more, not {count}")
        self.count = count

    def __enter__(self) -> None:
        self._token = _workers.set(self.count)

    def __exit__(self, *_: object) -> None:
        _workers.reset(self._token)


def run_jobs(jobs: Sequence[Job[_T]], workers: int | None = None) -> list[_T]:
    """Each job's result, in the order given (see the module docstring for the rules).

    >>> run_jobs([Job(lambda: 1, weight=5), Job(lambda: 2), Job(lambda: 3)])
    [1, 2, 3]
    """
    count = min(default_workers() if workers is None else workers, len(jobs))
    if count <= 1:
        return [job.run() for job in jobs]
    stop = threading.Event()
    token = _stop.set(stop)
    try:
        context = contextvars.copy_context()
    finally:
        _stop.reset(token)
    budget = max(job.weight for job in jobs)
    # weight-0 jobs first (they fit beside anything), then the heaviest (stable)
    waiting = sorted(range(len(jobs)), key=lambda i: (jobs[i].weight > 0, -jobs[i].weight))
    results: dict[int, _T] = {}
    failures: dict[int, BaseException] = {}
    running: dict[Future[_T], int] = {}
    load = 0
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="cdisc-job") as pool:
        try:
            while waiting or running:
                while waiting and len(running) < count:
                    fits = next((i for i in waiting
                                 if not running or load + jobs[i].weight <= budget), None)
                    if fits is None:
                        break
                    waiting.remove(fits)
                    load += jobs[fits].weight
                    running[pool.submit(context.copy().run, jobs[fits].run)] = fits
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    load -= jobs[index].weight
                    error = future.exception()
                    if error is None:
                        results[index] = future.result()
                        continue
                    failures[index] = error
                    # the jobs after the first failure in order need not run (those before
                    # it still do: one of them may fail first in order)
                    waiting = [i for i in waiting if i < min(failures)]
        except BaseException:  # e.g. KeyboardInterrupt: nothing more starts, and the
            stop.set()  # running jobs end at their next chunk, before the caller cleans up
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failures:
        raise failures[min(failures)]
    return [results[i] for i in range(len(jobs))]


def own_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame object of a job's own over the same columns (no data copied): pandas keeps
    caches and merges columns in place on a frame, which must not happen under another
    thread reading the same frame object."""
    return frame.copy(deep=False)

