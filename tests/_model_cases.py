"""Model test cases shared by tests/models: parameter ranges, currents, the object-API runner."""

from __future__ import annotations

import brainstate
import jax.numpy as jnp
import numpy as np
import saiunit as u

from spikefit import models

DT = 0.1  # ms

# Ranges (UNIT_SYSTEM floats) that make each model spike a few times in tens of ms.
_LIN = dict(R=(0.05, 0.2), tau=(5.0, 20.0), V_th=(5.0, 15.0), V_reset=(-5.0, 0.0), V_rest=(-1.0, 1.0))
_EXP = dict(R=(0.1, 0.2), tau=(8.0, 20.0), V_th=(-52.0, -46.0), V_reset=(-70.0, -65.0),
            V_rest=(-66.0, -64.0), V_T=(-60.0, -56.0), delta_T=(1.5, 4.0))
_QUA = dict(R=(0.1, 0.2), tau=(8.0, 20.0), V_th=(-35.0, -25.0), V_reset=(-70.0, -65.0),
            V_rest=(-66.0, -64.0), V_c=(-52.0, -48.0), c=(0.03, 0.1))
_ADAPT = dict(tau_w=(30.0, 150.0), a=(0.0, 4.0), b=(0.0, 60.0))
_GIF = dict(R=(0.05, 0.15), tau=(10.0, 30.0), V_rest=(-71.0, -69.0), V_reset=(-72.0, -68.0),
            V_th_inf=(-55.0, -45.0), V_th_reset=(-62.0, -58.0), a=(0.0, 0.01), b=(0.01, 0.1),
            k1=(0.1, 0.3), k2=(0.01, 0.05), R1=(0.0, 0.5), R2=(0.5, 1.0), A1=(-40.0, 10.0),
            A2=(-20.0, 0.0))
_REF = dict(tau_ref=(1.0, 3.0))
RANGES = {
    "IF": dict(R=(0.05, 0.2), tau=(5.0, 20.0), V_th=(5.0, 15.0)),
    "LIF": _LIN, "LIFRef": {**_LIN, **_REF},
    "ALIF": {**_LIN, "tau_a": (20.0, 100.0), "beta": (0.5, 3.0)},
    "ExpIF": _EXP, "ExpIFRef": {**_EXP, **_REF},
    "AdExIF": {**_EXP, **_ADAPT}, "AdExIFRef": {**_EXP, **_ADAPT, **_REF},
    "QuaIF": _QUA, "AdQuaIF": {**_QUA, **_ADAPT}, "AdQuaIFRef": {**_QUA, **_ADAPT, **_REF},
    "Gif": _GIF, "GifRef": {**_GIF, **_REF},
}


def random_params(model: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-neuron parameters in UNIT_SYSTEM floats (float64 numpy)."""
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(lo, hi, n) for k, (lo, hi) in RANGES[model].items()}


def with_units(model: str, plain: dict) -> dict:
    """UNIT_SYSTEM floats -> saiunit Quantities (as a user would pass them)."""
    units = models.parameter_units(model)
    dtype = brainstate.environ.dftype()
    out = {}
    for k, v in plain.items():
        v = jnp.asarray(v, dtype)  # the reference computes in the mantissa's dtype
        out[k] = v if models.UNIT_SYSTEM[units[k]] is None else v * models.UNIT_SYSTEM[units[k]]
    return out


def random_current(n: int, steps: int, seed: int = 1) -> np.ndarray:
    """Input current [steps, n] in pA: per-neuron DC level plus white noise."""
    rng = np.random.default_rng(seed)
    return rng.uniform(100.0, 400.0, n)[None, :] + rng.normal(0.0, 80.0, (steps, n))


def run_object(cls, n, params, current_pA, spk_reset, batch_size=None):
    """Run an object-API model over ``current_pA`` [T, ...]; return V [T, ...] (mV) and spikes."""
    dtype = brainstate.environ.dftype()
    neuron = cls(n, **params, spk_reset=spk_reset)
    neuron.init_state(batch_size)
    with brainstate.environ.context(dt=DT * u.ms):
        def step(i, x):
            with brainstate.environ.context(t=i * (DT * u.ms)):
                spk = neuron.update(x)
            return neuron.V.value.to_decimal(u.mV), spk

        steps = jnp.arange(current_pA.shape[0])
        V, spk = brainstate.transform.for_loop(step, steps, jnp.asarray(current_pA, dtype) * u.pA)
    return np.asarray(V), np.asarray(spk) > 0.5
