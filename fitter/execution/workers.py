"""Ray execution: a pool of worker actors, each holding an :class:`~spikefit.execution.evaluator.Evaluator`.

Only this module (and the runner's start-up through :func:`start_ray`) talks to Ray. Each actor
compiles the simulation once and evaluates whole batches; the driver keeps several batches in
flight per worker. The cells' data travel once, through the object store, to each actor's
constructor. The actors are spread over the cluster's nodes; each is named
``worker-<i>@<node>`` (the first 8 hex digits of its Ray node id), which the trials table
records per batch.

A worker that dies (its process or node killed, out of memory) costs time, not trials: the
pool starts a new actor in its place and sends the batch again, after an exponential wait
(:class:`~spikefit.execution.retry.RetryPolicy`). When a batch has used up its retries the
pool raises :class:`~spikefit.execution.retry.WorkerError`, one line naming the worker, its
node and the last error; the driver marks the run ``failed`` and the same command resumes it.

An embedded cluster (no ``address``) listens on 127.0.0.1 only: every port it opens (GCS,
raylet, object manager, workers, agents, Prometheus metrics) is bound to the loopback
interface, and it has no dashboard.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from spikefit.execution.retry import RetryPolicy, WorkerError, describe_error

__all__ = ["start_ray", "stop_ray", "ray_running", "WorkerPool", "Batch"]

#: seconds a new (or replacement) worker may take to start and answer (an autoscaler adding a
#: node included) before the pool gives up
START_TIMEOUT_S = 600.0


def start_ray(address: str | None = None, *, num_cpus: float | None = None,
              num_gpus: float | None = None) -> dict:
    """Connect to ``address`` (a running cluster) or start an embedded one on 127.0.0.1; returns its resources."""
    import ray

    if ray.is_initialized():
        return ray.cluster_resources()
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, **kwargs)
    else:
        with _loopback_node():
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, _node_ip_address="127.0.0.1", **kwargs)
    return ray.cluster_resources()


@contextlib.contextmanager
def _loopback_node():
    """Let Ray start a node on 127.0.0.1. On Linux, Ray 2.60 replaces a loopback node address by
    the machine's own address (so that other nodes could join) unless multi-node clusters are
    switched off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read once when Ray is imported). With
    the node on 127.0.0.1, each of Ray's servers binds to 127.0.0.1 instead of every interface."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def ray_running() -> bool:
    """Whether this process is connected to a Ray cluster."""
    import ray

    return ray.is_initialized()


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


class _RayEvaluator:
    """Actor body: an :class:`~spikefit.execution.evaluator.Evaluator` built from data in the object store."""

    def __init__(self, cells_box: list, evaluator_kwargs: dict, name: str):
        import ray

        from spikefit.execution.evaluator import Evaluator

        self.node_id = ray.get_runtime_context().get_node_id()
        self._ev = Evaluator(**evaluator_kwargs, name=f"{name}@{self.node_id[:8]}", cells=ray.get(cells_box[0]))

    def evaluate(self, cell, params):
        return self._ev.evaluate(cell, params)

    def traces(self, cell, params):
        return self._ev.traces(cell, params)

    def warm(self, cells, row) -> None:
        self._ev.warm(cells, row)

    def ping(self) -> dict:
        """Where this worker runs: its name, Ray node id and process id."""
        return {"name": self._ev.ping(), "node_id": self.node_id, "pid": os.getpid()}


class Batch:
    """One call in flight: what to evaluate, which worker has it, and how often it was tried."""

    __slots__ = ("method", "cell", "params", "worker", "actor", "ref", "attempt")

    def __init__(self, method: str, cell: str, params):
        self.method, self.cell, self.params = method, cell, params
        self.worker, self.actor, self.ref, self.attempt = -1, None, None, 0


class WorkerPool:
    """``n`` evaluator actors; :meth:`submit` sends a batch to the least-loaded one.

    ``retry``: how often, and after which waits, a batch whose worker failed is sent again."""

    def __init__(self, n: int, evaluator_kwargs: dict, cells: dict, *, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0, retry: RetryPolicy | None = None):
        import ray

        # The pool restarts dead actors itself (a new actor, so the retries stay counted here);
        # SPREAD puts them on different nodes, so a lost node takes as few workers as it can.
        self._actor_cls = ray.remote(_RayEvaluator).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0, max_task_retries=0,
            scheduling_strategy="SPREAD")
        self._kwargs = evaluator_kwargs
        self.retry = retry or RetryPolicy()
        # The data travel once through the object store, boxed in a list so Ray hands the ref
        # to the constructor (which fetches it) instead of pinning it as a top-level argument.
        self._cells_ref = ray.put(cells)
        self._actors = [self._new_actor(i) for i in range(n)]
        self._load = [0] * n
        self._sent = [0] * n
        #: per worker: where its current actor runs (``name``, ``node_id``, ``pid``)
        self.placement: list[dict] = [{} for _ in range(n)]
        #: every (worker name, node id) started for this pool, restarts included
        self.history: list[tuple[str, str]] = []
        for i, actor in enumerate(self._actors):  # fail fast if an actor cannot start
            try:
                self._placed(i, actor)
            except ray.exceptions.RayError as err:
                raise WorkerError(f"worker-{i}: could not start: {describe_error(err)}") from err

    def __len__(self) -> int:
        return len(self._actors)

    def _new_actor(self, i: int):
        return self._actor_cls.remote([self._cells_ref], self._kwargs, f"worker-{i}")

    def _placed(self, i: int, actor) -> None:
        """Wait for worker ``i``'s actor to start and note where it runs (a Ray error if it died)."""
        import ray

        try:
            where = ray.get(actor.ping.remote(), timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise WorkerError(f"worker-{i}: did not start within {START_TIMEOUT_S:.0f} s: no node of the "
                              "cluster has the resources one worker asks for free (free now: "
                              f"{ray.available_resources()})") from None
        self.placement[i] = where
        self.history.append((where["name"], where["node_id"]))

    def submit(self, cell: str, params) -> Batch:
        """Send a batch of candidates (rows of ``params``) for ``cell``; returns its :class:`Batch`."""
        batch = Batch("evaluate", cell, params)
        self._send(batch)
        return batch

    def _send(self, batch: Batch) -> None:
        i = min(range(len(self._actors)), key=lambda j: (self._load[j], self._sent[j]))  # then the least used
        self._sent[i] += 1
        batch.worker, batch.actor = i, self._actors[i]
        batch.ref = getattr(batch.actor, batch.method).remote(batch.cell, batch.params)
        self._load[i] += 1

    def warm(self, cells: list, row) -> None:
        """Have every worker compile what the end of a run needs on ``cells`` in the background
        (:meth:`~spikefit.execution.evaluator.Evaluator.warm`); returns at once."""
        for actor in self._actors:
            actor.warm.remote(list(cells), row)

    def wait(self, batches: list, timeout: float | None = None) -> tuple[list, list]:
        """Batches that finished, failed included (at least one unless ``timeout``), and those still running."""
        import ray

        by_ref = {b.ref: b for b in batches}
        done, rest = ray.wait(list(by_ref), num_returns=1, timeout=timeout)
        return [by_ref[r] for r in done], [by_ref[r] for r in rest]

    def result(self, batch: Batch):
        """The :class:`~spikefit.execution.evaluator.BatchResult` of a finished batch.

        A failed batch is retried (its worker restarted if it died) until it succeeds or has
        used its retries: then :class:`~spikefit.execution.retry.WorkerError`."""
        import ray

        while True:
            try:
                out = ray.get(batch.ref)
            except ray.exceptions.RayError as err:
                self._load[batch.worker] -= 1
                self._recover(batch, err)
                continue
            self._load[batch.worker] -= 1
            return out

    def _recover(self, batch: Batch, err: BaseException) -> None:
        """Wait, restart the batch's worker if it died, and send the batch again (or give up)."""
        import ray

        while True:
            i, where = batch.worker, self._where(batch.worker)
            batch.attempt += 1
            if batch.attempt > self.retry.retries:
                times = "once" if batch.attempt == 1 else f"{batch.attempt} times"
                raise WorkerError(f"{where}: a batch of {batch.cell!r} failed {times} ({self.retry.retries} "
                                  f"retries); last error: {describe_error(err).rstrip('.')}. Run the same "
                                  "command again to resume the job") from err
            time.sleep(self.retry.wait_s(batch.attempt))
            died = not isinstance(err, ray.exceptions.RayTaskError)  # not the evaluation's own error
            if died and self._actors[i] is batch.actor:  # not yet replaced for another of its batches
                with contextlib.suppress(Exception):
                    ray.kill(batch.actor, no_restart=True)
                self._actors[i] = batch.actor = self._new_actor(i)
                try:
                    self._placed(i, batch.actor)
                except ray.exceptions.RayError as start_err:  # the new one died too: one more failure
                    err = start_err
                    continue
            self._send(batch)
            return

    def _where(self, i: int) -> str:
        p = self.placement[i]
        return f"worker-{i} (node {p['node_id']}, pid {p['pid']})" if p else f"worker-{i}"

    def traces(self, cell: str, params: dict):
        """Simulated traces of one parameter set (retried like a batch)."""
        batch = Batch("traces", cell, params)
        self._send(batch)
        return self.result(batch)

    def shutdown(self) -> None:
        import ray

        if ray.is_initialized():  # a pool outliving its cluster has nothing left to stop
            for a in self._actors:
                with contextlib.suppress(Exception):
                    ray.kill(a)
        self._actors = []
