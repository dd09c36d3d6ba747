"""Independent jobs of one stage side by side, in threads of this process.

Why threads, not processes: the jobs read the same frames, which a second
process would have to copy or pickle, and most of their time is spent where
Python lets go of its lock (numpy's whole-column work, parsing, writing and
syncing files). A stage hands over jobs that share nothing they change.

At most :func:`default_workers` jobs run at once, so a stage holds at most
that many jobs' working memory beyond the data (a writer streams its file in
chunks; measured in benchmarks/run.py at 100,000 subjects). Each job states its
expected cost (``weight``, e.g. records x variables) and the costliest start
first, so the last job to finish is a small one.

Deterministic: results come back in the order the jobs were given, and the
failure raised is that of the first failing job in that order (with several
workers every job runs even when one fails; one worker stops at the first), so
a run with one worker and a run with several raise the same error and write the
same bytes. Each job runs in a copy of the caller's
context (:mod:`contextvars`), so it sees the blocks the caller is in, such as
:func:`cdisc.model.text.codes_shared`.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pandas as pd

_T = TypeVar("_T")
_K = TypeVar("_K")

#: at most this many threads however many cores there are (more would mostly wait for
#: Python's lock, and each holds a job's working memory)
MAX_WORKERS = 4

_workers: contextvars.ContextVar[int | None] = contextvars.ContextVar("cdisc workers",
                                                                      default=None)


@dataclass(frozen=True)
class Job(Generic[_T]):
    """One piece of a stage: ``run()`` and its expected cost (``weight``, any unit)."""

    run: Callable[[], _T]
    weight: int = 1


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
    context = contextvars.copy_context()
    # the costliest first (stable: equal weights in the order given)
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].weight)
    results: dict[int, _T] = {}
    failures: dict[int, BaseException] = {}
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="cdisc-job") as pool:
        running = {pool.submit(context.copy().run, jobs[i].run): i for i in order}
        try:
            for future in as_completed(running):
                index = running[future]
                error = future.exception()
                if error is None:
                    results[index] = future.result()
                else:
                    failures[index] = error
        except BaseException:  # e.g. KeyboardInterrupt: start nothing more
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


def own_frames(frames: Mapping[_K, Any]) -> dict[_K, Any]:
    """:func:`own_frame` of each frame, or of each dataset's frame, in a mapping."""
    from dataclasses import replace

    return {key: own_frame(value) if isinstance(value, pd.DataFrame)
            else replace(value, frame=own_frame(value.frame)) for key, value in frames.items()}
