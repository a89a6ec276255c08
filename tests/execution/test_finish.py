"""spikefit.execution.finish through a real multi-stage run (in-process executor, real journal
storage and Parquet): global restarts, a local stage around the best, the fit chosen on the
held-out end of the training sweeps, and the validation report."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from _study_checks import study_agrees_with_table
from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording

from spikefit.data.dataset import prepare_cells, split_holdout
from spikefit.execution.driver import evaluator_kwargs, run_job
from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.results.store import ResultStore
from spikefit.results.sweep_table import write_sweep_table
from spikefit.spec.jobspec import parse_job

FREE = ("tau", "V_T", "delta_T")


def _job(tmp_path, table, **search):
    fixed = {**FIXED_ADEX, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"]}
    return parse_job({
        "name": "stages", "seed": 2, "output": str(tmp_path / "out"),
        "data": {"path": str(table), "format": "parquet", "dt_ms": 0.1,
                 "train": {"t_stop_ms": 1500.0}, "validation": {"t_start_ms": 1500.0}},
        "model": {"name": "AdExIF", "spk_reset": "hard", "fixed": fixed, "derived": {"V_th": "V_T + 5 * delta_T"}},
        "params": {"tau": {"low": "8 ms", "high": "40 ms", "log": True},
                   "V_T": {"low": "-56 mV", "high": "-44 mV"},
                   "delta_T": {"low": "0.8 mV", "high": "4 mV", "log": True}},
        "objective": {"metrics": [{"name": "gamma", "delta_ms": 2.0},
                                  {"name": "spike_count", "relative": True, "weight": 0.5}]},
        "search": {"batch_size": 32, "holdout_ms": 300.0, "stages": [
            {"name": "global", "trials": 64, "seeds": [0, 1]},
            {"name": "local", "trials": 64, "seeds": [100], "local": True, "sigma0": 0.05}], **search},
        "resources": {"executor": "local"},
    }, source="test", base_dir=tmp_path)


def _staged_run(tmp, **search):
    rec = synthetic_adex_recording(n_sweeps=1, duration_ms=2000.0)
    # two identical "repeats" of one frozen noise (Gamma_int = 1)
    sweeps = [replace(rec.sweeps[0], stimulus="n", repeat=i, sweep_id=f"n-{i}") for i in range(2)]
    table = write_sweep_table(replace(rec, sweeps=tuple(sweeps)), tmp / "syn.parquet")
    spec = _job(tmp, table, **search)
    summary = run_job(spec, progress=False)
    return spec, summary, ResultStore(spec.output_dir())


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return _staged_run(tmp_path_factory.mktemp("staged"))


def test_every_stage_and_seed_spends_its_budget(staged):
    spec, summary, store = staged
    trials = store.read_trials()
    assert summary.status == "complete" and summary.n_trials == 3 * 64 == len(trials)
    counts = trials.groupby(["stage", "seed"]).size().to_dict()
    assert counts == {("global", 2000): 64, ("global", 2001): 64, ("local", 2100): 64}
    # each study numbers its own trials; (stage, seed, trial) identifies a row
    assert not trials.duplicated(["stage", "seed", "trial"]).any()
    assert store.read_manifest()["stages"] == ["global", "local"]


def test_local_stage_searches_around_the_best_global_candidate(staged):
    spec, _, store = staged
    trials = store.read_trials()
    glob, loc = trials[trials.stage == "global"], trials[trials.stage == "local"]
    bounds = {"tau": (8.0, 40.0, True), "V_T": (-56.0, -44.0, False), "delta_T": (0.8, 4.0, True)}

    def unit(frame):  # each parameter scaled to [0, 1] of its bounds (log where log-scaled)
        cols = []
        for n, (lo, hi, log) in bounds.items():
            x = frame[n].to_numpy(float)
            cols.append((np.log(x / lo) / np.log(hi / lo)) if log else (x - lo) / (hi - lo))
        return np.column_stack(cols)

    start = unit(glob.loc[[glob.loss.idxmin()]])
    def spread(frame):
        return np.median(np.abs(unit(frame) - start), axis=0)
    assert np.all(spread(loc) < 0.5 * spread(glob)), (spread(loc), spread(glob))


def test_fit_is_the_candidate_with_the_lowest_held_out_loss(staged):
    spec, _, store = staged
    best = store.read_best().iloc[0]
    trials = store.read_trials()
    # the best training trial of each study (ties: the first), scored independently on the
    # held-out segment, in the order the stages ran
    (cell, sets), = prepare_cells(spec).items()
    _, hold = split_holdout(sets, 300.0, dt_ms=0.1, ljp_mV=0.0)
    ev = Evaluator(**{**evaluator_kwargs(spec), "cells": {"hold": CellData.from_batch(hold)}})
    per_study = (trials[trials.state == "COMPLETE"].sort_values(["loss", "trial"]).groupby(["stage", "seed"])
                 .head(1).sort_values(["stage", "seed"]))
    held = ev.evaluate("hold", per_study[list(FREE)].to_numpy(np.float32))
    losses = dict(zip(zip(per_study.stage, per_study.seed), np.asarray(held.loss, float)))
    assert len(set(losses.values())) > 1  # the held-out segment tells the candidates apart
    chosen = min(losses, key=losses.get)
    assert (best.stage, best.seed) == chosen
    assert best.holdout_loss == pytest.approx(losses[chosen], rel=1e-5)
    assert "held-out last 300 ms" in best.chosen_by
    row = per_study[(per_study.stage == best.stage) & (per_study.seed == best.seed)].iloc[0]
    assert best.trial == row.trial and best.tau == pytest.approx(row.tau)


def test_validation_report_of_the_chosen_fit(staged):
    _, _, store = staged
    (r,) = store.read_validation().to_dict("records")
    assert r["stimulus"] == "n" and r["gamma_int"] == pytest.approx(1.0)
    assert r["gamma"] > 0.5 and r["ratio"] == pytest.approx(r["gamma"] / r["gamma_int"])


def test_rerun_resumes_with_nothing_left_to_do(staged):
    spec, summary, store = staged
    before = store.read_best().iloc[0]
    again = run_job(spec, progress=False)
    assert again.status == "complete" and len(store.read_trials()) == summary.n_trials
    after = store.read_best().iloc[0]
    assert (after.stage, after.seed, after.trial) == (before.stage, before.seed, before.trial)


def test_optuna_study_and_trials_table_agree_trial_for_trial(staged):
    spec, _, store = staged
    trials = store.read_trials()
    for (stage, seed), rows in trials.groupby(["stage", "seed"]):
        study_agrees_with_table(store.path("study.journal"), f"stages.synthetic.{stage}.{seed}", rows, FREE)


@pytest.fixture(scope="module")
def coarse_to_fine(tmp_path_factory):
    """Global stages at 0.5 ms, the local stage at the job's 0.1 ms, no held-out segment."""
    return _staged_run(tmp_path_factory.mktemp("c2f"), holdout_ms=None, stages=[
        {"name": "global", "trials": 64, "seeds": [0, 1], "dt_ms": 0.5},
        {"name": "local", "trials": 64, "seeds": [100], "local": True, "sigma0": 0.05}])


def _losses_at(spec, dt_ms: float, frame) -> np.ndarray:
    """``frame``'s candidates scored independently on the training sweeps simulated at ``dt_ms``."""
    from spikefit.data.sweeps import make_batch

    (_, sets), = prepare_cells(spec).items()
    data = CellData.from_batch(make_batch(sets.train_sweeps, dt_ms=dt_ms))
    ev = Evaluator(**{**evaluator_kwargs(spec), "cells": {"train": data}})
    return np.asarray(ev.evaluate("train", frame[list(FREE)].to_numpy(np.float32)).loss, float)


def test_each_stage_simulates_at_its_own_step(coarse_to_fine):
    spec, summary, store = coarse_to_fine
    trials = store.read_trials()
    assert summary.status == "complete" and len(trials) == 3 * 64
    for stage, dt in (("global", 0.5), ("local", 0.1)):
        rows = trials[(trials.stage == stage) & (trials.state == "COMPLETE")].head(16)
        other = 0.1 if dt == 0.5 else 0.5
        np.testing.assert_allclose(rows.loss.to_numpy(float), _losses_at(spec, dt, rows), rtol=1e-5)
        assert not np.allclose(rows.loss.to_numpy(float), _losses_at(spec, other, rows), rtol=1e-3)


def test_choice_among_steps_is_made_at_the_jobs_step(coarse_to_fine):
    spec, _, store = coarse_to_fine
    best = store.read_best().iloc[0]
    trials = store.read_trials()
    per_study = (trials[trials.state == "COMPLETE"].sort_values(["loss", "trial"]).groupby(["stage", "seed"])
                 .head(1).sort_values(["stage", "seed"]))
    at_job_step = dict(zip(zip(per_study.stage, per_study.seed), _losses_at(spec, 0.1, per_study)))
    chosen = min(at_job_step, key=at_job_step.get)
    assert (best.stage, best.seed) == chosen and best.chosen_by.startswith("lowest training loss")
    assert best.train_loss == pytest.approx(at_job_step[chosen], rel=1e-5)
    # the losses the choice names (what the user reads) are every candidate's at 0.1 ms
    named = {tuple(k.split("/")): float(v) for k, v in re.findall(r"(\w+/\d+)=([0-9.]+)", best.chosen_by)}
    assert len(named) == len(at_job_step) - 1
    for (stage, seed), loss in named.items():
        assert loss == pytest.approx(at_job_step[(stage, int(seed))], abs=1e-4)
