"""models._kernel: the fused Pallas kernel equals the scan path (CPU: Pallas interpret mode).

CI has no GPU.  Here the kernel runs in interpret mode (the same kernel body, each operation
as an XLA:CPU operation) and is lowered for CUDA (Pallas -> Triton IR, no GPU needed), so what
a GPU would compile is the kernel tested here; its speed is measured by ``bench/simulate.py``
on a GPU only.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spikefit import models
from spikefit.models._kernel import BLOCK, build_kernel_run
from spikefit.models.registry import get_model
from spikefit.models.simulator import resolve_engine
from _model_cases import DT, random_current, random_params


def _both(name, plain, current, **kw):
    return [models.Simulator(name, free=tuple(plain), dt=DT, engine=e, **kw)(plain, current)
            for e in ("scan", "kernel")]


def _assert_same_spikes(a, b):
    for field in ("spike_steps", "n_spikes", "overflow", "diverged"):
        np.testing.assert_array_equal(np.asarray(getattr(b, field)), np.asarray(getattr(a, field)), err_msg=field)


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_kernel_equals_scan(name):
    P, S, T = 7, 3, 400  # P below one block, T not a multiple of the scan's chunk
    plain = random_params(name, P, seed=3)
    current = random_current(S, T, seed=4).T
    scan, kern = _both(name, plain, current, spk_reset="hard", max_spikes=24, record_v=True)
    _assert_same_spikes(scan, kern)
    assert kern.V.shape == (P, S, T)
    np.testing.assert_allclose(np.asarray(kern.V), np.asarray(scan.V), rtol=1e-5, atol=2e-4)
    assert int(scan.n_spikes.sum()) > 0


def test_several_blocks_and_sweeps():
    # 2 sweeps x 3 programs of BLOCK candidates, the last one partly padding
    P, S, T = 2 * BLOCK + 5, 2, 120
    plain = random_params("AdExIFRef", P, seed=8)
    current = random_current(S, T, seed=9).T
    scan, kern = _both("AdExIFRef", plain, current, max_spikes=16)
    _assert_same_spikes(scan, kern)
    assert kern.V is None and len(set(np.asarray(kern.n_spikes).ravel().tolist())) > 3


def test_no_free_parameters_and_no_steps():
    fixed = {"R": 0.1, "V_th": 10.0}
    _assert_same_spikes(*_both("LIF", {}, np.full((2, 300), 500.0), fixed=fixed, max_spikes=4))
    scan, kern = _both("LIF", {"tau": np.array([5.0, 9.0])}, np.zeros((3, 0)), record_v=True, max_spikes=4)
    _assert_same_spikes(scan, kern)
    assert kern.V.shape == scan.V.shape == (2, 3, 0)


def test_full_buffer_keeps_the_first_spikes_and_counts_all():
    scan, kern = _both("LIF", {"tau": np.array([5.0, 5.0, 40.0])}, np.full((1, 500), 500.0),
                       fixed={"R": 0.1, "V_th": 10.0}, max_spikes=3)
    _assert_same_spikes(scan, kern)
    assert np.asarray(kern.overflow)[:2].all() and (np.asarray(kern.n_spikes)[:2] > 3).all()
    assert (np.asarray(kern.spike_steps)[:2] >= 0).all()


def test_runaway_flagged_per_candidate():
    # soft-reset ExpIF with a high threshold runs away; the sane candidate is unaffected
    free = {"V_th": np.array([-45.0, 10.0]), "R": np.array([0.1, 0.1])}
    scan, kern = _both("ExpIF", free, np.full((1, 400), 400.0), spk_reset="soft")
    _assert_same_spikes(scan, kern)
    assert np.asarray(kern.diverged).tolist() == [False, True] and int(kern.n_spikes[0, 0]) > 0


def test_new_values_do_not_recompile():
    sim = models.Simulator("AdExIF", free=("tau", "b"), fixed={"R": 0.15, "V_th": -45.0, "a": 2.0}, dt=DT,
                           max_spikes=16, engine="kernel")
    current = np.full((2, 300), 300.0)
    before = sim.n_traces
    r1 = sim({"tau": np.full(3, 10.0), "b": np.full(3, 5.0)}, current)
    r2 = sim({"tau": np.full(3, 30.0), "b": np.full(3, 80.0)}, current)
    assert sim.n_traces - before == 1
    assert int(r1.n_spikes[0, 0]) > int(r2.n_spikes[0, 0]) > 0


def test_engine_choice():
    assert resolve_engine("auto", "gpu") == "kernel" and resolve_engine("auto", "cpu") == "scan"
    assert resolve_engine("scan", "gpu") == "scan" and resolve_engine("kernel", "cpu") == "kernel"
    with pytest.raises(ValueError, match="engine must be one of"):
        models.Simulator("LIF", dt=DT, engine="cuda")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_lowers_to_one_triton_kernel(name, dtype):
    """What a GPU runs: the kernel lowered for CUDA is one Triton call over [S, P / BLOCK] programs."""
    P, S, T = 3 * BLOCK - 1, 4, 64
    sim = models.Simulator(name, free=tuple(random_params(name, 1)), dt=DT)
    run = build_kernel_run(get_model(name), sim.free, sim.fixed, sim.init, sim.dt, True, 32, True, dtype,
                           interpret=False)
    with jax.enable_x64(dtype == "float64"):
        free = {k: jnp.zeros((P,), dtype) for k in sim.free}
        text = jax.jit(run).trace(free, jnp.zeros((S, T), dtype)).lower(lowering_platforms=("cuda",)).as_text()
    assert (f"tensor<{S}x{T}x{P}xf{dtype[-2:]}>" in text) and text.count("custom_call") == 1
    assert "stablehlo.while" not in text  # the time loop is inside the kernel, not around it
    calls = re.findall(r"custom_call @([\w$.]+)\(.*?grid_x = (\d+) : i32, grid_y = (\d+)", text)
    assert [(g_x, g_y) for target, g_x, g_y in calls if "triton" in target] == [(str(S), "3")]


def test_auto_falls_back_to_the_scan_when_the_kernel_fails(monkeypatch):
    """Stand-in for a GPU whose Triton compiler rejects the kernel (no GPU here): ``auto`` is made
    to pick the kernel on CPU and the kernel's build to fail; the call warns once, answers with the
    scan's result and keeps the scan from then on."""
    from spikefit.models import _kernel, simulator

    def broken(*a, **k):
        raise RuntimeError("triton: out of resources")

    monkeypatch.setattr(simulator, "resolve_engine", lambda engine, backend: "kernel" if engine == "auto" else engine)
    monkeypatch.setattr(_kernel, "build_kernel_run", broken)
    simulator._compiled.cache_clear()
    try:
        plain = random_params("LIF", 3, seed=1)
        current = random_current(1, 100, seed=2).T
        sim = models.Simulator("LIF", free=tuple(plain), dt=DT, max_spikes=8)
        with pytest.warns(RuntimeWarning, match="fused simulation kernel failed.*out of resources"):
            got = sim(plain, current)
        want = models.Simulator("LIF", free=tuple(plain), dt=DT, max_spikes=8, engine="scan")(plain, current)
        _assert_same_spikes(want, got)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _assert_same_spikes(want, sim(plain, current))
    finally:
        simulator._compiled.cache_clear()


@pytest.mark.parametrize("name", ["ExpIF", "AdExIFRef", "AdQuaIF", "GifRef"])
def test_kernel_equals_scan_in_float64(name):
    """Float64 (where the soft-reset exponential models are well conditioned): the same spikes and
    voltage, and the voltage recorded in float64 by both engines."""
    import brainstate

    old = brainstate.environ.get_precision()
    brainstate.environ.set(precision=64)
    try:
        plain = random_params(name, 5, seed=11)
        current = random_current(2, 300, seed=12).T
        scan, kern = _both(name, plain, current, spk_reset="soft", max_spikes=24, record_v=True)
        _assert_same_spikes(scan, kern)
        assert kern.V.dtype == scan.V.dtype == np.float64
        np.testing.assert_allclose(np.asarray(kern.V), np.asarray(scan.V), rtol=1e-12, atol=1e-9)
    finally:
        brainstate.environ.set(precision=old)
