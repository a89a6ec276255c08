"""In-process execution: the :class:`~spikefit.execution.workers.WorkerPool` interface without Ray.

``executor = "local"`` (job spec ``[resources]``, or ``spikefit.fit(..., executor="local")``)
evaluates each batch in the driver's own process, one after the other: for notebooks, tests
and small fits where starting a Ray cluster costs more than it saves.
"""

from __future__ import annotations

import itertools

from spikefit.execution.evaluator import Evaluator

__all__ = ["LocalPool"]


class LocalPool:
    """One in-process evaluator; :meth:`submit` evaluates at once and :meth:`wait` hands it back."""

    def __init__(self, evaluator_kwargs: dict, cells: dict):
        self._ev = Evaluator(**evaluator_kwargs, name="local", cells=dict(cells))
        self._done: dict[int, object] = {}
        self._ids = itertools.count()
        self._warming: list = []

    def __len__(self) -> int:
        return 1

    def submit(self, cell: str, params) -> int:
        ref = next(self._ids)
        self._done[ref] = self._ev.evaluate(cell, params)
        return ref

    def wait(self, refs: list, timeout: float | None = None) -> tuple[list, list]:
        return [refs[0]], list(refs[1:])

    def result(self, ref: int):
        return self._done.pop(ref)

    def traces(self, cell: str, params: dict):
        return self._ev.traces(cell, params)

    def warm(self, cells: list, row) -> None:
        self._warming.append(self._ev.warm(cells, row))

    def shutdown(self) -> None:
        # a compile still running in a daemon thread when the interpreter exits aborts the process
        # (SIGABRT instead of the run's own exit status): wait for it, whatever stopped the run
        for thread in self._warming:
            thread.join()
        self._warming.clear()
        self._done.clear()
