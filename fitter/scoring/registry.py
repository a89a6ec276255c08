"""The objective's metric table: each metric name with its parameters, validators and compute.

A metric computes ``[B, S]`` raw values from :class:`MetricInputs` and its parameters;
``to_loss`` turns them into losses (``1 - Gamma``; the distances and errors as they are). The
spec of one metric (a ``[[objective.metrics]]`` table) is validated by :func:`parse_term`,
whose errors name the key, the value seen and the allowed values.

Feature metrics (eFEL names, :mod:`spikefit.scoring.features`) come from
:mod:`spikefit.scoring.feature_terms`: ``{ name = "feature", feature = "mean_frequency" }``
and ``{ name = "fi_curve" }``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

import jax

from spikefit.errors import SpikefitError
from spikefit.scoring import feature_terms as F
from spikefit.scoring import metrics as M
from spikefit.scoring.features.catalog import FEATURES

__all__ = ["METRICS", "MetricInputs", "MetricTerm", "parse_term"]


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (bools, strings, huge ints, nan and inf are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def positive(key: str, value: Any) -> float:
    x = _number(value)
    if x is None or x <= 0:
        raise SpikefitError(f"[{key}] expected a positive number, got {value!r}")
    return x


def _positive_or_none(key: str, value: Any) -> float | None:
    return None if value is None else positive(key, value)


def _non_negative_or_none(key: str, value: Any) -> float | None:
    x = _number(value)
    if value is not None and (x is None or x < 0):
        raise SpikefitError(f"[{key}] expected a number >= 0, got {value!r}")
    return x


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpikefitError(f"[{key}] expected true or false, got {value!r}")
    return value


def _window(key: str, value: Any) -> tuple[float, float]:
    if _number(value) is not None:
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2 or any(_number(v) is None for v in value):
        raise SpikefitError(f"[{key}] expected [before_ms, after_ms] (two numbers), got {value!r}")
    before, after = (float(v) for v in value)
    if before < 0 or after < 0:
        raise SpikefitError(f"[{key}] expected non-negative ms, got {value!r}")
    return before, after


def did_you_mean(seen: Any, allowed) -> str:
    close = difflib.get_close_matches(str(seen), list(allowed), n=1, cutoff=0.7) if isinstance(seen, str) else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _feature_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in FEATURES:
        raise SpikefitError(f"[{key}] unknown feature {value!r}; expected one of the eFEL feature names "
                            f"{', '.join(sorted(FEATURES))}, got {value!r}{did_you_mean(value, FEATURES)}")
    return value


class MetricInputs(NamedTuple):
    """What a metric's ``compute`` sees (inside the jitted scorer)."""

    model: Any  # spike_steps [B, S, K]
    data: Any  # spike_steps [S, Kd] (or raster [S, T])
    dt: float  # ms
    duration: Any  # [S] ms
    model_V: Any  # [B, S, T] mV or None
    data_V: Any  # [S, T] mV or None
    mask: Any  # [S, T] bool or None
    stim_start: Any  # [S] ms (0 without a stimulus window)
    stim_end: Any  # [S] ms (the sweep's duration without a stimulus window)


@dataclass(frozen=True)
class _MetricDef:
    params: dict[str, tuple[Any, Callable[[str, Any], Any]]]  # key -> (default, validator)
    compute: Callable[..., jax.Array]  # (MetricInputs, **params) -> [B, S]
    to_loss: Callable[[jax.Array, dict], jax.Array] = lambda x, p: x
    #: the scorer may need V; True for "feature" (voltage features): an evaluator recording V
    #: whenever this is True is always right; :meth:`voltage` says it per term
    needs_voltage: bool = False
    voltage_if: Callable[[dict], bool] | None = None  # per-term answer, from the parameters
    window_if: Callable[[dict], bool] = lambda p: False  # needs a stimulus window with onset > 0
    label_of: Callable[[str, dict], str] = lambda name, p: name  # default column label

    def voltage(self, params: dict) -> bool:
        """Whether a term of this metric with ``params`` needs model and data V."""
        return self.voltage_if(params) if self.voltage_if is not None else self.needs_voltage


def _spikes(fn: Callable, **rename: str) -> Callable:
    def compute(x: MetricInputs, **params):
        kwargs = {rename.get(k, k): v for k, v in params.items()}
        return fn(x.model, x.data, x.dt, duration=x.duration, **kwargs)
    return compute


def _rmse(x: MetricInputs, *, window_ms):
    return M.voltage_rmse(x.model_V, x.data_V, x.data, x.dt, mask=x.mask, model_spikes=x.model, window_ms=window_ms)


def _gamma(x: MetricInputs, *, delta_ms, max_chance, reliability):
    return M.gamma_factor(x.model, x.data, x.dt, delta_ms, duration=x.duration, max_chance=max_chance)


def _feature(x: MetricInputs, *, feature, scale, undefined_loss):
    return F.feature_loss(x, feature=feature, scale=scale, undefined_loss=undefined_loss)


def _fi(x: MetricInputs, *, min_rate_hz):
    return F.fi_curve_loss(x, min_rate_hz=min_rate_hz)


METRICS: dict[str, _MetricDef] = {
    "gamma": _MetricDef(
        {"delta_ms": (2.0, positive), "max_chance": (0.5, positive), "reliability": (1.0, positive)},
        _gamma, lambda x, p: 1.0 - x / p["reliability"]),
    "van_rossum": _MetricDef({"tau_ms": (10.0, positive)}, _spikes(M.van_rossum_distance, tau_ms="tau")),
    "victor_purpura": _MetricDef({"q_per_ms": (0.1, positive)}, _spikes(M.victor_purpura_distance, q_per_ms="q")),
    "isi": _MetricDef({}, _spikes(M.isi_distance)),
    "spike_count": _MetricDef({"relative": (False, _flag)}, _spikes(M.spike_count_error)),
    "firing_rate": _MetricDef({}, _spikes(M.firing_rate_error)),
    "first_spike_latency": _MetricDef({}, _spikes(M.first_spike_latency_error)),
    "voltage_rmse": _MetricDef({"window_ms": ((1.0, 5.0), _window)}, _rmse, needs_voltage=True),
    # one eFEL feature per term, |model - data| / scale per sweep (spikefit.scoring.feature_terms)
    "feature": _MetricDef(
        {"feature": (None, _feature_name), "scale": (None, _positive_or_none),
         "undefined_loss": (None, _non_negative_or_none)},
        _feature, needs_voltage=True, voltage_if=lambda p: FEATURES[p["feature"]].needs_voltage,
        window_if=lambda p: FEATURES[p["feature"]].needs_onset, label_of=lambda name, p: p["feature"]),
    # the f-I curve: relative error of the spike rate in each step window
    "fi_curve": _MetricDef({"min_rate_hz": (None, _positive_or_none)}, _fi),
}


@dataclass(frozen=True)
class MetricTerm:
    """One metric of an objective: its name, label (column name), weight and parameters."""

    name: str
    label: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_voltage(self) -> bool:
        """Whether this term needs model V [B, S, T] and data V [S, T]."""
        return METRICS[self.name].voltage(self.params)

    @property
    def needs_window(self) -> bool:
        """Whether this term needs the stimulus window (``stim_window_ms``) with an onset > 0."""
        return METRICS[self.name].window_if(self.params)


def parse_term(index: int, entry: Any) -> MetricTerm:
    """The ``index``-th ``[[objective.metrics]]`` table as a :class:`MetricTerm`."""
    where = f"objective.metrics[{index}]"
    if not isinstance(entry, Mapping):
        raise SpikefitError(f"[{where}] expected a table with a 'name' (e.g. {{ name = \"gamma\" }}), got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or name not in METRICS:
        raise SpikefitError(f"[{where}.name] unknown metric {name!r}; expected one of the allowed metrics "
                            f"{', '.join(sorted(METRICS))}, got {name!r}{did_you_mean(name, METRICS)}")
    spec = METRICS[name]
    allowed = {"name", "label", "weight", *spec.params}
    for key in entry:
        if key not in allowed:
            raise SpikefitError(f"[{where}] unknown key {key!r} (value {entry[key]!r}) for metric {name!r}; "
                                f"allowed: {', '.join(sorted(allowed))}{did_you_mean(key, allowed)}")
    weight = entry.get("weight", 1.0)
    if _number(weight) is None or weight < 0:
        raise SpikefitError(f"[{where}.weight] expected a non-negative number, got {weight!r}")
    params = {k: check(f"{where}.{k}", entry.get(k, default)) for k, (default, check) in spec.params.items()}
    label = entry.get("label", spec.label_of(name, params))
    if not isinstance(label, str) or not label:
        raise SpikefitError(f"[{where}.label] expected a non-empty string, got {label!r}")
    return MetricTerm(name, label, float(weight), params)
