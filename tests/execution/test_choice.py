"""Model choice in one job, run for real on the synthetic AdEx recording: every model fitted in
its own folder, the choice made on the held-out segment, the comparison table side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _synthetic import FIXED_ADEX, TRUE_ADEX

from spikefit.execution.choice import comparison_rows
from spikefit.fitting import fit_job
from spikefit.results.choice import read_models
from spikefit.results.store import ResultStore
from spikefit.spec.jobspec import load_job

JOB = """
name = "choice"
seed = 2
output = "{out}"
[data]
path = "{table}"
format = "parquet"
[objective]
metrics = [{{ name = "gamma" }}, {{ name = "spike_count", relative = true }}]
[search]
batch_size = 32
trials = 64
holdout_ms = 500
[resources]
executor = "local"

[[models]]
name = "AdExIF"
fixed = {adex_fixed}
derived = {{ V_th = "V_T + 5 * delta_T" }}
params = {{ V_T = {{ low = "-56 mV", high = "-44 mV" }}, delta_T = {{ low = "0.8 mV", high = "4 mV", log = true }} }}

[[models]]
name = "LIF"
label = "lif"
fixed = {{ R = 0.05, V_rest = -70.0, V_reset = -58.0 }}
params = {{ tau = {{ low = "8 ms", high = "40 ms", log = true }}, V_th = {{ low = "-60 mV", high = "-40 mV" }} }}
"""


def test_each_model_is_fitted_and_the_held_out_segment_chooses(tmp_path, synthetic_table):
    fixed = {**FIXED_ADEX, "tau": TRUE_ADEX["tau"], "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"],
             "b": TRUE_ADEX["b"]}
    path = tmp_path / "job.toml"
    path.write_text(JOB.format(out=tmp_path / "out", table=synthetic_table,
                               adex_fixed="{ " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + " }"))
    job = load_job(path)
    assert job.labels == ["AdExIF", "lif"]
    res = fit_job(job, progress=False)
    assert res.status == "complete"
    for label in job.labels:  # each model's own complete results folder
        store = ResultStore(tmp_path / "out" / label)
        assert len(store.read_trials()) == 64
        assert store.read_manifest()["status"] == "complete"
    models = read_models(ResultStore(tmp_path / "out"))
    assert sorted(models["label"]) == ["AdExIF", "lif"] and models["chosen"].sum() == 1
    winner = models.loc[models["holdout_loss"].idxmin()]
    assert bool(winner["chosen"])  # lowest held-out loss, never the validation data
    assert winner["label"] == "AdExIF"  # the model that made the recording wins over LIF
    best = res.best.set_index("label")
    assert bool(best.loc["AdExIF", "chosen"]) and not bool(best.loc["lif", "chosen"])
    assert best.loc["AdExIF", "holdout_loss"] == pytest.approx(winner["holdout_loss"])


def test_without_a_held_out_segment_the_lowest_training_loss_chooses():
    best = {"a": pd.DataFrame([{"cell": "c", "model": "LIF", "train_loss": 0.5, "holdout_loss": np.nan}]),
            "b": pd.DataFrame([{"cell": "c", "model": "AdExIF", "train_loss": 0.2, "holdout_loss": np.nan}])}
    rows = comparison_rows(["a", "b"], best, {})
    assert [r["chosen"] for r in rows] == [False, True]
