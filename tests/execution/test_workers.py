"""Ray worker pool on a real embedded cluster: same scores as in-process; a worker actor that is
killed (ray.kill, or SIGKILL of its process) is restarted and its batch re-run after a wait;
when the retries run out the job stops with one line naming the worker, its node and the
error, the manifest says ``failed``, and the same command resumes it to the full count."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest

from _study_checks import study_agrees_with_table
from _synthetic import synthetic_job_file

from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.execution.retry import RetryPolicy, WorkerError
from spikefit.data.sweeps import make_batch

X = np.array([[20.0, 60.0]] * 4, np.float32)


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


@pytest.fixture(scope="module")
def pool(setup):
    from spikefit.execution.workers import WorkerPool

    kwargs, data = setup
    p = WorkerPool(1, kwargs, data, cpus_per_worker=1)
    yield p
    p.shutdown()


def test_pool_scores_equal_in_process_evaluator(setup, pool):
    kwargs, data = setup
    x = np.array([[10.0, 20.0], [20.0, 60.0], [35.0, 5.0]], np.float32)
    local = Evaluator(**kwargs, cells=data).evaluate("cell", x)
    remote = pool.result(pool.submit("cell", x))
    node = pool.placement[0]["node_id"]
    assert remote.worker == f"worker-0@{node[:8]}"  # the trials table's worker column names the node
    np.testing.assert_allclose(remote.loss, local.loss, rtol=1e-6)
    np.testing.assert_array_equal(remote.n_spikes, local.n_spikes)


LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def test_embedded_cluster_listens_on_loopback_only(pool):
    """Every listening socket of the embedded cluster (this driver, GCS, raylet, agents, the
    worker, Prometheus metrics) is bound to 127.0.0.1: nothing is reachable from the network."""
    listening = {}
    for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    listening[(c.laddr.ip, c.laddr.port)] = p.name()
        except psutil.NoSuchProcess:
            pass
    names = set(listening.values())
    assert {"gcs_server", "raylet"} <= names and any(n.startswith("ray::") for n in names), listening
    assert len(listening) >= 5, listening
    exposed = {addr: name for addr, name in listening.items() if addr[0] not in LOOPBACK}
    assert not exposed, f"bound beyond loopback: {exposed}"


def test_killed_worker_is_restarted_and_its_batch_rerun(pool):
    expected = pool.result(pool.submit("cell", X)).loss
    old = pool.placement[0]
    batch = pool.submit("cell", X)
    os.kill(old["pid"], signal.SIGKILL)  # the worker's process dies with a batch in flight
    t0 = time.perf_counter()
    again = pool.result(batch)  # a new actor (with the data) takes the batch, after a wait
    assert time.perf_counter() - t0 >= pool.retry.wait_s(1)
    assert batch.attempt == 1 and pool.placement[0]["pid"] != old["pid"]
    assert [name for name, _ in pool.history] == [old["name"], pool.placement[0]["name"]]
    np.testing.assert_allclose(again.loss, expected, rtol=1e-6)
    np.testing.assert_allclose(pool.result(pool.submit("cell", X)).loss, expected, rtol=1e-6)


def test_failing_batch_is_retried_then_names_the_worker_node_and_cause(pool):
    """The evaluation itself fails (no such data set): retried once, then one line, no traceback."""
    where, kept = pool.placement[0], pool.retry
    pool.retry = RetryPolicy(retries=1, first_wait_s=0.01)
    try:
        with pytest.raises(WorkerError) as err:
            pool.result(pool.submit("nope", X))
    finally:
        pool.retry = kept
    msg = str(err.value)
    assert msg.startswith(f"worker-0 (node {where['node_id']}, pid {where['pid']}): a batch of 'nope' failed 2 times")
    assert "last error: KeyError: 'nope'" in msg and "same command again" in msg
    assert "\n" not in msg and "Traceback" not in msg
    assert pool.placement[0]["pid"] == where["pid"]  # an error of the evaluation: the worker is kept


class ActorKiller(threading.Thread):
    """SIGKILLs every worker actor process of this test's embedded cluster, as soon as the job
    has written ``after`` trials-table parts, until stopped."""

    def __init__(self, trials_dir, after: int):
        super().__init__(daemon=True)
        self.trials_dir, self.after, self.kills = trials_dir, after, 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set() and len(list(self.trials_dir.glob("part-*.parquet"))) < self.after:
            time.sleep(0.02)
        while not self.halt.is_set():
            for p in psutil.Process().children(recursive=True):
                try:
                    if p.name().startswith("ray::_RayEvaluator"):
                        p.kill()
                        self.kills += 1
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.02)


def test_job_stops_with_one_line_when_retries_run_out_and_resumes(setup, tmp_path, synthetic_table, capsys):
    from spikefit.cli.main import main

    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "dying.toml", synthetic_table, out, name="dying", trials=320)
    with open(job) as f:
        text = f.read()
    with open(job, "w") as f:
        f.write(text.replace('executor = "local"', 'executor = "ray"'))
    killer = ActorKiller(out / "trials", after=2)
    killer.start()
    try:
        assert main(["run", job, "--no-progress"]) == 2
    finally:
        killer.halt.set()
        killer.join()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and killer.kills >= 4  # first try + 3 retries
    assert err.startswith("spikefit run: error: worker-0 (node ") and "3 retries" in err
    assert "ActorDiedError" in err and "same command again" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    told = len(pd.read_parquet(out / "trials"))
    assert 0 < told < 320

    assert main(["run", job, "--no-progress"]) == 0  # the same command resumes it
    trials = pd.read_parquet(out / "trials")
    assert len(trials) == 320 and sorted(trials.trial) == list(range(320))
    study_agrees_with_table(out / "study.journal", "dying.synthetic", trials, ("tau", "V_T", "delta_T"))
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
