"""spikefit.execution.stages: global + local stages, held-out choice, validation report (in-process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording  # noqa: E402

from spikefit.spec.jobspec import parse_job  # noqa: E402
from spikefit.execution.stages import Stage, run_stages, validation_report  # noqa: E402


def _job(tmp_path, table):
    return parse_job({
        "name": "stages", "seed": 2,
        "data": {"path": str(table), "format": "parquet", "dt_ms": 0.1,
                 "train": {"t_stop_ms": 1500.0}, "validation": {"t_start_ms": 1500.0}},
        "model": {"name": "AdExIF", "spk_reset": "hard",
                  "fixed": {k: float(v) for k, v in FIXED_ADEX.items() if k != "V_reset"}
                  | {"V_reset": FIXED_ADEX["V_reset"], "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"],
                     "b": TRUE_ADEX["b"]},
                  "derived": {"V_th": "V_T + 5 * delta_T"}},
        "params": {"tau": {"low": "8 ms", "high": "40 ms", "log": True},
                   "V_T": {"low": "-56 mV", "high": "-44 mV"},
                   "delta_T": {"low": "0.8 mV", "high": "4 mV", "log": True}},
        "objective": {"metrics": [{"name": "gamma", "delta_ms": 2.0},
                                  {"name": "spike_count", "relative": True, "weight": 0.5}]},
        "search": {"batch_size": 32},
    }, source="test", base_dir=tmp_path)


def test_stages_choose_on_holdout_and_score_validation(tmp_path):
    from spikefit.data.readers.parquet import write_sweep_table

    from dataclasses import replace

    rec = synthetic_adex_recording(n_sweeps=1, duration_ms=2000.0)
    # two identical "repeats" of one frozen noise (Gamma_int = 1)
    sweeps = [replace(rec.sweeps[0], stimulus="n", repeat=i, sweep_id=f"n-{i}") for i in range(2)]
    table = write_sweep_table(replace(rec, sweeps=tuple(sweeps)), tmp_path / "syn.parquet")
    spec = _job(tmp_path, table)
    res = run_stages(spec, [Stage("global", 320, seeds=(0, 1)), Stage("local", 160, local=True, sigma0=0.05)],
                     holdout_ms=300.0, log=lambda m: None)
    assert res.trials == 800 and len(res.candidates) == 3
    assert res.best.holdout_loss == min(c.holdout_loss for c in res.candidates)
    assert "held-out" in res.why
    rows = validation_report(spec, res)
    assert [r["stimulus"] for r in rows] == ["n"]
    r = rows[0]
    assert np.isfinite(r["gamma"]) and np.isfinite(r["gamma_int"]) and r["n_data"] > 0
    assert r["gamma"] > 0.5  # the generating model family, three free parameters
