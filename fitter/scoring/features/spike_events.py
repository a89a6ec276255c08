"""Spike-event features of step responses, as eFEL defines them, from spike steps.

Input: ``spike_steps`` ``[..., K]`` (int, step index ``i`` = time ``i * dt_ms``, ascending,
padded with -1), ``dt_ms``, the stimulus window ``stim_start_ms`` / ``stim_end_ms``
(broadcast against ``spike_steps.shape[:-1]``, e.g. ``[S]`` for ``[B, S, K]``) and optionally
``t_stop_ms`` (the trace length; spikes at or after it are ignored). Output ``[...]`` float32,
NaN where eFEL has no value (too few spikes), see each function. Pure and jittable.

eFEL's rules kept here (eFEL 5.7, default settings, ``strict_stiminterval`` off):

* every spike of the trace counts, except where a feature says "in the window": a spike is in
  the window when ``stim_start <= t <= stim_end`` (both ends included);
* ``ignore_first_ISI`` is on: ISI_CV drops the first interval of the trace;
* adaptation_index skips ``min(int(0.1 * n + 0.5), 2)`` of the ``n`` spikes in the window
  (``spike_skipf`` 0.1, ``max_spike_skip`` 2), adaptation_index2 exactly one.

eFEL measures spikes at the peak of V on a trace interpolated to ``interp_step``; here a
spike is wherever ``spike_steps`` puts it (a model's threshold event, or the peaks found by
:func:`spikefit.scoring.features.peaks.peak_steps` in a recording).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["spike_count", "spike_count_stimint", "mean_frequency", "time_to_first_spike", "inv_first_ISI",
           "ISI_CV", "adaptation_index", "adaptation_index2"]

_EPS = 1e-3  # steps: a spike within 1e-3 samples of a window edge sits on it (float rounding of t = i * dt)


class _Train(NamedTuple):
    steps: jax.Array  # int32 [..., K], 0 where missing
    ok: jax.Array  # bool [..., K], real spikes (front-contiguous)
    n: jax.Array  # int32 [...]
    inwin: jax.Array  # bool [..., K], spikes in [stim_start, stim_end]
    start: jax.Array  # float32 [...] ms
    dt: float


def _train(spike_steps: Any, dt_ms: float, stim_start_ms: Any, stim_end_ms: Any, t_stop_ms: Any = None) -> _Train:
    steps = jnp.asarray(spike_steps)
    if steps.ndim < 1 or not jnp.issubdtype(steps.dtype, jnp.integer):
        raise ValueError(f"spike_steps: expected integer step indices [..., K] padded with -1, got "
                         f"{steps.dtype} {steps.shape}")
    steps = steps.astype(jnp.int32)
    lead = steps.shape[:-1]
    dt = float(dt_ms)
    start = jnp.broadcast_to(jnp.asarray(stim_start_ms, jnp.float32), lead)
    end = jnp.broadcast_to(jnp.asarray(stim_end_ms, jnp.float32), lead)
    x = steps.astype(jnp.float32)
    ok = steps >= 0
    if t_stop_ms is not None:
        stop = jnp.broadcast_to(jnp.asarray(t_stop_ms, jnp.float32), lead)
        ok = ok & (x < (stop / dt - _EPS)[..., None])
    inwin = ok & (x >= (start / dt - _EPS)[..., None]) & (x <= (end / dt + _EPS)[..., None])
    return _Train(jnp.where(ok, steps, 0), ok, ok.sum(-1, dtype=jnp.int32), inwin, start, dt)


def _nan() -> jax.Array:
    return jnp.float32(jnp.nan)


def _prev(x: jax.Array, fill) -> jax.Array:
    """``x`` shifted one place right along the last axis (``out[..., j] = x[..., j - 1]``)."""
    pad = jnp.full(x.shape[:-1] + (1,), fill, x.dtype)
    return jnp.concatenate([pad, x[..., :-1]], -1)


def spike_count(spike_steps, dt_ms, stim_start_ms=0.0, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """eFEL ``Spikecount`` (``spike_count``): spikes in the whole trace (always defined)."""
    return _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms).n.astype(jnp.float32)


def spike_count_stimint(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms=None) -> jax.Array:
    """eFEL ``Spikecount_stimint``: spikes with ``stim_start <= t <= stim_end`` (always defined)."""
    return _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms).inwin.sum(-1).astype(jnp.float32)


def mean_frequency(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms=None) -> jax.Array:
    """eFEL ``mean_frequency`` (Hz): ``1000 * n_win / (t_last_win - stim_start)``, over the spikes
    in the window (``t_last_win`` the last of them).

    As eFEL: NaN when the trace has no spike at all (its peak detection fails), 0 when it has
    spikes but none in the window (NaN instead if ``stim_start`` is 0), NaN when the only
    spike in the window sits on ``stim_start``.
    """
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    n_win = tr.inwin.sum(-1)
    last = jnp.max(jnp.where(tr.inwin, tr.steps, -1), -1).astype(jnp.float32) * tr.dt
    span = last - tr.start
    rate = n_win.astype(jnp.float32) * 1000.0 / jnp.where(span > 0, span, 1.0)
    rate = jnp.where(span > 0, rate, _nan())
    silent_win = jnp.where(tr.start == 0, _nan(), 0.0)
    return jnp.where(tr.n == 0, _nan(), jnp.where(n_win == 0, silent_win, rate))


def time_to_first_spike(spike_steps, dt_ms, stim_start_ms, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """eFEL ``time_to_first_spike`` (ms): first spike of the trace minus ``stim_start``
    (negative for a spike before the stimulus, as in eFEL); NaN without spikes."""
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    return jnp.where(tr.n > 0, tr.steps[..., 0].astype(jnp.float32) * tr.dt - tr.start, _nan())


def inv_first_ISI(spike_steps, dt_ms, stim_start_ms=0.0, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """eFEL ``inv_first_ISI`` (Hz): ``1000 / (t_2 - t_1)`` of the first two spikes of the trace;
    NaN with fewer than 2 spikes."""
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    if tr.steps.shape[-1] < 2:
        return jnp.full(tr.n.shape, jnp.nan, jnp.float32)
    isi = (tr.steps[..., 1] - tr.steps[..., 0]).astype(jnp.float32) * tr.dt
    return jnp.where(tr.n >= 2, 1000.0 / jnp.where(tr.n >= 2, isi, 1.0), _nan())


def ISI_CV(spike_steps, dt_ms, stim_start_ms=0.0, stim_end_ms=0.0, t_stop_ms=None) -> jax.Array:
    """eFEL ``ISI_CV``: ``std(ISI, ddof=1) / mean(ISI)`` over the intervals of the whole trace
    without the first (``ignore_first_ISI``); NaN with fewer than 2 such intervals (< 4 spikes)."""
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    isi = (tr.steps - _prev(tr.steps, 0)).astype(jnp.float32) * tr.dt  # isi[j] = t_j - t_{j-1}
    j = jnp.arange(tr.steps.shape[-1])
    use = tr.ok & (j >= 2)  # interval j >= 2: the first interval (j = 1) is ignored
    m = use.sum(-1).astype(jnp.float32)
    mean = jnp.where(use, isi, 0.0).sum(-1) / jnp.maximum(m, 1.0)
    var = jnp.where(use, (isi - mean[..., None]) ** 2, 0.0).sum(-1) / jnp.maximum(m - 1.0, 1.0)
    return jnp.where(m >= 2, jnp.sqrt(var) / jnp.where(m >= 2, mean, 1.0), _nan())


def _adaptation(tr: _Train, skip: jax.Array, enough: jax.Array) -> jax.Array:
    """Mean of ``(ISI_i - ISI_{i-1}) / (ISI_i + ISI_{i-1})`` over the window's spikes after
    ``skip`` of them; NaN where ``enough`` is False."""
    rank = jnp.cumsum(tr.inwin, -1) - 1
    sel = tr.inwin & (rank >= skip[..., None])
    isi = (tr.steps - _prev(tr.steps, 0)).astype(jnp.float32)  # in steps: dt cancels
    pair = sel & _prev(sel, False)  # interval ending at spike j, both ends selected
    both = pair & _prev(pair, False)  # two consecutive intervals
    prev_isi = _prev(isi, 1.0)
    term = (isi - prev_isi) / jnp.where(both, isi + prev_isi, 1.0)
    count = both.sum(-1)
    adi = jnp.where(both, term, 0.0).sum(-1) / jnp.maximum(count, 1)
    return jnp.where(enough & (count >= 1), adi, _nan())


def adaptation_index(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms=None) -> jax.Array:
    """eFEL ``adaptation_index``: of the ``n`` spikes in the window, skip the first
    ``min(int(0.1 n + 0.5), 2)``; mean of ``(ISI_i - ISI_{i-1}) / (ISI_i + ISI_{i-1})`` over the
    rest; NaN with fewer than 4 spikes left."""
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    n_win = tr.inwin.sum(-1)
    skip = jnp.minimum(jnp.floor(n_win * 0.1 + 0.5).astype(jnp.int32), 2)
    return _adaptation(tr, skip, n_win - skip >= 4)


def adaptation_index2(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms=None) -> jax.Array:
    """eFEL ``adaptation_index2``: as :func:`adaptation_index`, but always skipping exactly the
    first spike in the window (it starts at the second ISI); NaN with fewer than 4 spikes in
    the window."""
    tr = _train(spike_steps, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms)
    n_win = tr.inwin.sum(-1)
    return _adaptation(tr, jnp.ones_like(n_win), (n_win >= 4) & (tr.n >= 4))
