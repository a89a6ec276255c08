"""A sweep's injected current described as one step: holding current, onset, offset, amplitude.

The recorded current of a step protocol (IDrest, IDthresh, IV, ...) is a holding current, a
plateau from onset to offset, and back; on top of it sit recording noise and, in many rigs,
spike-locked artefacts (hundreds of pA for ~1.5 ms at every spike). The description is robust
to both:

- edges are found on the current filtered by a mean of each sample and the next (removes
  noise at the Nyquist frequency) and a running median over :data:`EDGE_WINDOW_MS` (removes
  anything shorter than half of it, such as the artefacts): the two largest jumps of opposite
  sign, each placed at the first sample where the filtered current is past half the step;
- ``holding_pA`` is the median of the recorded current before onset, ``amplitude_pA`` the
  median over the plateau minus the holding current (medians, not means, so that artefacts
  do not bias them);
- ``error_pA`` is the 99th percentile of |filtered current - idealised step| away from the
  edges; the current is *one step* (``is_step``) when ``error_pA <= max(rel_tol * |amplitude|,
  tol_pA)``. Ramps, noise stimuli and steps on steps are not.

A step smaller than ``tol_pA`` is no step: the sweep is described as a flat holding current
(``amplitude_pA = 0``, ``onset_ms = offset_ms = nan``), a step when it is flat within ``tol_pA``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StepDescription", "describe_step", "EDGE_WINDOW_MS", "TOL_PA", "REL_TOL"]

#: running-median window for finding the edges, ms (wider than twice a spike artefact)
EDGE_WINDOW_MS = 4.0
#: samples this close to an edge are left out of the holding and plateau medians, ms
EDGE_MARGIN_MS = 0.5
#: absolute tolerance of a one-step current, pA (and the smallest step that counts)
TOL_PA = 25.0
#: relative tolerance of a one-step current, fraction of |amplitude|
REL_TOL = 0.1


@dataclass(frozen=True)
class StepDescription:
    """One sweep's current as a step (pA, ms); see the module doc for how each is measured."""

    holding_pA: float
    amplitude_pA: float
    onset_ms: float
    offset_ms: float
    error_pA: float
    is_step: bool
    dt_ms: float
    n_samples: int

    def current(self) -> np.ndarray:
        """The idealised current, float64 [n_samples], pA: holding, plus amplitude on [onset, offset)."""
        out = np.full(self.n_samples, self.holding_pA)
        if self.amplitude_pA != 0.0:
            i0, i1 = self._edges()
            out[i0:i1] += self.amplitude_pA
        return out

    def _edges(self) -> tuple[int, int]:
        return int(round(self.onset_ms / self.dt_ms)), int(round(self.offset_ms / self.dt_ms))

    def as_dict(self) -> dict:
        """The fields a person reads (``spikefit inspect``): nan onset/offset as None."""
        def num(x):
            return None if not np.isfinite(x) else float(x)
        return {"holding_pA": float(self.holding_pA), "amplitude_pA": float(self.amplitude_pA),
                "onset_ms": num(self.onset_ms), "offset_ms": num(self.offset_ms),
                "step_error_pA": float(self.error_pA), "is_step": bool(self.is_step)}


def _filtered(current: np.ndarray, w: int) -> np.ndarray:
    from scipy.ndimage import median_filter, uniform_filter1d

    return median_filter(uniform_filter1d(current, 2, mode="nearest", origin=-1), size=w, mode="nearest")


def _crossing(c: np.ndarray, m: np.ndarray, start: int, stop: int, level: float, rising: bool) -> int:
    """First index in [start, stop) where ``m`` is past ``level`` (above when rising); its sample
    of ``m`` averages ``c[i]`` and ``c[i + 1]``, so the edge is at i + 1 when ``c[i]`` is not past it."""
    seg = m[start:stop]
    past = seg >= level if rising else seg < level
    if not past.any():
        return start
    i = start + int(np.argmax(past))
    behind = c[i] < level if rising else c[i] >= level
    return min(i + 1, c.size - 1) if behind else i


def describe_step(current, dt_ms: float, *, tol_pA: float = TOL_PA, rel_tol: float = REL_TOL) -> StepDescription:
    """Describe ``current`` (pA, sampled every ``dt_ms`` ms) as one step; see the module doc."""
    c = np.asarray(current, np.float64).reshape(-1)
    n, dt = c.size, float(dt_ms)
    w = max(3, int(round(EDGE_WINDOW_MS / dt)) | 1)
    flat = _flat(c, dt, n, tol_pA, w)
    if n < 6 * w:  # too short to hold a baseline, a plateau and their edges
        return flat
    m = _filtered(c, w)
    s0 = w // 2  # the filter's first and last half-windows repeat the end samples: not searched
    g = m[s0 + w:n - s0] - m[s0:n - s0 - w]  # g[i]: jump of m over w samples from s0 + i
    if g.size < 2 * w:
        return flat
    i1 = int(np.argmax(np.abs(g)))
    rising = g[i1] > 0
    back = -g if rising else g.copy()
    back[max(0, i1 - w):i1 + w] = -np.inf
    i2 = int(np.argmax(back))
    a, b = sorted((i1, i2))
    first_rising = rising if a == i1 else not rising
    a, b = a + s0, b + s0  # index into m of each jump's start
    hold0 = float(np.median(c[:a + 1]))
    amp0 = float(np.median(c[a + w:b + 1])) - hold0 if b - a > w else 0.0
    if abs(amp0) < tol_pA:
        return flat
    level = hold0 + amp0 / 2
    on = _crossing(c, m, a, a + 2 * w, level, first_rising)
    off = _crossing(c, m, b, b + 2 * w, level, not first_rising)
    k = max(2, int(round(EDGE_MARGIN_MS / dt)))  # samples left out next to each edge
    base = c[: on - k] if on - k >= k else c[off + k:]  # before onset; after offset when it starts at once
    if base.size < k or off - on < 3 * k:
        return flat
    hold = float(np.median(base))
    amp = float(np.median(c[on + k:off - k])) - hold
    if abs(amp) < tol_pA:
        return flat
    ideal = np.full(n, hold)
    ideal[on:off] += amp
    keep = np.ones(n, bool)
    keep[:s0] = keep[n - s0:] = False
    keep[max(0, on - w):on + w] = keep[max(0, off - w):off + w] = False
    err = float(np.percentile(np.abs(m - ideal)[keep], 99)) if keep.any() else float("inf")
    return StepDescription(hold, amp, on * dt, off * dt, err, err <= max(rel_tol * abs(amp), tol_pA), dt, n)


def _flat(c: np.ndarray, dt: float, n: int, tol_pA: float, w: int) -> StepDescription:
    """``c`` as a constant holding current (no step), a step when flat within ``tol_pA``."""
    hold = float(np.median(c))
    m = _filtered(c, w) if n >= w else c
    inner = m[w:n - w] if n > 2 * w else m
    err = float(np.percentile(np.abs(inner - hold), 99))
    return StepDescription(hold, 0.0, float("nan"), float("nan"), err, err <= tol_pA, dt, n)
