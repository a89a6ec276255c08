"""Voltage features of step responses, as eFEL defines them, from V ``[..., T]`` (mV).

Sample ``i`` of ``V`` is at time ``i * dt_ms``; the stimulus window ``stim_start_ms`` /
``stim_end_ms`` broadcasts against ``V.shape[:-1]`` (``[S]`` for ``[B, S, T]``);
``t_stop_ms`` (optional, same broadcasting) is where each trace really ends (padding after it
is ignored). Output ``[...]`` float32, NaN where eFEL has no value. Pure and jittable.

eFEL's windows (5.7, defaults ``voltage_base_start_perc`` 0.9, ``voltage_base_end_perc`` 1.0,
``voltage_base_mode`` "mean"):

* ``voltage_base``: mean V over ``0.9 * stim_start <= t <= stim_start``;
* ``steady_state_voltage_stimend``: mean V over ``stim_end - 0.1 * (stim_end - stim_start)
  <= t < stim_end``;
* ``min_AHP_values``: after each spike, the *first* local minimum of V before the next spike
  (after the last spike: before the end of the trace), where a local minimum is the lowest
  value so far that the next two samples do not undercut; when there is none, the lowest
  sample; a minimum on the trace's last sample does not count. For an integrate-and-fire
  model (V reset at the spike, no spike shape) this is the post-spike trough.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spikefit.scoring.metrics.spikes import NO_SPIKE

__all__ = ["voltage_base", "steady_state_voltage_stimend", "min_AHP_values", "AHP_depth_abs", "AHP_depth"]

_EPS = 1e-3  # samples: window edges within 1e-3 samples of a sample time include that sample


def _as_v(V: Any) -> jax.Array:
    v = jnp.asarray(V, jnp.float32)
    if v.ndim < 1:
        raise ValueError(f"V: expected a voltage trace [..., time] in mV, got shape {v.shape}")
    return v


def _window_mean(v: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """Mean of ``v[..., i]`` over samples ``lo <= i <= hi`` (float bounds ``[...]``); NaN if none."""
    i = jnp.arange(v.shape[-1], dtype=jnp.float32)
    use = (i >= lo[..., None]) & (i <= hi[..., None])
    n = use.sum(-1)
    return jnp.where(n > 0, jnp.where(use, v, 0.0).sum(-1) / jnp.maximum(n, 1), jnp.nan)


def _bcast(x: Any, lead: tuple) -> jax.Array:
    return jnp.broadcast_to(jnp.asarray(x, jnp.float32), lead)


def voltage_base(V, dt_ms, stim_start_ms, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """eFEL ``voltage_base`` (mV): mean V over ``[0.9 stim_start, stim_start]``; NaN when
    ``stim_start <= 0`` (eFEL: "startTime >= endTime")."""
    v = _as_v(V)
    start = _bcast(stim_start_ms, v.shape[:-1]) / float(dt_ms)
    lo = jnp.ceil(0.9 * start - _EPS)
    hi = jnp.floor(start + _EPS)
    if t_stop_ms is not None:
        hi = jnp.minimum(hi, jnp.ceil(_bcast(t_stop_ms, v.shape[:-1]) / float(dt_ms) - _EPS) - 1)
    return jnp.where(start > 0, _window_mean(v, lo, hi), jnp.nan)


def steady_state_voltage_stimend(V, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms=None) -> jax.Array:
    """eFEL ``steady_state_voltage_stimend`` (mV): mean V over the last 10 % of the stimulus,
    ``[stim_end - 0.1 (stim_end - stim_start), stim_end)``."""
    v = _as_v(V)
    dt = float(dt_ms)
    start = _bcast(stim_start_ms, v.shape[:-1])
    end = _bcast(stim_end_ms, v.shape[:-1])
    lo = jnp.ceil((end - 0.1 * (end - start)) / dt - _EPS)
    hi = jnp.ceil(end / dt - _EPS) - 1  # t < stim_end
    if t_stop_ms is not None:
        hi = jnp.minimum(hi, jnp.ceil(_bcast(t_stop_ms, v.shape[:-1]) / dt - _EPS) - 1)
    return _window_mean(v, lo, hi)


def min_AHP_values(V, spike_steps, dt_ms=None, t_stop_ms=None) -> tuple[jax.Array, jax.Array]:
    """eFEL ``min_AHP_values`` per spike: ``(values [..., K] mV, defined [..., K] bool)``.

    ``spike_steps`` ``[..., K]`` (padded with -1) are the spikes of ``V`` ``[..., T]``: their
    peaks (eFEL), the last sample before an IF model's reset, or a threshold crossing on the
    rising phase (then the search starts at the top of that spike). ``dt_ms`` is needed only
    with ``t_stop_ms`` (the end of each trace, ms).

    eFEL scans each segment ``[peak_k, end_k)`` (``end_k`` the next peak or the end of the
    trace) for the first running minimum that the next two samples do not undercut. That is
    the first ``m`` of the segment with ``V[m+1] >= V[m]`` and ``V[m+2] >= V[m]``
    (``m + 2 < end_k``): an earlier, lower sample would lead, by steps of one or two samples
    each lower than the last, to such an ``m`` before it. When there is none, every sample
    before ``end_k - 2`` has a lower one after it, so the segment's lowest sample (eFEL's
    fallback) is ``end_k - 2`` or ``end_k - 1``. Hence one reverse running minimum over time
    and a gather per spike, no per-segment reduction.
    """
    v = _as_v(V)
    steps = jnp.asarray(spike_steps, jnp.int32)
    lead, n_t = v.shape[:-1], v.shape[-1]
    steps = jnp.broadcast_to(steps, lead + steps.shape[-1:])
    if t_stop_ms is None:
        stop = jnp.full(lead, n_t, jnp.int32)
    else:
        stop = jnp.clip(jnp.ceil(_bcast(t_stop_ms, lead) / float(dt_ms) - _EPS), 0, n_t).astype(jnp.int32)
    ok = (steps >= 0) & (steps < stop[..., None])
    nxt = jnp.concatenate([jnp.where(ok, steps, NO_SPIKE)[..., 1:], jnp.full(lead + (1,), NO_SPIKE, jnp.int32)], -1)
    end = jnp.minimum(nxt, stop[..., None])  # segment of spike k: [peak_k, end_k)
    t = jnp.arange(n_t, dtype=jnp.int32)
    none = jnp.int32(NO_SPIKE)
    axis = v.ndim - 1
    # a spike step on the rising phase (a threshold crossing) moves to the top of its spike: the
    # first sample whose successor is not higher (eFEL's peaks and an IF model's spike step,
    # the last sample before the reset, are there already)
    top = jnp.concatenate([v[..., 1:] <= v[..., :-1], jnp.ones(lead + (1,), bool)], -1)
    peak = jnp.take_along_axis(jax.lax.cummin(jnp.where(top, t, none), axis=axis, reverse=True),
                               jnp.where(ok, steps, 0), -1)
    ok = ok & (peak < end)
    peak = jnp.where(ok, peak, 0)
    up1 = jnp.concatenate([v[..., 1:] >= v[..., :-1], jnp.zeros(lead + (1,), bool)], -1)
    up2 = jnp.concatenate([v[..., 2:] >= v[..., :-2], jnp.zeros(lead + (2,), bool)], -1)
    next_local = jax.lax.cummin(jnp.where(up1 & up2, t, none), axis=axis, reverse=True)
    m = jnp.take_along_axis(next_local, peak, -1)
    found = m + 2 < end
    last2 = jnp.maximum(end - 2, peak)
    at = lambda i: jnp.take_along_axis(v, jnp.clip(i, 0, n_t - 1), -1)  # noqa: E731
    low = jnp.where(at(last2) <= at(end - 1), last2, end - 1)
    idx = jnp.where(found, m, low)
    defined = ok & (idx != stop[..., None] - 1)
    return jnp.where(defined, at(idx), jnp.nan), defined


def AHP_depth_abs(V, spike_steps, dt_ms, stim_start_ms=0.0, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """Mean of eFEL ``AHP_depth_abs`` (mV) over the spikes (eFEL gives one value per spike; a
    sweep's feature is their mean, as BluePyOpt scores it); NaN without a defined minimum."""
    values, defined = min_AHP_values(V, spike_steps, dt_ms, t_stop_ms)
    n = defined.sum(-1)
    return jnp.where(n > 0, jnp.where(defined, values, 0.0).sum(-1) / jnp.maximum(n, 1), jnp.nan)


def AHP_depth(V, spike_steps, dt_ms, stim_start_ms, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """Mean of eFEL ``AHP_depth`` (mV): :func:`AHP_depth_abs` minus :func:`voltage_base`."""
    return (AHP_depth_abs(V, spike_steps, dt_ms, t_stop_ms=t_stop_ms)
            - voltage_base(V, dt_ms, stim_start_ms, t_stop_ms=t_stop_ms))
