"""Shared neuron base: parameter/state handling around one pure step function per model.

Each model class declares its parameters (name -> unit key of ``UNIT_SYSTEM``), its state
variables, and three pure functions on plain arrays in the unit system:

``prepare(p, dt) -> c``
    constants of one time step (parameters plus the exponential-Euler factors of the
    linear parts), computed once per call / once per simulation;
``scaled(s, c) -> z``
    the scaled distance to threshold; a spike is ``z >= 0``;
``step(s, c, I, t, spk, hard) -> (s_new, z_new, v_post_reset)``
    one time step from state ``s`` with input current ``I`` (pA) at time ``t`` (ms);
    ``spk`` maps ``z`` to the spike value (the surrogate function in the object API, a
    Heaviside step in the simulator) and ``hard`` selects the reset.

The same ``step`` drives ``Neuron.update`` and the scan body of ``models.simulator``, so
the two agree by construction.
"""

from __future__ import annotations

import inspect
from typing import Callable

import braintools
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

from .units import to_plain, unit_of

__all__ = ["Neuron", "exp_euler", "heaviside", "EXP_ARG_MAX", "threshold_consts", "fires_by_sign"]

#: The exponent ``(V - V_T) / delta_T`` of the exponential models is clamped at this value.
EXP_ARG_MAX = 20.0

#: Initial ``last_spike_time`` (ms): far in the past, as in the specification.
NEVER_SPIKED = -1e7


def exp_euler(x, f, dt_phi):
    """Exponential-Euler update ``x + dt * exprel(dt * J) * f`` with ``dt_phi = dt * exprel(dt*J)``.

    This is what ``brainstate.nn.exp_euler_step`` computes for a scalar ODE ``dx/dt = f(x)``
    with ``J = df/dx`` evaluated at ``x``; the product is formed in the same order.
    """
    return x + dt_phi * f


def dt_phi(dt, J):
    """``dt * exprel(dt * J)``: the exponential-Euler step factor for Jacobian ``J``."""
    return dt * u.math.exprel(dt * J)


def heaviside(z):
    """Spike value used by the simulator: ``1`` where ``z >= 0`` (as the surrogates' forward pass)."""
    return (z >= 0).astype(z.dtype)


def threshold_consts(V_th, den):
    """Constants that decide ``(V - V_th) / den >= 0`` without a division (simulator path).

    For finite nonzero ``den`` the quotient's sign is ``sign(V - V_th) * sign(den)``, except
    when it underflows to ``-0`` (which compares ``>= 0``).  If ``V - V_th != 0`` then
    ``|V - V_th| >= |V_th| * eps / 4`` (both operands are multiples of the ulp of
    ``|V_th| / 2`` when the subtraction is not trivially large), so the quotient cannot
    underflow when ``|V_th| >= F * max(|den|, 1)`` with ``F = 16 * tiny / eps``.  Neurons
    where this holds (``ok``) use ``(V - V_th) * sgn >= 0``, bit-for-bit the same decision;
    the others keep the division.  With concrete (fixed) ``V_th`` and ``den`` the check is
    done at trace time and, when it holds for all neurons, no division is emitted at all.

    Returns ``{"thr_sgn", "thr_den", "thr_ok"}``; ``thr_ok`` is the Python ``True`` when
    known to hold everywhere.
    """
    static = all(isinstance(x, (int, float, np.ndarray, np.generic)) for x in (V_th, den))
    xp = np if static else jnp
    dtype = np.result_type(den) if static else den.dtype
    fi = np.finfo(dtype)
    F = np.asarray(16 * fi.tiny / fi.eps, dtype)
    a = xp.abs(den)
    ok = xp.isfinite(a) & (a > 0) & (xp.abs(V_th) >= F * xp.maximum(a, 1))
    sgn = xp.where(den > 0, 1, -1).astype(dtype)
    if static and bool(np.all(ok)):
        ok = True
    return {"thr_sgn": sgn, "thr_den": den, "thr_ok": ok}


def fires_by_sign(num, c):
    """``num / c["thr_den"] >= 0`` exactly, as a sign test where ``threshold_consts`` allows."""
    by_sign = num * c["thr_sgn"] >= 0
    if c["thr_ok"] is True:
        return by_sign
    return jnp.where(c["thr_ok"], by_sign, num / c["thr_den"] >= 0)


def exprel_fast(x):
    """``(exp(x) - 1) / x`` from ``exp`` (cheaper than ``expm1`` on CPU): a Taylor polynomial
    for ``|x| < 1/2`` (truncation below the dtype's rounding), ``(exp(x) - 1) / x`` beyond,
    where ``exp(x) - 1`` has no cancellation (|exp(x) - 1| > 0.39).  Agrees with
    ``saiunit.math.exprel`` to a few ulp."""
    order = 9 if x.dtype == jnp.float32 else 17
    poly = jnp.ones_like(x)
    for k in range(order, 0, -1):  # sum_{n<=order} x^n / (n+1)!  (Horner)
        poly = 1.0 + poly * x / (k + 1)
    big = jnp.abs(x) >= 0.5
    xs = jnp.where(big, x, 1.0)
    return jnp.where(big, (jnp.exp(xs) - 1.0) / xs, poly)


def _float(x):
    return jnp.asarray(x, dtype=brainstate.environ.dftype())


class Neuron(brainstate.nn.Dynamics):
    """Base class of the 13 models (object API of the specification).

    Subclasses set ``param_units`` (parameter -> unit key), ``state_units`` (state ->
    unit key; initialised by the ``<state>_initializer`` argument), ``spike_states``
    (state arguments of ``get_spike``), ``has_refractory`` and the static ``prepare``,
    ``scaled``, ``step`` functions.  Currents registered on the module
    (``add_current_input``) are not supported: pass the total current to ``update``.
    """

    param_units: dict[str, str] = {}
    state_units: dict[str, str] = {}
    spike_states: tuple[str, ...] = ("V",)
    has_refractory: bool = False

    prepare: Callable
    scaled: Callable
    step: Callable

    # -- simulator path ---------------------------------------------------------------------
    # ``sim_prepare(p, dt) -> c`` (once per call, outside the time loop),
    # ``sim_step(s, c, I, t, sp, hard) -> (s_new, v_post_reset)`` with the spike value ``sp``
    # (0/1) of the state ``s`` already decided, and ``fires(s, c) -> bool`` (``scaled >= 0``).
    # Defaults: the object API's functions.  Families override them with the same equations
    # on precomputed parameter terms (reciprocals, merged step factors) and division-free
    # spike tests; they agree with ``step`` to rounding (tests/test_simulator.py).
    #
    # Loop-layout hints for XLA:CPU (no effect on results, nor on accelerators):
    # ``sim_packed`` carries the state two variables per complex number, so one kernel writes
    # the whole new state (worth it when the step has expensive shared terms, e.g. the exps
    # of AdExIF); ``sim_split_runaway`` keeps the runaway flags in their own small kernel
    # (worth it when the spike test is costly, e.g. a division by a state-dependent term);
    # ``sim_cpu_unroll`` was the default inner-loop unroll on CPU (no longer read: the
    # simulator's CPU loop runs best unrolled once for every model, ``default_unroll``).
    sim_packed: bool = False
    sim_split_runaway: bool = False
    sim_cpu_unroll: int = 1

    @classmethod
    def sim_prepare(cls, p, dt):
        return cls.prepare(p, dt)

    @classmethod
    def sim_step(cls, s, c, I, t, sp, hard):
        new, _, v = cls.step(s, c, I, t, lambda z: sp, hard)
        return new, v

    @classmethod
    def fires(cls, s, c):
        return cls.scaled(s, c) >= 0

    def __init__(self, in_size, *, spk_fun, spk_reset, name, ref_var=False, **kwargs):
        super().__init__(in_size=in_size, name=name)
        if spk_reset not in ("soft", "hard"):
            raise ValueError(f"{type(self).__name__}: spk_reset must be 'soft' or 'hard', got {spk_reset!r}")
        if not callable(spk_fun):
            raise TypeError(f"{type(self).__name__}: spk_fun must be callable, got {spk_fun!r}")
        self.spk_fun = spk_fun
        self.spk_reset = spk_reset
        self.ref_var = bool(ref_var)
        where = type(self).__name__
        for pname, key in self.param_units.items():
            value = braintools.init.param(kwargs.pop(pname), self.varshape)
            to_plain(pname, value, key, where=where)  # validates the unit now, not at the first step
            setattr(self, pname, value)
        for sname in self.state_units:
            setattr(self, f"{sname}_initializer", kwargs.pop(f"{sname}_initializer"))
        if kwargs:
            raise TypeError(f"{where}: unexpected arguments {sorted(kwargs)}")

    # -- definitions shared with the simulator ----------------------------------------------
    @classmethod
    def default_params(cls) -> dict[str, float]:
        """Specification defaults of the parameters, converted to ``UNIT_SYSTEM`` floats."""
        sig = inspect.signature(cls.__init__).parameters
        return {n: float(to_plain(n, sig[n].default, k, where=cls.__name__)) for n, k in cls.param_units.items()}

    @classmethod
    def default_initial_state(cls) -> dict[str, float]:
        """Specification initial values of the state variables in ``UNIT_SYSTEM`` floats."""
        sig = inspect.signature(cls.__init__).parameters
        out = {}
        for sname, key in cls.state_units.items():
            init = sig[f"{sname}_initializer"].default
            out[sname] = float(to_plain(sname, init(()), key, where=cls.__name__))
        if cls.has_refractory:
            out["last_spike_time"] = NEVER_SPIKED
        return out

    # -- object API -------------------------------------------------------------------------
    def _init_values(self, batch_size):
        where = type(self).__name__
        vals = {}
        for sname, key in self.state_units.items():
            init = getattr(self, f"{sname}_initializer")
            raw = braintools.init.param(init, self.varshape, batch_size)
            plain = _float(to_plain(f"{sname}_initializer", raw, key, where=where))
            vals[sname] = plain if unit_of(key) is None else u.Quantity(plain, unit=unit_of(key))
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        if self.has_refractory:
            vals["last_spike_time"] = u.Quantity(jnp.full(shape, NEVER_SPIKED, brainstate.environ.dftype()), unit=u.ms)
            if self.ref_var:
                vals["refractory"] = jnp.zeros(shape, dtype=bool)
        return vals

    def init_state(self, batch_size: int = None, **kwargs):
        """Create the state variables (shape ``varshape`` or ``(batch_size, *varshape)``)."""
        for k, v in self._init_values(batch_size).items():
            cls = brainstate.ShortTermState if k == "last_spike_time" else brainstate.HiddenState
            setattr(self, k, cls(v))

    def reset_state(self, batch_size: int = None, **kwargs):
        """Set the state variables back to their initial values."""
        for k, v in self._init_values(batch_size).items():
            getattr(self, k).value = v

    def _plain_consts(self):
        where = type(self).__name__
        p = {n: _float(to_plain(n, getattr(self, n), k, where=where)) for n, k in self.param_units.items()}
        dt = _float(to_plain("dt", brainstate.environ.get_dt(), "ms", where="brainstate.environ"))
        return type(self).prepare(p, dt)

    def _plain_state(self):
        s = {}
        for sname, key in self.state_units.items():
            val = getattr(self, sname).value
            s[sname] = _float(val if unit_of(key) is None else to_plain(sname, val, key))
        if self.has_refractory:
            s["last_spike_time"] = _float(to_plain("last_spike_time", self.last_spike_time.value, "ms"))
        return s

    def get_spike(self, *states):
        """Spike output ``spk_fun(scaled distance to threshold)`` of the current (or given) state."""
        s = self._plain_state()
        for name, val in zip(self.spike_states, states):
            if val is not None:
                key = self.state_units[name]
                s[name] = _float(val if unit_of(key) is None else to_plain(name, val, key))
        return self.spk_fun(type(self).scaled(s, self._plain_consts()))

    def update(self, x=0.0 * u.mA):
        """Advance one step ``dt`` with input current ``x``; return the spike output."""
        c = self._plain_consts()
        I = _float(to_plain("x", x, "pA", where=f"{type(self).__name__}.update"))
        t = None
        if self.has_refractory:
            t = _float(to_plain("t", brainstate.environ.get("t"), "ms", where="brainstate.environ"))
        new, z, _ = type(self).step(self._plain_state(), c, I, t, self.spk_fun, self.spk_reset == "hard")
        for sname, key in self.state_units.items():
            getattr(self, sname).value = new[sname] if unit_of(key) is None else u.Quantity(new[sname], unit=unit_of(key))
        if self.has_refractory:
            self.last_spike_time.value = u.Quantity(jax.lax.stop_gradient(new["last_spike_time"]), unit=u.ms)
            if self.ref_var:
                self.refractory.value = jax.lax.stop_gradient(new["refractory"])
        return self.spk_fun(z)


def args_of(local_vars: dict) -> dict:
    """The constructor arguments from a subclass ``__init__``'s ``locals()``."""
    return {k: v for k, v in local_vars.items() if k not in ("self", "__class__")}


def apply_refractory(reset: dict, candidate: dict, t, last_spike_time, tau_ref, V_th) -> dict:
    """Refractory rule of the ``*Ref`` models.

    While ``t - last_spike_time < tau_ref`` every state keeps its post-reset value, otherwise
    it takes the integrated candidate; a new spike time is stored where ``V >= V_th``.
    """
    refr = (t - last_spike_time) < tau_ref
    new = {k: jnp.where(refr, reset[k], candidate[k]) for k in candidate}
    th = new["V_th"] if V_th is None else V_th  # None: threshold is a state (GifRef)
    new["last_spike_time"] = record_spike_time(new["V"], th, t, last_spike_time)
    new["refractory"] = jnp.logical_or(refr, new["V"] >= th)
    return new


def record_spike_time(V, V_th, t, last_spike_time):
    """The refractory models' spike record: ``t`` where the new ``V >= V_th``, else unchanged.
    (The simulator applies it to the new state on its own, so that its kernel shares nothing
    with the state update.)"""
    return jnp.where(V >= V_th, t, last_spike_time)


# -- pieces shared by the exponential and quadratic families -------------------------------
def scaled_v(s, c):
    """The specification's surrogate argument ``(V - V_th) / (V_th - V_reset)``."""
    return (s["V"] - c["V_th"]) / (c["V_th"] - c["V_reset"])


def reset_v(s, c, sp, hard):
    """``V`` after the reset of a spike ``sp`` (hard: to ``V_reset``; soft: down by ``V_th - V_reset``)."""
    thr = jax.lax.stop_gradient(s["V"]) if hard else c["V_th"]
    return s["V"] - (thr - c["V_reset"]) * sp


def integrate_w(w, v, c):
    """Exponential-Euler step of ``tau_w dw/dt = a (V - V_rest) - w``."""
    return exp_euler(w, (c["a"] * (v - c["V_rest"]) - w) / c["tau_w"], c["phi_w"])


def adaptation_step(s, c, sp, hard, I, t, integrate_v, integrate_w_fn, refractory: bool):
    """One step of an adaptive model (AdEx, AdQua): reset, ``w += b`` per spike, then ``V`` and
    ``w``; with ``refractory`` both are held within ``tau_ref``. Returns (new state, reset V)."""
    v = reset_v(s, c, sp, hard)
    w = s["w"] + c["b"] * sp
    V = integrate_v(v, c, I, w)
    new = {"V": V, "w": integrate_w_fn(w, V, c)}
    if refractory:
        new = apply_refractory({"V": v, "w": w}, new, t, s["last_spike_time"], c["tau_ref"], c["V_th"])
    return new, v
