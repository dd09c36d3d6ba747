"""A stage computed by a forked copy of this process while this one goes on.

Most of a conversion is Python-level pandas work on text columns, which holds
Python's lock: threads do not run it side by side (:mod:`cdisc.workers` measured
that), processes do. A stage that needs only what exists already and returns
little (the RECIST review: its findings and its JSON text) can be computed by a
child forked from the run: the child sees the datasets as they are, through
memory shared copy-on-write, without pickling them, and sends back only its
result, while the run derives ADaM.

When: only where forking is safe (:func:`can_fork`: Linux, and no other thread
in this process, whose locks a child would inherit), with more than one worker
allowed (:func:`cdisc.workers.default_workers`; ``--workers 1`` keeps the run in
one process), for a stage on at least :data:`MIN_RECORDS` records, and while the
process is small (:data:`SMALL_RUN_BYTES` resident). Below the first, the stage
ends in about the time the fork costs (measured: the embedded example was 0.15 s
slower with its two stages forked, 1,000 subjects 0.2 s faster); beyond the
second, memory is what limits the run: a child maps every page of its parent,
so the memory counted for the two (their RSS added up) is twice the run's
though little of it is copied, and a large run stays in one process.

Whatever happens in the child (an error in the data, a bug, the child killed or
unable to start), the call is made again here, which raises the same error with
its real traceback; the result is the same either way. The child ignores
Ctrl-C (the parent decides) and is ended when the call is dropped.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .workers import default_workers

_T = TypeVar("_T")

#: a stage on fewer records than this is computed in the run's own process
MIN_RECORDS = 20_000

#: a run that holds more than this (resident) computes every stage in its own process:
#: with a child beside it, the two count as at most about twice this
SMALL_RUN_BYTES = 2 << 30

#: how long :meth:`ForkedCall.result` waits for the child before computing the call here
WAIT_SECONDS = 600.0


def can_fork() -> bool:
    """Whether a worker may be forked here (Linux, this process runs no other thread)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def resident_bytes() -> int | None:
    """This process's resident memory (Linux), None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def worth_forking(records: int) -> bool:
    """Whether a stage on ``records`` records should go to a forked child now (see the
    module docstring)."""
    if records < MIN_RECORDS or default_workers() < 2 or not can_fork():
        return False
    resident = resident_bytes()
    return resident is not None and resident < SMALL_RUN_BYTES


def _answer_call(call: Callable[[], Any], connection: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # the objects inherited are never collected here: a collection would touch (and so
    # copy) every page that holds one
    gc.freeze()
    try:
        answer = pickle.dumps((True, call()), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - the parent makes the call again and reports it
        answer = pickle.dumps((False, None))
    try:
        connection.send_bytes(answer)
    except (OSError, EOFError):
        pass  # the parent went away
    finally:
        connection.close()


class ForkedCall(Generic[_T]):
    """``call()``, made by a forked child (``use_child``, e.g. :func:`worth_forking`), else by
    :meth:`result` here.

    >>> ForkedCall(lambda: 6 * 7).result()
    42
    """

    def __init__(self, call: Callable[[], _T], use_child: bool = True) -> None:
        self._call = call
        # no process to spare (limits, memory): None, and the call is made here
        self._child = (Child.start(self, lambda connection: _answer_call(call, connection),
                                   "cdisc-stage") if use_child else None)

    @property
    def in_child(self) -> bool:
        return self._child is not None

    def result(self) -> _T:
        """What ``call()`` returned (from the child, or made here)."""
        if self._child is not None:
            # A child that neither answers nor dies (a lock inherited through fork from a
            # native thread pool) must not hang the run: the call is made here instead.
            data, self._child = self._child.answer(WAIT_SECONDS), None
            try:
                answered, value = pickle.loads(data) if data is not None else (False, None)
            except Exception:  # noqa: BLE001 - whatever came: the call is made here
                answered = False
            if answered:
                return value
        return self._call()

    def close(self) -> None:
        """End the child (if any) and release its pipe."""
        if self._child is not None:
            self._child.end()
            self._child = None


class Child:
    """A forked child running ``work(connection)`` (its end of a pipe) and this process's
    end of the pipe; the child is ended by :meth:`end`, or when ``owner`` is dropped (a
    run that fails before it asks for the answer), or at exit."""

    def __init__(self, owner: object, process: Any, connection: Any) -> None:
        self.process, self.connection = process, connection
        self.end = weakref.finalize(owner, _end_child, process, connection)

    @classmethod
    def start(cls, owner: object, work: Callable[[Any], None], name: str) -> Child | None:
        """The child, or None when no process could be started."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        try:
            process = context.Process(target=_in_child, args=(work, theirs, ours), name=name,
                                      daemon=True)
            process.start()
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return cls(owner, process, ours)

    def answer(self, timeout: float) -> bytes | None:
        """The child's one message (None: none within ``timeout`` seconds, or the pipe
        broke); the child is ended after it."""
        try:
            if self.connection.poll(timeout):
                return self.connection.recv_bytes()
        except (OSError, EOFError):
            pass
        finally:
            self.process.join(timeout=1)  # it ends once it has sent
            self.end()
        return None


def _in_child(work: Callable[[Any], None], connection: Any, parents: Any) -> None:
    # the parent's end, inherited through the fork, is closed: should the parent die
    # without ending this child, a send fails instead of waiting for a reader forever
    parents.close()
    work(connection)


def _end_child(process: Any, connection: Any) -> None:
    connection.close()
    if process.is_alive():
        process.terminate()
    process.join(timeout=5)


__all__ = ["MIN_RECORDS", "SMALL_RUN_BYTES", "Child", "ForkedCall", "can_fork",
           "resident_bytes", "worth_forking"]
