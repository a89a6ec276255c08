"""Objective terms from eFEL features: ``feature`` (one feature per term) and ``fi_curve``.

``{ name = "feature", feature = "<eFEL name>", scale = ..., undefined_loss = ... }``: per sweep,
the feature of each candidate against the data's, as a loss:

* relative features (kind ``"rate"``: mean_frequency, inv_first_ISI, in Hz; ``"count"``:
  Spikecount, Spikecount_stimint): ``|model - data| / max(|data|, scale)``, ``scale`` the
  floor of the denominator (default 1 Hz / 1 spike), so a data value near 0 does not blow up;
* absolute features: ``|model - data| / scale``, default ``scale`` 1 mV (``"voltage"``:
  the loss is the error in mV), 1 ms (``"time"``: in ms), 1 (``"ratio"``: ISI_CV,
  adaptation_index[2]);
* undefined values (NaN: too few spikes, see :mod:`spikefit.scoring.features`): both sides
  undefined -> 0 (the model agrees that the feature does not exist there); one side only ->
  ``undefined_loss``, default 1 for relative features (a 100 % error) and the loss of an
  error of 10 mV, 100 ms or 1 (ratio) for the absolute ones, i.e. ``10 / scale`` etc.

Which spikes: the model's are the simulator's spike steps, the data's the spike steps every
other metric uses (the reader's detector: the 0 mV crossing), the same feature code on both.
The AHP search starts at the top of each spike, so a crossing on the rising phase is as good
as eFEL's peak; where the detector and eFEL's -20 mV peak finding disagree on a spike (eFEL
counts some double peaks 3 ms apart) the data's values differ from eFEL's on that sweep
(:func:`~spikefit.scoring.features.sweep_features` gives eFEL's). Voltage features of a
model without spike shape (integrate-and-fire) see V without spikes: compare steady-state
voltages on sub-threshold steps.

``{ name = "fi_curve", min_rate_hz = ... }``: the f-I curve over the steps, per sweep
``|r_model - r_data| / max(r_data, floor)``, ``r`` the spike rate in the step window (Hz:
spikes with ``stim_start <= t <= stim_end`` over the window's length). ``floor`` defaults
to one spike per window (``1000 / window_ms`` Hz), so on a step where the data is silent
each model spike costs 1, and where the data fires the loss is the relative rate error. The
objective averages the per-step losses over the (weighted) steps like every metric; the
sum over steps is that times their number.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spikefit.scoring.features.catalog import FEATURES
from spikefit.scoring.features.spike_events import spike_count_stimint
from spikefit.scoring.metrics.spikes import raster_to_spike_steps

__all__ = ["DEFAULT_SCALE", "DEFAULT_UNDEFINED", "RELATIVE_KINDS", "feature_loss", "fi_curve_loss",
           "feature_scale", "undefined_penalty"]

#: kinds of feature scored by relative error (``scale``: the floor of the denominator)
RELATIVE_KINDS = ("rate", "count")
#: default ``scale`` per kind, in the feature's unit: Hz, spikes, ms, mV, 1
DEFAULT_SCALE = {"rate": 1.0, "count": 1.0, "time": 1.0, "voltage": 1.0, "ratio": 1.0}
#: default error (feature units) charged when one side is undefined; relative kinds: the loss itself
DEFAULT_UNDEFINED = {"rate": 1.0, "count": 1.0, "time": 100.0, "voltage": 10.0, "ratio": 1.0}


def feature_scale(feature: str, scale: float | None) -> float:
    """The ``scale`` a term of ``feature`` uses (its default for the kind when None)."""
    return float(DEFAULT_SCALE[FEATURES[feature].kind] if scale is None else scale)


def undefined_penalty(feature: str, scale: float | None, undefined_loss: float | None) -> float:
    """The loss of a sweep where exactly one side has no value of ``feature``."""
    if undefined_loss is not None:
        return float(undefined_loss)
    kind = FEATURES[feature].kind
    if kind in RELATIVE_KINDS:
        return DEFAULT_UNDEFINED[kind]
    return DEFAULT_UNDEFINED[kind] / feature_scale(feature, scale)


def _steps(x: Any) -> jax.Array:
    arr = jnp.asarray(x)
    return raster_to_spike_steps(arr) if arr.dtype == jnp.bool_ else arr.astype(jnp.int32)


def feature_loss(x, *, feature: str, scale: float | None = None, undefined_loss: float | None = None) -> jax.Array:
    """``[B, S]`` loss of one feature (``x``: :class:`~spikefit.scoring.registry.MetricInputs`)."""
    f = FEATURES[feature]
    if f.needs_voltage and (x.model_V is None or x.data_V is None):
        raise ValueError(f"feature {feature!r}: needs model_V [B, S, T] and data_V [S, T] (mV)")
    window = (x.dt, x.stim_start, x.stim_end, x.duration)
    m = f.fn(_steps(x.model), x.model_V, *window)
    d = f.fn(_steps(x.data), x.data_V, *window)[None]
    s = feature_scale(feature, scale)
    if f.kind in RELATIVE_KINDS:
        err = jnp.abs(m - d) / jnp.maximum(jnp.abs(d), s)
    else:
        err = jnp.abs(m - d) / s
    nan_m, nan_d = jnp.isnan(m), jnp.isnan(d)
    penalty = undefined_penalty(feature, scale, undefined_loss)
    return jnp.where(nan_m & nan_d, 0.0, jnp.where(nan_m | nan_d, penalty, err)).astype(jnp.float32)


def fi_curve_loss(x, *, min_rate_hz: float | None = None) -> jax.Array:
    """``[B, S]`` relative spike-rate error in each step window (see the module docstring)."""
    window = (x.dt, x.stim_start, x.stim_end, x.duration)
    span = jnp.maximum(jnp.asarray(x.stim_end - x.stim_start, jnp.float32), 1e-6)  # [S] ms
    r_m = spike_count_stimint(_steps(x.model), *window) * 1000.0 / span
    r_d = spike_count_stimint(_steps(x.data), *window) * 1000.0 / span
    floor = 1000.0 / span if min_rate_hz is None else jnp.float32(min_rate_hz)
    return (jnp.abs(r_m - r_d[None]) / jnp.maximum(r_d, floor)[None]).astype(jnp.float32)
