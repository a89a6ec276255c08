"""Generalized integrate-and-fire (Mihalas & Niebur 2009): Gif, GifRef.

``tau dV/dt = -(V - V_rest) + R (I1 + I2 + I)``, ``dI_j/dt = -k_j I_j``,
``dV_th/dt = a (V - V_rest) - b (V_th - V_th_inf)``.  On a spike: ``V`` resets,
``I_j <- R_j I_j + A_j``, ``V_th <- max(V_th_reset, V_th)``.  Spike when ``V >= V_th``.
"""

from __future__ import annotations

import braintools
import jax
import jax.numpy as jnp
import saiunit as u

from ._base import Neuron, apply_refractory, args_of, dt_phi, exp_euler

__all__ = ["Gif", "GifRef"]

_ReluGrad = braintools.surrogate.ReluGrad
_Const = braintools.init.Constant

_UNITS = dict(R="GOhm", tau="ms", V_rest="mV", V_reset="mV", V_th_inf="mV", V_th_reset="mV",
              a="1/ms", b="1/ms", k1="1/ms", k2="1/ms", R1="1", R2="1", A1="pA", A2="pA")
_STATES = dict(V="mV", I1="pA", I2="pA", V_th="mV")


def _prepare(p, dt):
    return dict(p, dt=dt, phi_V=dt_phi(dt, -1.0 / p["tau"]), phi_1=dt_phi(dt, -p["k1"]),
                phi_2=dt_phi(dt, -p["k2"]), phi_th=dt_phi(dt, -p["b"]))


def _scaled(s, c):
    return (s["V"] - s["V_th"]) / (s["V_th"] - c["V_reset"])


def _reset(s, c, sp, hard):
    thr = jax.lax.stop_gradient(s["V"]) if hard else s["V_th"]
    return {
        "V": s["V"] - (thr - c["V_reset"]) * sp,
        "I1": s["I1"] + sp * (c["R1"] * s["I1"] + c["A1"] - s["I1"]),
        "I2": s["I2"] + sp * (c["R2"] * s["I2"] + c["A2"] - s["I2"]),
        "V_th": s["V_th"] + sp * (jnp.maximum(c["V_th_reset"], s["V_th"]) - s["V_th"]),
    }


def _integrate(r, c, I, currents_after):
    """Integrate the reset state ``r``.  The V equation sees the already integrated ``I1, I2``
    when ``currents_after`` (Gif) and the post-reset ones otherwise (GifRef), as in the spec."""
    I1 = exp_euler(r["I1"], -c["k1"] * r["I1"], c["phi_1"])
    I2 = exp_euler(r["I2"], -c["k2"] * r["I2"], c["phi_2"])
    th = exp_euler(r["V_th"], c["a"] * (r["V"] - c["V_rest"]) - c["b"] * (r["V_th"] - c["V_th_inf"]),
                   c["phi_th"])
    i1, i2 = (I1, I2) if currents_after else (r["I1"], r["I2"])
    V = exp_euler(r["V"], (-(r["V"] - c["V_rest"]) + c["R"] * (i1 + i2 + I)) / c["tau"], c["phi_V"])
    return {"V": V, "I1": I1, "I2": I2, "V_th": th}


class Gif(Neuron):
    """Generalized IF with two spike-triggered currents and an adaptive threshold."""

    param_units = _UNITS
    state_units = _STATES
    sim_split_runaway = True
    sim_cpu_unroll = 2
    spike_states = ("V", "V_th")
    prepare = staticmethod(_prepare)
    scaled = staticmethod(_scaled)

    def __init__(self, in_size, R=20.0 * u.ohm, tau=20.0 * u.ms, V_rest=-70.0 * u.mV, V_reset=-70.0 * u.mV,
                 V_th_inf=-50.0 * u.mV, V_th_reset=-60.0 * u.mV, V_th_initializer=_Const(-50.0 * u.mV),
                 a=0.0 / u.ms, b=0.01 / u.ms, k1=0.2 / u.ms, k2=0.02 / u.ms, R1=0.0, R2=1.0,
                 A1=0.0 * u.mA, A2=0.0 * u.mA, V_initializer=_Const(-70.0 * u.mV),
                 I1_initializer=_Const(0.0 * u.mA), I2_initializer=_Const(0.0 * u.mA),
                 spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        r = _reset(s, c, spk(_scaled(s, c)), hard)
        new = _integrate(r, c, I, currents_after=True)
        return new, _scaled(new, c), r["V"]


class GifRef(Neuron):
    """Gif with absolute refractory period ``tau_ref`` (all states held while refractory)."""

    param_units = dict(_UNITS, tau_ref="ms")
    state_units = _STATES
    sim_split_runaway = True
    sim_cpu_unroll = 2
    spike_states = ("V", "V_th")
    has_refractory = True
    prepare = staticmethod(_prepare)
    scaled = staticmethod(_scaled)

    def __init__(self, in_size, R=20.0 * u.ohm, tau=20.0 * u.ms, tau_ref=1.7 * u.ms, V_rest=-70.0 * u.mV,
                 V_reset=-70.0 * u.mV, V_th_inf=-50.0 * u.mV, V_th_reset=-60.0 * u.mV,
                 V_th_initializer=_Const(-50.0 * u.mV), a=0.0 / u.ms, b=0.01 / u.ms, k1=0.2 / u.ms,
                 k2=0.02 / u.ms, R1=0.0, R2=1.0, A1=0.0 * u.mA, A2=0.0 * u.mA,
                 V_initializer=_Const(-70.0 * u.mV), I1_initializer=_Const(0.0 * u.mA),
                 I2_initializer=_Const(0.0 * u.mA), spk_fun=_ReluGrad(), spk_reset="soft",
                 ref_var=False, name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        r = _reset(s, c, spk(_scaled(s, c)), hard)
        cand = _integrate(r, c, I, currents_after=False)
        new = apply_refractory(r, cand, t, s["last_spike_time"], c["tau_ref"], None)
        return new, _scaled(new, c), r["V"]
