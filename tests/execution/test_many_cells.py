"""Many cells in one job, on the embedded Ray cluster with two workers: the two shared BBP cells
(16 steps each) and two small synthetic cells (one and three sweeps). One study per cell, every
trial exactly once, per-cell best and validation rows, a cell column everywhere, and the small
cells share the workers with the big ones from the first round."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest
from _study_checks import study_agrees_with_table
from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording

from spikefit.execution.driver import run_job
from spikefit.results.store import ResultStore
from spikefit.results.sweep_table import write_sweep_table
from spikefit.spec.jobspec import parse_job

BUDGET = 96
FREE = ("tau", "V_T", "delta_T")
BIG = ("C060109A1-SR-C1", "C060109A2-SR-C1")
SMALL = ("syn_one", "syn_three")

JOB = """
name = "cells4"
seed = 5
output = "{out}"
[data]
path = [{paths}]
ljp_mV = 14.0
dt_ms = 0.25
train = {{ protocols = ["IDrest", "noise"], repeats = [0], t_stop_ms = 1500.0 }}
validation = {{ protocols = ["IDrest", "noise"], repeats = [1], t_stop_ms = 1500.0 }}
[model]
name = "AdExIF"
fixed = {fixed}
derived = {{ V_th = "V_T + 5 * delta_T" }}
[params]
tau = {{ low = "5 ms", high = "40 ms", log = true }}
V_T = {{ low = "-70 mV", high = "-44 mV" }}
delta_T = {{ low = "0.8 mV", high = "4 mV", log = true }}
[objective]
metrics = [{{ name = "spike_count", relative = true }}, {{ name = "gamma", delta_ms = 4.0 }}]
[search]
trials = {budget}
batch_size = 32
[resources]
workers = 2
cpus_per_worker = 1
"""


def _synthetic_cells(tmp_path):
    """Two cells in one sweep table: 1 and 3 training sweeps, one validation sweep each."""
    rec = synthetic_adex_recording(n_sweeps=4, duration_ms=1500.0, dt_ms=0.25, seed=7)
    s = rec.sweeps
    one = [replace(s[0], cell=SMALL[0], sweep_id="a", stimulus="n0", repeat=0),
           replace(s[0], cell=SMALL[0], sweep_id="b", stimulus="n0", repeat=1)]
    three = [replace(x, cell=SMALL[1], sweep_id=f"t{i}", stimulus=f"n{i}", repeat=0) for i, x in enumerate(s[:3])]
    three.append(replace(s[3], cell=SMALL[1], sweep_id="v", stimulus="n0", repeat=1))
    return write_sweep_table([replace(rec, sweeps=tuple(one), cell=SMALL[0]),
                              replace(rec, sweeps=tuple(three), cell=SMALL[1])], tmp_path / "syn.parquet")


def test_four_cells_share_the_workers_and_each_gets_its_own_study(tmp_path, shared_data):
    table = _synthetic_cells(tmp_path)
    paths = [shared_data / "bbp_sscx_l5pc" / c for c in BIG] + [table]
    fixed = {**FIXED_ADEX, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"]}
    text = JOB.format(out=tmp_path / "out", budget=BUDGET, paths=", ".join(f'"{p}"' for p in paths),
                      fixed="{ " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + " }")
    spec = parse_job(tomllib.loads(text), source="cells4.toml", base_dir=tmp_path)
    summary = run_job(spec, progress=False)
    assert summary.status == "complete"
    store = ResultStore(tmp_path / "out")
    trials = store.read_trials()
    cells = (*BIG, *SMALL)
    assert sorted(trials["cell"].unique()) == sorted(cells)
    for cell in cells:  # one study per cell, every trial exactly once, the study agrees with the table
        mine = trials[trials["cell"] == cell]
        assert len(mine) == BUDGET and mine["trial"].is_unique
        study_agrees_with_table(tmp_path / "out" / "study.journal", f"cells4.{cell}", mine, FREE)
    assert summary.n_trials == 4 * BUDGET
    assert trials["worker"].nunique() == 2  # both workers got batches
    best = store.read_best()
    assert sorted(best["cell"]) == sorted(cells)
    val = store.read_validation()
    assert set(val["cell"]) == set(cells)
    traces = store.read_traces()
    assert set(traces["cell"]) == set(cells)
    # the cells share the workers from the start: every cell's first batch goes out in the first
    # round, before any cell's second; each worker serves several cells
    first = trials.groupby("cell")["batch"].min()
    assert first.max() <= 4 and sorted(first) == [1, 2, 3, 4]
    assert (trials.groupby("worker")["cell"].nunique() >= 2).all()
    manifest = store.read_manifest()
    assert sorted(manifest["cells"]) == sorted(cells)
    assert {c: manifest["stimulus"][c]["used"] for c in BIG} == {c: "idealised" for c in BIG}
    assert {manifest["stimulus"][c]["used"] for c in SMALL} == {"recorded"}
