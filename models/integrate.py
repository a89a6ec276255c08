"""Linear integrate-and-fire family: IF, LIF, LIFRef, ALIF.

Units of the plain step functions: ``UNIT_SYSTEM`` (mV, ms, pA, GOhm).  All use exponential
Euler, which is exact for these linear ODEs between spikes.
"""

from __future__ import annotations

import braintools
import jax
import saiunit as u

from ._base import Neuron, apply_refractory, args_of, dt_phi, exp_euler

__all__ = ["IF", "LIF", "LIFRef", "ALIF"]

_ReluGrad = braintools.surrogate.ReluGrad
_Const = braintools.init.Constant


def _threshold(s, c, hard):
    """Value subtracted on a spike: ``V_th`` (soft) or the pre-spike ``V`` (hard)."""
    return jax.lax.stop_gradient(s["V"]) if hard else c["V_th"]


def _lif_prepare(p, dt):
    return dict(p, dt=dt, phi_V=dt_phi(dt, -1.0 / p["tau"]))


def _lif_scaled(s, c):
    return (s["V"] - c["V_th"]) / (c["V_th"] - c["V_reset"])


def _lif_integrate(v, c, I):
    return exp_euler(v, (-v + c["V_rest"] + c["R"] * I) / c["tau"], c["phi_V"])


class IF(Neuron):
    """Integrate-and-fire neuron: ``tau dV/dt = -V + R I``; spike when ``V >= V_th``.

    Soft reset subtracts ``V_th``; hard reset sets ``V`` to 0.
    """

    param_units = dict(R="GOhm", tau="ms", V_th="mV")
    state_units = dict(V="mV")

    def __init__(self, in_size, R=1.0 * u.ohm, tau=5.0 * u.ms, V_th=1.0 * u.mV,
                 V_initializer=_Const(0.0 * u.mV), spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def prepare(p, dt):
        return dict(p, dt=dt, phi_V=dt_phi(dt, -1.0 / p["tau"]))

    @staticmethod
    def scaled(s, c):
        return (s["V"] - c["V_th"]) / c["V_th"]

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = s["V"] - _threshold(s, c, hard) * spk(IF.scaled(s, c))
        new = {"V": exp_euler(v, (-v + c["R"] * I) / c["tau"], c["phi_V"])}
        return new, IF.scaled(new, c), v


class LIF(Neuron):
    """Leaky integrate-and-fire: ``tau dV/dt = -(V - V_rest) + R I``; reset to ``V_reset``."""

    param_units = dict(R="GOhm", tau="ms", V_th="mV", V_reset="mV", V_rest="mV")
    state_units = dict(V="mV")
    prepare = staticmethod(_lif_prepare)
    scaled = staticmethod(_lif_scaled)

    def __init__(self, in_size, R=1.0 * u.ohm, tau=5.0 * u.ms, V_th=1.0 * u.mV, V_reset=0.0 * u.mV,
                 V_rest=0.0 * u.mV, V_initializer=_Const(0.0 * u.mV), spk_fun=_ReluGrad(),
                 spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = s["V"] - (_threshold(s, c, hard) - c["V_reset"]) * spk(_lif_scaled(s, c))
        new = {"V": _lif_integrate(v, c, I)}
        return new, _lif_scaled(new, c), v


class LIFRef(Neuron):
    """LIF with an absolute refractory period ``tau_ref`` during which ``V`` is held."""

    param_units = dict(R="GOhm", tau="ms", tau_ref="ms", V_th="mV", V_reset="mV", V_rest="mV")
    state_units = dict(V="mV")
    has_refractory = True
    prepare = staticmethod(_lif_prepare)
    scaled = staticmethod(_lif_scaled)

    def __init__(self, in_size, R=1.0 * u.ohm, tau=5.0 * u.ms, tau_ref=5.0 * u.ms, V_th=1.0 * u.mV,
                 V_reset=0.0 * u.mV, V_rest=0.0 * u.mV, V_initializer=_Const(0.0 * u.mV),
                 spk_fun=_ReluGrad(), spk_reset="soft", name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def step(s, c, I, t, spk, hard):
        v = s["V"] - (_threshold(s, c, hard) - c["V_reset"]) * spk(_lif_scaled(s, c))
        new = apply_refractory({"V": v}, {"V": _lif_integrate(v, c, I)}, t, s["last_spike_time"],
                               c["tau_ref"], c["V_th"])
        return new, _lif_scaled(new, c), v


class ALIF(Neuron):
    """Adaptive LIF: threshold ``V_th + beta * a``; ``a`` jumps by 1 per spike and decays with ``tau_a``."""

    param_units = dict(R="GOhm", tau="ms", tau_a="ms", V_th="mV", V_reset="mV", V_rest="mV", beta="mV")
    state_units = dict(V="mV", a="1")
    spike_states = ("V", "a")

    def __init__(self, in_size, R=1.0 * u.ohm, tau=5.0 * u.ms, tau_a=100.0 * u.ms, V_th=1.0 * u.mV,
                 V_reset=0.0 * u.mV, V_rest=0.0 * u.mV, beta=0.1 * u.mV, spk_fun=_ReluGrad(),
                 spk_reset="soft", V_initializer=_Const(0.0 * u.mV), a_initializer=_Const(0.0), name=None):
        super().__init__(**args_of(locals()))

    @staticmethod
    def prepare(p, dt):
        return dict(_lif_prepare(p, dt), phi_a=dt_phi(dt, -1.0 / p["tau_a"]))

    @staticmethod
    def scaled(s, c):
        return (s["V"] - c["V_th"] - c["beta"] * s["a"]) / (c["V_th"] - c["V_reset"])

    @staticmethod
    def step(s, c, I, t, spk, hard):
        sp = spk(ALIF.scaled(s, c))
        v = s["V"] - (_threshold(s, c, hard) - c["V_reset"]) * sp
        a = s["a"] + sp
        new = {"V": _lif_integrate(v, c, I), "a": exp_euler(a, -a / c["tau_a"], c["phi_a"])}
        return new, ALIF.scaled(new, c), v
