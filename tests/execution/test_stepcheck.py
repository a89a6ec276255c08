"""The step-size check: fine-step scores equal an independent re-simulation at dt / 4, a
converged fit passes, a fit that leans on its coarse Euler step is flagged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording

from spikefit import models
from spikefit.data.dataset import CellSets
from spikefit.data.sweeps import make_batch
from spikefit.execution.stepcheck import STEP_TOLERANCE, fine_step_scores
from spikefit.scoring.metrics import gamma_factor
from spikefit.scoring.validation import validation_rows

FREE = ("tau", "V_T", "delta_T")


def _sets(dt_ms):
    rec = synthetic_adex_recording(n_sweeps=2, duration_ms=1500.0, dt_ms=dt_ms, seed=3)
    sweeps = tuple(replace(s, stimulus="noise", repeat=i) for i, s in enumerate(rec.sweeps))
    batch = make_batch(sweeps)
    return CellSets("synthetic", batch, batch, sweeps, sweeps)


def _kwargs():
    fixed = {**FIXED_ADEX, **{k: v for k, v in TRUE_ADEX.items() if k not in FREE}}
    return dict(model="AdExIF", free=FREE, fixed=fixed, spk_reset="hard", derived={"V_th": "V_T + 5 * delta_T"},
                init={"V": FIXED_ADEX["V_rest"]}, objective={"metrics": [{"name": "gamma"}]})


def _check(sets, params, dt_ms):
    ev = _kwargs()
    from spikefit.execution.evaluator import CellData, Evaluator

    e = Evaluator(**{**ev, "batch_size": 1})
    e.add_cell("val", CellData.from_batch(sets.validation))
    times, _ = e.spike_times("val", params)
    rows = validation_rows(sets, times, dt_ms=dt_ms, same_window=True)
    change = fine_step_scores(ev, sets, params, rows, ljp_mV=0.0, same_window=True)
    return rows, change


def test_fine_scores_equal_an_independent_simulation_at_a_quarter_step():
    sets = _sets(0.2)
    params = {k: TRUE_ADEX[k] for k in FREE}
    rows, _ = _check(sets, params, 0.2)
    fine_dt = 0.05
    current = np.repeat(np.asarray(sets.validation.current), 4, axis=1)
    cols = {k: np.array([v], np.float32) for k, v in params.items()}
    cols["V_th"] = cols["V_T"] + 5 * cols["delta_T"]
    res = models.simulate("AdExIF", current, fine_dt, cols, fixed=_kwargs()["fixed"], spk_reset="hard",
                          max_spikes=2048, init={"V": FIXED_ADEX["V_rest"]})
    steps = np.asarray(res.spike_steps)[0]
    times = [s[s >= 0] * fine_dt for s in steps]
    model = np.full((2, 2, 2048), -1, np.int32)  # response to repeat i's current vs every recorded repeat
    for i, t in enumerate(times):
        k = np.rint(t / 0.2).astype(np.int32)
        model[i, :, : k.size] = k
    data = np.full((2, 2048), -1, np.int32)
    for s in range(2):
        d = sets.validation.spike_steps[s]
        d = d[d >= 0]
        data[s, : d.size] = d
    g = np.asarray(gamma_factor(model, data, 0.2, 2.0, duration=np.full(2, 1500.0, np.float32)))
    (row,) = rows
    assert row["fine_dt_ms"] == pytest.approx(fine_dt)
    assert row["gamma_fine"] == pytest.approx(float(g.mean()), abs=1e-5)
    assert row["n_model_fine"] == pytest.approx(np.mean([t.size for t in times]))


def test_a_converged_fit_passes_and_a_coarse_step_fit_is_flagged():
    # at 0.1 ms the true parameters' spike train has converged: dt / 4 changes little
    sets = _sets(0.1)
    _, change = _check(sets, {k: TRUE_ADEX[k] for k in FREE}, 0.1)
    assert change < STEP_TOLERANCE
    # at 2 ms with a membrane time constant of 2.5 ms, forward Euler is far from converged
    coarse = _sets(2.0)
    _, change = _check(coarse, {"tau": 2.5, "V_T": -50.0, "delta_T": 0.5}, 2.0)
    assert change > STEP_TOLERANCE


def test_the_drivers_warm_up_leaves_the_end_of_run_nothing_to_compile():
    """``finish.warm_final`` (run by the driver while the search runs) compiles the validation
    scores and the dt / 4 re-simulation: the end-of-run calls on the chosen fit then trace
    nothing, and give what an unwarmed run gives."""
    from types import SimpleNamespace

    from spikefit.execution.finish import warm_final
    from spikefit.models import simulator
    from spikefit.scoring.metrics import coincidence

    rec = synthetic_adex_recording(n_sweeps=2, duration_ms=1300.0, dt_ms=0.2, seed=5)  # shapes no other test uses
    sweeps = tuple(replace(s, stimulus="noise", repeat=i) for i, s in enumerate(rec.sweeps))
    batch = make_batch(sweeps)
    sets = CellSets("synthetic", batch, batch, sweeps, sweeps)
    window = SimpleNamespace(t_start_ms=None, t_stop_ms=None)
    spec = SimpleNamespace(data=SimpleNamespace(dt_ms=None, ljp_mV=0.0, train=window, validation=window))

    def counts():
        return sum(simulator._TRACES.values()), coincidence._gamma._cache_size(), coincidence._reliability._cache_size()

    coincidence._gamma.clear_cache()  # shapes of earlier tests compile again: the warm-up has work to do
    coincidence._reliability.clear_cache()
    before = counts()
    centre = {"tau": 30.0, "V_T": -52.0, "delta_T": 2.0}
    warm_final(spec, {"synthetic": sets}, centre, _kwargs()).join()
    warmed = counts()
    assert all(w > b for w, b in zip(warmed, before))  # it really compiled each part
    rows, change = _check(sets, {k: TRUE_ADEX[k] for k in FREE}, 0.2)
    e_traces = counts()
    # _check's own fit-step simulation is its only new trace (the validation cell at dt is not warmed here)
    assert e_traces[1:] == warmed[1:] and e_traces[0] - warmed[0] <= 1
    assert rows[0]["gamma_fine"] > 0.5 and change < STEP_TOLERANCE
