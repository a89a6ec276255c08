"""The study: spikefit's only door to Optuna.

A :class:`Study` wraps one Optuna study over a :class:`~spikefit.search.space.SearchSpace`. The driver
asks candidates in batches (:meth:`Study.ask_batch`), has them simulated and scored, and tells
the results back (:meth:`Study.tell_batch`). Storage is an Optuna journal file
(``<output_dir>/study.journal``) by default, an RDB URL (``"sqlite:///x.db"``,
``"postgresql://..."``) for big deployments, or memory when neither is given.

Resuming: :meth:`Study.create` with ``load_if_exists=True`` on the same storage continues the
trial numbering. Trials asked but never told (a driver that died) are listed by
:meth:`Study.pending`; tell them by number once re-evaluated, or :meth:`Study.fail_pending` /
:meth:`Study.requeue_pending` them. A trial cannot be told twice, so none is counted twice.
One driver per study: ``pending()`` cannot tell a dead driver's trials from a live one's.

On resume with a fixed ``seed`` the sampler is seeded from ``(seed, number of trials so far)``
so a resumed run does not replay the first run's candidates.

Reading a journal-file study makes Optuna replay the whole journal (every study's records,
~0.1 ms each). A ``cmaes_batch`` study told through :meth:`Study.tell_array` therefore keeps
its own counts and best trial (what it stored when opened plus what it was told since), so the
driver never reads the journal during a run; :meth:`Study.trials_frame` and the per-trial
paths still read Optuna.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from spikefit.search.samplers import SAMPLERS
from spikefit.search._tell import Best, Candidate, TrialResult, check_directions, parse_result, values_tuple
from spikefit.search.records import TrialLog, told_batch
from spikefit.search.tally import Tally, trials_frame
from spikefit.search.sampler_factory import from_unit, from_unit_array, make_batch_cma, make_sampler
from spikefit.search.space import SearchSpace
from spikefit.search.storage import count_existing_trials, journal_of, make_storage

__all__ = ["SAMPLERS", "Best", "Candidate", "Study", "TrialResult"]

_SPACE_ATTR = "spikefit_space"


class Study:
    """A spikefit study over a search space; build it with :meth:`Study.create`."""

    def __init__(self, study: optuna.Study, storage: Any, space: SearchSpace, sampler: str,
                 batch_cma: Any = None):
        self._study = study
        self._bcma = batch_cma
        self._storage = storage
        self._study_id = storage.get_study_id_from_name(study.study_name)
        self.space = space
        self.sampler_name = sampler
        self._distributions = {
            p.name: FloatDistribution(p.low, p.high, log=p.log) for p in space.params
        }
        self._log = None  # cmaes_batch: told trials waiting to be recorded (see records)
        self._numbers = 0  # cmaes_batch: the next trial number to hand out
        self._seed: int | None = None  # cmaes_batch: the (resume-derived) seed, for start_at
        self._options: dict[str, Any] = {}
        # cmaes_batch told through tell_array: counts and best kept here (no journal replay);
        # None after a per-trial call (ask_batch / tell_batch), which reads Optuna again
        self._tally: Tally | None = None
        if batch_cma is not None:
            trials = study.get_trials(deepcopy=False)
            self._numbers = len(trials)
            self._log = TrialLog(study, self._numbers, space.names, self._distributions, journal_of(storage, self._study_id))
            self._tally = Tally.from_trials(trials, len(study.directions))

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        name: str,
        space: SearchSpace,
        *,
        directions: str | Sequence[str] = ("minimize",),
        sampler: str = "tpe",
        sampler_options: Mapping[str, Any] | None = None,
        seed: int | None = None,
        storage: str | None = None,
        output_dir: str | Path | None = None,
        load_if_exists: bool = True,
        quiet: bool = True,
    ) -> Study:
        """Create (or, with ``load_if_exists``, reopen) a study.

        ``storage``: an RDB URL (anything with ``://``) or a journal file path; ``None`` means
        ``<output_dir>/study.journal``, or memory when ``output_dir`` is ``None`` too.
        ``quiet`` lowers Optuna's log level to WARNING (one INFO line per trial otherwise).
        """
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        dirs = check_directions(directions)
        if quiet:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        backend = make_storage(storage, output_dir)
        n_before = count_existing_trials(backend, name) if load_if_exists else 0
        if seed is not None and n_before:
            seed = int(np.random.SeedSequence([int(seed), n_before]).generate_state(1)[0])
        batch_cma = None
        if sampler == "cmaes_batch":
            batch_cma = make_batch_cma(space, sampler_options or {}, seed, len(dirs))
            optuna_sampler = optuna.samplers.RandomSampler(seed=seed)  # only fills enqueued trials
        else:
            optuna_sampler = make_sampler(sampler, sampler_options or {}, seed, len(dirs))
        try:
            study = optuna.create_study(
                study_name=name,
                storage=backend,
                sampler=optuna_sampler,
                directions=dirs,
                load_if_exists=load_if_exists,
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise ValueError(
                f"study {name!r} already exists in the storage; pass load_if_exists=True to "
                "resume it or choose another name"
            ) from None
        stored_dirs = [d.name.lower() for d in study.directions]
        if stored_dirs != dirs:
            raise ValueError(
                f"study {name!r} exists with directions {stored_dirs}, got {dirs}; use the "
                "stored directions or another study name"
            )
        stored_space = study.user_attrs.get(_SPACE_ATTR)
        wanted = _space_to_json(space)
        if stored_space is None:
            study.set_user_attr(_SPACE_ATTR, wanted)
        elif stored_space != wanted:
            raise ValueError(
                f"study {name!r} exists with search space {stored_space}, got {wanted}; resume "
                "with the same space or choose another study name"
            )
        out = cls(study, backend, space, sampler, batch_cma)
        out._seed, out._options = seed, dict(sampler_options or {})
        return out

    def start_at(self, x0: Mapping[str, float], sigma0: float) -> None:
        """Restart a ``cmaes_batch`` search at ``x0`` with step ``sigma0`` (a local stage whose
        study was opened before its start point was known); nothing asked may be in flight."""
        if self._bcma is None:
            raise ValueError(f"study {self.name!r}: start_at needs the 'cmaes_batch' sampler, not {self.sampler_name!r}")
        opts = {**self._options, "x0": dict(x0), "sigma0": float(sigma0)}
        self._bcma = make_batch_cma(self.space, opts, self._seed, len(self._study.directions))
        self._options = opts

    # ------------------------------------------------------------------ ask / tell
    @property
    def name(self) -> str:
        return self._study.study_name

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(d.name.lower() for d in self._study.directions)

    def ask_batch(self, n: int) -> list[Candidate]:
        """Ask ``n`` new trials (enqueued ones first) and return them as candidates."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"ask_batch: n must be a positive int, got {n!r}")
        if self._bcma is not None:
            self._tally = None  # per-trial Optuna path: counts are Optuna's again
            return self._ask_batch_cma(n)
        out = []
        for _ in range(n):
            trial = self._study.ask(fixed_distributions=self._distributions)
            params = {k: float(trial.params[k]) for k in self.space.names}
            out.append(Candidate(trial.number, params))
        return out

    def ask_array(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` new trials as ``(numbers [k], params [k, n_params])`` in the space's units.

        ``cmaes_batch`` hands out the rest of its generation as one array, with no Optuna call;
        the other samplers ask Optuna trial by trial (their cost is per trial by nature).
        """
        if self._bcma is None:
            cands = self.ask_batch(n)
            return (np.array([c.number for c in cands], np.int64),
                    self.space.to_array([c.params for c in cands]) if cands else np.zeros((0, len(self.space.names))))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"ask_array: n must be a positive int, got {n!r}")
        z = self._bcma.ask_array(n)
        numbers = np.arange(self._numbers, self._numbers + len(z), dtype=np.int64)
        self._numbers += len(z)
        self._bcma.register_many(numbers, z)
        return numbers, from_unit_array(self.space, z)

    def tell_array(self, numbers, x, values, failed, reasons=None) -> tuple | None:
        """Tell one batch: ``values`` [k] (or [k, m]), ``failed`` [k] bool (FAIL, ``reasons`` say
        why; a reason on a COMPLETE trial marks it penalised). Other samplers tell Optuna now and
        return ``None``; ``cmaes_batch`` updates its search at once and returns the batch for
        :meth:`record`, which adds it to the Optuna study later (the driver's writer thread)."""
        numbers = np.asarray(numbers, np.int64)
        values, failed = np.asarray(values, float), np.asarray(failed, bool)
        if self._bcma is None:
            self.tell_batch([TrialResult(int(k), None if failed[i] else values[i].tolist() if values.ndim == 2
                                         else float(values[i]), "fail" if failed[i] else "complete",
                                         reasons[i] if reasons is not None else None,
                                         {"penalized": reasons[i]} if reasons is not None and reasons[i]
                                         and not failed[i] else None)
                             for i, k in enumerate(numbers.tolist())])
            return None
        first = values if values.ndim == 1 else values[:, 0]
        self._bcma.tell_many(numbers, np.where(~failed & np.isfinite(first), first, np.nan))
        reasons = list(reasons) if reasons is not None else [None] * len(numbers)
        bad = ~np.isfinite(values.reshape(len(numbers), -1)).all(axis=1) & ~failed
        for i in np.flatnonzero(bad):
            reasons[i] = f"non-finite objective value(s) {np.ravel(values[i]).tolist()}"
        x = np.asarray(x, float)
        if self._tally is not None:
            self._tally.add(numbers, np.clip(x, self.space.low, self.space.high), values, failed | bad,
                          self.space.names)  # clipped as the study stores them
        return numbers, x, values, failed | bad, reasons

    def record(self, told: tuple | None) -> int:
        """Add a batch returned by :meth:`tell_array` to the Optuna study (trials in number
        order, once the earlier ones are in); returns how many trials were added."""
        if told is None or self._log is None:
            return 0
        numbers, x, values, failed, reasons = told
        self._log.add(told_batch(self.space.names, self._distributions, numbers, x, values, failed, reasons))
        return self._log.write()

    def restore(self, numbers, x, values, failed, reasons) -> int:
        """Record trials already in the results table but missing from the study (a driver
        that died between writing the table and the study); returns how many were added."""
        if self._log is None:
            return 0
        numbers = np.asarray(numbers, np.int64)
        keep = numbers >= self._numbers
        if not keep.any():
            return 0
        order = np.argsort(numbers[keep])
        sel = lambda a: np.asarray(a)[keep][order]  # noqa: E731
        nums = sel(numbers)
        self._log.add(told_batch(self.space.names, self._distributions, nums, sel(x), sel(values), sel(failed),
                                 list(sel(np.asarray(reasons, dtype=object)))))
        added = self._log.write()
        trials = self._study.get_trials(deepcopy=False)
        self._numbers = len(trials)
        self._log = TrialLog(self._study, self._numbers, self.space.names, self._distributions,
                             journal_of(self._storage, self._study_id))
        if self._tally is not None:
            self._tally = Tally.from_trials(trials, len(self._study.directions))
        return added

    @property
    def can_ask(self) -> bool:
        """False while a ``cmaes_batch`` generation is fully asked but not yet told."""
        return self._bcma is None or self._bcma.open

    def _ask_batch_cma(self, n: int) -> list[Candidate]:
        out = []
        for z in self._bcma.ask(n):
            params = from_unit(self.space, z)
            self._study.enqueue_trial(params, skip_if_exists=False)
            trial = self._study.ask(fixed_distributions=self._distributions)
            self._bcma.register(trial.number, z)
            out.append(Candidate(trial.number, {k: float(trial.params[k]) for k in self.space.names}))
        return out

    def tell_batch(self, results: Sequence[TrialResult | tuple]) -> None:
        """Tell finished trials: ``(number, values, state, reason, user_attrs)`` each.

        ``state`` is ``"complete"`` (``values``: a float, or one per direction) or ``"fail"``
        (``reason`` stored as user attr ``fail_reason``). Non-finite values turn the trial into
        FAIL with a reason. Telling an unknown or already finished trial is a ``ValueError``.
        """
        parsed = [parse_result(r, TrialResult) for r in results]
        if parsed:
            self._tally = None  # told through Optuna: counts are Optuna's again
        numbers = [r.number for r in parsed]
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            raise ValueError(
                f"tell_batch: trial numbers {twice} appear more than once in one batch"
            )
        for r in parsed:
            self._tell_one(r)
            if self._bcma is not None:
                v = None if r.state != "complete" or r.values is None else float(np.ravel(r.values)[0])
                self._bcma.tell(r.number, v)

    def _tell_one(self, r: TrialResult) -> None:
        trial_id = self._trial_id(r.number)
        current = self._storage.get_trial(trial_id).state
        if current != TrialState.RUNNING:
            raise ValueError(
                f"trial {r.number} is already {current.name}; each asked trial is told once"
            )
        state, reason, values = r.state, r.reason, None
        if state == "complete":
            values = values_tuple(r.values, len(self._study.directions), r.number)
            if not all(math.isfinite(v) for v in values):
                state, reason = "fail", f"non-finite objective value(s) {list(values)}"
                values = None
        for key, value in (r.user_attrs or {}).items():
            self._storage.set_trial_user_attr(trial_id, str(key), value)
        if state == "fail":
            self._storage.set_trial_user_attr(trial_id, "fail_reason", reason or "unspecified")
            self._study.tell(r.number, state=TrialState.FAIL)
        else:
            self._study.tell(r.number, values=list(values), state=TrialState.COMPLETE)

    def _trial_id(self, number: int) -> int:
        try:
            return self._storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        except KeyError:
            raise ValueError(f"study {self.name!r} has no trial number {number}") from None

    # ------------------------------------------------------------------ resume
    def pending(self) -> list[Candidate]:
        """Trials asked but never told (RUNNING), e.g. left by a driver that died."""
        if self._tally is not None and not self._tally.running:
            return []  # cmaes_batch asks outside Optuna: no RUNNING trial unless opened with some
        trials = self._study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return [Candidate(t.number, {k: float(v) for k, v in t.params.items()}) for t in trials]

    def fail_pending(self, reason: str = "driver stopped before the trial was told") -> list[int]:
        """Mark every pending trial FAIL with ``reason``; return their numbers."""
        numbers = [c.number for c in self.pending()]
        self.tell_batch([TrialResult(n, None, "fail", reason) for n in numbers])
        return numbers

    def requeue_pending(self) -> list[int]:
        """Fail every pending trial and enqueue its parameters; the next ``ask_batch`` returns
        them under new numbers (user attr ``retry_of`` names the old one)."""
        pending = self.pending()
        for cand in pending:
            self.tell_batch([TrialResult(cand.number, None, "fail", "requeued after restart")])
            if set(cand.params) == set(self.space.names):
                self._study.enqueue_trial(cand.params, user_attrs={"retry_of": cand.number})
        return [c.number for c in pending]

    # ------------------------------------------------------------------ results
    @property
    def n_trials(self) -> int:
        """Trials the study holds, and (``cmaes_batch``) those told and not yet recorded."""
        if self._tally is not None:
            return self._tally.complete + self._tally.failed + self._tally.running
        return len(self._study.get_trials(deepcopy=False))

    @property
    def n_complete(self) -> int:
        if self._tally is not None:
            return self._tally.complete
        return len(self._study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    @property
    def n_failed(self) -> int:
        if self._tally is not None:
            return self._tally.failed
        return len(self._study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))

    def best(self) -> Best | list[Best]:
        """The best trial (single objective) or the Pareto front (several objectives)."""
        if len(self._study.directions) > 1:
            return self.pareto_front()
        if self.n_complete == 0:
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        if self._tally is not None and self._tally.best is not None:
            number, params, values = self._tally.best
            return Best(number, dict(params), values)
        done = self._study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        sign = 1.0 if self._study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
        t = min(done, key=lambda tr: (sign * tr.value, tr.number))  # ties: the first trial
        return Best(t.number, dict(t.params), tuple(t.values))

    def pareto_front(self) -> list[Best]:
        """Non-dominated COMPLETE trials (the best trial for a single objective)."""
        if self.n_complete == 0:
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        return [Best(t.number, dict(t.params), tuple(t.values)) for t in self._study.best_trials]

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: number, state, loss (or loss_0..), parameters, fail_reason,
        datetime_start, datetime_complete, duration_s and the other user attrs."""
        return trials_frame(self._study, self.space.names)


# ---------------------------------------------------------------------- helpers
def _space_to_json(space: SearchSpace) -> list[dict[str, Any]]:
    return json.loads(json.dumps([
        {"name": p.name, "low": p.low, "high": p.high, "unit": p.unit, "log": p.log}
        for p in space.params
    ]))
