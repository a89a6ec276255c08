"""Voltage features: eFEL's per-spike AHP minima on real sweeps, its windows, padding, undefined cases.

Against eFEL with interp_step = the recording's dt (the same samples): per-spike minima agree
to float32 rounding (1e-4 mV), which also pins which sample each minimum is.
"""

from __future__ import annotations

import jax
import numpy as np
from _efel_ref import efel_values

from spikefit.scoring.features import peak_steps
from spikefit.scoring.features import voltage as Vf

min_ahp = jax.jit(Vf.min_AHP_values, static_argnums=2)


def test_min_AHP_values_per_spike_match_efel_on_recorded_steps(bbp):
    V = bbp.V[8:12]  # 24-35 spikes each
    ref = efel_values(V, bbp.dt, bbp.start[:4], bbp.end[:4], ["min_AHP_values"], interp_step=bbp.dt, raw=True)
    values, defined = min_ahp(V.astype(np.float32), peak_steps(V), bbp.dt)
    for s in range(4):
        ours = np.asarray(values[s])[np.asarray(defined[s])]
        np.testing.assert_allclose(ours, ref[s]["min_AHP_values"], atol=1e-4)
        assert len(ours) >= 20


def test_a_minimum_on_the_last_sample_does_not_count():
    # decays to the end after the second spike: eFEL drops that minimum (it sits on the last sample)
    v = np.full(400, -70.0)
    v[100], v[101:200] = 20.0, np.linspace(-60, -65, 99)
    v[200:] = np.linspace(-55.0, -75.0, 200)
    v[200] = 20.0
    ref = efel_values(v[None], 0.25, 10.0, 90.0, ["min_AHP_values", "peak_indices"], interp_step=0.25, raw=True)[0]
    np.testing.assert_array_equal(ref["peak_indices"], [100, 200])
    values, defined = min_ahp(v[None].astype(np.float32), np.array([[100, 200]]), 0.25)
    np.testing.assert_array_equal(np.asarray(defined), [[True, False]])
    np.testing.assert_allclose(np.asarray(values)[0, :1], ref["min_AHP_values"], atol=1e-4)


def test_windows_and_padding(bbp):
    V = bbp.V[:3].astype(np.float32)
    ref = efel_values(bbp.V[:3], bbp.dt, bbp.start[:3], bbp.end[:3], ["voltage_base", "steady_state_voltage_stimend"],
                      interp_step=bbp.dt)
    padded = np.concatenate([V, np.full((3, 800), 55.0, np.float32)], -1)  # 200 ms of garbage after the sweep
    stop = np.full(3, V.shape[-1] * bbp.dt)
    for name in ("voltage_base", "steady_state_voltage_stimend"):
        f = jax.jit(getattr(Vf, name), static_argnums=1)
        np.testing.assert_allclose(f(V, bbp.dt, bbp.start[:3], bbp.end[:3]), ref[name], atol=2e-3)
        np.testing.assert_allclose(f(padded, bbp.dt, bbp.start[:3], bbp.end[:3], stop), ref[name], atol=2e-3)
    steps = peak_steps(bbp.V[:3])
    ahp = jax.jit(Vf.AHP_depth_abs, static_argnums=2)
    np.testing.assert_allclose(ahp(padded, steps, bbp.dt, 0.0, 0.0, stop), ahp(V, steps, bbp.dt), equal_nan=True)


def test_undefined_cases_are_nan():
    v = np.full((2, 400), -70.0, np.float32)
    assert np.isnan(Vf.voltage_base(v, 0.25, 0.0, 50.0)).all()  # no baseline before an onset at 0
    assert np.isnan(Vf.AHP_depth_abs(v, np.full((2, 3), -1), 0.25)).all()  # no spike, no AHP
    assert np.isnan(Vf.AHP_depth(v, np.full((2, 3), -1), 0.25, 50.0)).all()
