"""The validation report: how well a fit predicts spikes it was not fitted to.

Per validation stimulus, the field's measure (Jolivet et al. 2008): Gamma between the model's
response to each repeat's current and every recorded repeat, averaged, and divided by the
data's intrinsic reliability Gamma_int (mean Gamma between the recorded repeats). A stimulus
with a single validation repeat borrows its training repeats over the same time window for
Gamma_int (never for the model's score).
"""

from __future__ import annotations

import numpy as np

from spikefit.data.sweeps import make_batch
from spikefit.scoring.metrics import gamma_factor, intrinsic_reliability

__all__ = ["validation_rows"]


def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _pad(steps: np.ndarray, k: int) -> np.ndarray:
    """Spike steps [S, K] padded with -1 to [S, k]."""
    return np.pad(steps, ((0, 0), (0, k - steps.shape[1])), constant_values=-1)


def validation_rows(sets, times: list, *, dt_ms: float | None, ljp_mV: float = 0.0,
                    same_window: bool = True, delta_ms: float = 2.0) -> list[dict]:
    """One row per validation stimulus of one cell (``sets``: :class:`~spikefit.data.dataset.CellSets`).

    ``times``: the model's spike times (ms) on each validation sweep, in the order of
    ``sets.validation_sweeps``. ``dt_ms``/``ljp_mV``: as the job's data section.
    ``same_window``: training and validation select the same time window (so training repeats
    may count for Gamma_int).
    """
    if sets.validation is None:
        return []
    val, tr = sets.validation, sets.train
    # one spike-buffer size for every stimulus: the scoring compiles once, not per stimulus
    k_all = _pow2(max([1, *(np.size(t) for t in times), int(np.max(val.n_spikes, initial=0)),
                       int(np.max(tr.n_spikes, initial=0))]))
    rows = []
    for stim in dict.fromkeys(val.stimulus_ids):
        idx = [i for i, s in enumerate(val.stimulus_ids) if s == stim]
        data = make_batch([sets.validation_sweeps[i] for i in idx], dt_ms=dt_ms, ljp_mV=ljp_mV)
        dt = float(data.dt_ms)
        durations = np.asarray(data.n_steps, np.float32) * dt
        model = [np.rint(np.asarray(times[i]) / dt).astype(np.int32) for i in idx]
        model_steps = np.full((len(model), data.spike_steps.shape[0], k_all), -1, np.int32)
        for i, m in enumerate(model):
            model_steps[i, :, : m.size] = m  # model response to repeat i's current, vs every repeat
        g = np.asarray(gamma_factor(model_steps, _pad(np.asarray(data.spike_steps, np.int32), k_all), dt,
                                    delta_ms, duration=durations))
        reps = np.asarray(data.spike_steps, np.int32)
        extra = [i for i, s in enumerate(tr.stimulus_ids) if s == stim]
        if len(idx) < 2 and extra and same_window:
            more = make_batch([sets.train_sweeps[i] for i in extra] + [sets.validation_sweeps[i] for i in idx],
                              dt_ms=dt_ms, ljp_mV=ljp_mV)
            reps = np.asarray(more.spike_steps, np.int32)
        gi = (float(intrinsic_reliability(_pad(reps, k_all), dt, delta_ms, duration=float(durations[0])))
              if reps.shape[0] >= 2 else float("nan"))
        n_model = float(np.mean([m.size for m in model]))
        n_data = float(np.mean(data.n_spikes))
        rows.append({"stimulus": stim, "delta_ms": delta_ms, "gamma": float(g.mean()), "gamma_int": gi,
                     "ratio": float(g.mean()) / gi if gi == gi and gi > 0 else float("nan"),
                     "n_model": n_model, "n_data": n_data,
                     "count_error": abs(n_model - n_data) / max(n_data, 1.0)})
    return rows
