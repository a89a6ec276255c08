"""A real Ray cluster on this host: a head and two worker nodes, each its own ``ray start``
process tree, token authentication on. ``spikefit run --address`` spreads a job over both
worker nodes and finishes it when one of them is killed mid-run; after the node joins again, a
new job uses it, and when that job's driver is killed the same command resumes it. Every run
ends with trials expected == rows of the Parquet table == trials of the Optuna study, each
trial number once.

The cluster is this module's own (its temp folder, a fresh token in ``RAY_AUTH_TOKEN``, a
temporary HOME so ``~/.ray`` is neither read nor written); it is torn down by killing its own
process trees, never with ``ray stop``, so other Ray clusters on the machine are left alone.
Ray 2.60 replaces the ``--node-ip-address 127.0.0.1`` of a multi-node cluster by the machine's
own address, so these nodes listen there too (token-protected); see deploy/README.md.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from _ports import free_ports
from _study_checks import study_agrees_with_table
from _synthetic import synthetic_job_file

RAY = str(Path(sys.executable).with_name("ray"))
PARAMS = ("tau", "V_T", "delta_T")
PORT_OPTIONS = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")




class Cluster:
    """Ray nodes started with ``ray start --block`` (one process tree each) on this host."""

    def __init__(self, root: Path):
        self.root = root
        self.temp = Path(tempfile.mkdtemp(prefix="sfray", dir="/tmp"))  # short: Unix socket paths
        home = root / "home"
        home.mkdir()
        self.env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0",
                    # the compiled simulations of the other tests (a temporary HOME would miss them)
                    "SPIKEFIT_COMPILE_CACHE": os.environ.get("SPIKEFIT_COMPILE_CACHE", str(
                        Path.home() / ".cache" / "spikefit" / "xla")),
                    # a killed node is declared dead after ~2 s instead of ~30 s
                    "RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "500",
                    "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}
        self.env.pop("RAY_ADDRESS", None)
        self.address = f"127.0.0.1:{free_ports(1)[0]}"
        self.nodes: dict[str, subprocess.Popen] = {}
        self.ids: dict[str, str] = {}

    def start(self, name: str, *args: str) -> None:
        ports = [x for opt, port in zip(PORT_OPTIONS, free_ports(len(PORT_OPTIONS))) for x in (opt, str(port))]
        with open(self.root / f"{name}.log", "ab") as log:
            self.nodes[name] = subprocess.Popen(
                [RAY, "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
                 "--object-store-memory", str(100 * 2**20), "--include-log-monitor", "false", *ports, *args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_head(self) -> None:
        self.start("head", "--head", "--port", self.address.rsplit(":", 1)[1], "--num-cpus", "0",
                   "--include-dashboard", "false", "--temp-dir", str(self.temp))

    def add_node(self, name: str, cpus: int = 2) -> None:
        self.start(name, "--address", self.address, "--num-cpus", str(cpus), "--resources", json.dumps({name: 1}))

    def _tree(self, name: str) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.nodes[name].pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _raylet_node_id(self, name: str) -> str | None:
        for p in self._tree(name):
            try:
                if p.name() == "raylet":
                    return next((a.split("=", 1)[1] for a in p.cmdline() if a.startswith("--node_id=")), None)
            except psutil.NoSuchProcess:
                pass
        return None

    def wait_joined(self, *names: str, timeout: float = 90.0) -> None:
        """Until the GCS has registered each node (its raylet's node id in the GCS log)."""
        log = self.temp / "session_latest" / "logs" / "gcs_server.out"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in names:
                if name not in self.ids and (node_id := self._raylet_node_id(name)):
                    text = log.read_text(errors="replace") if log.exists() else ""
                    if f"Registering new node. node_id={node_id}" in text:
                        self.ids[name] = node_id
            if all(n in self.ids for n in names):
                return
            for name in names:
                assert self.nodes[name].poll() is None, f"ray node {name} exited: {self.log(name)}"
            time.sleep(0.2)
        raise AssertionError(f"ray nodes {names} did not join within {timeout:.0f} s: {self.log(names[-1])}")

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-2000:]

    def kill(self, name: str) -> None:
        """SIGKILL a node's every process (ray start, raylet, agents, workers) at once."""
        procs = self._tree(name)
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.nodes[name].wait()
        psutil.wait_procs(procs, timeout=5)

    def alive(self, name: str) -> bool:
        return name in self.nodes and self.nodes[name].poll() is None

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):
            if self.alive(name):
                self.kill(name)
        logs = self.temp / "session_latest" / "logs"
        for f in ("gcs_server.out", "raylet.out", "raylet.1.out", "raylet.2.out", "raylet.3.out"):
            if (logs / f).exists():  # kept with the test's files, for a failure's post-mortem
                shutil.copy(logs / f, self.root / f)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start_head()
        c.wait_joined("head")
        for name in ("node_a", "node_b"):  # one at a time: nodes of a session on one host race for socket names
            c.add_node(name)
            c.wait_joined(name)
        yield c
    finally:
        c.stop()


def job_file(tmp_path, table, name: str, trials: int, sampler: str = "random") -> Path:
    """The shared synthetic job on Ray: two workers of one CPU, batches of 32."""
    path = Path(synthetic_job_file(tmp_path / f"{name}.toml", table, tmp_path / name, name=name, trials=trials))
    text = path.read_text().replace("batch_size = 32", f"batch_size = 32\nsampler = \"{sampler}\"")
    path.write_text(text.replace('executor = "local"', 'executor = "ray"\nworkers = 2\ncpus_per_worker = 1'))
    return path


def spikefit_run(cluster: Cluster, job: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", str(job), "--no-progress",
                             "--address", cluster.address], env=cluster.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **popen)


def finished(proc: subprocess.Popen, timeout: float = 240.0) -> None:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, f"spikefit run exited {proc.returncode}: {err[-3000:]}"


def wait_for_parts(out: Path, n: int, proc: subprocess.Popen, timeout: float = 180.0) -> int:
    """Until the running job has written ``n`` trials-table parts; returns the rows written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "trials").glob("part-*.parquet"))) >= n:
            return len(pd.read_parquet(out / "trials"))
        time.sleep(0.05)
    raise AssertionError(f"the job ended or stalled before writing {n} parts: {proc.stderr.read()[-2000:]}")


def checked_trials(out: Path, name: str, expected: int) -> pd.DataFrame:
    """The trials table, after checking it against the expected count and the Optuna study."""
    trials = pd.read_parquet(out / "trials")
    assert len(trials) == expected and trials.trial.is_unique
    study_agrees_with_table(out / "study.journal", f"{name}.synthetic", trials, PARAMS)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    return trials


def nodes_of(trials: pd.DataFrame) -> pd.Series:
    """The node (first 8 hex digits of its Ray id) that evaluated each trial: ``worker-<i>@<node>``."""
    return trials.worker.str.split("@").str[1]


def test_job_spreads_over_the_nodes_and_survives_a_killed_node(cluster, tmp_path, synthetic_table):
    job = job_file(tmp_path, synthetic_table, "lost", trials=384)
    proc = spikefit_run(cluster, job)
    before = wait_for_parts(tmp_path / "lost", 4, proc)
    cluster.kill("node_b")  # raylet, agents and the worker actor on it, mid-run
    finished(proc)
    trials = checked_trials(tmp_path / "lost", "lost", 384)
    assert before < 384
    a, b = cluster.ids["node_a"][:8], cluster.ids["node_b"][:8]
    nodes = nodes_of(trials)
    assert set(nodes) == {a, b}  # both worker nodes worked, never the head (0 CPUs)
    # node_b did nothing after its kill: at most the batches in flight then (2 per worker)
    assert 32 <= (nodes == b).sum() <= before + 4 * 32
    assert (nodes == a).sum() >= 384 - before - 4 * 32


def test_rejoined_node_is_used_and_a_killed_driver_resumes(cluster, tmp_path, synthetic_table):
    if cluster.alive("node_b"):
        cluster.kill("node_b")
    cluster.add_node("node_b2")  # the same `ray start --address` again: a new node id
    cluster.wait_joined("node_b2")
    job = job_file(tmp_path, synthetic_table, "driver", trials=384, sampler="cmaes_batch")
    out = tmp_path / "driver"
    proc = spikefit_run(cluster, job)
    before = wait_for_parts(out, 3, proc)
    proc.send_signal(signal.SIGKILL)  # the driver only: its workers go with it
    proc.wait()
    assert 0 < before < 384
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    finished(spikefit_run(cluster, job))  # the same command resumes it
    trials = checked_trials(out, "driver", 384)
    assert sorted(trials.trial) == list(range(384))
    # the new job ran on the node that joined again (and on node_a), not on the lost one
    assert set(nodes_of(trials)) == {cluster.ids["node_a"][:8], cluster.ids["node_b2"][:8]}
