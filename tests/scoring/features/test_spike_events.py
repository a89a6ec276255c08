"""Spike-event features on eFEL's edge cases, each against eFEL on the same trace.

The traces are flat at -70 mV with a one-sample +20 mV peak at each chosen step, dt = 0.25 ms
and eFEL's interp_step set to it, so eFEL sees exactly these samples and finds exactly these
peaks (0.25 is exact in binary: eFEL's time grid, built by adding interp_step, lands exactly on
the window edges; at 0.1 ms it drifts by 1e-12 ms and a spike on an edge falls either side).
The cases put spikes before the stimulus, on its edges, after it, and give too few spikes for
a feature. Values must agree to float32 rounding (1e-5 relative), NaN where eFEL has none.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from _efel_ref import efel_values

from spikefit.scoring.features import spike_events as E

DT, N_T, START, END = 0.25, 2400, 100.0, 500.0
CASES = {  # spike steps (time = step * 0.25 ms)
    "silent": [],
    "one in window": [600],
    "one before the step": [160],
    "on both edges": [400, 880, 1240, 2000],  # 100.0 ms and 500.0 ms: inside (both ends count)
    "before, in, after": [120, 480, 600, 760, 960, 1180, 1440, 2240],
    "none in window": [80, 2200],
    "regular": list(range(440, 1961, 160)),
    "adapting": [420, 460, 520, 600, 720, 880, 1080, 1320, 1600],
}
SPIKE_FEATURES = {name: jax.jit(f, static_argnums=1) for name, f in {
    "Spikecount": E.spike_count, "Spikecount_stimint": E.spike_count_stimint, "mean_frequency": E.mean_frequency,
    "time_to_first_spike": E.time_to_first_spike, "inv_first_ISI": E.inv_first_ISI, "ISI_CV": E.ISI_CV,
    "adaptation_index": E.adaptation_index, "adaptation_index2": E.adaptation_index2}.items()}


def _steps(k=12):
    out = np.full((len(CASES), k), -1, np.int32)
    for row, s in zip(out, CASES.values()):
        row[: len(s)] = s
    return out


def _traces():
    V = np.full((len(CASES), N_T), -70.0)
    for row, s in zip(V, CASES.values()):
        row[s] = 20.0
    return V


@pytest.fixture(scope="module")
def reference():
    return efel_values(_traces(), DT, START, END, list(SPIKE_FEATURES), interp_step=DT)


@pytest.mark.parametrize("name", list(SPIKE_FEATURES))
def test_matches_efel_on_edge_cases(name, reference):
    ours = np.asarray(SPIKE_FEATURES[name](_steps(), DT, START, END))
    ref = reference[name]
    for case, o, r in zip(CASES, ours, ref):
        assert np.isnan(o) == np.isnan(r), f"{name}, {case}: ours {o}, eFEL {r}"
    np.testing.assert_allclose(ours, ref, rtol=1e-5, equal_nan=True, err_msg=name)


def test_the_edge_cases_cover_what_they_claim(reference):
    i = list(CASES)
    assert reference["Spikecount_stimint"][i.index("on both edges")] == 4
    assert reference["time_to_first_spike"][i.index("one before the step")] < 0
    assert reference["mean_frequency"][i.index("none in window")] == 0  # spikes, none in the window: 0 Hz
    assert np.isnan(reference["mean_frequency"][i.index("silent")])  # no spike at all: undefined


def test_t_stop_drops_spikes_in_padding():
    steps = np.array([[480, 600, 760, 2080, 2240, -1]], np.int32)
    f = SPIKE_FEATURES
    cut = f["Spikecount"](steps, DT, START, END, 520.0)  # the sweep really ends at 520 ms
    assert float(cut[0]) == 3
    same = f["mean_frequency"](steps[:, :3], DT, START, END)
    np.testing.assert_allclose(f["mean_frequency"](steps, DT, START, END, 520.0), same)


def test_window_per_sweep_broadcasts_over_candidates():
    steps = np.broadcast_to(_steps(), (3,) + _steps().shape)  # [B, S, K]
    start = np.linspace(50.0, 150.0, len(CASES))
    f = SPIKE_FEATURES["Spikecount_stimint"]
    out = np.asarray(f(steps, DT, start, END))
    assert out.shape == (3, len(CASES))
    for s in range(len(CASES)):
        np.testing.assert_array_equal(out[:, s], f(_steps()[s], DT, start[s], END))


def test_rejects_float_steps():
    with pytest.raises(ValueError, match="integer step indices"):
        E.spike_count(np.zeros((2, 3)), DT, START, END)
