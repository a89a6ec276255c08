"""Series of a step protocol: which sweeps were recorded as one run of increasing steps.

A protocol's sweeps, sorted by sweep number, form one series per run of consecutive numbers;
inside a run a new series starts where the step pattern restarts (the amplitude falls back,
against the run's direction, by more than half the run's range: IV's 3 x 10 consecutive
sweeps are three series). Amplitudes are used only when every sweep of the run is a step
(:func:`spikefit.data.steps.describe_step`); otherwise the numbering alone decides.
``series_length`` cuts each run into series of that many sweeps instead.

Stimulus ids (:func:`assign_stimuli`): the k-th sweep of each series is a repeat of the k-th
sweep of the first series (stimulus ``"<protocol>:<k>"``) when their step amplitudes agree
within ``max(25 pA, a quarter of the step increment)``, or, without amplitudes, when all series
have the same length; any other sweep is a stimulus of its own (``"<protocol>:<n>"``, n = sweep
number). ``repeat`` is the index of the sweep's series, so ``repeats = [0]`` selects the first
series of every protocol even when the series differ (13 and 12 sweeps, other increments).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["find_series", "assign_stimuli", "MATCH_PA"]

#: amplitudes closer than this (pA) can be the same stimulus
MATCH_PA = 25.0


def _runs(numbers: list[int]) -> list[list[int]]:
    runs, run = [], [numbers[0]]
    for a, b in zip(numbers, numbers[1:]):
        if b == a + 1:
            run.append(b)
        else:
            runs.append(run)
            run = [b]
    runs.append(run)
    return runs


def _split_restarts(run: list[int], amps: dict[int, float]) -> list[list[int]]:
    a = np.array([amps[n] for n in run])
    if a.size < 3 or np.ptp(a) == 0:
        return [run]
    d = np.diff(a)
    direction = np.sign(np.median(d)) or np.sign(d.sum()) or 1.0
    cut = [i + 1 for i, x in enumerate(d) if x * direction < 0 and abs(x) > 0.5 * np.ptp(a)]
    bounds = [0, *cut, len(run)]
    return [run[i:j] for i, j in zip(bounds, bounds[1:])]


def find_series(numbers: Sequence[int], amplitudes: dict[int, float] | None = None, *,
                series_length: int | None = None) -> list[list[int]]:
    """The series of one protocol: lists of sweep numbers (see the module doc).

    ``amplitudes``: sweep number -> step amplitude (pA), for the sweeps that are steps.
    """
    numbers = sorted(int(n) for n in numbers)
    if not numbers:
        return []
    runs = _runs(numbers)
    if series_length is not None:
        if int(series_length) < 1:
            raise ValueError(f"series_length: expected an integer >= 1, got {series_length!r}")
        k = int(series_length)
        return [run[i:i + k] for run in runs for i in range(0, len(run), k)]
    amps = amplitudes or {}
    out = []
    for run in runs:
        out.extend(_split_restarts(run, amps) if all(n in amps for n in run) else [run])
    return out


def _increment(series: list[list[int]], amps: dict[int, float]) -> float:
    steps = [abs(amps[b] - amps[a]) for s in series for a, b in zip(s, s[1:])]
    return float(np.median(steps)) if steps else 0.0


def assign_stimuli(protocol: str, series: list[list[int]],
                   amplitudes: dict[int, float] | None = None) -> dict[int, tuple[str, int]]:
    """sweep number -> (stimulus id, repeat = series index); see the module doc."""
    amps = amplitudes or {}
    known = all(n in amps for s in series for n in s)
    tol = max(MATCH_PA, 0.25 * _increment(series, amps)) if known else 0.0
    same_length = len({len(s) for s in series}) == 1
    first = series[0] if series else []

    def same(r: int, k: int) -> bool:  # sweep k of series r repeats sweep k of the first series
        if k >= len(first):
            return False
        return abs(amps[series[r][k]] - amps[first[k]]) <= tol if known else same_length

    out: dict[int, tuple[str, int]] = {}
    for r, s in enumerate(series):
        for k, n in enumerate(s):
            shared = same(r, k) and any(same(q, k) for q in range(1, len(series)) if k < len(series[q]))
            out[n] = (f"{protocol}:{k}" if shared else f"{protocol}:{n}", r)
    return out
