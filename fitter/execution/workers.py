"""Ray execution: a pool of worker actors, each holding an :class:`~spikefit.execution.evaluator.Evaluator`.

Only this module (and the runner's start-up through :func:`start_ray`) talks to Ray. Each actor
compiles the simulation once and evaluates whole batches; the driver keeps several batches in
flight per worker. The cells' data travel once, in the actor's constructor, so an actor that
dies is restarted by Ray with its data and its batch re-run (``max_restarts``,
``max_task_retries``): a killed worker costs time, not trials.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["start_ray", "stop_ray", "WorkerPool"]


def start_ray(address: str | None = None, *, num_cpus: float | None = None,
              num_gpus: float | None = None) -> dict:
    """Connect to ``address`` (a running cluster) or start an embedded one; returns its resources."""
    import ray

    if ray.is_initialized():
        return ray.cluster_resources()
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, **kwargs)
    return ray.cluster_resources()


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


class _RayEvaluator:
    """Actor body: an :class:`~spikefit.execution.evaluator.Evaluator` built from data in the object store."""

    def __init__(self, cells_box: list, evaluator_kwargs: dict, name: str):
        import ray

        from spikefit.execution.evaluator import Evaluator

        self._ev = Evaluator(**evaluator_kwargs, name=name, cells=ray.get(cells_box[0]))

    def evaluate(self, cell, params):
        return self._ev.evaluate(cell, params)

    def traces(self, cell, params):
        return self._ev.traces(cell, params)

    def ping(self) -> str:
        return self._ev.ping()


class WorkerPool:
    """``n`` evaluator actors; :meth:`submit` sends a batch to the least-loaded one."""

    def __init__(self, n: int, evaluator_kwargs: dict, cells: dict, *, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0):
        import ray

        actor_cls = ray.remote(_RayEvaluator).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=3,
            max_task_retries=2)
        # The data travel once through the object store, boxed in a list so Ray hands the ref
        # to the constructor (which fetches it) instead of pinning it as a top-level argument.
        self._cells_ref = ray.put(cells)
        self._actors = [actor_cls.remote([self._cells_ref], evaluator_kwargs, f"worker-{i}")
                        for i in range(n)]
        self._load = [0] * n
        self._owner: dict = {}
        ray.get([a.ping.remote() for a in self._actors])  # fail fast if an actor cannot start

    def __len__(self) -> int:
        return len(self._actors)

    def submit(self, cell: str, params):
        i = min(range(len(self._actors)), key=self._load.__getitem__)
        ref = self._actors[i].evaluate.remote(cell, params)
        self._load[i] += 1
        self._owner[ref] = i
        return ref

    def wait(self, refs: list, timeout: float | None = None) -> tuple[list, list]:
        """Refs that finished (at least one unless ``timeout``) and those still running."""
        import ray

        done, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        return done, rest

    def result(self, ref):
        """The :class:`~spikefit.execution.evaluator.BatchResult` of a finished ref (raises the worker's error)."""
        import ray

        i = self._owner.pop(ref)
        self._load[i] -= 1
        return ray.get(ref)

    def traces(self, cell: str, params: dict):
        import ray

        return ray.get(self._actors[0].traces.remote(cell, params))

    def shutdown(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
