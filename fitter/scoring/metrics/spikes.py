"""Spike-train inputs of the metrics: padded step indices, rasters, units and sweep durations.

Conventions (shared with ``models`` and the recordings):

* model spikes ``spike_steps`` int32 ``[batch, sweep, K]``: step index ``i`` of each spike
  (time ``i * dt`` ms), ascending, padded with ``-1``; or a boolean raster ``[batch, sweep, time]``;
* data spikes ``spike_steps`` int32 ``[sweep, Kd]`` (same padding) or a raster ``[sweep, time]``;
* times, windows and ``dt`` in ms (plain floats) or saiunit Quantities (converted by
  :func:`spikefit.units.as_ms`).

Inside the metrics a spike that is padding, or falls at or after the end of its sweep, is
replaced by the sentinel ``NO_SPIKE`` (a large step index), which keeps every row sorted.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from spikefit.units import as_ms

__all__ = ["NO_SPIKE", "SpikeInput", "raster_to_spike_steps", "prepare_spikes", "searchsorted_rows",
           "searchsorted_shared"]

NO_SPIKE = 2**30  # sentinel step index of a missing spike (|difference| stays inside int32)


def raster_to_spike_steps(raster: Any, max_spikes: int | None = None) -> jax.Array:
    """Boolean raster ``[..., time]`` -> ascending spike step indices ``[..., max_spikes]``.

    Padded with ``-1``; spikes beyond ``max_spikes`` are dropped (default: the length of the
    time axis, which is exact but large). Jittable for a static ``max_spikes``.
    """
    raster = jnp.asarray(raster, dtype=bool)
    k = raster.shape[-1] if max_spikes is None else int(max_spikes)
    if k < 1:
        raise ValueError(f"max_spikes: expected >= 1, got {max_spikes}")
    lead, n_time = raster.shape[:-1], raster.shape[-1]
    flat = raster.reshape(-1, n_time)
    slot = jnp.cumsum(flat, axis=-1, dtype=jnp.int32) - 1
    slot = jnp.where(flat & (slot < k), slot, k)  # k = a dump column, cut below
    steps = jnp.arange(n_time, dtype=jnp.int32)
    rows = jnp.arange(flat.shape[0])[:, None]
    out = jnp.full((flat.shape[0], k + 1), -1, jnp.int32).at[rows, slot].set(steps[None, :])
    return out[:, :k].reshape(*lead, k)


class SpikeInput(NamedTuple):
    """Model and data spikes ready for the metrics (all step indices, ``NO_SPIKE`` padded)."""

    model: jax.Array  # int32 [B, S, K], sorted, NO_SPIKE for missing
    n_model: jax.Array  # int32 [B, S]
    data: jax.Array  # int32 [S, Kd]
    n_data: jax.Array  # int32 [S]
    duration: jax.Array  # float [S] ms
    n_steps: jax.Array  # float [S], duration / dt


def _steps_of(x: Any, name: str, rank: int) -> tuple[jax.Array, int | None]:
    """Spike steps of ``x`` (spike_steps array, raster, or an object/dict with ``spike_steps``)."""
    if isinstance(x, dict) and "spike_steps" in x:
        x = x["spike_steps"]
    elif hasattr(x, "spike_steps"):
        x = x.spike_steps
    arr = jnp.asarray(x)
    if arr.ndim != rank:
        dims = "[batch, sweep, K or time]" if rank == 3 else "[sweep, K or time]"
        raise ValueError(f"{name}: expected spike_steps or a boolean raster {dims}, got shape {arr.shape}")
    if arr.dtype == jnp.bool_:
        if isinstance(arr, jax.core.Tracer):
            k = arr.shape[-1]
        else:
            k = max(1, int(np.asarray(arr.sum(-1)).max(initial=0)))
        return raster_to_spike_steps(arr, k), arr.shape[-1]
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{name}: expected integer spike_steps or a boolean raster, got dtype {arr.dtype}")
    return arr.astype(jnp.int32), None


def prepare_spikes(model: Any, data: Any, dt: Any, *, duration: Any = None, mask: Any = None) -> SpikeInput:
    """Validate and normalise model/data spikes and the sweep durations.

    The duration of each sweep comes from ``duration`` (ms, scalar or ``[sweep]``), else from
    ``mask`` (``[sweep, time]`` bool, True where the sweep is real: duration = count * dt),
    else from the time axis of a raster. Spikes at or after the end of a sweep are ignored.
    """
    dt = as_ms(dt, "dt")
    m_steps, m_t = _steps_of(model, "model", 3)
    d_steps, d_t = _steps_of(data, "data", 2)
    n_sweeps = d_steps.shape[0]
    if m_steps.shape[1] != n_sweeps:
        raise ValueError(f"model: expected {n_sweeps} sweeps (as data), got shape {m_steps.shape}")
    if duration is not None:
        dur = jnp.broadcast_to(jnp.asarray(as_ms(duration, "duration"), jnp.float32), (n_sweeps,))
    elif mask is not None:
        mask = jnp.asarray(mask, bool)
        if mask.ndim != 2 or mask.shape[0] != n_sweeps:
            raise ValueError(f"mask: expected [sweep={n_sweeps}, time] bool, got shape {mask.shape}")
        dur = mask.sum(-1).astype(jnp.float32) * dt
    elif m_t is not None or d_t is not None:
        dur = jnp.full((n_sweeps,), float(m_t if m_t is not None else d_t) * dt, jnp.float32)
    else:
        raise ValueError("duration: required when spikes are given as spike_steps; pass duration= (ms, "
                         "scalar or per sweep) or mask= ([sweep, time] bool)")
    n_steps = dur / dt
    limit = n_steps - 1e-3  # a spike exactly at the end of the sweep is outside it

    def clean(steps: jax.Array, lim: jax.Array) -> tuple[jax.Array, jax.Array]:
        ok = (steps >= 0) & (steps.astype(jnp.float32) < lim[..., None])
        return jnp.where(ok, steps, NO_SPIKE), ok.sum(-1).astype(jnp.int32)

    m_clean, n_m = clean(m_steps, limit[None, :])
    d_clean, n_d = clean(d_steps, limit)
    return SpikeInput(m_clean, n_m, d_clean, n_d, dur, n_steps)


def searchsorted_rows(sorted_rows: jax.Array, queries: jax.Array, side: str = "left") -> jax.Array:
    """``searchsorted`` along the last axis, rows broadcast over leading axes.

    Branchless binary search (``bit_length(n)`` rounds of one flat gather each) on the rows
    as they are: a row shared across leading axes (data vs a batch of candidates) is read
    in place, never copied per candidate. Same result as ``jnp.searchsorted`` per row.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
    rows = jnp.asarray(sorted_rows)
    queries = jnp.asarray(queries)
    n = rows.shape[-1]
    lead = jnp.broadcast_shapes(rows.shape[:-1], queries.shape[:-1])
    q = jnp.broadcast_to(queries, (*lead, queries.shape[-1]))
    row_id = jnp.arange(int(np.prod(rows.shape[:-1], dtype=np.int64)), dtype=jnp.int32).reshape(rows.shape[:-1])
    base = jnp.broadcast_to(row_id, lead)[..., None] * n  # flat offset of each query's row
    flat = rows.reshape(-1)
    pos = jnp.zeros(q.shape, jnp.int32)
    step = 1 << max(n.bit_length() - 1, 0)
    while step >= 1 and n > 0:
        nxt = pos + step
        val = jnp.take(flat, base + jnp.minimum(nxt, n) - 1, mode="clip")
        ok = (nxt <= n) & ((val < q) if side == "left" else (val <= q))
        pos = jnp.where(ok, nxt, pos)
        step >>= 1
    return pos


def searchsorted_shared(sorted_rows: jax.Array, queries: jax.Array, side: str = "left", *,
                        buckets_per_value: int = 4) -> jax.Array:
    """:func:`searchsorted_rows` for a few rows ``[*R, n]`` shared by many queries ``[*L, *R, m]``.

    Entries ``>= NO_SPIKE // 2`` of a row are padding and count as +infinity (a query at or
    above that level gets the number of real entries). Otherwise the result is exactly
    ``searchsorted``'s, with fewer gathers per query: each row's value range is cut into
    ``buckets_per_value * n`` equal buckets and the row index at each bucket edge
    tabulated (a small searchsorted per row); a query reads its bucket's index range (two
    gathers from the small table) and finishes with a binary search inside it,
    ``bit_length(max bucket occupancy)`` rounds (the same for all queries, usually 1-3).
    """
    if side not in ("left", "right"):
        raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
    rows = jnp.asarray(sorted_rows, jnp.int32)
    q = jnp.asarray(queries, jnp.int32)
    n, lead_r = rows.shape[-1], rows.shape[:-1]
    if q.ndim < rows.ndim or q.shape[q.ndim - rows.ndim:-1] != lead_r:
        raise ValueError(f"queries {q.shape}: expected [..., *{lead_r}, m] for rows {rows.shape}")
    half = NO_SPIKE // 2
    real = rows < half
    n_real = real.sum(-1, dtype=jnp.int32)[..., None]  # [*R, 1]
    if n == 0:
        return jnp.zeros(q.shape, jnp.int32)
    nb = buckets_per_value * n
    lo_v = jnp.min(jnp.where(real, rows, half), axis=-1, keepdims=True)  # [*R, 1]
    hi_v = jnp.max(jnp.where(real, rows, -half), axis=-1, keepdims=True)
    width = jnp.maximum((hi_v - lo_v) // nb + 1, 1)  # nb * width > hi - lo: (q - lo) // width < nb
    edges = lo_v + jnp.arange(nb, dtype=jnp.int32) * width  # bucket b = [edge_b, edge_b + width)
    table = jnp.concatenate([searchsorted_rows(rows, edges, side=side), n_real], -1)  # [*R, nb + 1]
    occ = jnp.max(table[..., 1:] - table[..., :-1], initial=0)
    rounds = (32 - jax.lax.clz(jnp.maximum(occ, 1).astype(jnp.uint32))).astype(jnp.int32)  # bit_length
    row_id = jnp.arange(int(np.prod(lead_r, dtype=np.int64)), dtype=jnp.int32).reshape(lead_r)
    b = jnp.clip((q - lo_v) // width, 0, nb - 1)
    t_at = (row_id * (nb + 1))[..., None] + b
    start = jnp.take(table.reshape(-1), t_at, mode="clip")  # answer in [start, stop]
    stop = jnp.take(table.reshape(-1), t_at + 1, mode="clip")
    flat, base = rows.reshape(-1), (row_id * n)[..., None]

    def body(r, pos):
        nxt = pos + jnp.left_shift(jnp.int32(1), rounds - 1 - r)
        val = jnp.take(flat, base + jnp.clip(nxt - 1, 0, n - 1), mode="clip")
        ok = (nxt <= stop) & ((val < q) if side == "left" else (val <= q))
        return jnp.where(ok, nxt, pos)

    pos = jax.lax.fori_loop(0, rounds, body, start)
    below = (q < lo_v) if side == "left" else (q < lo_v)
    return jnp.where(below, 0, jnp.where(q > hi_v, n_real, pos))
