"""Trials told as arrays, recorded in the Optuna study in bulk and off the driver's hot path.

The batch CMA-ES (``cmaes_batch``) needs no Optuna call to ask or tell: a generation is asked
as one array and told as one array of losses. The Optuna study stays the record of the run
(resume, optuna-dashboard and Optuna's own tools read it): :class:`TrialLog` keeps the told
batches (:class:`ToldBatch`, arrays) and :meth:`TrialLog.write` adds them to the study in trial
number order when the caller asks (the driver does it from its writer thread, after the
batch's Parquet rows). On spikefit's journal file a batch is one append of journal text built
by :func:`journal_text`; on other storages (RDB, memory) it goes through ``Study.add_trials``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from typing import NamedTuple

import numpy as np
import optuna
from optuna.trial import TrialState, create_trial

__all__ = ["ToldBatch", "TrialLog", "journal_text", "told_batch"]


class ToldBatch(NamedTuple):
    """Finished trials of one told batch, ascending consecutive ``numbers`` [k]: ``x`` [k, n]
    (clipped to the distributions), ``values`` [k] or [k, m], ``failed`` [k], ``reasons`` (a
    FAIL's ``fail_reason``; on a COMPLETE trial, why it was penalised) and when it was told."""

    numbers: np.ndarray
    x: np.ndarray
    values: np.ndarray
    failed: np.ndarray
    reasons: list
    when: dt.datetime

    def frozen(self, names, distributions) -> list:
        """The trials as Optuna ``FrozenTrial`` objects (for ``Study.add_trials``)."""
        out = []
        vals = self.values.reshape(len(self.numbers), -1)
        for i, number in enumerate(self.numbers.tolist()):
            attrs = {"spikefit_number": int(number)}
            params = dict(zip(names, self.x[i].tolist()))
            if self.failed[i]:
                attrs["fail_reason"] = self.reasons[i] or "unspecified"
                out.append(create_trial(state=TrialState.FAIL, params=params, distributions=distributions,
                                        user_attrs=attrs))
                continue
            if self.reasons[i]:
                attrs["penalized"] = self.reasons[i]
            v = vals[i].tolist()
            kw = {"value": v[0]} if len(v) == 1 else {"values": v}
            out.append(create_trial(state=TrialState.COMPLETE, params=params, distributions=distributions,
                                    user_attrs=attrs, **kw))
        return out


def told_batch(names, distributions, numbers, x, values, failed, reasons) -> list[ToldBatch]:
    """One told batch as :class:`ToldBatch` parts, each a run of consecutive trial numbers in
    ascending order (a batch from the driver is one part)."""
    numbers = np.asarray(numbers, np.int64)
    order = np.argsort(numbers, kind="stable")
    lo = np.array([distributions[n].low for n in names])
    hi = np.array([distributions[n].high for n in names])
    x = np.clip(np.asarray(x, float).reshape(len(numbers), len(names))[order], lo, hi)
    values = np.asarray(values, float)[order]
    failed = np.asarray(failed, bool)[order]
    reasons = [None] * len(numbers) if reasons is None else [reasons[i] for i in order.tolist()]
    numbers = numbers[order]
    when = dt.datetime.now(dt.timezone.utc)
    cuts = (np.flatnonzero(np.diff(numbers) != 1) + 1).tolist()
    out = []
    for a, b in zip([0] + cuts, cuts + [len(numbers)]):
        out.append(ToldBatch(numbers[a:b], x[a:b], values[a:b], failed[a:b], reasons[a:b], when))
    return out


_STATE = {False: int(TrialState.COMPLETE), True: int(TrialState.FAIL)}


def journal_text(study_id: int, batches: list[ToldBatch], names, distributions) -> str:
    """Optuna journal records (``CREATE_TRIAL``, as ``JournalStorage.create_new_trial`` writes
    them for a finished template trial) for ``batches``, one line per trial.

    Optuna's ``add_trials`` costs ~0.3 ms per trial here (a lock, a file open and a replay per
    trial), a dict per trial through ``json.dumps`` ~40 us; this formats the line of each trial
    from one template per study, the parts shared by a batch written once. Floats are written
    as ``json.dumps`` writes them (``repr``: they read back exactly); the text is Optuna's
    journal file format, which tests read back with ``optuna.load_study``.
    """
    from optuna.distributions import distribution_to_json
    from optuna.storages.journal._storage import JournalOperation

    dists = json.dumps({n: distribution_to_json(distributions[n]) for n in names}, separators=(",", ":"))
    keys = ",".join(f"{json.dumps(n)}:%r" for n in names)
    lines = []
    for b in batches:
        when = json.dumps(b.when.isoformat(timespec="microseconds"))
        head = (f'{{"op_code":{int(JournalOperation.CREATE_TRIAL)},"worker_id":"spikefit-writer",'
                f'"study_id":{int(study_id)},"datetime_start":{when},"datetime_complete":{when},'
                f'"distributions":{dists},"system_attrs":{{}},"intermediate_values":{{}},')
        row = head + '"state":%d,"value":%s,"values":%s,"params":{' + keys + '},"user_attrs":{"spikefit_number":%d%s}}'
        vals = b.values.reshape(len(b.numbers), -1)
        single = vals.shape[1] == 1
        # repr is JSON for finite floats; anything else (nan, inf) as json.dumps writes it
        x = b.x.tolist() if np.isfinite(b.x).all() else [[_Raw(json.dumps(v)) for v in r] for r in b.x.tolist()]
        for number, params, v, f, reason in zip(b.numbers.tolist(), x, vals.tolist(), b.failed.tolist(), b.reasons):
            if f:
                value, values, extra = "null", "null", ',"fail_reason":' + json.dumps(reason or "unspecified")
            else:
                value, values = ((repr(v[0]) if math.isfinite(v[0]) else json.dumps(v[0])), "null") if single \
                    else ("null", json.dumps(v))
                extra = ',"penalized":' + json.dumps(reason) if reason else ""
            lines.append(row % (_STATE[f], value, values, *params, number, extra))
    return "\n".join(lines) + "\n" if lines else ""


class _Raw(str):
    """Text that ``%r`` writes as it is (a JSON number already formatted)."""

    def __repr__(self) -> str:
        return str(self)


class TrialLog:
    """Told batches of one study waiting to be added to it, written in trial-number order.

    On spikefit's journal file (the default storage) the trials ready at a :meth:`write` are
    one append of journal text; on other storages (RDB, memory) they go through Optuna's
    ``add_trials``.
    """

    def __init__(self, study: optuna.Study, first_number: int, names, distributions: dict, journal=None):
        self._study = study
        self._names = tuple(names)
        self._distributions = distributions
        self._journal = journal  # (backend, study_id) when the storage is spikefit's journal file
        self._next = int(first_number)  # the next number the Optuna study will assign
        self._waiting: dict[int, ToldBatch] = {}  # first trial number -> batch
        self._lock = threading.Lock()

    def add(self, batches: list[ToldBatch]) -> None:
        with self._lock:
            self._waiting.update((int(b.numbers[0]), b) for b in batches if len(b.numbers))

    def write(self) -> int:
        """Add the waiting trials whose numbers follow on from the study's; returns how many."""
        with self._lock:
            ready = []
            while self._next in self._waiting:
                b = self._waiting.pop(self._next)
                ready.append(b)
                self._next += len(b.numbers)
        if not ready:
            return 0
        if self._journal is not None:
            backend, study_id = self._journal
            backend.append_text(journal_text(study_id, ready, self._names, self._distributions))
        else:
            self._study.add_trials([t for b in ready for t in b.frozen(self._names, self._distributions)])
        return sum(len(b.numbers) for b in ready)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(b.numbers) for b in self._waiting.values())
