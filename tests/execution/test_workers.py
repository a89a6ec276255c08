"""Ray worker pool: same scores as in-process, and a killed worker is restarted with its batch."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.data.sweeps import make_batch


@pytest.fixture(scope="module")
def setup(example_data):
    from spikefit.data.readers import load
    from spikefit.execution.workers import start_ray, stop_ray

    rec = load(example_data)
    sweeps = [s for s in rec.sweeps if s.repeat == 0][8:12]
    data = {"cell": CellData.from_batch(make_batch(sweeps))}
    kwargs = dict(model="AdExIF", free=("tau", "b"), batch_size=16,
                  fixed={"R": 0.05, "V_rest": -70.0, "V_reset": -58.0, "V_T": -50.0, "delta_T": 2.0,
                         "V_th": -40.0, "a": 2.0, "tau_w": 150.0})
    start_ray(num_cpus=2)
    yield kwargs, data
    stop_ray()


def test_pool_scores_equal_in_process_evaluator(setup):
    from spikefit.execution.workers import WorkerPool

    kwargs, data = setup
    x = np.array([[10.0, 20.0], [20.0, 60.0], [35.0, 5.0]], np.float32)
    local = Evaluator(**kwargs, cells=data).evaluate("cell", x)
    pool = WorkerPool(2, kwargs, data, cpus_per_worker=1)
    try:
        remote = pool.result(pool.submit("cell", x))
        assert remote.worker.startswith("worker-")
        np.testing.assert_allclose(remote.loss, local.loss, rtol=1e-6)
        np.testing.assert_array_equal(remote.n_spikes, local.n_spikes)
    finally:
        pool.shutdown()


def test_killed_worker_is_restarted_and_its_batch_rerun(setup):
    import ray

    from spikefit.execution.workers import WorkerPool

    kwargs, data = setup
    pool = WorkerPool(1, kwargs, data, cpus_per_worker=1)
    try:
        x = np.array([[20.0, 60.0]] * 4, np.float32)
        expected = pool.result(pool.submit("cell", x)).loss
        ref = pool.submit("cell", x)
        ray.kill(pool._actors[0], no_restart=False)  # the worker dies with a batch in flight
        again = pool.result(ref)  # Ray restarts the actor (with its data) and re-runs the batch
        np.testing.assert_allclose(again.loss, expected, rtol=1e-6)
        later = pool.result(pool.submit("cell", x))
        np.testing.assert_allclose(later.loss, expected, rtol=1e-6)
    finally:
        pool.shutdown()
