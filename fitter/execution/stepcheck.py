"""Step-size check of a fit: the chosen parameters re-simulated on the validation sweeps at a
4x finer step (the current held at the data's rate), scored the same way.

A model whose parameters only work at the fit's Euler step cannot be re-used in another
simulator. :func:`fine_step_scores` adds, to each validation row, the scores at ``dt /
factor`` (``gamma_fine``, ``ratio_fine``, ``n_model_fine``, ``count_error_fine``,
``fine_dt_ms``), and returns the largest change of a stimulus's score (Gamma / Gamma_int where
the recorded repeats are reliable in their timing, else the spike-count error: :func:`score_of`); :data:`STEP_TOLERANCE` is the change above which
the fit is flagged as step-size dependent.
"""

from __future__ import annotations

import math

from spikefit.data.sweeps import make_batch
from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.scoring.validation import validation_rows

__all__ = ["FACTOR", "STEP_TOLERANCE", "fine_spike_times", "fine_step_scores", "score_of"]

FACTOR = 4
STEP_TOLERANCE = 0.03


#: below this intrinsic reliability the data's repeats hardly agree on spike times (step
#: protocols: 0-0.1): Gamma there is noise, and the check compares the spike-count error instead
MIN_GAMMA_INT = 0.3


def score_of(row: dict, suffix: str = "") -> float:
    """The stimulus's validation score: Gamma / Gamma_int where the recorded repeats are
    reliable in their timing (Gamma_int >= :data:`MIN_GAMMA_INT`), else the relative spike-count
    error (what a step protocol is judged by)."""
    gi = row.get("gamma_int", float("nan"))
    return row["ratio" + suffix] if gi == gi and gi >= MIN_GAMMA_INT else row["count_error" + suffix]


def fine_spike_times(ev_kwargs: dict, sets, params: dict, *, ljp_mV: float, factor: int = FACTOR):
    """``params`` simulated on ``sets.validation_sweeps`` at ``dt / factor``: (spike times in ms
    per sweep, diverged). The simulation compiles once per shape: a first call (the driver's
    background warm-up, :func:`spikefit.execution.finish.warm_final`) makes the later ones cheap."""
    fine = make_batch(sets.validation_sweeps, dt_ms=float(sets.validation.dt_ms) / factor, ljp_mV=ljp_mV)
    ev = Evaluator(**{**ev_kwargs, "batch_size": 1})
    ev.add_cell("fine", CellData.from_batch(fine))
    return ev.spike_times("fine", params)


def fine_step_scores(ev_kwargs: dict, sets, params: dict, rows: list[dict], *, ljp_mV: float,
                     same_window: bool, factor: int = FACTOR) -> float:
    """Re-simulate ``params`` on ``sets.validation_sweeps`` at ``dt / factor``, add the fine
    scores to ``rows`` (the fit-step rows of :func:`~spikefit.scoring.validation.validation_rows`,
    in place) and return the largest absolute score change (nan when none is defined)."""
    dt = float(sets.validation.dt_ms)
    times, diverged = fine_spike_times(ev_kwargs, sets, params, ljp_mV=ljp_mV, factor=factor)
    fine_rows = validation_rows(sets, times, dt_ms=dt, ljp_mV=ljp_mV, same_window=same_window)
    change = float("nan")
    for row, f in zip(rows, fine_rows):
        assert row["stimulus"] == f["stimulus"]
        row.update({f"{k}_fine": f[k] for k in ("gamma", "ratio", "n_model", "count_error")})
        row["fine_dt_ms"] = dt / factor
        d = abs(score_of(row, "_fine") - score_of(row))
        if d == d:
            change = d if change != change else max(change, d)
    if diverged:
        change = math.inf
    return change
