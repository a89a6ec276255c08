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

Before anything is uploaded, the job's ``[resources]`` (workers x cpus_per_worker CPUs, and
GPUs) are compared with the cluster's nodes: a job the cluster can never run is refused in one
line (``check_resources=False`` for a cluster that scales up). ``status``, ``logs`` and
``stop`` take the submission id that ``submit`` prints; ``logs`` of a job still waiting adds
the cluster's pending resource demands, and ``stop`` marks the job's results folder
``stopped`` when this client can reach it (``--output`` given at submission as an absolute
path or URI). Ray 2.60 uses token authentication, read as Ray's own CLI reads it
(``RAY_AUTH_MODE=token``; the token in ``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` or
``~/.ray/auth_token``), see deploy/README.md; a missing or refused token is one line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spikefit.errors import SpikefitError

__all__ = ["submit_job", "job_status", "job_logs", "stop_job", "check_resources", "SubmitError", "EXCLUDES",
           "WHEEL_FOLDER"]

#: never uploaded with the working directory (gitignore patterns, as Ray reads them)
EXCLUDES = [".git/", ".venv/", "venv/", "results/", "**/__pycache__/", ".pytest_cache/",
            ".hypothesis/", ".mypy_cache/", ".ruff_cache/", ".ipynb_checkpoints/", "*.egg-info/"]
#: folder of the uploaded working directory that carries a local ``--wheel``
WHEEL_FOLDER = "spikefit-wheel"
_WORKING_DIR_VAR = "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"  # expanded by Ray on each node


class SubmitError(SpikefitError):
    """The cluster cannot be reached, refuses the token, or can never run the job."""


_TOKEN_HOW = ("set RAY_AUTH_MODE=token and put the cluster's token in RAY_AUTH_TOKEN, in ~/.ray/auth_token or in "
              "the file named by RAY_AUTH_TOKEN_PATH, as for Ray's own CLI (see deploy/README.md)")


def _token_file() -> Path:
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token" and not os.environ.get("RAY_AUTH_TOKEN"):
        path = _token_file()
        if not (path.is_file() and path.read_text().strip()):
            raise SubmitError(f"{address}: RAY_AUTH_MODE=token but no token found (RAY_AUTH_TOKEN is unset and "
                              f"{path} is missing or empty); {_TOKEN_HOW}")
    try:
        return JobSubmissionClient(address)
    except Exception as err:  # noqa: BLE001 - Ray raises RuntimeError / ConnectionError, several lines
        text = str(err)
        if "Authentication required" in text:
            raise SubmitError(f"{address}: the cluster asks for a token and none was sent; {_TOKEN_HOW}") from None
        if "Authentication failed" in text:
            raise SubmitError(f"{address}: the cluster refused the token (another cluster's, or stale); "
                              f"{_TOKEN_HOW}") from None
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(err).__name__)
        raise SubmitError(f"{address}: expected a Ray dashboard (Jobs API) there, could not reach one "
                          f"({first})") from None


def submit_job(job: str | Path, address: str, *, trials: int | None = None, output: str | None = None,
               working_dir: str | Path | None = None, wheel: str | Path | None = None,
               check_resources: bool = True) -> str:
    """Submit ``job`` (validated here first) with its project folder; returns the submission id.

    ``working_dir`` defaults to the job file's folder; ``wheel`` (a local ``.whl`` or a URL)
    replaces the default ``spikefit==<version>`` install on the cluster; ``check_resources``:
    refuse a job that asks more than the cluster's nodes have. See the module doc.
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
    metadata = {"spikefit_job": job.stem}
    seen = output or spec.output
    if seen and ("://" in seen or Path(seen).is_absolute()):  # where this client may reach the results
        metadata["spikefit_output"] = seen
    with _upload(folder, wheel) as (upload, requirement):  # a bad --wheel fails before connecting
        client = _client(address)
        if check_resources:
            _check_resources(spec, job, address, _nodes(address))
        return client.submit_job(entrypoint=shlex.join(cmd), runtime_env=_runtime_env(upload, requirement),
                                 metadata=metadata)


def _nodes(address: str) -> list[dict]:
    """Total resources of each live node of the cluster (``{"CPU": 8.0, "GPU": 1.0, ...}``)."""
    from ray.util.state import list_nodes

    return [dict(n.resources_total) for n in list_nodes(address=address, detail=True) if n.state == "ALIVE"]


def check_resources(spec, nodes: list[dict], *, where: str = "the cluster") -> str | None:
    """Why a cluster of ``nodes`` (total resources each) can never run ``spec``'s workers, or None."""
    res = spec.resources
    if res.executor == "local" or not nodes:
        return None
    for key, unit, per in (("CPU", "CPUs", res.cpus_per_worker), ("GPU", "GPUs", res.gpus_per_worker)):
        if not per:
            continue
        total = sum(n.get(key, 0.0) for n in nodes)
        largest = max(n.get(key, 0.0) for n in nodes)
        if per > largest:
            return (f"[resources] {key.lower()}s_per_worker = {per:g} but the largest node of {where} has "
                    f"{largest:g} {unit}: no worker can ever start")
        if res.workers * per > total:
            return (f"[resources] asks workers x {key.lower()}s_per_worker = {res.workers} x {per:g} = "
                    f"{res.workers * per:g} {unit}, {where} has {total:g} {unit} in total: the job would wait "
                    "forever")
    return None


def _check_resources(spec, job: Path, address: str, nodes: list[dict]) -> None:
    why = check_resources(spec, nodes, where=f"the cluster at {address}")
    if why:
        raise SubmitError(f"{job}: {why}; lower [resources] workers (or the per-worker CPUs/GPUs), or pass "
                          "--no-resource-check for a cluster that scales up")


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


_ENDED = ("STOPPED", "SUCCEEDED", "FAILED")


def job_status(address: str, submission_id: str) -> str:
    return str(_client(address).get_job_status(submission_id).value)


def job_logs(address: str, submission_id: str) -> str:
    """The driver's log; for a job still waiting, a last line with the cluster's pending
    resource demands (what Ray could not place yet), if there are any."""
    client = _client(address)
    logs = client.get_job_logs(submission_id)
    if str(client.get_job_status(submission_id).value) in ("PENDING", "RUNNING"):
        note = _pending_demands(client)
        if note:
            logs = (logs if not logs or logs.endswith("\n") else logs + "\n") + note + "\n"
    return logs


def _pending_demands(client) -> str | None:
    """One line from the cluster's autoscaler report: resource demands Ray cannot place now."""
    try:
        report = client._do_request("GET", "/api/cluster_status").json()["data"]["clusterStatus"]
        load = report["loadMetricsReport"]
    except Exception:  # noqa: BLE001 - an older or locked-down dashboard: nothing to add
        return None
    asks = [f"{count} x {_shape(shape)}" for shape, count in load.get("resourceDemand") or []]
    asks += [f"{count} x placement group {_shape(pg)}" for pg, count in load.get("pgDemand") or []]
    if not asks:
        return None
    usage = load.get("usage") or {}
    have = ", ".join(f"{k} {u[0]:g}/{u[1]:g}" for k, u in sorted(usage.items()) if k in ("CPU", "GPU"))
    return (f"spikefit: waiting for resources the cluster cannot give now: {'; '.join(asks)} (in use/total: "
            f"{have or 'unknown'})")


def _shape(shape) -> str:
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {v:g}" if isinstance(v, (int, float)) else f"{k}: {v}"
                               for k, v in shape.items()) + "}"
    return str(shape)


def stop_job(address: str, submission_id: str, *, wait_s: float = 60.0) -> tuple[bool, str]:
    """Stop the job; once it has ended, mark its results folder ``stopped`` when this client
    reaches it. Returns (whether Ray stopped it, a line about the results folder)."""
    client = _client(address)
    stopped = bool(client.stop_job(submission_id))
    output = (client.get_job_info(submission_id).metadata or {}).get("spikefit_output")
    deadline = time.monotonic() + wait_s
    while (state := str(client.get_job_status(submission_id).value)) not in _ENDED:
        if time.monotonic() > deadline:
            return stopped, (f"the job is still {state} after {wait_s:g} s; its results folder was not marked "
                             "stopped (run spikefit stop again once it has ended)")
        time.sleep(0.5)
    return stopped, _mark_stopped(output, submission_id)


def _mark_stopped(output: str | None, submission_id: str) -> str:
    from spikefit.results.lock import mark_stopped
    from spikefit.results.store import ResultStore

    if output is None:
        return ("its results folder is on the cluster (no absolute --output at submission), not reachable from "
                "this client: its manifest was not marked stopped")
    if "://" not in output and not Path(output, "manifest.json").is_file():
        return (f"its results folder {output} is not reachable from this client (no manifest.json there): "
                "its manifest was not marked stopped")
    try:
        manifest = mark_stopped(ResultStore(output), f"spikefit stop {submission_id}")
    except (OSError, ValueError) as err:
        return f"its results folder {output} could not be marked stopped ({err})"
    if manifest.get("status") == "complete":
        return f"results folder {output}: the job had completed"
    return f"results folder {output}: marked stopped; resume with: spikefit resume {output}"
