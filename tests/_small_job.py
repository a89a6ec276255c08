"""A small real job for end-to-end tests: the quickstart cut down (its recordings, few trials)."""

from __future__ import annotations

from pathlib import Path

QUICKSTART = Path(__file__).resolve().parent / "assets" / "base_job.toml"  # the quickstart before its step plan


def small_job(tmp_path, **changes) -> dict:
    """The quickstart job cut down: 4 training and 2 validation steps, few trials."""
    import tomllib

    spec = tomllib.loads(QUICKSTART.read_text())
    spec["data"]["train"] = {"repeats": [0], "stimuli": ["IDrest:6", "IDrest:9", "IDrest:12", "IDrest:15"]}
    spec["data"]["validation"] = {"repeats": [1], "stimuli": ["IDrest:8", "IDrest:14"]}
    spec["search"] = {"sampler": "cmaes_batch", "trials": 96, "batch_size": 32}
    spec["objective"] = {"mode": "weighted", "metrics": [{"name": "gamma", "delta_ms": 4.0},
                                                          {"name": "spike_count", "relative": True, "weight": 0.5}]}
    spec["output"] = str(tmp_path / "out")
    for key, value in changes.items():
        spec[key] = value
    return spec
