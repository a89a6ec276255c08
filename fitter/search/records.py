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

__all__ = ["TrialLog", "frozen_trials", "journal_logs"]

_STATE = {"COMPLETE": int(TrialState.COMPLETE), "FAIL": int(TrialState.FAIL)}


def journal_logs(study_id: int, trials: list, distributions: dict) -> list[dict]:
    """Optuna journal records (``CREATE_TRIAL``, as ``JournalStorage.create_new_trial`` writes
    them for a template trial) for finished trials: one record per trial, written in one append.

    Optuna's ``add_trials`` costs ~0.3 ms per trial here (a lock, a file open and a replay
    per trial); this writes the same records for a whole batch at once. The format is Optuna's
    journal file format, which Optuna reads back (tests open the study with ``optuna.load_study``).
    """
    from optuna.distributions import distribution_to_json
    from optuna.storages.journal._storage import JournalOperation

    dists = {k: distribution_to_json(d) for k, d in distributions.items()}
    op = int(JournalOperation.CREATE_TRIAL)
    logs = []
    for t in trials:
        values = t.values
        logs.append({"op_code": op, "worker_id": "spikefit-writer", "study_id": study_id,
                     "datetime_start": t.datetime_start.isoformat(timespec="microseconds"),
                     "datetime_complete": t.datetime_complete.isoformat(timespec="microseconds"),
                     "state": _STATE[t.state.name],
                     "value": None if values is None or len(values) > 1 else values[0],
                     "values": values if values is not None and len(values) > 1 else None,
                     "distributions": {k: dists[k] for k in t.params},
                     "params": dict(t.params), "user_attrs": t.user_attrs, "system_attrs": {},
                     "intermediate_values": {}})
    return logs


class _Told:
    """A finished trial as the journal needs it (lighter than Optuna's FrozenTrial)."""

    __slots__ = ("state", "params", "values", "user_attrs", "datetime_start", "datetime_complete")

    def __init__(self, state, params, values, user_attrs, when):
        self.state, self.params, self.values, self.user_attrs = state, params, values, user_attrs
        self.datetime_start = self.datetime_complete = when

    def frozen(self, distributions):
        kw = {} if self.values is None else ({"value": self.values[0]} if len(self.values) == 1
                                              else {"values": self.values})
        return create_trial(state=self.state, params=self.params, distributions=distributions,
                            user_attrs=self.user_attrs, **kw)


def frozen_trials(names, distributions, numbers, x, values, failed, reasons) -> list:
    """Finished trials (COMPLETE with values, or FAIL with ``fail_reason``) for one told batch;
    ``.frozen(distributions)`` gives Optuna's ``FrozenTrial``."""
    import datetime as dt

    when = dt.datetime.now(dt.timezone.utc)
    out = []
    for i, number in enumerate(np.asarray(numbers).tolist()):
        params = {n: float(v) for n, v in zip(names, x[i])}
        params = {n: min(max(v, distributions[n].low), distributions[n].high) for n, v in params.items()}
        reason = reasons[i] if reasons is not None else None
        attrs = {"spikefit_number": int(number)}
        if failed[i]:
            attrs["fail_reason"] = reason or "unspecified"
            out.append(_Told(TrialState.FAIL, params, None, attrs, when))
            continue
        if reason:
            attrs["penalized"] = reason
        out.append(_Told(TrialState.COMPLETE, params, np.ravel(values[i]).astype(float).tolist(), attrs, when))
    return out


class TrialLog:
    """Told trials of one study waiting to be added to it, written in trial-number order.

    On spikefit's journal file (the default storage) a batch is one append of journal records;
    on other storages (RDB, memory) it goes through Optuna's ``add_trials``.
    """

    def __init__(self, study: optuna.Study, first_number: int, distributions: dict, journal=None):
        self._study = study
        self._distributions = distributions
        self._journal = journal  # (backend, study_id) when the storage is spikefit's journal file
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
        if batch and self._journal is not None:
            backend, study_id = self._journal
            backend.append_logs(journal_logs(study_id, batch, self._distributions))
        elif batch:
            self._study.add_trials([b.frozen(self._distributions) for b in batch])
        return len(batch)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)
