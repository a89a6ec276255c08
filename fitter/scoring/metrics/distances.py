"""Spike-train distances: van Rossum, Victor-Purpura and ISI-distance, batched ``[B, S]``.

All three work on integer step indices (exact differences; times are ``step * dt`` ms), with
missing spikes as ``NO_SPIKE``, and return one value per candidate and sweep.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spikefit.scoring.metrics.spikes import SpikeInput, prepare_spikes, searchsorted_rows
from spikefit.units import as_ms as to_ms, as_per_ms as to_per_ms

__all__ = ["van_rossum_distance", "victor_purpura_distance", "isi_distance"]


def _markage(steps: jax.Array, n: jax.Array, tau_steps: jax.Array) -> jax.Array:
    """a_0 = 0, a_{i+1} = (a_i + 1) exp(-(t_{i+1} - t_i)/tau), zero beyond the n valid spikes."""
    diff = jnp.diff(steps, axis=-1).astype(jnp.float32)
    w = jnp.exp(-diff / tau_steps)

    def compose(x, y):  # affine maps a -> w a + b, x applied first
        return x[0] * y[0], y[0] * x[1] + y[1]

    _, a = jax.lax.associative_scan(compose, (w, w), axis=-1)
    a = jnp.concatenate([jnp.zeros_like(a[..., :1]), a], axis=-1)
    return jnp.where(jnp.arange(steps.shape[-1]) < n[..., None], a, 0.0)


def _cross(src: jax.Array, n_src: jax.Array, a_src: jax.Array, dst: jax.Array, n_dst: jax.Array,
           tau_steps: jax.Array, side: str) -> jax.Array:
    """Sum over dst spikes of exp-decayed contributions of the src spikes at or before them."""
    p = searchsorted_rows(src, dst, side=side) - 1  # last src index before (or at) each dst spike
    pc = jnp.maximum(p, 0)
    src_b = jnp.broadcast_to(src, (*p.shape[:-1], src.shape[-1]))
    a_b = jnp.broadcast_to(a_src, src_b.shape)
    t_p = jnp.take_along_axis(src_b, pc, axis=-1)
    a_p = jnp.take_along_axis(a_b, pc, axis=-1)
    ok = (p >= 0) & (jnp.arange(dst.shape[-1]) < n_dst[..., None])
    term = jnp.exp(-(dst - t_p).astype(jnp.float32) / tau_steps) * (1.0 + a_p)
    return jnp.sum(jnp.where(ok, term, 0.0), axis=-1)


def van_rossum_distance(model: Any, data: Any, dt: Any, tau: Any = 10.0, *, duration: Any = None,
                        mask: Any = None) -> jax.Array:
    """van Rossum distance ``[B, S]`` with an exponential kernel of time constant ``tau`` (ms).

    Same definition and normalisation as ``elephant.spike_train_dissimilarity.
    van_rossum_distance``: ``D^2 = sum_ij e^{-|x_i-x_j|/tau} + sum_ij e^{-|y_i-y_j|/tau}
    - 2 sum_ij e^{-|x_i-y_j|/tau}`` (Houghton & Kreuz 2012), computed in O(K log K).
    """
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    return _van_rossum(sp, jnp.asarray(to_ms(tau, "tau"), jnp.float32) / to_ms(dt, "dt"))


@jax.jit
def _van_rossum(sp: SpikeInput, tau_steps: jax.Array) -> jax.Array:
    a_m = _markage(sp.model, sp.n_model, tau_steps)
    a_d = _markage(sp.data, sp.n_data, tau_steps)
    self_m = sp.n_model + 2.0 * a_m.sum(-1)
    self_d = sp.n_data + 2.0 * a_d.sum(-1)
    cross = (_cross(sp.data[None], sp.n_data[None], a_d[None], sp.model, sp.n_model, tau_steps, "right")
             + _cross(sp.model, sp.n_model, a_m, sp.data[None], sp.n_data[None], tau_steps, "left"))
    return jnp.sqrt(jnp.maximum(self_m + self_d[None] - 2.0 * cross, 0.0))


def victor_purpura_distance(model: Any, data: Any, dt: Any, q: Any = 0.1, *, duration: Any = None,
                            mask: Any = None) -> jax.Array:
    """Victor-Purpura distance ``[B, S]``, cost ``q`` per ms of shift (1 per insert/delete).

    Matches ``elephant.spike_train_dissimilarity.victor_purpura_distance(cost_factor=q)``.
    Exact dynamic programme, one row per model spike with the in-row recursion done as a
    cumulative minimum: O(K * Kd) work per candidate and sweep.
    """
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    return _victor_purpura(sp, jnp.asarray(to_per_ms(q, "q"), jnp.float32) * to_ms(dt, "dt"))


@jax.jit
def _victor_purpura(sp: SpikeInput, q_steps: jax.Array) -> jax.Array:
    kd = sp.data.shape[-1]
    cols = jnp.arange(kd + 1, dtype=jnp.float32)
    batch_shape = sp.model.shape[:-1]
    row0 = jnp.broadcast_to(cols, (*batch_shape, kd + 1))

    def step(prev, xs):
        i, t_i = xs  # row index (1-based) and model spike step [B, S]
        cost = q_steps * jnp.abs(t_i[..., None] - sp.data[None]).astype(jnp.float32)  # [B, S, Kd]
        a = jnp.concatenate([prev[..., :1] + 1.0, jnp.minimum(prev[..., 1:] + 1.0, prev[..., :-1] + cost)], -1)
        new = cols + jax.lax.cummin(a - cols, axis=a.ndim - 1)
        return jnp.where((i <= sp.n_model)[..., None], new, prev), None

    idx = jnp.arange(1, sp.model.shape[-1] + 1)
    last, _ = jax.lax.scan(step, row0, (idx, jnp.moveaxis(sp.model, -1, 0)))
    n_d = jnp.broadcast_to(sp.n_data, batch_shape)
    return jnp.take_along_axis(last, n_d[..., None], axis=-1)[..., 0]


def _isi_at(steps: jax.Array, n: jax.Array, c: jax.Array, n_steps: jax.Array) -> jax.Array:
    """PySpike's ISI of a train in the interval after its c-th spike (c = spikes at or before)."""
    k = steps.shape[-1]
    s = jnp.broadcast_to(steps, (*c.shape[:-1], k)).astype(jnp.float32)
    n = n[..., None]
    get = lambda i: jnp.take_along_axis(s, jnp.clip(i, 0, k - 1), axis=-1)  # noqa: E731
    s0, s1 = get(jnp.zeros_like(c)), get(jnp.ones_like(c))
    last, before_last = get(n - 1), get(n - 2)
    first = jnp.where(n > 1, jnp.maximum(s0, s1 - s0), s0)
    end = n_steps[..., None] - last
    final = jnp.where(n > 1, jnp.maximum(end, last - before_last), end)
    inner = get(c) - get(c - 1)
    nu = jnp.where(c == 0, first, jnp.where(c >= n, final, inner))
    return jnp.where(n == 0, n_steps[..., None], nu)


def isi_distance(model: Any, data: Any, dt: Any, *, duration: Any = None, mask: Any = None) -> jax.Array:
    """ISI-distance ``[B, S]`` over ``[0, duration]``, as ``pyspike.isi_distance``.

    ``(1/T) * integral |nu_x(t) - nu_y(t)| / max(nu_x(t), nu_y(t)) dt`` with PySpike's edge
    corrections (the interval before the first / after the last spike is at least the
    neighbouring ISI; an empty train has one ISI spanning the sweep). In [0, 1].
    """
    return _isi(prepare_spikes(model, data, dt, duration=duration, mask=mask))


@jax.jit
def _isi(sp: SpikeInput) -> jax.Array:
    m, d = sp.model, jnp.broadcast_to(sp.data, (*sp.model.shape[:-1], sp.data.shape[-1]))
    k, kd = m.shape[-1], d.shape[-1]
    # merge both sorted rows by scattering each spike to its rank in the union
    pos_m = jnp.arange(k) + searchsorted_rows(d, m, side="left")
    pos_d = jnp.arange(kd) + searchsorted_rows(m, d, side="right")
    flat = m.reshape(-1, k).shape[0]
    rows = jnp.arange(flat)[:, None]
    merged = jnp.zeros((flat, k + kd), jnp.int32)
    merged = merged.at[rows, pos_m.reshape(flat, k)].set(m.reshape(flat, k))
    merged = merged.at[rows, pos_d.reshape(flat, kd)].set(d.reshape(flat, kd))
    is_m = jnp.zeros((flat, k + kd), jnp.int32).at[rows, pos_m.reshape(flat, k)].set(1)
    merged, is_m = merged.reshape(*m.shape[:-1], k + kd), is_m.reshape(*m.shape[:-1], k + kd)
    n_steps = jnp.broadcast_to(sp.n_steps, m.shape[:-1])
    # segments [b_j, b_{j+1}) with b_0 = 0, b_j = merged[j-1], and the sweep end
    ends = jnp.minimum(merged.astype(jnp.float32), n_steps[..., None])
    bounds = jnp.concatenate([jnp.zeros_like(ends[..., :1]), ends, n_steps[..., None]], -1)
    length = jnp.maximum(jnp.diff(bounds, axis=-1), 0.0)  # [.., k + kd + 1]
    c_m = jnp.concatenate([jnp.zeros_like(is_m[..., :1]), jnp.cumsum(is_m, -1)], -1)
    c_d = jnp.concatenate([jnp.zeros_like(is_m[..., :1]), jnp.cumsum(1 - is_m, -1)], -1)
    n_m = sp.n_model
    n_d = jnp.broadcast_to(sp.n_data, n_m.shape)
    nu_m = _isi_at(m, n_m, jnp.minimum(c_m, n_m[..., None]), n_steps)
    nu_d = _isi_at(d, n_d, jnp.minimum(c_d, n_d[..., None]), n_steps)
    ratio = jnp.abs(nu_m - nu_d) / jnp.maximum(jnp.maximum(nu_m, nu_d), 1e-12)
    return jnp.sum(length * ratio, -1) / n_steps
