"""``spikefit submit/status/logs/stop`` against a real local Ray cluster started for the test.

The job comes from a project folder built in a temporary folder outside the repository (job file
in ``jobs/``, recordings in ``data/``, old results and a virtual environment that must stay
behind). spikefit reaches the cluster installed, never as uploaded source: from a wheel built from
this checkout (``--wheel``), or by the default ``spikefit==<version>`` requirement, which the
cluster's environment (this one, where spikefit is installed) already satisfies.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest

import spikefit
from spikefit.cli.main import main
from spikefit.execution.submit import WHEEL_FOLDER, submit_job
from spikefit.spec.jobspec import JobSpecError

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE = REPO / "fitter" / "examples" / "bbp_l5pc_A2_IDrest"


#: a small fit (a leaky integrate-and-fire model, no validation set): seconds, not minutes
FIT = """
name = "fit"
seed = 1

[data]
path = "DATA"
format = "ibw"
ljp_mV = 14.0
train = { repeats = [0] }

[model]
name = "LIF"
fixed = { V_rest = "-70 mV" }

[params]
R       = { low = "20 MOhm", high = "300 MOhm", log = true }
tau     = { low = "5 ms",    high = "60 ms",    log = true }
V_th    = { low = "-60 mV",  high = "-35 mV" }
V_reset = { low = "-75 mV",  high = "-40 mV" }

[search]
sampler = "cmaes_batch"
batch_size = 32

[resources]
workers = 1
cpus_per_worker = 1
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    address: str  # the dashboard (Jobs API)
    temp: Path    # Ray's temp dir: session_latest/runtime_resources holds what jobs got


def _processes_of(temp: Path) -> list[psutil.Process]:
    """This cluster's processes: those naming its temp dir, and all their descendants."""
    found: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["cmdline"]):
        if any(str(temp) in arg for arg in p.info["cmdline"] or ()):
            found[p.pid] = p
            try:
                found.update((c.pid, c) for c in p.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
    return list(found.values())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Ray cluster with token auth, on free ports, stopped by process id afterwards.

    Every port is chosen free (not Ray's defaults) and teardown ends only this cluster's
    processes, so other Ray clusters on the machine neither block nor lose theirs. The cluster
    uses this user's Ray token (``~/.ray/auth_token``, which ``ray.init`` creates too): a Ray
    client caches the token it read first, so the cluster and this process must agree on it.
    """
    token_file = Path.home() / ".ray" / "auth_token"
    if not token_file.is_file():
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(secrets.token_hex(32))
        token_file.chmod(0o600)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token_file.read_text().strip()}
    ports = {name: _free_port() for name in (
        "port", "dashboard-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
        "ray-client-server-port", "metrics-export-port", "runtime-env-agent-port", "node-manager-port",
        "object-manager-port")}
    temp = tmp_path_factory.mktemp("ray")
    cmd = [str(BIN / "ray"), "start", "--head", "--num-cpus", "2", "--include-dashboard", "true",
           "--temp-dir", str(temp), *(a for name, port in ports.items() for a in (f"--{name}", str(port)))]
    old = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    try:
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=180)
        os.environ.update({k: env[k] for k in old})
        yield Cluster(f"http://127.0.0.1:{ports['dashboard-port']}", temp)
    finally:
        procs = _processes_of(temp)
        for p in procs:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        for p in psutil.wait_procs(procs, timeout=5)[1]:
            p.kill()
        # the jobs' virtual environments are copies of this one (GBs): not worth keeping
        for pip_dir in temp.glob("session_*/runtime_resources/pip"):
            shutil.rmtree(pip_dir, ignore_errors=True)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A user's project folder: ``jobs/fit.toml`` fits ``data/<example>``; junk that stays home."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(EXAMPLE, root / "data" / EXAMPLE.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "jobs").mkdir()
    (root / "jobs" / "fit.toml").write_text(FIT.replace("DATA", f"../data/{EXAMPLE.name}"))
    for junk in ("results/old/trials.parquet", ".venv/bin/python", "jobs/__pycache__/x.pyc"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("not for the cluster")
    return root


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, built from a clean copy (``pip wheel --no-deps``)."""
    tmp = tmp_path_factory.mktemp("wheel")
    for item in ("pyproject.toml", "README.md", "fitter", "models"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp / "src" / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp / "src").mkdir(exist_ok=True)
            shutil.copy2(src, tmp / "src" / item)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(tmp / "dist"), str(tmp / "src")], check=True, capture_output=True, timeout=300)
    (built,) = (tmp / "dist").glob("spikefit-*.whl")
    return built


def _wait(address: str, sid: str, capsys, states=("SUCCEEDED", "FAILED", "STOPPED"), limit=300) -> str:
    t0 = time.time()
    state = "?"
    while time.time() - t0 < limit:
        assert main(["status", sid, "--address", address]) == 0
        state = capsys.readouterr().out.strip()
        if state in states:
            return state
        time.sleep(2)
    raise AssertionError(f"job {sid} still {state} after {limit} s")


def _job_info(address: str, sid: str):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address).get_job_info(sid)


def _uploaded_files(cluster: Cluster, sid: str) -> set[str]:
    """The files of the job's working dir as the cluster unpacked them."""
    uri = _job_info(cluster.address, sid).runtime_env["working_dir"]  # gcs://_ray_pkg_<hash>.zip
    folder = (cluster.temp / "session_latest" / "runtime_resources" / "working_dir_files"
              / uri.rsplit("/", 1)[-1].removesuffix(".zip"))
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_bad_spec_is_refused_before_submission(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "jobs" / "quickstart.toml").read_text().replace('name = "AdExIF"', 'name = "AdEx"'))
    with pytest.raises(JobSpecError, match="model.name"):
        submit_job(bad, "http://127.0.0.1:1")  # nothing listens there: the spec fails first


def test_data_outside_the_working_dir_is_refused_with_the_fix(capsys):
    # jobs/quickstart.toml reads ../fitter/examples/...: outside jobs/, the default working dir
    assert main(["submit", str(REPO / "jobs" / "quickstart.toml"), "--address", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    for part in ("quickstart.toml", "[data.path]", f"expected a path inside the working dir {REPO / 'jobs'}",
                 "got '../fitter/examples/bbp_l5pc_A2_IDrest'", f"--working-dir {REPO} "):
        assert part in err, (part, err)


@pytest.mark.parametrize("case, expected", [
    ("job outside --working-dir", "--working-dir: expected a folder that holds the job file"),
    ("data missing", "[data.path] expected an existing file or folder inside the working dir"),
    ("not a wheel", "--wheel: expected a spikefit wheel file"),
    ("not a folder", "--working-dir: expected a folder"),
])
def test_submit_refuses_what_would_fail_on_the_cluster(case, expected, project, tmp_path, capsys):
    job = project / "jobs" / "fit.toml"
    (tmp_path / "jobs").mkdir()
    shutil.copy(job, tmp_path / "jobs" / "fit.toml")  # a project without its data/
    args = {"job outside --working-dir": [str(job), "--working-dir", str(project / "data")],
            "data missing": [str(tmp_path / "jobs" / "fit.toml"), "--working-dir", str(tmp_path)],
            "not a wheel": [str(job), "--working-dir", str(project), "--wheel", str(REPO / "README.md")],
            "not a folder": [str(job), "--working-dir", str(tmp_path / "nowhere")]}[case]
    assert main(["submit", *args, "--address", "http://127.0.0.1:1"]) == 2  # refused before connecting
    assert expected in capsys.readouterr().err


def test_submit_uploads_the_project_and_installs_the_wheel(cluster, project, wheel, tmp_path, capsys):
    out = tmp_path / "remote"
    assert main(["submit", str(project / "jobs" / "fit.toml"), "--address", cluster.address,
                 "--working-dir", str(project), "--wheel", str(wheel), "--trials", "32",
                 "--output", str(out)]) == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    assert sid.startswith("raysubmit_")
    state = _wait(cluster.address, sid, capsys)
    assert main(["logs", sid, "--address", cluster.address]) == 0
    logs = capsys.readouterr().out
    assert state == "SUCCEEDED", logs
    assert "complete: 32 trials" in logs
    assert len(pd.read_parquet(out / "trials")) == 32
    assert not (project / "results" / "fit").exists() and not (project / WHEEL_FOLDER).exists()

    uploaded = _uploaded_files(cluster, sid)
    assert {"jobs/fit.toml", f"data/{EXAMPLE.name}/X_IDrest_ch0_325.ibw", f"{WHEEL_FOLDER}/{wheel.name}"} <= uploaded
    assert not [f for f in uploaded if f.startswith(("results/", ".venv/")) or "__pycache__" in f], uploaded
    assert not [f for f in uploaded if f.endswith(".py")], "spikefit source was uploaded"
    # the job's environment runs spikefit installed from that wheel
    (env,) = [d for d in (cluster.temp / "session_latest" / "runtime_resources" / "pip").iterdir()
              if wheel.name in (d / "ray_runtime_env_internal_pip_requirements.txt").read_text()]
    site = next(env.glob("virtualenv/lib/python3*/site-packages"))
    assert (site / "spikefit" / "cli" / "main.py").is_file()
    origin = json.loads((site / f"spikefit-{spikefit.__version__}.dist-info" / "direct_url.json").read_text())
    assert origin["url"].endswith(f"/{WHEEL_FOLDER}/{wheel.name}")


def test_stop_ends_a_running_job_installed_by_version(cluster, project, tmp_path, capsys):
    sid = submit_job(project / "jobs" / "fit.toml", cluster.address, trials=100000,
                     output=str(tmp_path / "long"), working_dir=project)
    assert _job_info(cluster.address, sid).runtime_env["pip"]["packages"] == [f"spikefit=={spikefit.__version__}"]
    _wait(cluster.address, sid, capsys, states=("RUNNING",))
    deadline = time.time() + 300
    while time.time() < deadline and not (tmp_path / "long" / "manifest.json").is_file():
        time.sleep(1)
    assert main(["stop", sid, "--address", cluster.address]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "stopped"
    assert out[1] == f"results folder {tmp_path / 'long'}: marked stopped; resume with: spikefit resume {tmp_path / 'long'}"
    assert _wait(cluster.address, sid, capsys) == "STOPPED"
    manifest = json.loads((tmp_path / "long" / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["stopped_by"] == f"spikefit stop {sid}"
    assert not (tmp_path / "long" / "lock.json").exists()  # the driver is gone: a resume may take the folder


@pytest.mark.parametrize("resources, expected", [
    ("workers = 4\ncpus_per_worker = 1", "asks workers x cpus_per_worker = 4 x 1 = 4 CPUs, the cluster at {a} "
                                          "has 2 CPUs in total"),
    ("workers = 1\ncpus_per_worker = 3", "cpus_per_worker = 3 but the largest node of the cluster at {a} has 2 CPUs"),
    ("workers = 1\ngpus_per_worker = 1", "gpus_per_worker = 1 but the largest node of the cluster at {a} has 0 GPUs"),
])
def test_submit_refuses_what_the_cluster_can_never_give(cluster, project, resources, expected, capsys):
    from ray.job_submission import JobSubmissionClient

    job = project / "jobs" / "big.toml"
    job.write_text((project / "jobs" / "fit.toml").read_text().replace("workers = 1\ncpus_per_worker = 1", resources))
    before = len(JobSubmissionClient(cluster.address).list_jobs())
    assert main(["submit", str(job), "--address", cluster.address, "--working-dir", str(project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected.format(a=cluster.address) in err[0] and "--no-resource-check" in err[0], err
    assert len(JobSubmissionClient(cluster.address).list_jobs()) == before  # nothing was submitted


def test_a_missing_token_is_one_line_saying_how_to_give_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    for var in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token
    assert main(["status", "raysubmit_x", "--address", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no token found (RAY_AUTH_TOKEN is unset and {tmp_path}/.ray/auth_token" in err[0]
    assert "RAY_AUTH_TOKEN, in ~/.ray/auth_token or in the file named by RAY_AUTH_TOKEN_PATH" in err[0]
