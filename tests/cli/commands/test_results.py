"""``spikefit results DIR``: the best fit, its scores and the validation report, from the Parquet folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from spikefit.cli.main import main


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
    val = pd.read_parquet(quick_results / "validation.parquet")
    for _, r in val.iterrows():  # one line per validation stimulus with its Gamma / Gamma_int
        line = next(ln for ln in out.splitlines() if f"│ {r['stimulus']} " in ln)
        assert f"{r['gamma']:.3f}" in line and f"{r['n_model']:.0f}/{r['n_data']:.0f}" in line


def test_a_folder_without_results_is_one_clear_line(tmp_path, capsys):
    assert main(["results", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]
