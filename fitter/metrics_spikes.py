"""Spike-train inputs of the metrics: padded step indices, rasters, units and sweep durations.

Conventions (shared with ``models`` and the recordings):

* model spikes ``spike_steps`` int32 ``[batch, sweep, K]``: step index ``i`` of each spike
  (time ``i * dt`` ms), ascending, padded with ``-1``; or a boolean raster ``[batch, sweep, time]``;
* data spikes ``spike_steps`` int32 ``[sweep, Kd]`` (same padding) or a raster ``[sweep, time]``;
* times, windows and ``dt`` in ms (plain floats) or saiunit Quantities (converted here).

Inside the metrics a spike that is padding, or falls at or after the end of its sweep, is
replaced by the sentinel ``NO_SPIKE`` (a large step index), which keeps every row sorted.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

__all__ = ["NO_SPIKE", "SpikeInput", "raster_to_spike_steps", "to_ms", "to_per_ms", "prepare_spikes"]

NO_SPIKE = 2**30  # sentinel step index of a missing spike (|difference| stays inside int32)


def to_ms(value: Any, name: str) -> Any:
    """A time (float ms or saiunit time Quantity) as a float (array) in ms."""
    if isinstance(value, u.Quantity):
        if value.dim != u.ms.dim:
            raise TypeError(f"{name}: expected a time (e.g. 2.0 * u.ms, or a float in ms), got {value}")
        return value.to_decimal(u.ms)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected a time in ms (float or saiunit Quantity), got {value!r}")
    return value


def to_per_ms(value: Any, name: str) -> Any:
    """A rate / cost per time (float per ms or saiunit 1/time Quantity) as a float per ms."""
    if isinstance(value, u.Quantity):
        if value.dim != u.kHz.dim:
            raise TypeError(f"{name}: expected a cost per time (e.g. 0.1 / u.ms), got {value}")
        return value.to_decimal(u.kHz)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected a float per ms (or saiunit 1/time Quantity), got {value!r}")
    return value


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
    dt = to_ms(dt, "dt")
    m_steps, m_t = _steps_of(model, "model", 3)
    d_steps, d_t = _steps_of(data, "data", 2)
    n_sweeps = d_steps.shape[0]
    if m_steps.shape[1] != n_sweeps:
        raise ValueError(f"model: expected {n_sweeps} sweeps (as data), got shape {m_steps.shape}")
    if duration is not None:
        dur = jnp.broadcast_to(jnp.asarray(to_ms(duration, "duration"), jnp.float32), (n_sweeps,))
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
    """``searchsorted`` along the last axis, rows broadcast over leading axes."""
    lead = jnp.broadcast_shapes(sorted_rows.shape[:-1], queries.shape[:-1])
    a = jnp.broadcast_to(sorted_rows, (*lead, sorted_rows.shape[-1])).reshape(-1, sorted_rows.shape[-1])
    q = jnp.broadcast_to(queries, (*lead, queries.shape[-1])).reshape(-1, queries.shape[-1])
    out = jax.vmap(lambda r, v: jnp.searchsorted(r, v, side=side))(a, q)
    return out.reshape(*lead, queries.shape[-1]).astype(jnp.int32)
