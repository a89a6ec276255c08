"""End-to-end fits with a real embedded Ray cluster, real Optuna journal storage and Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikefit.spec.jobspec import JobSpecError, load_job, parse_job
from spikefit.execution.driver import run_job
from spikefit.results.store import ResultStore, column_units

from _small_job import QUICKSTART, small_job
from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording  # noqa: E402



@pytest.fixture(scope="module")
def ray_session():
    import ray

    from spikefit.execution.workers import stop_ray

    yield ray
    stop_ray()


def _run(tmp_path, spec: dict, name="out"):
    spec = {**spec, "output": str(tmp_path / name)}
    job = parse_job(spec, source="test", base_dir=QUICKSTART.parent)
    return run_job(job, progress=False, shutdown=False), ResultStore(spec["output"])


def test_bad_spec_fails_before_ray_starts(tmp_path):
    import ray

    from spikefit.execution.workers import stop_ray

    stop_ray()
    spec = small_job(tmp_path)
    spec["params"]["tau"] = {"low": "5 mV", "high": "60 ms"}
    with pytest.raises(JobSpecError, match=r"params.tau.low.*expected a quantity in ms"):
        parse_job(spec, source="bad.toml", base_dir=QUICKSTART.parent)
    spec = small_job(tmp_path)
    spec["data"]["path"] = "data/no_such_folder"
    job = parse_job(spec, source="bad.toml", base_dir=QUICKSTART.parent)
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        run_job(job, progress=False)
    assert not ray.is_initialized()
    with pytest.raises(JobSpecError, match="job file not found"):
        load_job(tmp_path / "missing.toml")


def test_seeded_job_is_reproducible_and_results_read_back(tmp_path, ray_session):
    spec = small_job(tmp_path, seed=11)
    s1, store1 = _run(tmp_path, spec, "a")
    s2, store2 = _run(tmp_path, spec, "b")
    assert s1.status == s2.status == "complete"
    t1, t2 = store1.read_trials(), store2.read_trials()
    assert len(t1) == len(t2) == 96
    cols = ["trial", *spec["params"], "loss", "state"]
    pd.testing.assert_frame_equal(t1.sort_values("trial")[cols].reset_index(drop=True),
                                  t2.sort_values("trial")[cols].reset_index(drop=True))
    # documented columns and units, read with plain pandas
    trials = pd.read_parquet(Path(spec["output"]).parent / "a" / "trials")
    for col in ("job", "cell", "model", "trial", "loss", "state", "duration_s", "worker",
                "per_sweep_gamma", "sweeps", *spec["params"]):
        assert col in trials.columns, col
    units = column_units(str(tmp_path / "a" / "trials"))
    assert units["tau"] == "ms" and units["R"] == "GOhm" and units["b"] == "pA" and units["a"] == "nS"
    best = pd.read_parquet(tmp_path / "a" / "best.parquet")
    assert len(best) == 1 and best.loc[0, "model"] == "AdExIF"
    assert best.loc[0, "V_th"] == pytest.approx(best.loc[0, "V_T"] + 5 * best.loc[0, "delta_T"], rel=1e-5)
    assert {"train_loss", "validation_loss", "train_gamma", "validation_gamma"} <= set(best.columns)
    ok = trials[trials.state == "COMPLETE"]
    assert best.loc[0, "train_loss"] == pytest.approx(ok.loss.min(), rel=1e-4, abs=1e-4)
    traces = pd.read_parquet(tmp_path / "a" / "traces")
    assert set(traces.kind) == {"recorded", "simulated"}
    assert (traces.groupby("set").sweep.nunique().to_dict()) == {"train": 4, "validation": 2}
    validation = store1.read_validation()  # per validation stimulus: Gamma vs every repeat
    assert sorted(validation.stimulus) == ["IDrest:14", "IDrest:8"]
    assert (validation.n_data > 0).all() and validation.gamma.between(-2, 1).all()
    assert column_units(str(tmp_path / "a" / "validation.parquet"))["delta_ms"] == "ms"
    manifest = store1.read_manifest()
    assert manifest["status"] == "complete" and manifest["seed"] == 11
    assert set(manifest["timing_s"]) >= {"ask", "tell", "simulate", "score", "write", "transport"}


def test_divergent_candidates_fail_and_study_finishes(tmp_path, ray_session):
    spec = small_job(tmp_path)
    spec["model"] = {"name": "AdExIF", "spk_reset": "hard",
                     "fixed": {"V_rest": "-70 mV", "V_th": "0 mV"}}  # cut-off far above V_T
    spec["params"]["delta_T"] = {"low": "0.3 mV", "high": "1 mV"}
    summary, store = _run(tmp_path, spec)
    trials = store.read_trials()
    assert summary.status == "complete" and len(trials) == 96
    failed = trials[trials.state == "FAIL"]
    assert len(failed) > 0
    assert failed.fail_reason.str.startswith("diverged").all()
    assert not trials.loss.isna().any()
    assert summary.n_failed == len(failed)


def test_recovers_known_adex_parameters(tmp_path, ray_session):
    """Fit a recording made by spikefit's own AdExIF: parameters within 10% of the truth."""
    from spikefit.results.sweep_table import write_sweep_table

    table = write_sweep_table(synthetic_adex_recording(), tmp_path / "synthetic.parquet")
    bounds = {"tau": ("5 ms", "60 ms", True), "tau_w": ("30 ms", "600 ms", True),
              "a": ("0.5 nS", "15 nS", True), "b": ("10 pA", "200 pA", True),
              "V_T": ("-58 mV", "-42 mV", False), "delta_T": ("0.5 mV", "5 mV", True)}
    spec = {
        "name": "recovery", "seed": 3,
        "data": {"path": str(table), "format": "parquet", "train": {}},
        "model": {"name": "AdExIF", "spk_reset": "hard",
                  "fixed": {k: float(v) for k, v in FIXED_ADEX.items()},
                  "derived": {"V_th": "V_T + 5 * delta_T"}},
        "params": {k: {"low": lo, "high": hi, "log": log} for k, (lo, hi, log) in bounds.items()},
        "objective": {"metrics": [{"name": "gamma", "delta_ms": 2.0, "weight": 1.0},
                                  {"name": "voltage_rmse", "weight": 0.5}]},
        "search": {"sampler": "cmaes_batch", "trials": 4000, "batch_size": 100},
    }
    summary, store = _run(tmp_path, spec)
    best = store.read_best().iloc[0]
    errors = {k: abs(best[k] - v) / abs(v) for k, v in TRUE_ADEX.items()}
    assert max(errors.values()) < 0.10, errors


def test_resumed_job_reruns_untold_trials_once(tmp_path, ray_session):
    """A driver that died mid-batch: the rerun re-asks those trials, none is lost or doubled."""
    from spikefit.search.space import SearchSpace
    from spikefit.search.study import Study

    spec = small_job(tmp_path, seed=5)
    spec["search"] = {"sampler": "random", "trials": 64, "batch_size": 32}
    out = tmp_path / "resume"
    first, store = _run(tmp_path, spec, "resume")
    assert first.n_trials == 64
    job = parse_job({**spec, "output": str(out)}, source="t", base_dir=QUICKSTART.parent)
    from spikefit.execution.driver import search_space

    dead = Study.create(f"{job.name}.{next(iter(store.read_best().cell))}", search_space(job),
                        sampler="random", seed=99, output_dir=str(out))
    lost = dead.ask_batch(8)  # asked, never told: the driver "died" here
    spec["search"]["trials"] = 96
    second, store = _run(tmp_path, spec, "resume")
    trials = store.read_trials()
    assert len(trials) == 96 and trials.trial.is_unique
    # the summary counts the table's rows; the study also holds the 8 trials failed and asked again
    assert (second.n_trials, second.n_failed, second.n_study) == (96, int((trials.state == "FAIL").sum()), 96 + 8)
    assert store.read_manifest()["trials"] == trials.state.value_counts().reindex(["COMPLETE", "FAIL"],
                                                                                  fill_value=0).to_dict()
    retried = trials[trials.trial > max(c.number for c in lost)]
    for cand in lost:  # each lost candidate was evaluated exactly once after the restart
        match = np.isclose(retried["tau"], cand.params["tau"]) & np.isclose(retried["V_T"], cand.params["V_T"])
        assert match.sum() == 1
    assert store.read_manifest()["status"] == "complete"
