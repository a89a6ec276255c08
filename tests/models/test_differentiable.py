"""The differentiable simulation: same spikes as the simulator, useful gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spikefit import models
from spikefit.models.differentiable import simulate_soft, spike_raster, van_rossum_soft
from spikefit.scoring.metrics import van_rossum_distance
from _synthetic import FIXED_ADEX, TRUE_ADEX, frozen_noise

DT = 0.5
INIT = {"V": FIXED_ADEX["V_rest"]}


def _adex_params(P, seed=0, spread=0.1):
    rng = np.random.default_rng(seed)
    p = {k: (v * (1 + spread * rng.standard_normal(P))).astype(np.float32) for k, v in TRUE_ADEX.items()}
    p["tau_ref"] = rng.uniform(1.0, 4.0, P).astype(np.float32)
    p["V_th"] = (p["V_T"] + 5 * p["delta_T"]).astype(np.float32)
    return p


@pytest.mark.parametrize("model, params, fixed", [
    ("AdExIFRef", _adex_params(5), FIXED_ADEX),
    ("Gif", {"tau": np.array([10.0, 20.0, 30.0], np.float32), "a": np.array([0.0, 0.005, 0.01], np.float32),
             "A2": np.array([-20.0, -50.0, 10.0], np.float32)}, {"R": 0.05, "V_reset": -65.0}),
])
def test_forward_spikes_equal_the_simulator(model, params, fixed):
    current = frozen_noise(2, 800, DT, seed=1)
    init = INIT if model.startswith("AdEx") else None
    res = models.simulate(model, current, DT, params, fixed=fixed, spk_reset="hard", max_spikes=512,
                          record_v=True, init=init)
    soft = simulate_soft(model, params, current, DT, fixed, init=init, record_v=True, chunk=100)
    spikes = np.asarray(soft.spikes)
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    P = len(next(iter(params.values())))
    total = 0
    for p in range(P):
        for s in range(2):
            want = np.asarray(res.spike_steps)[p, s]
            np.testing.assert_array_equal(np.flatnonzero(spikes[p, s]), want[want >= 0])
            total += int((want >= 0).sum())
    assert total > 10  # the comparison saw spikes
    below = spikes == 0  # the V of a step that crossed the cut-off is huge; there only the spike counts
    np.testing.assert_allclose(np.asarray(soft.V)[below], np.asarray(res.V)[below], atol=0.05)


def test_van_rossum_soft_is_the_metric_and_v_sse_the_squared_error():
    current = frozen_noise(2, 800, DT, seed=2)
    both = _adex_params(5, seed=3)  # candidate 0 makes the "recording", 1-4 are scored against it
    sim = models.simulate("AdExIFRef", current, DT, both, fixed=FIXED_ADEX, max_spikes=512, record_v=True, init=INIT)
    steps, V = np.asarray(sim.spike_steps), np.asarray(sim.V)
    data = spike_raster(steps[0], current.shape[1])
    weight = (np.arange(current.shape[1]) % 3 != 0).astype(np.float32)[None].repeat(2, 0)
    params = {k: v[1:] for k, v in both.items()}
    loss = van_rossum_soft("AdExIFRef", params, current, data, DT, FIXED_ADEX, tau_ms=8.0, init=INIT,
                           data_v=V[0], v_weight=weight, chunk=64)
    want = np.asarray(van_rossum_distance(steps[1:], steps[0], DT, 8.0, duration=float(current.shape[1] * DT))) ** 2
    np.testing.assert_allclose(np.asarray(loss.van_rossum2), want, rtol=2e-3, atol=1e-3)
    assert want.min() > 0.2  # the candidates differ from the data
    fired = np.stack([spike_raster(steps[p], current.shape[1]) for p in range(1, 5)])
    np.testing.assert_allclose(np.asarray(loss.n_model), fired.sum(-1))
    e = np.where(fired == 0, V[1:] - V[0][None], 0.0)
    np.testing.assert_allclose(np.asarray(loss.v_sse), (weight[None] * e * e).sum(-1), rtol=1e-3)


FREE = ("R", "tau", "tau_w", "V_reset", "V_T", "delta_T", "a", "b", "tau_ref")


def _spiking_loss(current, data, params_fixed):
    def loss(free):
        p = dict(free, V_th=free["V_T"] + 5 * free["delta_T"])
        r = van_rossum_soft("AdExIFRef", p, current, data, DT, params_fixed, tau_ms=10.0, init=INIT)
        return r.van_rossum2.sum()
    return loss


def test_gradients_are_finite_and_nonzero_for_every_parameter_but_tau_ref():
    current = frozen_noise(2, 600, DT, seed=5)
    true = {**{k: np.float32(v) for k, v in TRUE_ADEX.items()}, "R": np.float32(FIXED_ADEX["R"]),
            "V_reset": np.float32(FIXED_ADEX["V_reset"]), "tau_ref": np.float32(2.0)}
    rec = models.simulate("AdExIFRef", current, DT, {k: np.array([v]) for k, v in {**true, "V_th": true["V_T"] + 10}.items()},
                          fixed={"V_rest": -70.0}, max_spikes=512, init=INIT)
    data = spike_raster(np.asarray(rec.spike_steps)[0], current.shape[1])
    assert data.sum() > 10
    start = {k: jnp.asarray([v * 1.07, v * 0.95], jnp.float32) for k, v in true.items() if k in FREE}
    grads = jax.jit(jax.grad(_spiking_loss(current, data, {"V_rest": -70.0})))(start)
    for name in FREE:
        g = np.asarray(grads[name])
        assert np.all(np.isfinite(g)), name
        if name == "tau_ref":  # enters only through the comparison t - t_spike < tau_ref
            assert np.all(g == 0)
        else:
            assert np.all(g != 0), name


def test_gradient_matches_finite_differences_below_threshold():
    current = frozen_noise(2, 400, DT, seed=6, mean_pA=100.0, sd_pA=80.0)  # never reaches threshold
    fixed = {**FIXED_ADEX, "V_th": 0.0, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"],
             "V_T": TRUE_ADEX["V_T"], "delta_T": TRUE_ADEX["delta_T"]}
    data_v = np.asarray(models.simulate("AdExIF", current, DT, {"tau": np.array([20.0], np.float32)}, fixed=fixed,
                                        record_v=True, init=INIT).V)[0]
    none = np.zeros_like(current)

    @jax.jit
    def loss(tau):
        r = van_rossum_soft("AdExIF", {"tau": tau}, current, none, DT, fixed, data_v=data_v, init=INIT)
        return r.v_sse.sum(), r.n_model.sum()

    tau = jnp.asarray([26.0], jnp.float32)
    (value, n), g = jax.jit(jax.value_and_grad(loss, has_aux=True))(tau)
    assert float(n) == 0 and float(value) > 1.0
    h = 0.05
    fd = (loss(tau + h)[0] - loss(tau - h)[0]) / (2 * h)
    np.testing.assert_allclose(float(g[0]), float(fd), rtol=1e-2)
    assert abs(float(fd)) > 1e-3
