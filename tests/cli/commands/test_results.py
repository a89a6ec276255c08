"""``spikefit results DIR``: the best fit, its scores and the validation report, from the Parquet folder."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from spikefit.cli.main import main
from spikefit.data.steps import describe_step


def test_json_records_are_the_best_table_with_trial_counts(quick_results, capsys):
    assert main(["results", str(quick_results), "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    best = pd.read_parquet(quick_results / "best.parquet").iloc[0]
    trials = pd.read_parquet(quick_results / "trials")
    assert rec["cell"] == best["cell"] and rec["trial"] == best["trial"]
    for name in best["free_parameters"]:
        assert rec[name] == pytest.approx(best[name])
    assert rec["n_complete"] == int((trials.state == "COMPLETE").sum())
    assert rec["n_complete"] + rec.get("n_fail", 0) == len(trials)


def test_table_shows_units_the_choice_and_the_validation_report(quick_results, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping in the captured terminal
    assert main(["results", str(quick_results)]) == 0
    out = capsys.readouterr().out
    best = pd.read_parquet(quick_results / "best.parquet").iloc[0]
    trials = pd.read_parquet(quick_results / "trials")
    n_fail = int((trials.state == "FAIL").sum())
    assert (f"trials: {len(trials)} in the table ({len(trials) - n_fail} complete, {n_fail} failed); "
            f"the studies hold {len(trials)}\n") in out  # counted from the table, as the studies agree
    assert f"best trial {best['trial']}" in out and "chosen by lowest training loss" in out
    assert "│ tau " in out and " ms " in out  # each fitted parameter with its unit
    # a step protocol: one line per validation step (spikes in the step window, model/data), then
    # the mean relative spike-count error, all recomputed here from the traces table
    traces = pd.read_parquet(quick_results / "traces")
    val = traces[traces["set"] == "validation"]
    errors = []
    for sweep, g in val.groupby("sweep"):
        rec = g[g["kind"] == "recorded"].iloc[0]
        sim = g[g["kind"] == "simulated"].iloc[0]
        step = describe_step(np.asarray(rec["I"], np.float64), float(rec["dt_ms"]))
        assert step.is_step

        def count(t):
            return int(((t >= step.onset_ms) & (t < step.offset_ms)).sum())
        n_d, n_m = count(rec["spike_times_ms"]), count(sim["spike_times_ms"])
        line = next(ln for ln in out.splitlines() if re.match(rf"^│\s*{sweep} │", ln))  # the sweep column
        assert f"{n_m}/{n_d}" in line and f"{step.amplitude_pA:.0f}" in line
        errors.append(abs(n_m - n_d) / max(n_d, 1))
    assert f"spike-count error {100 * np.mean(errors):.1f}%" in out


def test_a_folder_without_results_is_one_clear_line(tmp_path, capsys):
    assert main(["results", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]
