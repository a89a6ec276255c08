"""Spike detection from a recorded membrane voltage.

A spike is an upward crossing of ``threshold_mV`` that

1. rises fast enough: the steepest sample-to-sample slope over the ``rise_window_ms`` before
   the crossing sample, plus the step into it, is at least ``min_dvdt`` mV/ms;
2. comes at least ``refractory_ms`` after the previous spike; and
3. follows a repolarisation: after a spike, V must fall below ``repolarize_mV`` before the
   next crossing may count.

Criteria 1 and 3 keep depolarisation block (V hovering and oscillating around 0 mV, as in
``171116sh_0019.abf`` at >= 1700 pA) from being counted as a train of spikes.

The spike time is the time of the first sample at or above the threshold, ``i * dt_ms``, so
``round(t / dt_ms)`` is that sample's index exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SpikeDetector", "detect_spikes"]


@dataclass(frozen=True)
class SpikeDetector:
    """Options of :func:`detect_spikes` (all in mV, ms, mV/ms)."""

    threshold_mV: float = 0.0
    min_dvdt: float = 10.0
    refractory_ms: float = 1.0
    repolarize_mV: float = -5.0
    rise_window_ms: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_dvdt", "refractory_ms", "rise_window_ms"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"SpikeDetector.{name}: expected a finite value >= 0, got {value!r}")
        if not self.repolarize_mV <= self.threshold_mV:
            raise ValueError(
                f"SpikeDetector.repolarize_mV: expected <= threshold_mV ({self.threshold_mV}), "
                f"got {self.repolarize_mV}"
            )

    def __call__(self, voltage_mV, dt_ms: float) -> np.ndarray:
        return detect_spikes(voltage_mV, dt_ms, detector=self)


def detect_spikes(
    voltage_mV,
    dt_ms: float,
    *,
    detector: SpikeDetector | None = None,
    **options: float,
) -> np.ndarray:
    """Spike times in ms (float64, sorted) detected in ``voltage_mV`` sampled every ``dt_ms``.

    Options are the fields of :class:`SpikeDetector` (``threshold_mV``, ``min_dvdt``,
    ``refractory_ms``, ``repolarize_mV``, ``rise_window_ms``); pass either a ``detector`` or
    keyword options, not both.
    """
    if detector is None:
        detector = SpikeDetector(**options)
    elif options:
        raise TypeError(f"detect_spikes: pass a detector or options, not both (got {sorted(options)})")
    if not dt_ms > 0:
        raise ValueError(f"detect_spikes: dt_ms must be > 0, got {dt_ms!r}")
    v = np.asarray(voltage_mV, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"detect_spikes: expected a 1-D voltage trace, got shape {v.shape}")
    if v.size < 2:
        return np.zeros(0)
    thr = detector.threshold_mV
    # candidate indices: first sample at/above threshold after a sample below it
    up = np.flatnonzero((v[:-1] < thr) & (v[1:] >= thr)) + 1
    if up.size == 0:
        return np.zeros(0)
    slope = np.diff(v) / dt_ms  # slope[k] = (v[k+1]-v[k])/dt, the step into sample k+1
    window = int(round(detector.rise_window_ms / dt_ms)) + 1
    # steepest step into each of the `window` samples ending at the crossing
    csum_max = _window_max(slope, window)  # csum_max[k] = max(slope[k-window+1 .. k])
    rise = csum_max[up - 1]
    below = v < detector.repolarize_mV
    below_count = np.concatenate(([0], np.cumsum(below)))  # below_count[i] = #below in v[:i]
    refractory_steps = detector.refractory_ms / dt_ms
    spikes: list[int] = []
    for idx, r in zip(up.tolist(), rise.tolist()):
        if r < detector.min_dvdt:
            continue
        if spikes:
            last = spikes[-1]
            if idx - last < refractory_steps:
                continue
            if below_count[idx] - below_count[last] == 0:
                continue  # never repolarised since the last spike
        spikes.append(idx)
    return np.asarray(spikes, dtype=np.float64) * dt_ms


def _window_max(x: np.ndarray, window: int) -> np.ndarray:
    """out[k] = max(x[max(0, k-window+1) .. k])."""
    if window == 1:
        return x
    out = x.copy()
    for shift in range(1, window):
        np.maximum(out[shift:], x[:-shift], out=out[shift:])
    return out
