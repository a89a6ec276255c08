"""The feature catalogue (eFEL names), one call for many features, and the data-side helper.

:data:`FEATURES` maps each eFEL name to its function and what it needs (spike steps, V or
both), its unit and its kind (``"rate"``, ``"count"``, ``"time"``, ``"voltage"``, ``"ratio"``;
the objective's default loss scale follows the kind). :func:`compute_features` evaluates
features on any batch shape (jittable); :func:`sweep_features` does it for recorded sweeps,
finding the spikes as eFEL does (:func:`~spikefit.scoring.features.peaks.peak_steps`), so
model and data go through the same feature code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from spikefit.scoring.features import spike_events as E
from spikefit.scoring.features import voltage as Vf
from spikefit.scoring.features.peaks import EFEL_THRESHOLD_MV, peak_steps

__all__ = ["FEATURES", "FeatureDef", "FeatureValues", "check_names", "compute_features", "sweep_features"]


@dataclass(frozen=True)
class FeatureDef:
    """One feature: ``fn(spike_steps, V, dt_ms, stim_start_ms, stim_end_ms, t_stop_ms) -> [...]``."""

    fn: Callable[..., jax.Array]
    unit: str  # of the value: "Hz", "ms", "mV", "1" or "spikes"
    kind: str  # "rate" | "count" | "time" | "voltage" | "ratio"
    needs_spikes: bool
    needs_voltage: bool
    needs_onset: bool = False  # undefined unless stim_start > 0 (a baseline before the step)
    doc: str = ""


def _spk(f: Callable) -> Callable:
    return lambda s, v, dt, a, b, stop: f(s, dt, a, b, stop)


def _volt(f: Callable) -> Callable:
    return lambda s, v, dt, a, b, stop: f(v, dt, a, b, stop)


def _both(f: Callable) -> Callable:
    return lambda s, v, dt, a, b, stop: f(v, s, dt, a, b, stop)


FEATURES: dict[str, FeatureDef] = {
    "Spikecount": FeatureDef(_spk(E.spike_count), "spikes", "count", True, False,
                             doc="spikes in the whole trace"),
    "Spikecount_stimint": FeatureDef(_spk(E.spike_count_stimint), "spikes", "count", True, False,
                                     doc="spikes in [stim_start, stim_end]"),
    "mean_frequency": FeatureDef(_spk(E.mean_frequency), "Hz", "rate", True, False,
                                 doc="spikes in the window / (last of them - stim_start)"),
    "time_to_first_spike": FeatureDef(_spk(E.time_to_first_spike), "ms", "time", True, False,
                                      doc="first spike - stim_start"),
    "inv_first_ISI": FeatureDef(_spk(E.inv_first_ISI), "Hz", "rate", True, False, doc="1000 / first ISI"),
    "ISI_CV": FeatureDef(_spk(E.ISI_CV), "1", "ratio", True, False,
                         doc="coefficient of variation of the ISIs after the first"),
    "adaptation_index": FeatureDef(_spk(E.adaptation_index), "1", "ratio", True, False,
                                   doc="mean normalised ISI change, first 10 % (max 2) spikes skipped"),
    "adaptation_index2": FeatureDef(_spk(E.adaptation_index2), "1", "ratio", True, False,
                                    doc="mean normalised ISI change from the second ISI in the window"),
    "voltage_base": FeatureDef(_volt(Vf.voltage_base), "mV", "voltage", False, True, needs_onset=True,
                               doc="mean V over [0.9 stim_start, stim_start]"),
    "steady_state_voltage_stimend": FeatureDef(_volt(Vf.steady_state_voltage_stimend), "mV", "voltage",
                                               False, True, doc="mean V over the last 10 % of the step"),
    "AHP_depth_abs": FeatureDef(_both(Vf.AHP_depth_abs), "mV", "voltage", True, True,
                                doc="mean post-spike trough (first local minimum after each spike)"),
    "AHP_depth": FeatureDef(_both(Vf.AHP_depth), "mV", "voltage", True, True, needs_onset=True,
                            doc="AHP_depth_abs - voltage_base"),
}


class FeatureValues(NamedTuple):
    """A feature over a batch: ``value`` ``[...]`` (NaN where undefined) and ``defined`` ``[...]``."""

    value: Any
    defined: Any


def check_names(names: Sequence[str]) -> list[str]:
    """``names`` as a list, each a key of :data:`FEATURES` (else a ValueError listing them)."""
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in FEATURES]
    if bad:
        raise ValueError(f"features: unknown {bad}; expected names from {', '.join(sorted(FEATURES))}")
    return names


def compute_features(names: Sequence[str], *, dt_ms: float, stim_start_ms: Any, stim_end_ms: Any,
                     spike_steps: Any = None, V: Any = None, t_stop_ms: Any = None) -> dict[str, FeatureValues]:
    """Features ``names`` of a batch: ``spike_steps`` ``[..., K]`` (padded with -1) and/or
    ``V`` ``[..., T]`` (mV), the window ``stim_start_ms``/``stim_end_ms`` broadcast against the
    leading axes. Jittable (``names`` and ``dt_ms`` static)."""
    out = {}
    for name in check_names(names):
        f = FEATURES[name]
        if f.needs_spikes and spike_steps is None:
            raise ValueError(f"feature {name!r}: needs spike_steps [..., K]")
        if f.needs_voltage and V is None:
            raise ValueError(f"feature {name!r}: needs V [..., T] (mV)")
        value = jnp.asarray(f.fn(spike_steps, V, float(dt_ms), stim_start_ms, stim_end_ms, t_stop_ms), jnp.float32)
        out[name] = FeatureValues(value, ~jnp.isnan(value))
    return out


def sweep_features(V: Any, dt_ms: float, stim_start_ms: Any, stim_end_ms: Any, names: Sequence[str] | None = None, *,
                   threshold_mV: float = EFEL_THRESHOLD_MV, n_steps: Any = None,
                   spike_steps: Any = None) -> dict[str, FeatureValues]:
    """Features of recorded sweeps ``V`` ``[S, T]`` (mV; numpy in, numpy out).

    Spikes are the eFEL peaks of ``V`` at ``threshold_mV`` (or ``spike_steps`` when given);
    ``n_steps`` ``[S]`` is each sweep's real length (samples), default ``T``. ``names``:
    default all of :data:`FEATURES`.
    """
    names = sorted(FEATURES) if names is None else check_names(names)
    # peaks on the samples as recorded (float64, as eFEL): float32 rounding can move a crossing
    steps = peak_steps(V, threshold_mV=threshold_mV, n_steps=n_steps) if spike_steps is None else spike_steps
    v = np.asarray(V, np.float32)
    stop = None if n_steps is None else np.asarray(n_steps, np.float64) * float(dt_ms)
    got = _compute_jit(tuple(names), dt_ms=float(dt_ms), stim_start_ms=np.asarray(stim_start_ms, np.float32),
                           stim_end_ms=np.asarray(stim_end_ms, np.float32), spike_steps=np.asarray(steps, np.int32),
                           V=v, t_stop_ms=stop)
    return {k: FeatureValues(np.asarray(x.value), np.asarray(x.defined)) for k, x in got.items()}


_compute_jit = jax.jit(compute_features, static_argnames=("names", "dt_ms"))
