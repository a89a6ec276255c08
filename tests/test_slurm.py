"""deploy/slurm.sh under a real single-node Slurm on this host.

The module's fixture brings up its own Slurm: Debian's ``slurm-wlm`` and ``munge`` packages
(installed with apt-get when ``sbatch`` is missing and we are root), a slurm.conf for this one
node in a temporary folder (no cgroups: ``proctrack/linuxproc``, ``task/none``), and its own
``munged``, ``slurmctld`` and ``slurmd`` in the foreground, on their own socket and free ports, so
a Slurm or munge already on the machine is neither used nor touched. Everything it starts is
stopped by PID at the end. Where Slurm cannot be installed or its daemons cannot run here, the
tests skip with the reason (apt's or the daemon's own last error line).

The test submits the recipe with ``sbatch`` exactly as a user does (the options a small
node needs on the command line), running the small synthetic job on the Ray head the recipe
starts, and checks the job state, the results (trials table == budget == Optuna study) and that
the recipe leaves no Ray process behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "deploy" / "slurm.sh"
PACKAGES = ("slurm-wlm", "munge")
INSTALL_TIMEOUT_S = 300
PARAMS = ("tau", "V_T", "delta_T")
TRIALS = 64


def _sbin(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for d in ("/usr/sbin", "/sbin")
                                       if (p := Path(d) / name).is_file()), None)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _install_slurm() -> None:
    """apt-get install the Slurm and munge packages, or skip saying why that cannot be done."""
    if os.geteuid() != 0:
        pytest.skip(f"sbatch not on PATH and not root: cannot install {' '.join(PACKAGES)}")
    if shutil.which("apt-get") is None:
        pytest.skip(f"sbatch not on PATH and no apt-get to install {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    try:
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if proc.returncode != 0 and "Unable to locate package" in proc.stdout + proc.stderr:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=INSTALL_TIMEOUT_S)
            proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"apt-get install {' '.join(PACKAGES)} took over {INSTALL_TIMEOUT_S} s")
    if proc.returncode != 0:
        pytest.skip(f"apt-get install {' '.join(PACKAGES)} failed: {_last_line(proc.stderr or proc.stdout)}")




SLURM_CONF = """\
ClusterName=spikefittest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Slurm:
    """munged, slurmctld and slurmd of this test, in the foreground (stopped by PID)."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for var in [v for v in self.env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))]:
            if var != "SLURM_CONF":  # from an enclosing allocation, if any
                del self.env[var]

    def _start(self, name: str, *argv: str) -> None:
        with open(self.root / f"{name}.out", "ab") as log:
            self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)

    def _error_line(self, name: str) -> str:
        """The daemon's first and last error lines (the cause, and what it did then)."""
        texts = [p.read_text(errors="replace") for p in (self.root / f"{name}.out", self.root / f"{name}.log")
                 if p.exists()]
        text = next((t for t in texts if t.strip()), "")
        errors = [line.strip() for line in text.splitlines() if re.search(r"error|fatal", line, re.IGNORECASE)]
        return " ... ".join(dict.fromkeys((errors[0], errors[-1]))) if errors else _last_line(text)

    def _skip_if_exited(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                pytest.skip(f"{name} cannot run here (exit {proc.returncode}): {self._error_line(name)}")

    def start(self) -> None:
        munged, slurmctld, slurmd = (_sbin(n) for n in ("munged", "slurmctld", "slurmd"))
        if not (munged and slurmctld and slurmd):
            pytest.skip("munged, slurmctld or slurmd not found after installing " + " ".join(PACKAGES))
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._start("munged", munged, "--foreground", "--force", f"--key-file={key}",
                    f"--socket={self.root}/munge.socket", f"--pid-file={self.root}/munged.pid",
                    f"--log-file={self.root}/munged.log", f"--seed-file={self.root}/munged.seed")
        self._wait(lambda: (self.root / "munge.socket").exists(), "munged socket", 10)
        node = subprocess.run([slurmd, "-C"], capture_output=True, text=True, env=self.env).stdout.splitlines()
        node = next((line for line in node if line.startswith("NodeName=")), None)
        if node is None:
            pytest.skip("slurmd -C did not describe this node")
        self.host = node.split()[0].split("=", 1)[1]
        self.cpus = int(re.search(r"\bCPUs=(\d+)", node).group(1))
        for d in ("state", "spool"):
            (self.root / d).mkdir()
        ctld_port, slurmd_port = free_ports(2)
        self.conf.write_text(SLURM_CONF.format(host=self.host, node=node, root=self.root,
                                               ctld_port=ctld_port, slurmd_port=slurmd_port))
        self._start("slurmctld", slurmctld, "-D", "-i", "-f", str(self.conf))
        self._start("slurmd", slurmd, "-D", "-N", self.host, "-f", str(self.conf))
        self._wait(self._idle, f"node {self.host} idle in sinfo", 60)

    def _idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, env=self.env)
        return out.stdout.split() == [self.host, "idle"]

    def _wait(self, ready, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            self._skip_if_exited()
            time.sleep(0.25)
        logs = "; ".join(f"{n}: {self._error_line(n)}" for n in self.procs)
        raise AssertionError(f"no {what} within {timeout:.0f} s ({logs})")

    def wait_for_job(self, job_id: str, timeout: float) -> tuple[str, str]:
        """(JobState, ExitCode) of a job once it has ended (polled: faster than ``sbatch --wait``)."""
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True,
                                 env=self.env).stdout
            state = re.search(r"\bJobState=(\S+)", out)
            if state and state.group(1) not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
                return state.group(1), re.search(r"\bExitCode=(\S+)", out).group(1)
            if time.monotonic() > deadline:
                subprocess.run(["scancel", job_id], env=self.env)
                raise AssertionError(f"job {job_id} still {state and state.group(1)} after {timeout:.0f} s")
            time.sleep(0.25)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def slurm():
    if shutil.which("sbatch") is None:
        _install_slurm()
    s = Slurm(Path(tempfile.mkdtemp(prefix="sfslurm", dir="/tmp")))  # short: the munge socket path
    try:
        s.start()
        yield s
    finally:
        s.stop()
        shutil.rmtree(s.root, ignore_errors=True)


def _ray_job(tmp_path: Path, table: Path) -> Path:
    """The shared synthetic job on the recipe's Ray cluster: one worker of one CPU."""
    path = Path(synthetic_job_file(tmp_path / "slurmjob.toml", table, tmp_path / "results", name="slurmjob",
                                   trials=TRIALS))
    path.write_text(path.read_text().replace('executor = "local"', 'executor = "ray"\nworkers = 1\ncpus_per_worker = 1'))
    return path


def _processes_using(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(marker in a for a in p.info["cmdline"] or ()):
            found.append(p)
    return found


def test_recipe_runs_a_job_under_slurm(slurm, tmp_path, synthetic_table):
    job = _ray_job(tmp_path, synthetic_table)
    ray_temp = tempfile.mkdtemp(prefix="sfsray", dir="/tmp")  # short: Ray's Unix socket paths
    home = tmp_path / "home"
    home.mkdir()
    port, client_port, agent_port = free_ports(3)
    env = {**slurm.env, "HOME": str(home), "SPIKEFIT_VENV": str(Path(sys.executable).parents[1]),
           "RAY_PORT": str(port), "RAY_USAGE_STATS_ENABLED": "0",
           # ports of this host's other Ray clusters stay theirs; no dashboard on a test machine
           "RAY_HEAD_ARGS": f"--temp-dir={ray_temp} --include-dashboard=false --ray-client-server-port={client_port}"
                            f" --dashboard-agent-listen-port={agent_port} --disable-usage-stats",
           "SPIKEFIT_COMPILE_CACHE": os.environ.get("SPIKEFIT_COMPILE_CACHE",
                                                    str(Path.home() / ".cache" / "spikefit" / "xla"))}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_TOKEN", None)
    cpus = min(slurm.cpus, 2)
    try:
        proc = subprocess.run(["sbatch", "--parsable", "--nodes=1", f"--cpus-per-task={cpus}",
                               "--gpus-per-node=0", "--time=00:10:00", str(RECIPE), str(job)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"sbatch exited {proc.returncode}: {proc.stderr[-1000:]}"
        job_id = proc.stdout.strip().split(";")[0]
        state = slurm.wait_for_job(job_id, timeout=240)
        log = tmp_path / f"spikefit-{job_id}.log"  # the recipe's #SBATCH --output, in the submit folder
        log_text = log.read_text(errors="replace") if log.exists() else "(no job log)"
        assert state == ("COMPLETED", "0:0"), f"job {job_id} ended {state}:\n{log_text[-3000:]}"
        assert re.search(rf"^ray head on {slurm.host} \(\S+:{port}\), 1 nodes$", log_text, re.MULTILINE)
        assert "1 Ray nodes up" in log_text
        out = tmp_path / "results"
        trials = pd.read_parquet(out / "trials")
        assert len(trials) == TRIALS and trials.trial.is_unique
        study_agrees_with_table(out / "study.journal", "slurmjob.synthetic", trials.sort_values("trial"), PARAMS)
        assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
        # evaluated by a Ray worker actor on the recipe's one node
        assert trials.worker.str.fullmatch(r"worker-0@[0-9a-f]{8}").all() and trials.worker.nunique() == 1
        # the recipe stopped its own Ray cluster: no process of it is left
        deadline = time.monotonic() + 20
        while _processes_using(ray_temp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _processes_using(ray_temp), [p.info["cmdline"][:3] for p in _processes_using(ray_temp)]
    finally:
        for p in _processes_using(ray_temp):  # only this job's Ray processes (its own temp folder)
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(ray_temp, ignore_errors=True)
