"""What a study holds, read without replaying its journal (:class:`Tally`) or with it
(:func:`trials_frame`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import TrialState

__all__ = ["Tally", "trials_frame"]


class Tally:
    """Counts and best trial of a ``cmaes_batch`` study (minimised first objective; ties: the
    lower number), from the trials stored when it was opened and the batches told since."""

    __slots__ = ("complete", "failed", "running", "best")

    def __init__(self, complete=0, failed=0, running=0, best=None):
        self.complete, self.failed, self.running, self.best = complete, failed, running, best

    @classmethod
    def from_trials(cls, trials, n_directions: int) -> "Tally":
        own = cls()
        for t in trials:
            if t.state == TrialState.COMPLETE:
                own.complete += 1
                key = (t.values[0], t.number)
                if n_directions == 1 and (own.best is None or key < (own.best[2][0], own.best[0])):
                    own.best = (t.number, dict(t.params), tuple(t.values))
            elif t.state == TrialState.FAIL:
                own.failed += 1
            elif t.state == TrialState.RUNNING:
                own.running += 1
        return own

    def add(self, numbers, x, values, failed, names) -> None:
        ok = ~np.asarray(failed, bool)
        self.complete += int(ok.sum())
        self.failed += int((~ok).sum())
        if not ok.any() or (values.ndim == 2 and values.shape[1] > 1):
            return
        first = values if values.ndim == 1 else values[:, 0]
        i = int(np.flatnonzero(ok)[np.argmin(first[ok])])  # argmin: the first of equal values
        if self.best is None or (first[i], int(numbers[i])) < (self.best[2][0], self.best[0]):
            self.best = (int(numbers[i]), dict(zip(names, x[i].tolist())), (float(first[i]),))


def trials_frame(study, names) -> pd.DataFrame:
    """One row per trial of the Optuna ``study``: number, state, loss (or loss_0..), the
    parameters ``names``, fail_reason, datetime_start, datetime_complete, duration_s and the
    other user attrs."""
    m = len(study.directions)
    loss_cols = ["loss"] if m == 1 else [f"loss_{i}" for i in range(m)]
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        vals = t.values if t.values is not None else [float("nan")] * m
        row.update(zip(loss_cols, map(float, vals)))
        row.update({n: t.params.get(n, float("nan")) for n in names})
        row["fail_reason"] = t.user_attrs.get("fail_reason")
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        row["duration_s"] = t.duration.total_seconds() if t.duration is not None else None
        row.update({k: v for k, v in t.user_attrs.items() if k not in row})
        rows.append(row)
    columns = ["number", "state", *loss_cols, *names, "fail_reason",
               "datetime_start", "datetime_complete", "duration_s"]
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=columns)
