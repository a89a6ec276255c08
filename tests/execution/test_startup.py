"""spikefit.execution.startup: the recordings read while the Ray cluster starts (a real
embedded cluster, the real quickstart recordings)."""

from __future__ import annotations

import pytest

from spikefit.execution.driver import run_job
from spikefit.spec.jobspec import parse_job

from _small_job import QUICKSTART, small_job


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"data": "train"}, ValueError, r"\[data.train\] selects no sweep"),  # found while Ray starts
    ({"search": "options"}, ValueError, r"popsize"),  # found after the data, with Ray up
])
def test_bad_job_found_while_ray_starts_leaves_no_cluster_and_no_results(tmp_path, change, error, match):
    """The recordings are read while the Ray cluster starts: a job that turns out bad there or
    just after stops the cluster it started and writes nothing."""
    import ray

    from spikefit.execution.workers import stop_ray

    stop_ray()
    spec = small_job(tmp_path)
    if "data" in change:
        spec["data"]["train"] = {"repeats": [0], "stimuli": ["IDrest:999"]}
    else:
        spec["search"]["options"] = {"popsize": 0}
    job = parse_job(spec, source="bad.toml", base_dir=QUICKSTART.parent)
    with pytest.raises(error, match=match):
        run_job(job, progress=False)
    assert not ray.is_initialized()
    assert not (tmp_path / "out").exists()
