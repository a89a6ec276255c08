"""Trials told as arrays, recorded in the Optuna study in bulk and off the driver's hot path.

The batch CMA-ES (``cmaes_batch``) needs no Optuna call to ask or tell: a generation is asked
as one array and told as one array of losses. The Optuna study stays the record of the run
(resume, optuna-dashboard and Optuna's own tools read it): :class:`TrialLog` keeps the told
trials and :meth:`TrialLog.write` adds them to the study with ``Study.add_trials``, in trial
number order, when the caller asks (the driver does it from its writer thread, after the
batch's Parquet rows). :func:`missing_rows` finds the trials a dead driver wrote to Parquet but
not yet to the study, so a resume adds them instead of numbering new trials over them.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState, create_trial

__all__ = ["TrialLog", "frozen_trials"]


def frozen_trials(names, distributions, numbers, x, values, failed, reasons) -> list:
    """Optuna trials (COMPLETE with values, or FAIL with ``fail_reason``) for one told batch."""
    out = []
    for i, number in enumerate(np.asarray(numbers).tolist()):
        params = {n: float(v) for n, v in zip(names, x[i])}
        params = {n: min(max(v, distributions[n].low), distributions[n].high) for n, v in params.items()}
        reason = reasons[i] if reasons is not None else None
        attrs = {"spikefit_number": int(number)}
        if failed[i]:
            attrs["fail_reason"] = reason or "unspecified"
            out.append(create_trial(state=TrialState.FAIL, params=params, distributions=distributions,
                                    user_attrs=attrs))
            continue
        v = np.ravel(values[i]).astype(float).tolist()
        if reason:
            attrs["penalized"] = reason
        out.append(create_trial(state=TrialState.COMPLETE, params=params, distributions=distributions,
                                user_attrs=attrs, **({"value": v[0]} if len(v) == 1 else {"values": v})))
    return out


class TrialLog:
    """Told trials of one study waiting to be added to it, written in trial-number order."""

    def __init__(self, study: optuna.Study, first_number: int):
        self._study = study
        self._next = int(first_number)  # the next number the Optuna study will assign
        self._waiting: dict[int, Any] = {}
        self._lock = threading.Lock()

    def add(self, trials: list, numbers) -> None:
        with self._lock:
            self._waiting.update(zip(np.asarray(numbers).tolist(), trials))

    def write(self) -> int:
        """Add the waiting trials whose numbers follow on from the study's; returns how many."""
        with self._lock:
            batch = []
            while self._next in self._waiting:
                batch.append(self._waiting.pop(self._next))
                self._next += 1
        if batch:
            self._study.add_trials(batch)
        return len(batch)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)
