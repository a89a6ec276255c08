"""Submit a job to a running Ray cluster through the Ray Jobs API, and follow it.

``spikefit submit JOB.toml --address http://HEAD:8265`` packs the repository (code, job specs and
shipped data; not ``.venv``, results or caches) as the job's working directory and runs
``spikefit run JOB.toml --address auto`` as the Ray job's driver on the cluster, so the driver
owns the study there and the workers are the cluster's. ``status``, ``logs`` and ``stop`` take
the submission id that ``submit`` prints. Ray 2.60 uses token authentication: the client needs
the cluster's token (``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN``), see deploy/README.md.
"""

from __future__ import annotations

import shlex
from pathlib import Path

__all__ = ["submit_job", "job_status", "job_logs", "stop_job", "EXCLUDES"]

#: never uploaded with the working directory
EXCLUDES = [".venv/", ".git/", "results/", "**/__pycache__/", ".pytest_cache/", ".hypothesis/",
            ".whl/", "*.egg-info/"]
REPO = Path(__file__).resolve().parents[1]


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address)


def submit_job(job: str | Path, address: str, *, trials: int | None = None, output: str | None = None,
               working_dir: str | Path = REPO, pip: list[str] | None = None) -> str:
    """Submit ``job`` (validated here first); returns the submission id."""
    from spikefit.spec.jobspec import load_job

    job = Path(job)
    load_job(job)  # a bad spec fails here, not on the cluster
    rel = job.resolve().relative_to(Path(working_dir).resolve())
    cmd = ["spikefit", "run", str(rel), "--address", "auto", "--no-progress"]
    if trials is not None:
        cmd += ["--trials", str(trials)]
    if output is not None:
        cmd += ["--output", output]
    runtime_env = {"working_dir": str(working_dir), "excludes": EXCLUDES}
    if pip:
        runtime_env["pip"] = list(pip)
    return _client(address).submit_job(entrypoint=shlex.join(cmd), runtime_env=runtime_env,
                                       metadata={"spikefit_job": job.stem})


def job_status(address: str, submission_id: str) -> str:
    return str(_client(address).get_job_status(submission_id).value)


def job_logs(address: str, submission_id: str) -> str:
    return _client(address).get_job_logs(submission_id)


def stop_job(address: str, submission_id: str) -> bool:
    return bool(_client(address).stop_job(submission_id))
