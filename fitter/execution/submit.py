"""Submit a job to a running Ray cluster through the Ray Jobs API, and follow it.

``spikefit submit JOB.toml --address http://HEAD:8265`` runs ``spikefit run JOB.toml --address
auto --no-progress`` as the Ray job's driver on the cluster, so the driver owns the study there
and the workers are the cluster's. Two things travel with it:

* **The job's project folder**, as the Ray job's ``runtime_env.working_dir``: the folder of the
  job file, or the one given as ``working_dir`` (``--working-dir``), e.g. a project root that
  holds ``jobs/`` and ``data/``. :data:`EXCLUDES` (results, virtual environments, caches) and what
  the folder's ``.gitignore`` ignores (Ray's rule) stay behind. The job file and every relative
  ``data.path`` must lie inside it; absolute data paths are used as they are, so they must exist
  on the cluster (a shared file system, or a path in the image). A path that escapes is refused
  here, before anything is uploaded.
* **spikefit itself is installed, never uploaded as source**: ``runtime_env.pip`` holds
  ``spikefit==<this client's version>`` by default, which nodes whose image already has it
  (``deploy/Dockerfile``) satisfy as is, and other nodes install from their package index. With
  ``wheel`` (``--wheel``) it is that wheel instead: a local ``.whl`` is uploaded with the working
  directory (as ``spikefit-wheel/<name>.whl``) and pip-installed from there on each node; an
  ``http(s)://`` URL is handed to pip. Ray installs it into a virtual environment per
  job on each node, so the driver and the workers run the client's spikefit.

``status``, ``logs`` and ``stop`` take the submission id that ``submit`` prints. Ray 2.60 uses
token authentication: the client needs the cluster's token (``~/.ray/auth_token`` or
``RAY_AUTH_TOKEN``), see deploy/README.md.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["submit_job", "job_status", "job_logs", "stop_job", "EXCLUDES", "WHEEL_FOLDER"]

#: never uploaded with the working directory (gitignore patterns, as Ray reads them)
EXCLUDES = [".git/", ".venv/", "venv/", "results/", "**/__pycache__/", ".pytest_cache/",
            ".hypothesis/", ".mypy_cache/", ".ruff_cache/", ".ipynb_checkpoints/", "*.egg-info/"]
#: folder of the uploaded working directory that carries a local ``--wheel``
WHEEL_FOLDER = "spikefit-wheel"
_WORKING_DIR_VAR = "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"  # expanded by Ray on each node


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address)


def submit_job(job: str | Path, address: str, *, trials: int | None = None, output: str | None = None,
               working_dir: str | Path | None = None, wheel: str | Path | None = None) -> str:
    """Submit ``job`` (validated here first) with its project folder; returns the submission id.

    ``working_dir`` defaults to the job file's folder; ``wheel`` (a local ``.whl`` or a URL)
    replaces the default ``spikefit==<version>`` install on the cluster. See the module doc.
    """
    from spikefit.spec.jobspec import load_job

    job = Path(job)
    spec = load_job(job)  # a bad spec fails here, not on the cluster
    folder = _working_dir(job, working_dir)
    rel_job = _job_inside(job, folder, spec)
    cmd = ["spikefit", "run", rel_job.as_posix(), "--address", "auto", "--no-progress"]
    if trials is not None:
        cmd += ["--trials", str(trials)]
    if output is not None:
        cmd += ["--output", output]
    with _upload(folder, wheel) as (upload, requirement):
        return _client(address).submit_job(entrypoint=shlex.join(cmd),
                                           runtime_env=_runtime_env(upload, requirement),
                                           metadata={"spikefit_job": job.stem})


def _runtime_env(working_dir: str | Path, requirement: str | None = None) -> dict:
    """The Ray ``runtime_env`` of a submission: the folder to upload and how spikefit is installed."""
    if requirement is None:
        import spikefit

        requirement = f"spikefit=={spikefit.__version__}"
    return {"working_dir": str(working_dir), "excludes": list(EXCLUDES), "pip": [requirement]}


def _job_inside(job: Path, folder: Path, spec) -> Path:
    """``job``'s path inside ``folder``; refuses a job file or relative ``data.path`` outside it."""
    from spikefit.spec.jobspec import JobSpecError

    job_abs = job.resolve()
    if not job_abs.is_relative_to(folder):
        raise ValueError(f"--working-dir: expected a folder that holds the job file {job_abs} (both are "
                         f"uploaded together), got {folder}")
    raw = [spec.data.path] if isinstance(spec.data.path, str) else list(spec.data.path)
    for path in raw:
        given = Path(path).expanduser()
        if given.is_absolute():
            continue  # used as it is on the cluster (shared file system, image)
        target = (job_abs.parent / given).resolve()
        if not target.is_relative_to(folder):
            common = os.path.commonpath([folder, target])
            raise JobSpecError(
                f"{job}: [data.path] expected a path inside the working dir {folder} (uploaded to the "
                f"cluster) or an absolute path on the cluster, got {path!r} -> {target}; pass "
                f"--working-dir {common} to upload a folder that holds both")
        if not target.exists():
            raise JobSpecError(f"{job}: [data.path] expected an existing file or folder inside the "
                               f"working dir {folder}, got {path!r} -> {target}, which does not exist")
    return job_abs.relative_to(folder)


def _working_dir(job: Path, working_dir: str | Path | None) -> Path:
    if working_dir is None:
        return job.resolve().parent
    folder = Path(working_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"--working-dir: expected a folder (uploaded as the job's working dir), "
                         f"got {working_dir}")
    return folder


@contextmanager
def _upload(folder: Path, wheel: str | Path | None) -> Iterator[tuple[Path, str | None]]:
    """``(folder to upload, pip requirement of spikefit or None for the default)`` for ``wheel``.

    A local wheel is uploaded from a temporary folder that links each entry of ``folder`` and
    holds a copy of the wheel in :data:`WHEEL_FOLDER` (Ray follows the links while packing), so
    the project folder is never written to, and a wheel in an ignored folder (``dist/``) still
    travels.
    """
    if wheel is None:
        yield folder, None
        return
    text = str(wheel)
    if text.startswith(("http://", "https://")):
        yield folder, f"spikefit @ {text}"
        return
    path = Path(wheel).expanduser().resolve()
    if not (path.is_file() and path.suffix == ".whl" and path.name.startswith("spikefit-")):
        raise ValueError(f"--wheel: expected a spikefit wheel file (spikefit-<version>-...whl; `pip wheel "
                         f"--no-deps .` in a spikefit checkout builds one) or an http(s) URL of one, "
                         f"got {text}")
    staging = Path(tempfile.mkdtemp(prefix="spikefit-submit-"))
    try:
        for entry in folder.iterdir():
            if entry.name != WHEEL_FOLDER:
                (staging / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        (staging / WHEEL_FOLDER).mkdir()
        shutil.copy2(path, staging / WHEEL_FOLDER / path.name)
        yield staging, f"{_WORKING_DIR_VAR}/{WHEEL_FOLDER}/{path.name}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def job_status(address: str, submission_id: str) -> str:
    return str(_client(address).get_job_status(submission_id).value)


def job_logs(address: str, submission_id: str) -> str:
    return _client(address).get_job_logs(submission_id)


def stop_job(address: str, submission_id: str) -> bool:
    return bool(_client(address).stop_job(submission_id))
