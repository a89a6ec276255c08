"""Batched functional simulator: P parameter sets x S sweeps x T steps in one jitted call.

All values are plain floats in ``UNIT_SYSTEM`` (ms, mV, pA, GOhm, nS, 1/ms, ...); saiunit
Quantities given as parameters are converted (``UnitError`` on a wrong dimension).  The
time loop is a ``lax.scan`` over the model's own ``step`` function (the one its object API
uses), on a state of shape ``[P, S]``.

Time convention: step ``i`` (0-based) consumes ``current[:, i]`` at time ``t = i * dt`` and
produces the spike reported as step ``i`` (spike time ``i * dt``), exactly as calling
``update`` of the object API at ``t = i * dt``.
"""

from __future__ import annotations

import functools
from typing import Mapping, NamedTuple, Sequence

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from .registry import get_model
from .units import to_plain

__all__ = ["Simulator", "SimResult", "simulate"]

#: |V| (mV) beyond which a post-reset membrane potential counts as a runaway.
V_RUNAWAY = 1e4

#: Steps per chunk: spikes of a chunk are packed in one uint32 word per neuron and
#: compacted into ``spike_steps`` once per chunk (one scatter per spike rank, not per step).
CHUNK = 32


class SimResult(NamedTuple):
    """Output of ``Simulator``: spike steps ``[P, S, K]`` (ascending, padded with -1),
    true counts ``[P, S]``, ``overflow`` (count > K) ``[P, S]``, ``diverged`` ``[P]``,
    and ``V`` ``[P, S, T]`` in mV when recorded (else ``None``)."""

    spike_steps: jax.Array
    n_spikes: jax.Array
    overflow: jax.Array
    diverged: jax.Array
    V: jax.Array | None


_TRACES: dict[tuple, int] = {}  # cache key -> number of times it was traced (tests count recompiles)


@functools.lru_cache(maxsize=256)
def _compiled(model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name):
    """One jitted function per static configuration; JAX caches it per input shape."""
    cls = get_model(model_name)
    fixed = dict(fixed_items)
    init = dict(init_items)
    key = (model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name)
    dtype = jnp.dtype(dtype_name)

    def run(free_vals, current):
        _TRACES[key] = _TRACES.get(key, 0) + 1
        P = free_vals[free[0]].shape[0] if free else 1
        S, T = current.shape
        # fixed values as dtype constants (no float64 promotion, trace-time constant folding)
        p = {k: np.asarray(v, dtype) for k, v in fixed.items()}
        # flat [P*S] layout (index p*S + s): contiguous, vectorises better than [P, S] with small S
        p.update({k: jnp.repeat(jnp.asarray(free_vals[k], dtype), S) for k in free})
        dt_ = np.asarray(dt, dtype)
        c = cls.sim_prepare(p, dt_)
        state = {k: jnp.full((P * S,), np.asarray(v, dtype)) for k, v in init.items()}
        sp0 = jnp.broadcast_to(cls.fires(state, c), (P * S,))
        K = max_spikes
        buf = jnp.full((P * S, K), -1, jnp.int32)
        n = jnp.zeros((P * S,), jnp.int32)
        bad = jnp.zeros((P * S,), bool)
        rows = jnp.arange(P * S, dtype=jnp.int32)
        one, zero = np.asarray(1, dtype), np.asarray(0, dtype)

        def advance(s, sp, bad, i, I):
            # ``sp``: spike of the state ``s`` (decided at the end of the previous step)
            t = i.astype(dtype) * dt_ if cls.has_refractory else None
            new, v_post = cls.sim_step(s, c, jnp.tile(I, P), t, jnp.where(sp, one, zero), hard)
            bad = bad | ~(jnp.abs(v_post) <= V_RUNAWAY)
            new = {k: new[k] for k in s}
            return new, cls.fires(new, c), bad, new["V"]

        def record(buf, n, spike, value):
            slot = jnp.where(spike, n, K)  # K is out of range: dropped (still counted in n)
            buf = buf.at[rows, slot].set(value, mode="drop", unique_indices=True)
            return buf, n + spike.astype(jnp.int32)

        def step_body(carry, xs):  # one step, spike written at once (remainder steps)
            s, sp, n, buf, bad = carry
            i, I = xs
            s, sp, bad, V = advance(s, sp, bad, i, I)
            buf, n = record(buf, n, sp, i)
            return (s, sp, n, buf, bad), (V if record_v else None)

        def chunk_body(carry, xs):  # CHUNK steps; spikes packed in a bit word, compacted after
            s, sp, n, buf, bad = carry
            ii, II = xs

            def inner(c2, x2):
                s, sp, word, bad = c2
                j, i, I = x2
                s, sp, bad, V = advance(s, sp, bad, i, I)
                word = word | (sp.astype(jnp.uint32) << j)
                return (s, sp, word, bad), (V if record_v else None)

            js = jnp.arange(CHUNK, dtype=jnp.uint32)
            (s, sp, word, bad), Vs = jax.lax.scan(inner, (s, sp, jnp.zeros((P * S,), jnp.uint32), bad),
                                                  (js, ii, II), unroll=unroll)

            def extract(c3):
                word, n, buf = c3
                has = word != 0
                low = word & (~word + jnp.uint32(1))
                pos = (31 - jax.lax.clz(low)).astype(jnp.int32)
                buf, n = record(buf, n, has, ii[0] + pos)
                return word & (word - jnp.uint32(1)), n, buf

            _, n, buf = jax.lax.while_loop(lambda c3: jnp.any(c3[0] != 0), extract, (word, n, buf))
            return (s, sp, n, buf, bad), Vs

        steps = jnp.arange(T, dtype=jnp.int32)
        cur = jnp.asarray(current, dtype).T
        n_chunks, rem = divmod(T, CHUNK)
        carry = (state, sp0, n, buf, bad)
        outs = []
        if n_chunks:
            xs = (steps[: n_chunks * CHUNK].reshape(n_chunks, CHUNK), cur[: n_chunks * CHUNK].reshape(n_chunks, CHUNK, S))
            carry, Vc = jax.lax.scan(chunk_body, carry, xs)
            outs.append(None if Vc is None else Vc.reshape(n_chunks * CHUNK, P * S))
        if rem:
            carry, Vr = jax.lax.scan(step_body, carry, (steps[n_chunks * CHUNK:], cur[n_chunks * CHUNK:]))
            outs.append(Vr)
        s, _, n, buf, bad = carry
        Vs = jnp.concatenate(outs) if record_v else None
        for v in s.values():
            bad = bad | ~jnp.isfinite(v)
        V = None if Vs is None else jnp.transpose(Vs.reshape(T, P, S), (1, 2, 0))
        n = n.reshape(P, S)
        return SimResult(buf.reshape(P, S, K), n, n > K, bad.reshape(P, S).any(axis=1), V)

    return jax.jit(run)


class Simulator:
    """Simulate P parameter sets of one model on S input sweeps, compiled once.

    Parameters
    ----------
    model : str or model class
        One of ``MODEL_NAMES``.
    free : sequence of str
        Parameters passed per call as arrays of shape ``[P]`` (traced; new values never
        recompile).
    fixed : mapping, optional
        Parameter values baked into the compiled function (floats in ``UNIT_SYSTEM`` or
        Quantities).  Parameters neither free nor fixed take the specification defaults.
    dt : float or Quantity
        Time step (ms).
    spk_reset : {'hard', 'soft'}
        Reset mode (``'hard'`` for fitting; exponential models can run away with soft reset).
    max_spikes : int
        K, the capacity of ``spike_steps`` per (parameter set, sweep).
    record_v : bool
        Also return ``V`` ``[P, S, T]`` (mV).
    init : mapping, optional
        Initial state values (e.g. ``{"V": -70.0}``); default: the specification's.
    unroll : int
        ``lax.scan`` unroll factor.
    """

    def __init__(self, model, free: Sequence[str] = (), fixed: Mapping | None = None, *, dt,
                 spk_reset: str = "hard", max_spikes: int = 64, record_v: bool = False,
                 init: Mapping | None = None, unroll: int = 2):
        cls = get_model(model)
        units = cls.param_units
        self.model = cls.__name__
        self.free = tuple(free)
        for name in self.free:
            if name not in units:
                raise ValueError(f"{self.model}: unknown free parameter {name!r}; expected one of {sorted(units)}")
        fixed = dict(fixed or {})
        for name in fixed:
            if name not in units:
                raise ValueError(f"{self.model}: unknown fixed parameter {name!r}; expected one of {sorted(units)}")
            if name in self.free:
                raise ValueError(f"{self.model}: parameter {name!r} is both free and fixed")
        if spk_reset not in ("soft", "hard"):
            raise ValueError(f"spk_reset must be 'soft' or 'hard', got {spk_reset!r}")
        if int(max_spikes) < 1:
            raise ValueError(f"max_spikes must be >= 1, got {max_spikes!r}")
        vals = cls.default_params()
        for name, v in fixed.items():
            vals[name] = float(to_plain(name, v, units[name], allow_plain=True, where=f"{self.model} fixed"))
        self.fixed = {k: v for k, v in vals.items() if k not in self.free}
        state0 = cls.default_initial_state()
        for name, v in dict(init or {}).items():
            if name not in cls.state_units:
                raise ValueError(f"{self.model}: unknown state {name!r} in init; expected one of {sorted(cls.state_units)}")
            state0[name] = float(to_plain(name, v, cls.state_units[name], allow_plain=True, where=f"{self.model} init"))
        self.init = state0
        self.dt = float(to_plain("dt", dt, "ms", allow_plain=True))
        self.spk_reset = spk_reset
        self.max_spikes = int(max_spikes)
        self.record_v = bool(record_v)
        self.unroll = int(unroll)

    def _fn(self):
        dtype = jnp.dtype(brainstate.environ.dftype()).name
        return _compiled(self.model, self.free, tuple(sorted(self.fixed.items())), tuple(sorted(self.init.items())),
                         self.dt, self.spk_reset == "hard", self.max_spikes, self.record_v, self.unroll, dtype), dtype

    @property
    def n_traces(self) -> int:
        """How many times this configuration (at the current precision) was traced/compiled."""
        fn, dtype = self._fn()
        key = (self.model, self.free, tuple(sorted(self.fixed.items())), tuple(sorted(self.init.items())),
               self.dt, self.spk_reset == "hard", self.max_spikes, self.record_v, self.unroll, dtype)
        return _TRACES.get(key, 0)

    def __call__(self, params: Mapping, current) -> SimResult:
        """``params``: free name -> ``[P]`` values (UNIT_SYSTEM floats or Quantities);
        ``current``: ``[S, T]`` in pA (or a current Quantity)."""
        missing = [k for k in self.free if k not in params]
        extra = [k for k in params if k not in self.free]
        if missing or extra:
            raise ValueError(f"{self.model}: params must hold exactly the free parameters {list(self.free)}; "
                             f"missing {missing}, unexpected {extra}")
        units = get_model(self.model).param_units
        vals, P = {}, None
        for k in self.free:
            v = np.asarray(to_plain(k, params[k], units[k], allow_plain=True, where=self.model)) \
                if not isinstance(params[k], jax.Array) else params[k]
            if v.ndim != 1 or (P is not None and v.shape[0] != P):
                raise ValueError(f"{self.model}: free parameter {k!r} must have shape [P] (same P for all), "
                                 f"got shape {tuple(v.shape)}")
            P = v.shape[0]
            vals[k] = v
        current = to_plain("current", current, "pA", allow_plain=True, where=self.model)
        if getattr(current, "ndim", 0) != 2:
            raise ValueError(f"current must have shape [S, T] (sweep, time) in pA, got shape {np.shape(current)}")
        fn, _ = self._fn()
        return fn(vals, current)


def simulate(model, current, dt, params: Mapping, fixed: Mapping | None = None, **kwargs) -> SimResult:
    """One-shot convenience wrapper: ``Simulator(model, free=params, fixed=fixed, dt=dt, **kwargs)(params, current)``."""
    return Simulator(model, free=tuple(params), fixed=fixed, dt=dt, **kwargs)(params, current)
