"""Quadratic integrate-and-fire family: QuaIF, AdQuaIF, AdQuaIFRef."""

from __future__ import annotations

import braintools
import saiunit as u

from ._base import Neuron, adaptation_step, args_of, dt_phi, exp_euler, exprel_fast
from ._base import integrate_w as _integrate_w, reset_v as _reset_v, scaled_v as _scaled

__all__ = ["QuaIF", "AdQuaIF", "AdQuaIFRef"]

_ReluGrad = braintools.surrogate.ReluGrad
_Const = braintools.init.Constant



def _prepare(p, dt):
    c = dict(p, dt=dt)
    if "tau_w" in p:
        c["phi_w"] = dt_phi(dt, -1.0 / p["tau_w"])
    return c



def _integrate_v(v, c, I, w=None, phi=dt_phi):
    """Exponential-Euler step of ``tau dV/dt = c (V - V_rest)(V - V_c) - R w + R I``."""
    drive = c["c"] * (v - c["V_rest"]) * (v - c["V_c"])
    if w is not None:
        drive = drive - c["R"] * w
    f = (drive + c["R"] * I) / c["tau"]
    # df/dV in the operation order of reverse-mode autodiff (as the reference obtains it).
    inv_tau = 1.0 / c["tau"]
    J = c["c"] * (inv_tau * (v - c["V_c"])) + (c["c"] * (v - c["V_rest"])) * inv_tau
    return exp_euler(v, f, phi(c["dt"], J))


# -- simulator path (both engines): ``exprel`` from ``exp`` (``exprel_fast``, as the exponential
# family; agrees with saiunit's ``exprel`` to a few ulp, which has no Triton lowering) -------
def _sim_integrate_v(v, c, I, w=None):
    return _integrate_v(v, c, I, w, phi=lambda dt, J: dt * exprel_fast(dt * J))



class _QuaBase(Neuron):
    prepare = staticmethod(_prepare)
    scaled = staticmethod(_scaled)

    @classmethod
    def sim_step(cls, s, c, I, t, sp, hard):
        if "w" not in cls.state_units:
            v = _reset_v(s, c, sp, hard)
            return {"V": _sim_integrate_v(v, c, I)}, v
        return adaptation_step(s, c, sp, hard, I, t, _sim_integrate_v, _integrate_w, cls.has_refractory)


class QuaIF(_QuaBase):
    """Quadratic IF: ``tau dV/dt = c (V - V_rest)(V - V_c) + R I``."""

    param_units = dict(R="GOhm", tau="ms", V_th="mV", V_reset="mV", V_rest="mV", V_c="mV", c="1/mV")
    state_units = dict(V="mV")

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, V_th=-30.0 * u.mV, V_reset=-68.0 * u.mV,
                 V_rest=-65.0 * u.mV, V_c=-50.0 * u.mV, c=0.07 / u.mV,
                 V_initializer=_Const(-65.0 * u.mV), spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = _reset_v(s, c, spk(_scaled(s, c)), hard)
        new = {"V": _integrate_v(v, c, I)}
        return new, _scaled(new, c), v


class AdQuaIF(_QuaBase):
    """Adaptive quadratic IF: QuaIF with ``- R w``; ``tau_w dw/dt = a (V - V_rest) - w``, ``w += b`` per spike."""

    param_units = dict(R="GOhm", tau="ms", tau_w="ms", V_th="mV", V_reset="mV", V_rest="mV", V_c="mV",
                       c="1/mV", a="nS", b="pA")
    state_units = dict(V="mV", w="pA")

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, tau_w=10.0 * u.ms, V_th=-30.0 * u.mV,
                 V_reset=-68.0 * u.mV, V_rest=-65.0 * u.mV, V_c=-50.0 * u.mV, c=0.07 / u.mV,
                 a=1.0 * u.siemens, b=0.1 * u.mA, V_initializer=_Const(-65.0 * u.mV),
                 w_initializer=_Const(0.0 * u.mA), spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        new, v = adaptation_step(s, c, spk(_scaled(s, c)), hard, I, t, _integrate_v, _integrate_w, False)
        return new, _scaled(new, c), v


class AdQuaIFRef(_QuaBase):
    """AdQuaIF with absolute refractory period ``tau_ref``."""

    param_units = dict(R="GOhm", tau="ms", tau_w="ms", tau_ref="ms", V_th="mV", V_reset="mV",
                       V_rest="mV", V_c="mV", c="1/mV", a="nS", b="pA")
    state_units = dict(V="mV", w="pA")
    has_refractory = True

    def __init__(self, in_size, R=1.0 * u.ohm, tau=10.0 * u.ms, tau_w=10.0 * u.ms, tau_ref=1.7 * u.ms,
                 V_th=-30.0 * u.mV, V_reset=-68.0 * u.mV, V_rest=-65.0 * u.mV, V_c=-50.0 * u.mV,
                 c=0.07 / u.mV, a=1.0 * u.siemens, b=0.1 * u.mA, V_initializer=_Const(-65.0 * u.mV),
                 w_initializer=_Const(0.0 * u.mA), spk_fun=_ReluGrad(), spk_reset="soft",
                 ref_var=False, name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        new, v = adaptation_step(s, c, spk(_scaled(s, c)), hard, I, t, _integrate_v, _integrate_w, True)
        return new, _scaled(new, c), v
