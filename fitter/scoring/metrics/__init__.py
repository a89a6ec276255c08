"""Spike-train and voltage metrics, batched over candidates: each returns ``[batch, sweep]``.

Pure and jittable (``dt``, windows and the spike buffer sizes static in practice). Inputs:
model spikes ``[B, S, K]`` spike_steps (padded with -1) or a bool raster ``[B, S, T]``; data
spikes ``[S, Kd]`` or ``[S, T]``; ``dt`` and all times in ms or saiunit Quantities; sweep
length from ``duration`` (ms, scalar or ``[S]``) or ``mask`` (``[S, T]`` bool). Reduce over
sweeps with :func:`reduce_sweeps`.

The coincidence factor lives in :mod:`spikefit.scoring.metrics.coincidence`, the spike-train distances
in :mod:`spikefit.scoring.metrics.distances`, input handling in :mod:`spikefit.scoring.metrics.spikes`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spikefit.scoring.metrics.coincidence import gamma_factor, intrinsic_reliability
from spikefit.scoring.metrics.distances import isi_distance, van_rossum_distance, victor_purpura_distance
from spikefit.scoring.metrics.spikes import prepare_spikes, raster_to_spike_steps
from spikefit.units import as_ms as to_ms

__all__ = [
    "first_spike_latency_error",
    "firing_rate_error",
    "gamma_factor",
    "intrinsic_reliability",
    "isi_distance",
    "raster_to_spike_steps",
    "reduce_sweeps",
    "spike_count_error",
    "van_rossum_distance",
    "victor_purpura_distance",
    "voltage_rmse",
]


def reduce_sweeps(per_sweep: Any, weights: Any = None) -> jax.Array:
    """``[B, S]`` -> ``[B]``: mean over sweeps, weighted by ``weights`` ``[S]`` (float or bool mask)."""
    x = jnp.asarray(per_sweep)
    if x.ndim != 2:
        raise ValueError(f"per_sweep: expected [batch, sweep], got shape {x.shape}")
    if weights is None:
        return x.mean(-1)
    w = jnp.asarray(weights, jnp.float32)
    if w.shape != (x.shape[1],):
        raise ValueError(f"weights: expected [sweep={x.shape[1]}], got shape {w.shape}")
    return jnp.sum(jnp.where(w > 0, x * w, 0.0), -1) / jnp.maximum(w.sum(), 1e-12)


def spike_count_error(model: Any, data: Any, dt: Any, *, duration: Any = None, mask: Any = None,
                      relative: bool = False) -> jax.Array:
    """``|N_model - N_data|`` per sweep (exact integers as float), or divided by ``max(N_data, 1)``.

    Counts are the spikes inside the sweep present in the buffers (an overflowing model
    buffer undercounts; the objective penalises overflow separately).
    """
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    err = jnp.abs(sp.n_model - sp.n_data[None]).astype(jnp.float32)
    return err / jnp.maximum(sp.n_data, 1)[None] if relative else err


def firing_rate_error(model: Any, data: Any, dt: Any, *, duration: Any = None, mask: Any = None) -> jax.Array:
    """``|rate_model - rate_data|`` in Hz per sweep (counts over the sweep duration)."""
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    return jnp.abs(sp.n_model - sp.n_data[None]).astype(jnp.float32) / sp.duration[None] * 1000.0


def first_spike_latency_error(model: Any, data: Any, dt: Any, *, duration: Any = None,
                              mask: Any = None) -> jax.Array:
    """``|t_first_model - t_first_data|`` in ms per sweep.

    A train without spikes counts as having its first spike at the end of the sweep: both
    empty gives 0, one empty gives ``duration - t_first`` of the other (the error a first
    spike moving towards the end of the sweep tends to, so the score stays continuous).
    """
    sp = prepare_spikes(model, data, dt, duration=duration, mask=mask)
    dt_ms = to_ms(dt, "dt")
    t_m = jnp.where(sp.n_model > 0, sp.model[..., 0] * dt_ms, sp.duration[None])
    t_d = jnp.where(sp.n_data > 0, sp.data[..., 0] * dt_ms, sp.duration)
    return jnp.abs(t_m - t_d[None]).astype(jnp.float32)


def _near_spikes(steps: jax.Array, n_time: int, before: int, after: int) -> jax.Array:
    """Bool ``[..., T]``: True at samples within [spike - before, spike + after] of a spike."""
    flat = steps.reshape(-1, steps.shape[-1])
    ok = (flat >= 0) & (flat < n_time)
    rows = jnp.arange(flat.shape[0])[:, None]
    raster = jnp.zeros((flat.shape[0], n_time + 1), jnp.int32)
    raster = raster.at[rows, jnp.where(ok, flat, n_time)].add(1)[:, :n_time]
    cs = jnp.concatenate([jnp.zeros_like(raster[:, :1]), jnp.cumsum(raster, -1)], -1)  # cs[t] = #spikes < t
    t = jnp.arange(n_time)
    hi = cs[:, jnp.clip(t + before + 1, 0, n_time)]
    lo = cs[:, jnp.clip(t - after, 0, n_time)]
    return (hi - lo > 0).reshape(*steps.shape[:-1], n_time)


def voltage_rmse(model_V: Any, data_V: Any, data_spikes: Any, dt: Any, *, mask: Any = None,
                 model_spikes: Any = None, window_ms: Any = (1.0, 5.0)) -> jax.Array:
    """Sub-threshold voltage RMSE (mV) per candidate and sweep, ``[B, S]``.

    ``model_V`` ``[B, S, T]`` and ``data_V`` ``[S, T]`` in mV; samples from ``window_ms[0]``
    before to ``window_ms[1]`` after any data spike (and any model spike, when
    ``model_spikes`` ``[B, S, K]`` is given) are left out, as are samples where ``mask``
    (``[S, T]``) is False. A sweep with no sample left scores 0.
    """
    vm = jnp.asarray(model_V, jnp.float32)
    vd = jnp.asarray(data_V, jnp.float32)
    if vm.ndim != 3 or vd.ndim != 2 or vm.shape[1:] != vd.shape:
        raise ValueError(f"model_V/data_V: expected [B, S, T] and [S, T], got {vm.shape} and {vd.shape}")
    n_time = vd.shape[-1]
    if isinstance(window_ms, (int, float)) or (hasattr(window_ms, "ndim") and window_ms.ndim == 0):
        window_ms = (window_ms, window_ms)
    dt_ms = to_ms(dt, "dt")
    before = int(round(float(to_ms(window_ms[0], "window_ms[0]")) / dt_ms))
    after = int(round(float(to_ms(window_ms[1], "window_ms[1]")) / dt_ms))

    def steps_of(x, rank):
        x = jnp.asarray(x.spike_steps if hasattr(x, "spike_steps") else x)
        if x.ndim != rank:
            raise ValueError(f"spikes: expected rank {rank} spike_steps or raster, got shape {x.shape}")
        return raster_to_spike_steps(x) if x.dtype == jnp.bool_ else x.astype(jnp.int32)

    keep = ~_near_spikes(steps_of(data_spikes, 2), n_time, before, after)[None]  # [1, S, T]
    if model_spikes is not None:
        keep = keep & ~_near_spikes(steps_of(model_spikes, 3), n_time, before, after)
    if mask is not None:
        keep = keep & jnp.asarray(mask, bool)[None]
    sq = jnp.where(keep, (vm - vd[None]) ** 2, 0.0)
    count = jnp.broadcast_to(keep, vm.shape).sum(-1)
    return jnp.sqrt(sq.sum(-1) / jnp.maximum(count, 1))
