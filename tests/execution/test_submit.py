"""``spikefit submit/status/logs/stop`` against a real local Ray cluster started for the test."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from spikefit.cli.main import main
from spikefit.spec.jobspec import JobSpecError
from spikefit.execution.submit import submit_job

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Ray cluster with token auth, its dashboard on a free port.

    The cluster uses this user's Ray token (``~/.ray/auth_token``, which ``ray.init`` creates
    too): a Ray client caches the token it read first, so the cluster and this process must
    agree on it.
    """
    token_file = Path.home() / ".ray" / "auth_token"
    if not token_file.is_file():
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(secrets.token_hex(32))
        token_file.chmod(0o600)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token_file.read_text().strip()}
    dash, gcs = _free_port(), _free_port()
    temp = tmp_path_factory.mktemp("ray")
    ray = str(BIN / "ray")
    subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--port", str(gcs),
                    "--dashboard-port", str(dash), "--include-dashboard", "true",
                    "--temp-dir", str(temp)], env=env, check=True, capture_output=True, timeout=180)
    old = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update({k: env[k] for k in old})
    try:
        yield f"http://127.0.0.1:{dash}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wait(address: str, sid: str, capsys, states=("SUCCEEDED", "FAILED", "STOPPED"), limit=240) -> str:
    t0 = time.time()
    while time.time() - t0 < limit:
        assert main(["status", sid, "--address", address]) == 0
        state = capsys.readouterr().out.strip()
        if state in states:
            return state
        time.sleep(2)
    raise AssertionError(f"job {sid} still {state} after {limit} s")


def test_bad_spec_is_refused_before_submission(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "jobs" / "quickstart.toml").read_text().replace('name = "AdExIF"', 'name = "AdEx"'))
    with pytest.raises(JobSpecError, match="model.name"):
        submit_job(bad, "http://127.0.0.1:1")  # nothing listens there: the spec fails first


def test_submit_runs_the_job_on_the_cluster(cluster, tmp_path, capsys):
    out = tmp_path / "remote"
    assert main(["submit", "jobs/quickstart.toml", "--address", cluster, "--trials", "32",
                 "--output", str(out)]) == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    assert sid.startswith("raysubmit_")
    assert _wait(cluster, sid, capsys) == "SUCCEEDED"
    assert main(["logs", sid, "--address", cluster]) == 0
    assert "complete: 32 trials" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "trials")) == 32


def test_stop_ends_a_running_job(cluster, tmp_path, capsys):
    sid = submit_job(REPO / "jobs" / "quickstart.toml", cluster, trials=100000, output=str(tmp_path / "long"))
    _wait(cluster, sid, capsys, states=("RUNNING",))
    assert main(["stop", sid, "--address", cluster]) == 0
    assert capsys.readouterr().out.strip() == "stopped"
    assert _wait(cluster, sid, capsys) == "STOPPED"
