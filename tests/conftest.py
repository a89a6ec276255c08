"""Shared fixtures: the real recordings in ../shared/data and the shipped example."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPIKEFIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
EXAMPLE_DATA = REPO_ROOT / "fitter" / "examples" / "bbp_l5pc_A2_IDrest"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real recordings (``../shared/data``; override with SPIKEFIT_SHARED_DATA)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (set SPIKEFIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def example_data() -> Path:
    """The small real example shipped in the repository (BBP L5PC, IDrest, CC BY 4.0)."""
    return EXAMPLE_DATA


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory) -> Path:
    """Results folder of a tiny real fit of the quickstart job (embedded Ray, ~30 s)."""
    from spikefit.spec.jobspec import load_job
    from spikefit.execution.driver import run_job

    out = tmp_path_factory.mktemp("quick") / "results"
    spec = load_job(REPO_ROOT / "jobs" / "quickstart.toml", output=str(out), trials=64)
    summary = run_job(spec, progress=False)
    assert summary.status == "complete"
    return out


@pytest.fixture(scope="session")
def synthetic_table(tmp_path_factory) -> Path:
    """A Parquet sweep table of one 2 s synthetic AdExIF sweep (see tests/_synthetic.py)."""
    from dataclasses import replace

    from _synthetic import synthetic_adex_recording
    from spikefit.results.sweep_table import write_sweep_table

    rec = synthetic_adex_recording(n_sweeps=1, duration_ms=2000.0)
    return write_sweep_table(replace(rec, sweeps=(replace(rec.sweeps[0], sweep_id="n"),)),
                             tmp_path_factory.mktemp("synthetic") / "syn.parquet")
