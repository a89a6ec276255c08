"""Gradient refinement: recovers a known AdEx parameter set, stays in bounds, isolates failures."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording
from spikefit.models.differentiable import spike_raster, van_rossum_soft
from spikefit.search.gradient import from_unit, refine, to_unit
from spikefit.search.space import FreeParameter, SearchSpace

SPACE = SearchSpace([FreeParameter("tau", 8.0, 40.0, "ms", log=True), FreeParameter("V_T", -56.0, -44.0, "mV"),
                     FreeParameter("delta_T", 0.8, 4.0, "mV", log=True)])


def test_refine_recovers_a_known_adex_parameter_set():
    dt = 0.5
    rec = synthetic_adex_recording(n_sweeps=4, duration_ms=1000.0, dt_ms=dt, seed=3)
    current = np.stack([s.current for s in rec.sweeps]).astype(np.float32)
    steps = np.full((4, 64), -1)
    for i, s in enumerate(rec.sweeps):
        steps[i, : s.spike_times_ms.size] = np.rint(s.spike_times_ms / dt)
    data = spike_raster(steps, current.shape[1])
    fixed = {**FIXED_ADEX, **{k: TRUE_ADEX[k] for k in ("tau_w", "a", "b")}}

    def loss_fn(p):
        p = dict(p, V_th=p["V_T"] + 5 * p["delta_T"])
        r = van_rossum_soft("AdExIF", p, current, data, dt, fixed, tau_ms=20.0, init={"V": FIXED_ADEX["V_rest"]})
        return r.van_rossum2.sum(axis=1) / data.sum()

    true = to_unit(SPACE, [[TRUE_ADEX[n] for n in SPACE.names]])
    rng = np.random.default_rng(1)
    x0 = from_unit(SPACE, np.clip(true + rng.uniform(-0.15, 0.15, (8, 3)), 0.02, 0.98))
    out = refine(SPACE, x0, loss_fn, steps=40, learning_rate=0.03)
    assert out.steps == 40 and out.history.shape == (41, 8)
    start = out.history[0]
    # the best refined candidate is far better than the best start, and close to the truth
    assert out.loss.min() < 0.3 * start.min()
    err_start = np.abs(to_unit(SPACE, x0) - true).max(axis=1)
    err_best = np.abs(to_unit(SPACE, out.x[np.argmin(out.loss)]) - true).max()
    assert err_best < 0.05 < err_start.min()
    assert np.all(out.loss <= start + 1e-6)  # the best point seen, never worse than the start
    assert np.all((out.x >= SPACE.low) & (out.x <= SPACE.high))


def test_iterates_stay_inside_the_bounds_and_follow_the_gradient():
    x0 = np.array([[20.0, -50.0, 2.0], [10.0, -55.0, 1.0]])

    def loss_fn(p):  # pushes tau and delta_T up, V_T down
        return -p["tau"] - p["delta_T"] + p["V_T"]

    out = refine(SPACE, x0, loss_fn, steps=60, learning_rate=2.0)
    assert np.all((out.x_last >= SPACE.low) & (out.x_last <= SPACE.high))
    np.testing.assert_allclose(out.x_last[:, 0], 40.0, rtol=0.02)
    np.testing.assert_allclose(out.x_last[:, 1], -56.0, atol=0.3)
    np.testing.assert_allclose(out.x_last[:, 2], 4.0, rtol=0.02)
    assert np.all(np.diff(out.history[:, 0]) <= 1e-4)


def test_a_failing_candidate_does_not_move_nor_spoil_the_others():
    x0 = np.array([[20.0, -50.0, 2.0], [20.0, -50.0, 2.0]])

    def loss_fn(p):
        return jnp.where(jnp.arange(2) == 0, jnp.nan, (p["tau"] - 30.0) ** 2)

    out = refine(SPACE, x0, loss_fn, steps=30, learning_rate=0.1)
    np.testing.assert_allclose(out.x_last[0], x0[0], rtol=1e-5)
    assert np.isnan(out.history[:, 0]).all() and np.isinf(out.loss[0])
    assert abs(out.x[1, 0] - 30.0) < abs(x0[1, 0] - 30.0) / 2


def test_unit_coordinates_round_trip_and_bad_starts_are_refused():
    x = np.array([[8.0, -56.0, 0.8], [40.0, -44.0, 4.0], [17.9, -50.5, 1.7]])
    y = to_unit(SPACE, x)
    np.testing.assert_allclose(y[:2], [[0, 0, 0], [1, 1, 1]], atol=1e-12)
    np.testing.assert_allclose(from_unit(SPACE, y), x, rtol=1e-12)
    with pytest.raises(ValueError, match=r"x0: expected shape \[P, 3\] \(P >= 1"):
        refine(SPACE, np.zeros((2, 2)), lambda p: p["tau"])
