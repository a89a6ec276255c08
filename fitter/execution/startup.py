"""A run's start-up: the cells' data for the workers, the Ray cluster and the worker pool.

The recordings are read (:func:`load_while_ray_starts`) in a thread while the main thread
starts the Ray cluster: each takes seconds, and neither needs the other. A data error still
comes before any worker starts, and stops the cluster started for it.
"""

from __future__ import annotations

from pathlib import Path

from spikefit.data.dataset import prepare_cells, split_holdout
from spikefit.data.sweeps import make_batch
from spikefit.execution.evaluator import CellData
from spikefit.execution.loop import stage_key
from spikefit.search.stages import plan

__all__ = ["cell_data", "start_pool", "load_while_ray_starts", "start_cluster"]


def cell_data(spec, cells: dict) -> tuple[dict, dict]:
    """The cells (training cropped when a held-out segment is asked) and the workers' data:
    training (also at each stage's own step), held-out and validation sweeps."""
    data, out = {}, {}
    stages = [s for s in plan(spec.search, spec.seed) if not s.passive]
    for c, sets in cells.items():
        if spec.search.holdout_ms:
            sets, hold = split_holdout(sets, spec.search.holdout_ms, dt_ms=spec.data.dt_ms,
                                       ljp_mV=spec.data.ljp_mV)
            data[f"{c}/holdout"] = CellData.from_batch(hold)
        out[c] = sets
        data[c] = CellData.from_batch(sets.train)
        for stage in stages:
            key = stage_key(c, stage, float(sets.train.dt_ms))
            if key not in data:
                data[key] = CellData.from_batch(make_batch(sets.train_sweeps, dt_ms=stage.dt_ms,
                                                           ljp_mV=spec.data.ljp_mV))
        if sets.validation is not None:
            data[f"{c}/validation"] = CellData.from_batch(sets.validation)
    return out, data


def start_pool(spec, executor: str, ev_kwargs: dict, data: dict, shutdown: bool = True):
    """The run's workers holding ``data`` and the call that stops their cluster (None in-process)."""
    if executor == "local":
        from spikefit.execution.local import LocalPool

        return LocalPool(ev_kwargs, data), None
    from spikefit.execution import workers

    res = spec.resources
    start_cluster(spec)  # already started by run_job, unless it was stopped since
    try:
        return workers.WorkerPool(res.workers, ev_kwargs, data, cpus_per_worker=res.cpus_per_worker,
                                  gpus_per_worker=res.gpus_per_worker), workers.stop_ray
    except BaseException:  # a signal or a failure while the workers start: the cluster is not left behind
        if shutdown:
            workers.stop_ray()
        raise


def load_while_ray_starts(spec, recordings, executor: str) -> tuple[dict, bool]:
    """The job's cells (:func:`~spikefit.data.dataset.prepare_cells`), read in a thread while
    this one starts the Ray cluster (reading recordings and starting Ray each take seconds);
    returns them and whether a cluster was started here. A data error wins over a cluster
    error, and stops the cluster it started: bad data still fails before any worker starts."""
    import threading

    from spikefit.execution import workers

    if recordings is None:  # a missing file fails at once, before anything starts
        missing = [p for p in spec.data.paths(Path(spec.base_dir)) if not p.exists()]
        if missing:
            raise FileNotFoundError(f"[data.path] {missing[0]}: no such file or folder")
    if executor != "ray" or workers.ray_running():
        return prepare_cells(spec, recordings), False
    box: dict = {}

    def load():
        try:
            box["cells"] = prepare_cells(spec, recordings)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err

    reader = threading.Thread(target=load, name="spikefit-read", daemon=True)
    reader.start()
    try:
        start_cluster(spec)
    except Exception:
        reader.join()
        workers.stop_ray()
        if "error" in box:  # the data's own error says more than the cluster's
            raise box.pop("error") from None
        raise
    except BaseException:  # a signal while Ray starts: nothing is left running
        reader.join()
        workers.stop_ray()
        raise
    reader.join()
    if "error" in box:
        workers.stop_ray()
        raise box.pop("error")
    return box["cells"], True


def start_cluster(spec) -> None:
    from spikefit.execution import workers

    res = spec.resources
    workers.start_ray(res.address, num_cpus=None if res.address else max(res.workers * res.cpus_per_worker, 1),
                      num_gpus=None)
