"""The survival and response summary, drawn in a second process while the run goes on.

The summary needs lifelines, scipy and matplotlib (about 1 s to import) and then
draws its plots (about 0.5 s for the embedded example), and it depends on nothing
but the ADaM datasets. :func:`cdisc.pipeline.convert` therefore starts a
:class:`SummaryJob` before it maps the sources: a forked worker imports those
libraries while this process maps SDTM and derives ADaM, receives the ADaM
frames, and renders the files (:func:`cdisc.output.summary.render_summary`)
while this process writes and validates the datasets. On a machine with a
second core the summary then costs the run almost nothing.

The worker only computes: it returns the files' bytes and this process writes
them, so the output folder has one writer. Whatever goes wrong in the worker
(an error in the data, a bug, the worker killed), the summary is computed again
here, which raises the same error with its real traceback; the bytes are the
same either way (``tests/test_summary_job.py``). Where a process cannot be
forked safely -- not Linux (macOS and Windows start processes afresh, which
would re-import the caller's main module), or a program that runs threads (a
forked child inherits their locks) -- nothing is started and the summary is
computed here when asked for.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import threading
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..forked import Child, can_fork
from .summary import DEFAULT_OPTIONS, SummaryOptions, render_summary, summary_inputs

#: how long the run waits for the worker's summary before drawing it itself
WAIT_SECONDS = 600.0


def _warm_up() -> None:
    """What the summary imports, imported before the frames arrive."""
    import lifelines  # noqa: F401
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import scipy.stats  # noqa: F401

    from . import summary_plots, summary_render  # noqa: F401


def _work(connection: Any) -> None:
    """The worker: import, wait for one job, send back the files (or None), exit."""
    # Ctrl-C reaches the whole process group; the parent decides, and ends this worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    files = None
    try:
        _warm_up()
        adam, options, title = pickle.loads(connection.recv_bytes())
        files = render_summary(adam, options, title=title)
    except BaseException:  # noqa: BLE001 - the parent computes it again and reports it
        files = None
    try:
        connection.send_bytes(pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, EOFError):
        pass  # the parent went away
    finally:
        connection.close()


class SummaryJob:
    """One summary, computed by a worker when one could be started, else here.

    Made early (the worker is forked then and imports the summary's libraries),
    ``submit()`` the ADaM frames when they are derived, ``result()`` the files'
    bytes when they are to be written; ``close()`` (or the ``with`` block, or
    dropping the job) ends a worker that is still running, e.g. after a failed run.
    """

    def __init__(self, use_worker: bool | None = None) -> None:
        self._sender: threading.Thread | None = None
        self._job: tuple[dict[str, pd.DataFrame], SummaryOptions, str] | None = None
        # a run that fails before result() drops the job: the worker ends with it (and at
        # exit), without a try/finally around the whole run; None: no process to spare
        # (limits, memory) or none may be forked, and the summary is computed here
        self._child = (Child.start(self, _work, "cdisc-summary")
                       if (use_worker if use_worker is not None else can_fork()) else None)

    @property
    def in_worker(self) -> bool:
        return self._child is not None

    def __enter__(self) -> SummaryJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, adam: Mapping[str, pd.DataFrame], options: SummaryOptions = DEFAULT_OPTIONS,
               *, title: str = "") -> None:
        """The ADaM frames to summarise (by name). They are pickled now, so changes made to
        the frames afterwards do not reach the worker."""
        self._job = (summary_inputs(adam), options, title)
        if self._child is None:
            return
        data = pickle.dumps(self._job, protocol=pickle.HIGHEST_PROTOCOL)
        # sent from a thread: the worker reads only once its imports are done
        self._sender = threading.Thread(target=_send, args=(self._child.connection, data),
                                        daemon=True)
        self._sender.start()

    def result(self) -> dict[str, bytes]:
        """The files of :func:`cdisc.output.summary.render_summary`, by name."""
        if self._job is None:
            raise RuntimeError("SummaryJob.result() before submit()")
        files = None
        if self._child is not None:
            assert self._sender is not None
            # A worker that neither answers nor dies (a deadlock inherited through fork
            # from a native thread pool) must not hang the run: after WAIT_SECONDS the
            # summary is drawn here and the worker is ended.
            self._sender.join(WAIT_SECONDS)
            data, self._child = self._child.answer(WAIT_SECONDS), None
            with contextlib.suppress(pickle.UnpicklingError):  # the worker died mid-answer
                files = pickle.loads(data) if data is not None else None
        if files is None:
            adam, options, title = self._job
            files = render_summary(adam, options, title=title)
        return files

    def close(self) -> None:
        """End the worker (if any) and release its pipe."""
        if self._child is not None:
            self._child.end()
            self._child = None


def _send(connection: Any, data: bytes) -> None:
    # the worker gone: result() computes the summary here
    with contextlib.suppress(OSError, ValueError):
        connection.send_bytes(data)


__all__ = ["SummaryJob", "can_fork"]
