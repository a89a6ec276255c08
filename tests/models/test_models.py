"""The 13 models against brainpy.state (the specification's reference implementation)."""

from __future__ import annotations

import brainstate
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from spikefit import models
from _model_cases import DT, RANGES, random_current, random_params, run_object, with_units  # noqa: F401


@pytest.fixture(params=[32, 64], ids=["f32", "f64"])
def precision(request):
    old = brainstate.environ.get_precision()
    brainstate.environ.set(precision=request.param)
    yield request.param
    brainstate.environ.set(precision=old)


def _w0(cls):
    # the reference stores w in the initializer's unit; give both the same one (pA)
    import braintools
    return {"w_initializer": braintools.init.Constant(0.0 * u.pA)} if "w" in cls.state_units else {}


TIES = {}  # (model, reset, precision) -> (mismatching neurons, neurons): the threshold-tie rate


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_matches_brainpy_state(name, reset, precision):
    brainpy = pytest.importorskip("brainpy")
    n, steps = 48, 400
    cls = getattr(models, name)
    params = {**with_units(name, random_params(name, n, seed=models.MODEL_NAMES.index(name))), **_w0(cls)}
    current = random_current(n, steps)
    V, spk = run_object(cls, n, params, current, reset)
    V_ref, spk_ref = run_object(getattr(brainpy.state, name), n, params, current, reset)
    assert spk_ref.sum() > n // 2  # the ranges make every model spike
    # The only intended difference: the exponent clamp at 20 (runaway under soft reset).
    keep = np.isfinite(V_ref).all(0) & (np.abs(V_ref) < 1e3).all(0)
    if "delta_T" in params:
        arg = (V_ref - np.asarray(params["V_T"].to_decimal(u.mV))) / np.asarray(params["delta_T"].to_decimal(u.mV))
        keep &= (arg < models.EXP_ARG_MAX).all(0)
    assert keep.mean() > 0.5
    same = (spk == spk_ref).all(0) & keep
    TIES[(name, reset, precision)] = (int((keep & ~same).sum()), int(keep.sum()))
    if precision == 64:
        assert same[keep].all()
        np.testing.assert_allclose(V[:, keep], V_ref[:, keep], rtol=0, atol=1e-9)
    else:
        assert (keep & ~same).sum() <= max(1, 0.02 * keep.sum())  # rare float32 threshold ties
        # 1e-3 mV everywhere, except AdQuaIF with soft reset: its quadratic term amplifies the
        # 1-ulp rounding differences (XLA fusion/FMA) carried across soft resets; measured max
        # 1.7e-3 mV over 400 steps (reported in the issue note), so it gets 2e-3.
        atol = 2e-3 if (name, reset) == ("AdQuaIF", "soft") else 1e-3
        np.testing.assert_allclose(V[:, same], V_ref[:, same], rtol=0, atol=atol)


def test_wrong_unit_names_parameter():
    with pytest.raises(models.UnitError, match=r"'tau'.*expected a quantity in ms.*mV"):
        models.AdExIF(3, tau=10.0 * u.mV)
    with pytest.raises(models.UnitError, match=r"'V_th'.*expected a quantity in mV.*plain number"):
        models.LIF(3, V_th=-50.0)
    with pytest.raises(models.UnitError, match=r"'c'.*1/mV"):
        models.QuaIF(3, c=0.07 * u.mV)
    with pytest.raises(ValueError, match="spk_reset"):
        models.LIF(3, spk_reset="reset")


def test_batch_dimensions_and_reset_state():
    neuron = models.GifRef(5, A1=-10.0 * u.pA, R=0.1 * u.Gohm, ref_var=True)
    neuron.init_state(batch_size=3)
    assert neuron.V.value.shape == (3, 5) and neuron.I1.value.shape == (3, 5)
    assert neuron.refractory.value.shape == (3, 5)
    with brainstate.environ.context(dt=DT * u.ms, t=0.0 * u.ms):
        for _ in range(200):
            spk = neuron.update(jnp.linspace(100.0, 600.0, 5) * u.pA)
    assert spk.shape == (3, 5)
    assert neuron.V.value.to_decimal(u.mV).std(0).max() < 1e-4  # batch rows see the same input
    neuron.reset_state(batch_size=2)
    assert neuron.V.value.shape == (2, 5)
    np.testing.assert_allclose(neuron.V.value.to_decimal(u.mV), -70.0)


def test_per_neuron_parameters_differ():
    tau = jnp.asarray([5.0, 10.0, 20.0]) * u.ms
    neuron = models.LIF(3, R=0.1 * u.Gohm, tau=tau, V_th=100.0 * u.mV)
    neuron.init_state()
    with brainstate.environ.context(dt=DT * u.ms):
        neuron.update(100.0 * u.pA)
    v = np.asarray(neuron.V.value.to_decimal(u.mV))
    np.testing.assert_allclose(v, 10.0 * (1 - np.exp(-DT / np.array([5.0, 10.0, 20.0]))), rtol=1e-5)

