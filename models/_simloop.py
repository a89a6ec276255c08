"""The time loop of ``models.simulator``: state layout, per-step kernels, chunks.

Layout (``_Layout``).  The ``P`` candidates x ``S`` sweeps of a call are ``N = P * S``
neurons, simulated as one vector: ``flat`` (neuron ``p * S + s``; parameters repeated per
sweep, each chunk's current expanded to ``[31, N]`` once, so every step reads a plain row) or,
for large batches, ``grid`` (``[S, P]``: parameters ``[P]`` and the step's current ``[S, 1]``
broadcast; nothing repeated, S times less parameter traffic).  Either way no per-step gather
or tile (a tiled current made the old ``[P, S]`` loop 3-6x slower than one sweep), and the
spike buffer row of a neuron is ``p * S + s``, the result's layout.

Per step (XLA:CPU has no multi-output fusion: each array written in a step is its own
kernel, and an expensive intermediate shared by two of them is materialised in a third):

* the state kernel.  Its spike input (the spike of the state it starts from) is the spike
  bit the previous step wrote, so it never re-evaluates the spike test (a division for some
  parameter sets).  ``sim_packed`` models carry their state two variables per complex number,
  so one kernel writes the whole state; an optimisation barrier keeps XLA from folding
  ``real(complex(a, b))`` back into ``a``;
* ``last_spike_time`` of the refractory models, from the *new* state
  (``_base.record_spike_time``, the rule ``apply_refractory`` applies), so that it shares
  nothing with the state kernel;
* the bookkeeping kernel: the spike bit of step ``j`` goes to bit ``j`` of a per-chunk word
  (``CHUNK`` = 31 steps), the runaway flag to bit 31 (``sim_split_runaway``: its own kernel).

Per chunk the words go into the spike buffer (``_compact``: cost set by the spikes, not by
``K``).  The voltage, when recorded, is written chunk by chunk into its ``[P, S, T]`` result;
nothing else holds anything of size ``T`` but the current.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._base import record_spike_time
from ._compact import busy_init, compact_dense, compact_ranks

__all__ = ["CHUNK", "V_RUNAWAY", "build_run"]

#: |V| (mV) beyond which a post-reset membrane potential counts as a runaway.
V_RUNAWAY = 1e4

#: Steps per chunk: spikes of a chunk are packed in one uint32 word per neuron (bits 0 to
#: CHUNK - 1, the runaway flag in bit CHUNK) and compacted into the spike buffer per chunk.
CHUNK = 31

_U1 = np.uint32(1)
_I0 = np.int32(0)


#: The ``grid`` layout from this many neurons on (and at least ``GRID_MIN_P`` candidates, more
#: than one sweep); below, ``flat``.  Measured on the 2-core development machine (AdExIFRef
#: 8 x 34 s at 1 ms, AdExIF 16 x 3 s at 0.25 ms): flat is 1.1-4x faster up to 8192 neurons, grid
#: 1.25-1.9x faster from 16384 on (parameter arrays S times smaller); on CPU XLA splits the
#: kernels of both over threads from some size on, the grid ones from smaller sizes.
GRID_MIN_NEURONS = 16384
GRID_MIN_P = 256


def use_grid(P, S):
    return S > 1 and P >= GRID_MIN_P and P * S >= GRID_MIN_NEURONS


class _Layout:
    """Where candidate ``p`` and sweep ``s`` sit in the state.

    ``flat``: one axis of ``N = P * S`` neurons, neuron ``p * S + s`` (parameters repeated per
    sweep, each chunk's current expanded to ``[L, N]`` once).  ``grid``: ``[S, P]``, sweeps
    major (parameters ``[P]`` and each step's current ``[S, 1]`` broadcast, nothing repeated).
    The spike buffer row of a neuron is ``p * S + s`` either way (the result's layout)."""

    def __init__(self, P, S, K, grid):
        self.P, self.S, self.N, self.K = P, S, P * S, K
        self.grid = grid
        self.shape = (S, P) if grid else (P * S,)
        # the spike buffer is one flat array (scatters with a single index are ~2x cheaper on
        # CPU) while its flat indices fit in int32, else ``[N, K]``
        self.flat_buf = self.N * K < 2**31 - 1

    def per_candidate(self, x):  # [P] -> broadcasts against the state
        return x[None, :] if self.grid else jnp.repeat(x, self.S) if self.S > 1 else x

    def chunk_current(self, II):  # [L, S] -> the per-step rows of the chunk
        if self.grid:
            return II[:, :, None]
        if self.S == 1:  # [L, 1]: a scalar a step
            return II
        L = II.shape[0]
        return jnp.broadcast_to(II[:, None, :], (L, self.P, self.S)).reshape(L, self.N)

    def to_ps(self, x):  # state-shaped -> [P, S]
        return x.T if self.grid else x.reshape(self.P, self.S)

    def rows(self):  # spike-buffer row of each state element
        r = jnp.arange(self.N, dtype=jnp.int32)
        return r.reshape(self.P, self.S).T if self.grid else r

    def v_block(self, Vs):  # [L, *shape] -> [P, S, L]
        if self.grid:
            return jnp.transpose(Vs, (2, 1, 0))
        return jnp.transpose(Vs.reshape(Vs.shape[0], self.P, self.S), (1, 2, 0))

    def new_buffer(self):
        return jnp.full((self.N * self.K,) if self.flat_buf else (self.N, self.K), -1, jnp.int32)

    def put(self, buf, slot, value, rows=None):
        """``buf[row, slot] = value`` where ``0 <= slot < K`` (else nothing); ``slot`` and
        ``value`` are state-shaped, or state-shaped + ``[L]``, or match ``rows``."""
        if rows is None:
            rows = self.rows().reshape(self.shape + (1,) * (slot.ndim - len(self.shape)))
        ok = (slot >= 0) & (slot < self.K)
        if not self.flat_buf:
            return buf.at[rows, jnp.where(ok, slot, self.K)].set(value, mode="drop", unique_indices=True)
        idx = jnp.where(ok, rows * self.K + slot, self.N * self.K)
        # computed in their own (vector) kernels: fused into the scatter they run per element
        idx, value = jax.lax.optimization_barrier((idx, value))
        return buf.at[idx].set(value, mode="drop", unique_indices=True)


def build_run(cls, free, fixed, init, dt, hard, K, record_v, unroll, dtype, backend, on_trace=None):
    """The (unjitted) simulation function ``run(free_vals, current) -> (spike_steps [P, S, K],
    n_spikes [P, S], overflow [P, S], diverged [P], V [P, S, T] or None)`` of one configuration."""
    dtype = jnp.dtype(dtype)
    cpu = backend == "cpu"
    packed = cpu and cls.sim_packed
    split = cpu and cls.sim_split_runaway
    dense = not cpu
    refr = cls.has_refractory
    lst = "last_spike_time"
    one, zero = np.asarray(1, dtype), np.asarray(0, dtype)
    dt_ = np.asarray(dt, dtype)

    def run(free_vals, current):
        if on_trace is not None:
            on_trace()
        P = free_vals[free[0]].shape[0] if free else 1
        S, T = current.shape
        lay = _Layout(P, S, K, grid=use_grid(P, S))
        N = lay.N
        p = {k: np.asarray(v, dtype) for k, v in fixed.items()}  # trace-time constants
        p.update({k: lay.per_candidate(jnp.asarray(free_vals[k], dtype)) for k in free})
        c = cls.sim_prepare(p, dt_)
        state = {k: jnp.full(lay.shape, np.asarray(v, dtype)) for k, v in init.items()}
        names = tuple(k for k in cls.state_units if k in state)  # integrated by the state kernel
        th_state = "V_th" in cls.state_units  # GifRef: the refractory threshold is a state

        def pack(s):
            if not packed:  # the barrier keeps last_spike_time's kernel from recomputing the state
                out = tuple(s[k] for k in names)
                return jax.lax.optimization_barrier(out) if refr else out
            out = [jax.lax.complex(s[a], s[b]) for a, b in zip(names[0::2], names[1::2])]
            if len(names) % 2:
                out.append(s[names[-1]])
            return jax.lax.optimization_barrier(tuple(out))

        def unpack(ps):
            if not packed:
                return dict(zip(names, ps))
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

        def step_time(i):
            return i.astype(dtype) * dt_ if refr else None

        def chunk(carry, ii, II):
            """``len(ii)`` (<= CHUNK) steps, then the chunk's spikes into the buffer."""
            (ps, ls), prev, n, (buf, busy), bad, Vbuf = carry
            L = len(ii)
            # the runaway test at step i is that of step i + 1's post-reset V (from the new
            # state); none after the last step: its flag is shifted by 32 bits, which XLA defines as 0
            rsh = jnp.where(ii + 1 < T, CHUNK, 32).astype(jnp.uint32)

            def inner(c2, x2):
                (ps, ls), word = c2
                j, i, I, r = x2
                s = unpack(ps)
                if refr:
                    s[lst] = ls
                bits = word[0] if split else word
                # spike of ``s``: bit j - 1 of this chunk's word, or the previous chunk's last
                spiked = jnp.where(j == 0, prev, bits >> (j - _U1)) & _U1
                t = step_time(i)
                new, _ = cls.sim_step(s, c, I, t, jnp.where(spiked != 0, one, zero), hard)
                ps = pack(new)
                s = unpack(ps)
                if refr:
                    ls = record_spike_time(s["V"], s["V_th"] if th_state else c["V_th"], t, ls)
                    s[lst] = ls
                fired = cls.fires(s, c)
                t1 = step_time(i + 1)
                if split:  # the runaway flags in their own (small) kernel
                    word = (word[0] | (fired.astype(jnp.uint32) << j), word[1] | (runaway(s, fired, t1) & (r < 32)))
                else:
                    word = word | (fired.astype(jnp.uint32) << j) | (runaway(s, fired, t1).astype(jnp.uint32) << r)
                return ((ps, ls), word), (s["V"] if record_v else None)

            js = jnp.arange(L, dtype=jnp.uint32)
            w0 = jnp.zeros(lay.shape, jnp.uint32)
            w0 = (w0, jnp.zeros(lay.shape, bool)) if split else w0
            ((ps, ls), word), Vs = jax.lax.scan(inner, ((ps, ls), w0), (js, ii, lay.chunk_current(II), rsh),
                                                unroll=min(unroll, L))
            if split:
                word, wb = word
                bad = bad | wb
            else:
                bad = bad | (word >> CHUNK != 0)
                word = word & np.uint32((1 << CHUNK) - 1)
            prev = (word >> np.uint32(L - 1)) & _U1
            cnt = jax.lax.population_count(word).astype(jnp.int32)
            buf, busy = (compact_dense if dense else compact_ranks)(lay, buf, word, n, ii[0], L, busy)
            if record_v:
                Vbuf = jax.lax.dynamic_update_slice(Vbuf, lay.v_block(Vs), (_I0, _I0, ii[0]))  # int32 also under x64
            return ((ps, ls), prev, n + cnt, (buf, busy), bad, Vbuf), None

        steps = jnp.arange(T, dtype=jnp.int32)
        cur = jnp.asarray(current, dtype).T
        n_chunks, rem = divmod(T, CHUNK)
        fired0 = jnp.broadcast_to(cls.fires(state, c), lay.shape)
        bad = runaway(state, fired0, np.asarray(0, dtype) if refr else None) if T else jnp.zeros(lay.shape, bool)
        carry = ((pack(state), state[lst] if refr else None), fired0.astype(jnp.uint32),
                 jnp.zeros(lay.shape, jnp.int32), (lay.new_buffer(), None if dense else busy_init(N)), bad,
                 jnp.zeros((P, S, T), dtype) if record_v else None)
        if n_chunks:
            xs = (steps[: n_chunks * CHUNK].reshape(n_chunks, CHUNK),
                  cur[: n_chunks * CHUNK].reshape(n_chunks, CHUNK, S))
            carry, _ = jax.lax.scan(lambda cr, x: chunk(cr, *x), carry, xs)
        if rem:
            carry, _ = chunk(carry, steps[n_chunks * CHUNK:], cur[n_chunks * CHUNK:])
        (ps, ls), _, n, (buf, _), bad, Vbuf = carry
        s = unpack(ps)
        if refr:
            s[lst] = ls
        for v in s.values():
            bad = bad | ~jnp.isfinite(v)
        n = lay.to_ps(n)
        return buf.reshape(P, S, K), n, n > K, lay.to_ps(bad).any(axis=1), Vbuf

    return run
