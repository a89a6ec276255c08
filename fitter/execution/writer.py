"""The driver's writer: one background thread that records told batches, in order.

Each told batch is a job: its trials-table part (Parquet) and then, for ``cmaes_batch``, its
trials in the Optuna study. The driver's loop only queues the job and goes on asking and
sending the next generation, so recording costs no time on the hot path. Jobs run one at a
time in the order queued; an error in a job is raised in the driver at the next
:meth:`submit` or :meth:`flush`. A driver that dies loses at most the jobs still queued
(told batches not yet written): on resume their trials are asked again.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable

__all__ = ["Writer"]


class Writer:
    """``submit(fn)`` runs ``fn()`` in the writer thread; ``flush()`` waits for all of them."""

    def __init__(self, name: str = "spikefit-writer"):
        self._jobs: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:  # after a failure, later jobs would write out of order
                    job()
            except BaseException as err:  # noqa: BLE001 - handed to the driver thread
                self._error = err
            finally:
                self._jobs.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def submit(self, job: Callable[[], object]) -> None:
        self._raise()
        self._jobs.put(job)

    def flush(self) -> None:
        """Wait until every queued job has run; raise the first error of any."""
        self._jobs.join()
        self._raise()

    def close(self) -> None:
        """Run what is queued, stop the thread, raise the first error of any."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise()
