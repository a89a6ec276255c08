"""Spike compaction of ``models.simulator``: one chunk's spike bits -> the spike buffer.

A chunk's spikes arrive as one word per neuron (bit ``j``: a spike at step ``i0 + j``).  The
CPU path writes them rank by rank: scatter ``r`` puts each neuron's ``r``-th spike of the
chunk (lowest set bit first) at slot ``n + r`` and skips neurons without one.  A scatter
costs about the same per neuron whether it writes or skips, so the number of scatters, set
by the busiest neuron, is what costs: in a fit batch a few candidates fire at nearly every
step (31 spikes a chunk) while most fire once or not at all.  Hence the first ``R0`` ranks go
over all neurons and the later ones only over the *busy* subset (neurons with more than ``R0``
spikes in the chunk), gathered into ``M = N / 8`` slots.  The subset grows when a neuron
outside it is busy (joined to it while both fit in ``M``, else replaced by the busy ones);
when more than ``M`` neurons are busy at once, the later ranks go over all neurons (and the
subset is chosen again after ``RETRY`` chunks).  A neuron whose buffer is full takes no more spikes (it is only counted).

Accelerators scatter all bits of a chunk at once instead (``compact_dense``: no data-dependent
loop; on GPU each while-loop iteration is a host round trip).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Busy", "R0", "RETRY", "busy_init", "compact_dense", "compact_ranks"]

#: Ranks scattered over all neurons; the later ranks only over the busy subset.
R0 = 4
#: Chunks after which a subset that did not fit is chosen again.
RETRY = 32

_U1 = np.uint32(1)


class Busy(NamedTuple):
    """The busy subset, carried from chunk to chunk."""

    idx: jax.Array  # [M] int32: flat state indices (N = empty slot)
    member: jax.Array  # [N] bool
    full: jax.Array  # bool: more busy neurons than M at the last choice (all-neuron ranks)
    age: jax.Array  # int32: chunks since the last choice


def subset_size(N: int) -> int:
    return max(32, N // 8)


def busy_init(N: int) -> Busy:
    return Busy(jnp.full((subset_size(N),), N, jnp.int32), jnp.zeros((N,), bool), jnp.asarray(False),
                jnp.asarray(0, jnp.int32))


def _lowest_bit(w):
    return (31 - jax.lax.clz(w & (~w + _U1))).astype(jnp.int32)


def compact_ranks(lay, buf, word, n, i0, L, busy: Busy):
    """Write a chunk's spikes (``word``, state-shaped) after the ``n`` already in ``buf``."""
    N, M, K = lay.N, busy.idx.shape[0], lay.K
    word = jnp.where(n < K, word, np.uint32(0))  # a full buffer takes no more spikes
    cnt = jax.lax.population_count(word).astype(jnp.int32)
    R = jnp.max(cnt)

    def rank_all(r, c):  # rank r of every neuron
        w, buf = c
        buf = lay.put(buf, jnp.where(w != 0, n + r, -1), i0 + _lowest_bit(w))
        return w & (w - _U1), buf

    w, buf = jax.lax.fori_loop(0, jnp.minimum(R, R0), rank_all, (word, buf))

    def choose(busy):  # the busy neurons joined to the subset, or alone if both do not fit
        hot = (cnt > R0).reshape(N)
        both = hot | (busy.member & ~busy.full)
        want = jnp.where(jnp.sum(both) > M, hot, both)
        full = jnp.sum(want) > M
        idx = jnp.nonzero(want, size=M, fill_value=N)[0].astype(jnp.int32)
        return Busy(idx, want | full, full, jnp.asarray(0, jnp.int32))

    # (no lax.cond carries the buffer: XLA would copy it; loops with no trips cost nothing)
    stale = jnp.any((cnt > R0).reshape(N) & ~busy.member) | (busy.full & (busy.age >= RETRY))
    busy = jax.lax.cond(stale, choose, lambda b: b._replace(age=b.age + 1), busy)
    # ranks R0 .. R - 1: over all neurons if the subset did not fit, else over the subset
    _, buf = jax.lax.fori_loop(R0, jnp.where(busy.full, R, R0), rank_all, (w, buf))
    take = lambda x: jnp.take(x.reshape(N), busy.idx, mode="fill", fill_value=0)
    wb, nb, rows = take(w), take(n), take(lay.rows())

    def rank_sub(r, c):
        wb, buf = c
        buf = lay.put(buf, jnp.where(wb != 0, nb + r, -1), i0 + _lowest_bit(wb), rows=rows)
        return wb & (wb - _U1), buf

    _, buf = jax.lax.fori_loop(R0, jnp.where(busy.full, R0, R), rank_sub, (wb, buf))
    return buf, busy


def compact_dense(lay, buf, word, n, i0, L, busy=None):
    """All ``L`` bits of a chunk at once: bit j goes to slot ``n`` + (number of set bits below j)."""
    jj = jnp.arange(L, dtype=jnp.uint32)
    w = word[..., None]
    below = jax.lax.population_count(w & ((_U1 << jj) - _U1)).astype(jnp.int32)
    slot = jnp.where((w >> jj) & _U1 != 0, n[..., None] + below, -1)
    return lay.put(buf, slot, jnp.broadcast_to(i0 + jnp.arange(L, dtype=jnp.int32), slot.shape)), busy
