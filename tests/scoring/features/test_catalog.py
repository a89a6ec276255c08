"""Every feature of the catalogue against eFEL itself, on real and on simulated step sweeps.

Tolerances:

* eFEL with ``interp_step`` = the recording's dt (its interpolation then returns the samples
  as they are): the same samples, the same spikes, the same windows, so the values agree to
  float32 rounding (V is float32 here, float64 in eFEL): 1e-4 relative, 2e-3 mV absolute on
  means of up to 8000 samples of about -70 mV;
* eFEL out of the box (``interp_step`` 0.1 ms on the 0.25 ms recording): eFEL's peaks move
  to the nearest point of its 0.1 ms grid, up to 0.1 ms (stated per feature below); its AHP
  minimum is the first local minimum on a finer, linearly interpolated grid, which on a noisy
  recording is sometimes a different noise dip: 1 mV;
* the AdExIF traces are simulated at dt = 0.1 ms = eFEL's interp_step, so eFEL sees the
  simulator's samples; the +20 mV sample put at each spike step gives eFEL its peaks there
  (checked: eFEL's peak_indices are the simulator's spike steps).
"""

from __future__ import annotations

import numpy as np
import pytest
from _efel_ref import efel_values

from spikefit.scoring.features import FEATURES, compute_features, sweep_features

NAMES = sorted(FEATURES)


def assert_same(ours, ref, *, rtol, atol, what):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"{what}: defined on other sweeps than eFEL")
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


@pytest.fixture(scope="module")
def bbp_ours(bbp):
    return sweep_features(bbp.V, bbp.dt, bbp.start, bbp.end)


def test_all_features_match_efel_on_recorded_steps(bbp, bbp_ours):
    ref = efel_values(bbp.V, bbp.dt, bbp.start, bbp.end, NAMES, interp_step=bbp.dt)
    counts = ref["Spikecount"]
    assert counts[0] == 0 and counts[-1] >= 40 and len(set(counts)) >= 12  # several amplitudes, 0 to 45 spikes
    for name in NAMES:
        atol = 2e-3 if FEATURES[name].unit == "mV" else 1e-6
        assert_same(bbp_ours[name].value, ref[name], rtol=1e-4, atol=atol, what=name)
        np.testing.assert_array_equal(bbp_ours[name].defined, ~np.isnan(ref[name]))
    # undefined where eFEL is: the silent sweep has no frequency, few-spike sweeps no adaptation
    assert np.isnan(bbp_ours["mean_frequency"].value[0]) and not bbp_ours["mean_frequency"].defined[0]
    assert np.isnan(bbp_ours["adaptation_index2"].value[:3]).all()


# feature -> (rtol, atol) against eFEL's defaults (peaks on a 0.1 ms grid, see the module docstring)
DEFAULT_TOL = {
    "time_to_first_spike": (0, 0.1),  # ms: one peak moved by <= 0.1 ms
    "mean_frequency": (5e-3, 0), "inv_first_ISI": (5e-3, 0),  # Hz: 0.1 ms on ISIs of >= 20 ms
    "ISI_CV": (0, 2e-3), "adaptation_index": (0, 2e-3), "adaptation_index2": (0, 2e-3),
    "Spikecount": (0, 0), "Spikecount_stimint": (0, 0),
    "voltage_base": (0, 0.05), "steady_state_voltage_stimend": (0, 0.1),  # mV: window edges on another grid
    "AHP_depth_abs": (0, 1.0), "AHP_depth": (0, 1.0),  # mV: noise dips, see the module docstring
}


def test_features_match_efel_defaults_within_grid_tolerance(bbp, bbp_ours):
    assert set(DEFAULT_TOL) == set(NAMES)
    ref = efel_values(bbp.V, bbp.dt, bbp.start, bbp.end, NAMES)
    for name, (rtol, atol) in DEFAULT_TOL.items():
        assert_same(bbp_ours[name].value, ref[name], rtol=rtol, atol=atol, what=name)


def test_all_features_match_efel_on_simulated_adex_steps(adex):
    assert adex.n_spikes.tolist()[0] == 0 and adex.n_spikes[-1] >= 20
    n_time = adex.V.shape[-1]
    raw = efel_values(adex.V_peaks, adex.dt, adex.start, adex.end, ["peak_indices"], raw=True)
    for s, got in enumerate(raw):
        expected = adex.spike_steps[s][adex.spike_steps[s] >= 0]
        found = np.zeros(0) if got["peak_indices"] is None else got["peak_indices"]
        np.testing.assert_array_equal(found, expected)  # eFEL's spikes are the simulator's
    ref = efel_values(adex.V_peaks, adex.dt, adex.start, adex.end, NAMES)
    ours = sweep_features(adex.V_peaks, adex.dt, adex.start, adex.end, spike_steps=adex.spike_steps)
    for name in NAMES:
        assert_same(ours[name].value, ref[name], rtol=1e-4, atol=2e-3, what=name)
    # the AHP needs no spike shape: on the simulator's own V (reset, no peak) it is the same trough
    plain = sweep_features(adex.V, adex.dt, adex.start, adex.end, ["AHP_depth_abs"], spike_steps=adex.spike_steps)
    assert_same(plain["AHP_depth_abs"].value, ref["AHP_depth_abs"], rtol=0, atol=2e-3, what="AHP on V without peaks")
    fires = adex.n_spikes > 0
    assert np.all(np.abs(np.asarray(plain["AHP_depth_abs"].value)[fires] - (-58.0)) < 0.5)  # V_reset
    assert n_time == 12000


def test_batched_and_jitted_equals_per_sweep(adex):
    import jax

    f = jax.jit(compute_features, static_argnames=("names", "dt_ms"))
    steps = np.stack([adex.spike_steps, np.roll(adex.spike_steps, 1, axis=0)])  # [B=2, S, K]
    V = np.stack([adex.V, np.roll(adex.V, 1, axis=0)]).astype(np.float32)
    batch = f(tuple(NAMES), dt_ms=adex.dt, stim_start_ms=adex.start, stim_end_ms=adex.end, spike_steps=steps, V=V)
    for b in range(2):
        one = sweep_features(V[b], adex.dt, adex.start, adex.end, spike_steps=steps[b])
        for name in NAMES:
            assert batch[name].value.shape == (2, steps.shape[1])
            np.testing.assert_allclose(batch[name].value[b], one[name].value, rtol=1e-6, equal_nan=True)


def test_unknown_or_missing_inputs_are_named():
    with pytest.raises(ValueError, match=r"unknown \['mean_freq'\].*mean_frequency"):
        compute_features(["mean_freq"], dt_ms=0.1, stim_start_ms=0.0, stim_end_ms=1.0, spike_steps=np.zeros((1, 1), int))
    with pytest.raises(ValueError, match=r"'voltage_base': needs V"):
        compute_features(["voltage_base"], dt_ms=0.1, stim_start_ms=0.0, stim_end_ms=1.0, spike_steps=np.zeros((1, 1), int))
