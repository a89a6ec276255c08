"""Exponential integrate-and-fire family: ExpIF, ExpIFRef, AdExIF, AdExIFRef.

The spike-initiation term ``delta_T * exp((V - V_T) / delta_T)`` uses the exponent
clamped at ``EXP_ARG_MAX`` (20) so it cannot overflow; below the clamp the equations are
the specification's.  With soft reset (the specification's default) these models can still
run away once ``V`` passes far beyond ``V_T``: fits should use ``spk_reset='hard'``.
"""

from __future__ import annotations

import braintools
import jax.numpy as jnp
import saiunit as u

from ._base import (EXP_ARG_MAX, Neuron, adaptation_step, apply_refractory, args_of, dt_phi, exp_euler,
                    exprel_fast, fires_by_sign, threshold_consts)
from ._base import integrate_w as _integrate_w, reset_v as _reset_v, scaled_v as _scaled

__all__ = ["ExpIF", "ExpIFRef", "AdExIF", "AdExIFRef"]

_ReluGrad = braintools.surrogate.ReluGrad
_Const = braintools.init.Constant




def _integrate_v(v, c, I, w=None):
    """Exponential-Euler step of ``tau dV/dt = -(V - V_rest) + delta_T e^((V-V_T)/delta_T) - R w + R I``."""
    e = jnp.exp(jnp.minimum((v - c["V_T"]) / c["delta_T"], EXP_ARG_MAX))
    drive = -(v - c["V_rest"]) + c["delta_T"] * e
    if w is not None:
        drive = drive - c["R"] * w
    f = (drive + c["R"] * I) / c["tau"]
    # df/dV, with the operations in the order of reverse-mode autodiff (as the reference's
    # exp_euler_step obtains it), so both round alike.
    inv_tau = 1.0 / c["tau"]
    J = ((c["delta_T"] * inv_tau) * e) / c["delta_T"] - inv_tau
    return exp_euler(v, f, dt_phi(c["dt"], J))



def _prepare(p, dt):
    c = dict(p, dt=dt)
    if "tau_w" in p:
        c["phi_w"] = dt_phi(dt, -1.0 / p["tau_w"])
    return c


# -- simulator path: same equations, parameter terms precomputed, no per-step division ----
def _sim_prepare(p, dt):
    inv_tau = 1.0 / p["tau"]
    c = dict(p, dt=dt, inv_dT=1.0 / p["delta_T"], dt_tau=dt * inv_tau)
    if "tau_w" in p:
        c["k_w"] = dt_phi(dt, -1.0 / p["tau_w"]) / p["tau_w"]
    c.update(threshold_consts(p["V_th"], p["V_th"] - p["V_reset"]))
    return c


def _sim_fires(s, c):
    return fires_by_sign(s["V"] - c["V_th"], c)


def _sim_integrate_v(v, c, I, w=None):
    """``v + dt exprel(dt J) f`` with ``f = g / tau``, ``J = (e - 1) / tau`` (as ``_integrate_v``)."""
    e = jnp.exp(jnp.minimum((v - c["V_T"]) * c["inv_dT"], EXP_ARG_MAX))
    g = c["delta_T"] * e - (v - c["V_rest"]) + c["R"] * (I if w is None else I - w)
    return v + (c["dt_tau"] * exprel_fast(c["dt_tau"] * (e - 1.0))) * g


def _sim_integrate_w(w, v, c):
    return w + c["k_w"] * (c["a"] * (v - c["V_rest"]) - w)


class _ExpBase(Neuron):
    prepare = staticmethod(_prepare)
    scaled = staticmethod(_scaled)
    sim_prepare = staticmethod(_sim_prepare)
    fires = staticmethod(_sim_fires)


class ExpIF(_ExpBase):
    """Exponential IF: ``tau dV/dt = -(V - V_rest) + delta_T exp((V - V_T)/delta_T) + R I``.

    Exponent clamped at 20; use ``spk_reset='hard'`` for fitting (soft reset can run away).
    """

    param_units = dict(R="GOhm", tau="ms", V_th="mV", V_reset="mV", V_rest="mV", V_T="mV", delta_T="mV")
    state_units = dict(V="mV")

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, V_th=-30.0 * u.mV, V_reset=-68.0 * u.mV,
                 V_rest=-65.0 * u.mV, V_T=-59.9 * u.mV, delta_T=3.48 * u.mV,
                 V_initializer=_Const(-65.0 * u.mV), spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = _reset_v(s, c, spk(_scaled(s, c)), hard)
        new = {"V": _integrate_v(v, c, I)}
        return new, _scaled(new, c), v

    @staticmethod
    def sim_step(s, c, I, t, sp, hard):
        v = _reset_v(s, c, sp, hard)
        return {"V": _sim_integrate_v(v, c, I)}, v


class ExpIFRef(_ExpBase):
    """ExpIF with absolute refractory period ``tau_ref`` (``ref_var=True`` keeps a ``refractory`` state)."""

    param_units = dict(R="GOhm", tau="ms", tau_ref="ms", V_th="mV", V_reset="mV", V_rest="mV",
                       V_T="mV", delta_T="mV")
    state_units = dict(V="mV")
    has_refractory = True

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, tau_ref=1.7 * u.ms, V_th=-30.0 * u.mV,
                 V_reset=-68.0 * u.mV, V_rest=-65.0 * u.mV, V_T=-59.9 * u.mV, delta_T=3.48 * u.mV,
                 V_initializer=_Const(-65.0 * u.mV), spk_fun=_ReluGrad(), spk_reset="soft",
                 ref_var=False, name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = _reset_v(s, c, spk(_scaled(s, c)), hard)
        new = apply_refractory({"V": v}, {"V": _integrate_v(v, c, I)}, t, s["last_spike_time"],
                               c["tau_ref"], c["V_th"])
        return new, _scaled(new, c), v

    @staticmethod
    def sim_step(s, c, I, t, sp, hard):
        v = _reset_v(s, c, sp, hard)
        new = apply_refractory({"V": v}, {"V": _sim_integrate_v(v, c, I)}, t, s["last_spike_time"],
                               c["tau_ref"], c["V_th"])
        return new, v


class AdExIF(_ExpBase):
    """Adaptive exponential IF (Brette & Gerstner 2005).

    ``tau dV/dt = -(V - V_rest) + delta_T exp((V - V_T)/delta_T) - R w + R I``,
    ``tau_w dw/dt = a (V - V_rest) - w``; on a spike ``V`` resets and ``w += b``.
    Exponent clamped at 20; use ``spk_reset='hard'`` for fitting.
    """

    param_units = dict(R="GOhm", tau="ms", tau_w="ms", V_th="mV", V_reset="mV", V_rest="mV",
                       V_T="mV", delta_T="mV", a="nS", b="pA")
    state_units = dict(V="mV", w="pA")
    sim_packed = True

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, tau_w=30.0 * u.ms, V_th=-55.0 * u.mV,
                 V_reset=-68.0 * u.mV, V_rest=-65.0 * u.mV, V_T=-59.9 * u.mV, delta_T=3.48 * u.mV,
                 a=1.0 * u.siemens, b=1.0 * u.mA, V_initializer=_Const(-65.0 * u.mV),
                 w_initializer=_Const(0.0 * u.mA), spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        new, v = adaptation_step(s, c, spk(_scaled(s, c)), hard, I, t, _integrate_v, _integrate_w, False)
        return new, _scaled(new, c), v

    @staticmethod
    def sim_step(s, c, I, t, sp, hard):
        return adaptation_step(s, c, sp, hard, I, t, _sim_integrate_v, _sim_integrate_w, False)


class AdExIFRef(_ExpBase):
    """AdExIF with absolute refractory period ``tau_ref`` (``V`` and ``w`` held while refractory)."""

    param_units = dict(R="GOhm", tau="ms", tau_w="ms", tau_ref="ms", V_th="mV", V_reset="mV",
                       V_rest="mV", V_T="mV", delta_T="mV", a="nS", b="pA")
    state_units = dict(V="mV", w="pA")
    sim_packed = True
    has_refractory = True

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, tau_w=30.0 * u.ms, tau_ref=1.7 * u.ms,
                 V_th=-55.0 * u.mV, V_reset=-68.0 * u.mV, V_rest=-65.0 * u.mV, V_T=-59.9 * u.mV,
                 delta_T=3.48 * u.mV, a=1.0 * u.siemens, b=1.0 * u.mA,
                 V_initializer=_Const(-65.0 * u.mV), w_initializer=_Const(0.0 * u.mA),
                 spk_fun=_ReluGrad(), spk_reset="soft", ref_var=False, name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        new, v = adaptation_step(s, c, spk(_scaled(s, c)), hard, I, t, _integrate_v, _integrate_w, True)
        return new, _scaled(new, c), v

    @staticmethod
    def sim_step(s, c, I, t, sp, hard):
        return adaptation_step(s, c, sp, hard, I, t, _sim_integrate_v, _sim_integrate_w, True)
