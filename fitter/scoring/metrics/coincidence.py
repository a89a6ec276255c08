"""Gamma coincidence factor (Kistler et al. 1997; Jolivet et al. 2008) and intrinsic reliability.

For one sweep with ``N_data`` data spikes, ``N_model`` model spikes, duration ``T`` and window
``delta``::

    nu    = N_model / T                       (the MODEL's rate)
    rho   = 2 * nu * delta                    (chance that a data spike has a model spike near)
    Gamma = (N_coinc - rho * N_data) / (0.5 * (N_data + N_model)) / (1 - rho)

``N_coinc`` counts ONE-TO-ONE coincidences: a maximum matching of data and model spikes with
``|t_model - t_data| <= delta`` in which each spike is used at most once. (Matching many model
spikes to one data spike, and taking chance coincidences from the data's rate, rewards
over-firing; neither is done here.) Poisson trains score ~0, identical trains 1.

Edge rules (all finite):

* both trains empty: Gamma = 1 (the model reproduces the silence);
* exactly one train empty: Gamma = 0;
* ``rho >= max_chance`` (default 0.5, i.e. nu >= 125 Hz for delta = 2 ms): Gamma = 0. Near
  ``rho = 1`` (250 Hz at 2 ms) the normalisation ``1 - rho`` vanishes and then changes sign,
  which would give a model firing that fast an arbitrary, even high, score; such a model is
  instead scored as no better than chance. For ``rho < 0.5`` Gamma lies in [-2, 1].

The window is inclusive and counted in whole steps: ``|i_model - i_data| <= floor(delta/dt)``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from spikefit.scoring.metrics.spikes import NO_SPIKE, prepare_spikes, searchsorted_rows, searchsorted_shared
from spikefit.units import as_ms as to_ms

__all__ = ["count_coincidences", "count_coincidences_scan", "gamma_factor", "intrinsic_reliability"]


def _delta_steps(delta: Any, dt: Any) -> jax.Array:
    return jnp.floor(jnp.asarray(to_ms(delta, "delta"), jnp.float32) / to_ms(dt, "dt") + 1e-4).astype(jnp.int32)


@jax.jit
def count_coincidences(model: jax.Array, data: jax.Array, n_data: jax.Array, delta_steps: jax.Array) -> jax.Array:
    """Maximum one-to-one matching size of sorted step trains ``[B, S, K]`` vs ``[S, Kd]``.

    Missing spikes are ``NO_SPIKE``. Windows ``[d_k - delta, d_k + delta]`` all have the same
    width, so a model spike ``m_i`` lies in the windows of a contiguous range of data spikes
    ``[e_i, c_i)`` (``e_i`` windows ended before it, ``c_i`` started at or before it), both
    ends nondecreasing in ``i``. The greedy pass over model spikes in time order, each taking
    the earliest-ending (= lowest index) still-free window that contains it, is a maximum
    matching (points in order, intervals by right end), and the free windows it can take are
    always the indices above the last one taken: with ``P`` that index (-1 at first),
    ``j_i = max(P + 1, e_i)``, a hit iff ``j_i < c_i``, and then ``P = j_i``.

    Vectorised exactly: split the model spikes into clusters where consecutive ranges
    overlap (``e_i < c_{i-1}``); at a cluster's first spike ``P < c_{i-1} <= e_i``, so ``P``
    may be taken as -1 there. All spikes are first evaluated with ``P = -1`` (exact at
    cluster starts); each further pass re-applies the step to all spikes at once from the
    previous pass's ``P``, which makes the spikes at position <= r of their cluster exact
    after ``r`` passes (induction). The passes stop when ``P`` no longer changes: the
    recurrence has a single fixed point (induction again), the greedy result, reached after
    at most ``max cluster size - 1`` passes (usually 1-3: two model spikes near one data
    spike; none when no ranges overlap). ``e_i`` comes from
    :func:`searchsorted_shared` into the data (shared by the batch, bucketed: a few gathers
    per spike), ``j_i < c_i`` from one gather of ``d_j``; no scan over spikes.
    """
    kd = data.shape[-1]
    d_valid = jnp.arange(kd) < n_data[:, None]  # [S, Kd]
    ends = jnp.where(d_valid, data + delta_steps, NO_SPIKE)  # window ends, sorted
    e = searchsorted_shared(ends, model, side="left")  # [B, S, K]: windows ended before m_i
    m_valid = model < NO_SPIKE
    d_flat = jnp.where(d_valid, data - delta_steps, NO_SPIKE).reshape(-1)  # window starts
    base = (jnp.arange(data.shape[0], dtype=jnp.int32) * kd)[:, None]  # [S, 1]

    def apply(prev):  # prev: P before each model spike -> (P after it, hit)
        j = jnp.maximum(prev + 1, e)
        start_j = jnp.take(d_flat, base + jnp.minimum(j, kd - 1), mode="clip")
        hit = (j < kd) & (start_j <= model) & m_valid
        return jnp.where(hit, j, prev), hit

    p0, hit = apply(jnp.full(e.shape, -1, jnp.int32))
    # ranges of spikes i-1 and i overlap (c_{i-1} > e_i) <=> window e_i starts at or before m_{i-1}
    start_e = jnp.take(d_flat, base + jnp.minimum(e, kd - 1), mode="clip")
    overlap = (e < kd) & m_valid & (start_e <= jnp.concatenate([jnp.full_like(model[..., :1], -1), model[..., :-1]], -1))

    def one_pass(carry):
        p, _, _ = carry
        prev = jnp.concatenate([jnp.full(p.shape[:-1] + (1,), -1, jnp.int32), p[..., :-1]], -1)
        p_new, hit = apply(jnp.where(overlap, prev, -1))
        return p_new, hit, jnp.any(p_new != p)

    _, hit, _ = jax.lax.while_loop(lambda c: c[2], one_pass, (p0, hit, jnp.any(overlap)))
    return jnp.sum(hit, axis=-1, dtype=jnp.int32)


@jax.jit
def count_coincidences_scan(model: jax.Array, data: jax.Array, n_data: jax.Array, delta_steps: jax.Array) -> jax.Array:
    """Reference for :func:`count_coincidences`: the same greedy matching as a scan over data spikes."""
    k = model.shape[-1]
    lo = searchsorted_rows(model, data - delta_steps, side="left")  # [B, S, Kd]
    d_valid = jnp.arange(data.shape[-1]) < n_data[:, None]  # [S, Kd]

    def step(carry, xs):
        last, count = carry
        lo_k, d_k, valid_k = xs
        j = jnp.maximum(last + 1, lo_k)
        m_j = jnp.take_along_axis(model, jnp.minimum(j, k - 1)[..., None], axis=-1)[..., 0]
        hit = (j < k) & (m_j <= d_k + delta_steps) & valid_k
        return (jnp.where(hit, j, last), count + hit), None

    init = (jnp.full(model.shape[:-1], -1, jnp.int32), jnp.zeros(model.shape[:-1], jnp.int32))
    xs = (jnp.moveaxis(lo, -1, 0), jnp.moveaxis(data, -1, 0), jnp.moveaxis(d_valid, -1, 0))
    (_, count), _ = jax.lax.scan(step, init, xs)
    return count


@functools.partial(jax.jit, static_argnames=("max_chance",))
def gamma_from_counts(n_coinc, n_model, n_data, duration, delta, *, max_chance=0.5):
    """Gamma from counts (floats or arrays); see the module docstring for the edge rules."""
    n_coinc, n_model, n_data = (jnp.asarray(x, jnp.float32) for x in (n_coinc, n_model, n_data))
    rho = 2.0 * n_model / duration * delta
    norm = 1.0 - rho
    total = 0.5 * (n_data + n_model)
    ok = (total > 0) & (rho < max_chance)
    raw = (n_coinc - rho * n_data) / jnp.where(ok, total * norm, 1.0)
    gamma = jnp.where(ok, raw, 0.0)
    gamma = jnp.minimum(gamma, 1.0)  # <= 1 exactly; float32 rounding could give 1 + 1e-7
    return jnp.where((n_data == 0) & (n_model == 0), 1.0, gamma)


def gamma_factor(model: Any, data: Any, dt: Any, delta: Any = 2.0, *, duration: Any = None,
                 mask: Any = None, max_chance: float = 0.5) -> jax.Array:
    """Coincidence factor Gamma per candidate and sweep, ``[B, S]``.

    ``model``: spike_steps ``[B, S, K]`` or raster; ``data``: ``[S, Kd]`` or raster; ``dt``,
    ``delta`` (window half-width) and ``duration`` in ms or saiunit Quantities; ``mask``:
    ``[S, T]`` bool instead of ``duration``. Identical trains give 1, Poisson trains ~0.
    One compiled computation per shape (called eagerly, each of its few dozen array
    operations would compile on its own: seconds for a validation report).
    """
    dt_ms, delta_ms, dur = _plain_times(dt, delta, duration)
    return _gamma(model, data, dt_ms, delta_ms, dur, mask, max_chance=max_chance)


def _plain_times(dt: Any, delta: Any, duration: Any):
    dur = None if duration is None else jnp.asarray(to_ms(duration, "duration"), jnp.float32)
    return jnp.float32(to_ms(dt, "dt")), jnp.float32(to_ms(delta, "delta")), dur


@functools.partial(jax.jit, static_argnames=("max_chance",))
def _gamma(model, data, dt, delta_ms, duration, mask, *, max_chance):
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    n_coinc = count_coincidences(sp.model, sp.data, sp.n_data, _delta_steps(delta_ms, dt))
    return gamma_from_counts(n_coinc, sp.n_model, sp.n_data[None, :], sp.duration[None, :], delta_ms,
                             max_chance=max_chance)


def intrinsic_reliability(data_repeats: Any, dt: Any, delta: Any = 2.0, *, duration: Any = None,
                          mask: Any = None, max_chance: float = 0.5) -> jax.Array:
    """Mean Gamma over all ORDERED pairs (i, j), i != j, of R repeats of one stimulus.

    ``data_repeats``: spike_steps ``[R, K]`` (or raster ``[R, T]``), R >= 2; ``duration`` a
    scalar (or ``mask`` ``[R, T]``, whose first row sets the duration). Gamma is not symmetric
    (it uses the rate of the train in the model role), so both orders are averaged. Report a
    fit as ``Gamma / intrinsic_reliability``. Returns a scalar.
    """
    reps = jnp.asarray(data_repeats)
    if reps.ndim != 2 or reps.shape[0] < 2:
        raise ValueError(f"data_repeats: expected [repeat >= 2, K] spike_steps or raster, got shape {reps.shape}")
    if mask is not None:
        mask = jnp.asarray(mask, bool)[:1]
    dt_ms, delta_ms, dur = _plain_times(dt, delta, duration)
    return _reliability(reps, dt_ms, delta_ms, dur, mask, max_chance=max_chance)


@functools.partial(jax.jit, static_argnames=("max_chance",))
def _reliability(reps, dt, delta_ms, duration, mask, *, max_chance):
    n_rep = reps.shape[0]
    as_model = reps[:, None, :]  # [R, 1, K]: every repeat as a "candidate"

    def against(j):
        return _gamma(as_model, reps[j][None, :], dt, delta_ms, duration, mask, max_chance=max_chance)[:, 0]

    table = jax.vmap(against)(jnp.arange(n_rep))  # [data j, model i]
    off = ~jnp.eye(n_rep, dtype=bool)
    return jnp.sum(jnp.where(off, table, 0.0)) / (n_rep * (n_rep - 1))
