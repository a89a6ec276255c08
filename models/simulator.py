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

#: Steps per chunk: spikes of a chunk are packed in one uint32 word per neuron (bits 0 to
#: CHUNK - 1, the runaway flag in bit CHUNK) and compacted into ``spike_steps`` once per
#: chunk (one scatter per spike rank, not per step).
CHUNK = 31


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


#: Per-executable XLA:CPU options of the simulator (only our compiled function; nothing
#: global).  512-bit vectors: the step is compute bound, AVX-512 machines run it ~10-25%
#: faster; on CPUs without AVX-512 LLVM caps the width at what the target has.
CPU_COMPILER_OPTIONS = {"xla_cpu_prefer_vector_width": 512}


def default_unroll(backend: str, model=None) -> int:
    """Inner-loop unroll for a backend (and model).  CPU: the model's ``sim_cpu_unroll``
    (1 for most: each step is already one or two fused kernels, unrolling only lets XLA
    duplicate work across kernels).  GPU/TPU: the whole chunk (``CHUNK`` steps straight-line
    in one loop iteration), so XLA can fuse consecutive steps into few kernels: there the loop
    is kernel-launch bound, not compute bound."""
    if backend != "cpu":
        return CHUNK
    return 1 if model is None else get_model(model).sim_cpu_unroll


@functools.lru_cache(maxsize=256)
def _compiled(model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name, backend):
    """One jitted function per static configuration; JAX caches it per input shape."""
    cls = get_model(model_name)
    fixed = dict(fixed_items)
    init = dict(init_items)
    key = (model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name, backend)
    dtype = jnp.dtype(dtype_name)
    cpu = backend == "cpu"
    # loop layout (see ``run``); on accelerators XLA fuses multi-output steps by itself
    packed = cpu and cls.sim_packed
    split = cpu and cls.sim_split_runaway
    dense = not cpu

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
        names = tuple(k for k in cls.state_units if k in state) + tuple(k for k in state if k not in cls.state_units)
        K = max_spikes
        buf = jnp.full((P * S, K), -1, jnp.int32)
        n = jnp.zeros((P * S,), jnp.int32)
        bad = jnp.zeros((P * S,), bool)
        rows = jnp.arange(P * S, dtype=jnp.int32)
        one, zero = np.asarray(1, dtype), np.asarray(0, dtype)

        # The step loop.  Each step reads only the carried state (the spike of a state is
        # recomputed from it, one cheap test) and writes the new state; a second small kernel
        # sets the step's spike bit in a per-chunk word from the new state alone.  XLA:CPU has
        # no multi-output fusion, so every carried array is its own kernel and intermediates
        # shared between two outputs are materialised or recomputed.  ``packed`` (models with
        # expensive steps, ``sim_packed``): the state variables two by two in complex numbers
        # (real, imag), so one kernel writes the whole new state and computes each exp once;
        # an optimisation barrier keeps XLA from folding ``real(complex(a, b))`` back into
        # ``a`` (which would split the step again).
        def pack(s):
            if not packed:
                return s
            out = [jax.lax.complex(s[a], s[b]) for a, b in zip(names[0::2], names[1::2])]
            if len(names) % 2:
                out.append(s[names[-1]])
            return jax.lax.optimization_barrier(tuple(out))

        def unpack(ps):
            if not packed:
                return ps
            s = {}
            for a, b, z in zip(names[0::2], names[1::2], ps):
                s[a], s[b] = jnp.real(z), jnp.imag(z)
            if len(names) % 2:
                s[names[-1]] = ps[-1]
            return s

        def runaway(s, fired, t):
            """``|V|`` after the reset of a step that starts from ``s`` is a runaway (only the
            reset part of ``sim_step`` survives dead-code elimination)."""
            _, v_post = cls.sim_step(s, c, jnp.zeros_like(s["V"]), t, jnp.where(fired, one, zero), hard)
            return ~(jnp.abs(v_post) <= V_RUNAWAY)

        def chunk(carry, ii, II):
            """``len(ii)`` (<= CHUNK) steps; spike bit of step ``j`` in bit ``j`` of a word (the
            runaway flag in bit ``CHUNK`` unless ``split``), compacted into ``buf`` after."""
            ps, n, buf, bad = carry
            # The runaway test at step i is the one of step i + 1's post-reset V (from the new
            # state, so the bookkeeping kernel reads only the step's output); none after the
            # last step: its flag is shifted by 32 bits, which XLA defines as 0.
            rsh = jnp.where(ii + 1 < T, CHUNK, 32).astype(jnp.uint32)

            def inner(c2, x2):
                ps, word = c2
                j, i, I, r = x2
                s = unpack(ps)
                t = i.astype(dtype) * dt_ if cls.has_refractory else None
                sp = jnp.where(cls.fires(s, c), one, zero)  # spike of ``s`` (end of the previous step)
                new, _ = cls.sim_step(s, c, jnp.tile(I, P), t, sp, hard)
                ps = pack({k: new[k] for k in names})
                s = unpack(ps)
                fired = cls.fires(s, c)
                t1 = (i + 1).astype(dtype) * dt_ if cls.has_refractory else None
                if split:  # the runaway flags in their own (small) kernel
                    word, wb = word
                    word = (word | (fired.astype(jnp.uint32) << j), wb | (runaway(s, fired, t1) & (r < 32)))
                else:
                    word = word | (fired.astype(jnp.uint32) << j) | (runaway(s, fired, t1).astype(jnp.uint32) << r)
                return (ps, word), (s["V"] if record_v else None)

            js = jnp.arange(len(ii), dtype=jnp.uint32)
            w0 = jnp.zeros((P * S,), jnp.uint32)
            w0 = (w0, jnp.zeros((P * S,), bool)) if split else w0
            (ps, word), Vs = jax.lax.scan(inner, (ps, w0), (js, ii, II, rsh), unroll=min(unroll, len(ii)))
            if split:
                word, wb = word
                bad = bad | wb
            else:
                bad = bad | (word >> CHUNK != 0)
                word = word & jnp.uint32((1 << CHUNK) - 1)

            if dense:
                # all bits at once, no data-dependent loop (on GPU each while-loop iteration
                # is a host round trip): bit j goes to slot n + (number of set bits below j)
                L = len(ii)
                jj = jnp.arange(L, dtype=jnp.uint32)
                bits = (word[:, None] >> jj) & jnp.uint32(1)
                below = jax.lax.population_count(word[:, None] & ((jnp.uint32(1) << jj) - jnp.uint32(1)))
                slot = jnp.where(bits != 0, n[:, None] + below.astype(jnp.int32), K)  # >= K: dropped
                buf = buf.at[rows[:, None], slot].set(jnp.broadcast_to(ii, (P * S, L)), mode="drop",
                                                      unique_indices=True)
                n = n + jax.lax.population_count(word).astype(jnp.int32)
            else:
                # one scatter per spike rank (lowest set bit first), as many as the busiest neuron needs
                def extract(c3):
                    word, n, buf = c3
                    has = word != 0
                    low = word & (~word + jnp.uint32(1))
                    pos = (31 - jax.lax.clz(low)).astype(jnp.int32)
                    slot = jnp.where(has, n, K)  # K is out of range: dropped (still counted in n)
                    buf = buf.at[rows, slot].set(ii[0] + pos, mode="drop", unique_indices=True)
                    return word & (word - jnp.uint32(1)), n + has.astype(jnp.int32), buf

                _, n, buf = jax.lax.while_loop(lambda c3: jnp.any(c3[0] != 0), extract, (word, n, buf))
            return (ps, n, buf, bad), Vs

        steps = jnp.arange(T, dtype=jnp.int32)
        cur = jnp.asarray(current, dtype).T
        n_chunks, rem = divmod(T, CHUNK)
        if T:  # runaway test of step 0 (the loop tests step i + 1 at step i)
            t0 = np.asarray(0, dtype) if cls.has_refractory else None
            bad = runaway(state, jnp.broadcast_to(cls.fires(state, c), (P * S,)), t0)
        carry = (pack(state), n, buf, bad)
        outs = []
        if n_chunks:
            xs = (steps[: n_chunks * CHUNK].reshape(n_chunks, CHUNK), cur[: n_chunks * CHUNK].reshape(n_chunks, CHUNK, S))
            carry, Vc = jax.lax.scan(lambda cr, x: chunk(cr, *x), carry, xs)
            outs.append(None if Vc is None else Vc.reshape(n_chunks * CHUNK, P * S))
        if rem:
            carry, Vr = chunk(carry, steps[n_chunks * CHUNK:], cur[n_chunks * CHUNK:])
            outs.append(Vr)
        ps, n, buf, bad = carry
        s = unpack(ps)
        Vs = jnp.concatenate(outs) if record_v else None
        for v in s.values():
            bad = bad | ~jnp.isfinite(v)
        V = None if Vs is None else jnp.transpose(Vs.reshape(T, P, S), (1, 2, 0))
        n = n.reshape(P, S)
        return SimResult(buf.reshape(P, S, K), n, n > K, bad.reshape(P, S).any(axis=1), V)

    return jax.jit(run, compiler_options=CPU_COMPILER_OPTIONS if cpu else None)


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
    unroll : int, optional
        Unroll factor of the inner (per-chunk) step loop; default ``default_unroll`` of the
        JAX backend at the time of the call (the model's ``sim_cpu_unroll`` on CPU, a whole
        chunk on GPU/TPU).
    """

    def __init__(self, model, free: Sequence[str] = (), fixed: Mapping | None = None, *, dt,
                 spk_reset: str = "hard", max_spikes: int = 64, record_v: bool = False,
                 init: Mapping | None = None, unroll: int | None = None):
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
        if unroll is not None and int(unroll) < 1:
            raise ValueError(f"unroll must be >= 1, got {unroll!r}")
        self.unroll = None if unroll is None else int(unroll)

    def _key(self):
        dtype = jnp.dtype(brainstate.environ.dftype()).name
        backend = jax.default_backend()
        unroll = default_unroll(backend, self.model) if self.unroll is None else self.unroll
        return (self.model, self.free, tuple(sorted(self.fixed.items())), tuple(sorted(self.init.items())),
                self.dt, self.spk_reset == "hard", self.max_spikes, self.record_v, unroll, dtype, backend)

    def _fn(self):
        key = self._key()
        return _compiled(*key), key[9]

    @property
    def n_traces(self) -> int:
        """How many times this configuration (at the current precision) was traced/compiled."""
        return _TRACES.get(self._key(), 0)

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
