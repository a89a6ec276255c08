"""deploy/: the cluster recipes parse and carry the fields spikefit relies on.

deploy/Dockerfile and deploy/install_and_check.sh are checked by running them:
tests/test_packaging.py copies what the Dockerfile's COPY lines name and runs the script on it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def _containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def _token_from_secret(container: dict) -> bool:
    return any(e["name"] == "RAY_AUTH_TOKEN" and "secretKeyRef" in e.get("valueFrom", {})
               for e in container.get("env", []))


def test_ray_cluster_launcher():
    cfg = _load("ray-cluster.yaml")
    assert cfg["cluster_name"] == "spikefit"
    assert cfg["provider"]["type"] in {"aws", "gcp", "azure"}
    types = cfg["available_node_types"]
    assert cfg["head_node_type"] in types
    workers = [t for name, t in types.items() if name != cfg["head_node_type"]]
    assert workers and all(t["max_workers"] >= t["min_workers"] >= 0 for t in workers)
    assert any("g5" in t["node_config"].get("InstanceType", "") or "gpu" in str(t) for t in workers)
    setup = "\n".join(cfg["setup_commands"])
    assert "jax[cuda12]" in setup
    # spikefit is installed on every node from a wheel of the mounted checkout, by the script
    # that the image build and tests/test_packaging.py run
    mounted = [remote for remote, local in cfg["file_mounts"].items() if local == "."]
    assert len(mounted) == 1
    script = f"{mounted[0]}/deploy/install_and_check.sh"
    assert (DEPLOY / "install_and_check.sh").is_file()
    assert f"bash {script} {mounted[0]}" in cfg["setup_commands"]
    assert not [c for c in cfg["setup_commands"] if "pip install" in c and "spikefit" in c]
    # one shared token for every node
    assert "~/.ray/auth_token" in cfg["file_mounts"]
    starts = cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]
    assert any("ray start --head" in c for c in starts)
    assert any("--address=$RAY_HEAD_IP" in c for c in starts)
    assert all("auth_token" in c for c in starts if "ray start" in c)


def test_kuberay_raycluster():
    rc = _load("kuberay-raycluster.yaml")
    assert rc["apiVersion"] == "ray.io/v1" and rc["kind"] == "RayCluster"
    spec = rc["spec"]
    assert spec["rayVersion"].startswith("2.")
    head = _containers(spec["headGroupSpec"]["template"])[0]
    assert _token_from_secret(head)
    groups = spec["workerGroupSpecs"]
    assert groups
    for g in groups:
        c = _containers(g["template"])[0]
        assert _token_from_secret(c)
        assert int(c["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]


def test_kuberay_rayjob():
    job = _load("kuberay-rayjob.yaml")
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    spec = job["spec"]
    entry = spec["entrypoint"].split()
    assert entry[:2] == ["spikefit", "run"]
    assert entry[2].startswith("jobs/") and entry[2].endswith(".toml")
    assert (DEPLOY.parent / entry[2]).is_file()
    assert entry[entry.index("--address") + 1] == "auto"
    cluster = spec["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    pods.append(spec["submitterPodTemplate"])
    assert all(_token_from_secret(_containers(p)[0]) for p in pods)
    assert spec["shutdownAfterJobFinishes"] is True


def test_spikefit_run_accepts_the_rayjob_arguments():
    from spikefit.cli.main import build_parser

    entry = _load("kuberay-rayjob.yaml")["spec"]["entrypoint"].split()
    args = build_parser().parse_args(entry[1:])
    assert args.address == "auto" and args.job == "jobs/quickstart.toml"


def test_slurm_script():
    script = DEPLOY / "slurm.sh"
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not found")
    proc = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "#SBATCH --nodes" in text
    assert "ray start --head" in text and "srun" in text and "RAY_AUTH_TOKEN" in text
    assert "spikefit run" in text


def test_readme_describes_every_recipe():
    text = (DEPLOY / "README.md").read_text()
    described = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))
    recipes = {p.name for p in DEPLOY.iterdir() if p.is_file() and p.name != "README.md"}
    assert described == recipes, f"deploy/README.md table: missing {recipes - described}, stale {described - recipes}"
    assert "auth_token" in text
