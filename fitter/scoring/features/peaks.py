"""Spike peaks of recorded traces, found the way eFEL finds them (``peak_indices``).

eFEL (5.7) marks an upward crossing at sample ``i`` when ``V[i-1] < threshold < V[i]`` and a
downward one when ``V[i-1] > threshold > V[i]`` (default threshold -20 mV), drops downward
crossings before the first upward one and upward ones left without a downward partner, pairs
the k-th upward with the k-th downward crossing and takes the first sample of the highest V
between them (both included) as the peak. This module does the same on the recorded samples
(numpy; the data side is computed once per fit), giving the spike steps the feature
functions take.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["EFEL_THRESHOLD_MV", "peak_steps"]

#: eFEL's default spike detection threshold (setting ``Threshold``), mV
EFEL_THRESHOLD_MV = -20.0


def _peaks_1d(v: np.ndarray, threshold: float) -> np.ndarray:
    prev, cur = v[:-1], v[1:]
    up = np.flatnonzero((cur > threshold) & (prev < threshold)) + 1
    down = np.flatnonzero((cur < threshold) & (prev > threshold)) + 1
    if up.size == 0 or down.size == 0:
        return np.zeros(0, np.int64)
    down = down[down >= up[0]]
    up = up[: down.size]
    return np.array([u + int(np.argmax(v[u: d + 1])) for u, d in zip(up, down)], np.int64)


def peak_steps(V: Any, *, threshold_mV: float = EFEL_THRESHOLD_MV, n_steps: Any = None,
               max_spikes: int | None = None) -> np.ndarray:
    """Peak sample indices of each trace of ``V`` ``[..., T]`` (mV): int32 ``[..., K]`` padded
    with -1 (``K`` = ``max_spikes``, default the most peaks of any trace, at least 1).

    ``n_steps`` (``[...]`` or scalar) cuts each trace to its real length first (padding after
    it is ignored).
    """
    v = np.asarray(V, np.float64)
    if v.ndim < 1:
        raise ValueError(f"V: expected voltage traces [..., time] in mV, got shape {v.shape}")
    lead = v.shape[:-1]
    flat = v.reshape(-1, v.shape[-1])
    stop = np.broadcast_to(np.asarray(v.shape[-1] if n_steps is None else n_steps, np.int64), lead).reshape(-1)
    found = [_peaks_1d(row[: int(n)], float(threshold_mV)) for row, n in zip(flat, stop)]
    k = max([1, *(p.size for p in found)]) if max_spikes is None else int(max_spikes)
    if k < 1:
        raise ValueError(f"max_spikes: expected >= 1, got {max_spikes}")
    out = np.full((flat.shape[0], k), -1, np.int32)
    for row, p in zip(out, found):
        row[: min(k, p.size)] = p[:k]
    return out.reshape(lead + (k,))
