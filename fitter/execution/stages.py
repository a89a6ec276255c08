"""Multi-stage fits with restarts and a held-out model choice, run in-process (no Ray).

A job spec (:mod:`spikefit.spec.jobspec`) says what to fit; a list of :class:`Stage` says how to search:

* a **global** stage runs one study per seed (restarts), each over the job's full bounds;
* a **local** stage (``local = true``) starts a CMA-ES at the best candidate found so far
  (``x0``) with a small step (``sigma0``, in the sampler's [0, 1]-scaled space), once per seed.

The default sampler is ``cmaes_batch`` (one CMA-ES generation per batch, population = the
job's ``search.batch_size``, mirrored bounds; see :mod:`spikefit.search.batch_cmaes`).

The last ``holdout_ms`` of every training sweep is cut off before fitting and used only to
choose among the candidates (the best of every study): the one with the lowest objective on
the held-out segment wins, and :class:`StagedResult` says which and by how much. The
validation sweeps are never looked at until the winner is fixed; :func:`validation_report`
then scores it the way the field does: per validation stimulus, Gamma between the model's
response to each repeat's current and every recorded repeat, averaged, and divided by the
data's intrinsic reliability Gamma_int (mean Gamma between repeats).

``aux`` (optional) adds more training sweeps scored by a second objective, e.g. the spike
count on stimuli whose spike timing is not reproducible but whose rate still constrains the
model: ``loss = loss_main + aux_weight * loss_aux``.

This module uses :class:`spikefit.execution.evaluator.Evaluator` and :class:`spikefit.search.study.Study` directly,
the same simulation, scoring and sampler code as ``spikefit run`` (which adds Ray workers and
the Parquet store).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikefit.data.dataset import crop, prepare_cells, select
from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.spec.jobspec import JobSpec, Selection
from spikefit.data.sweeps import make_batch

__all__ = ["Stage", "Candidate", "StagedResult", "run_stages", "validation_report", "validation_rows"]


@dataclass(frozen=True)
class Stage:
    """One search stage: ``trials`` per seed, one study per seed."""

    name: str
    trials: int
    seeds: tuple[int, ...] = (0,)
    sampler: str = "cmaes_batch"
    options: dict[str, Any] = field(default_factory=dict)
    local: bool = False  # start at the best so far (CMA-ES x0) with step sigma0
    sigma0: float = 0.05


@dataclass
class Candidate:
    stage: str
    seed: int
    params: dict[str, float]
    train_loss: float
    holdout_loss: float = float("nan")
    holdout_metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class StagedResult:
    model: str
    best: Candidate
    candidates: list[Candidate]
    trials: int
    wall_s: float
    why: str
    evaluator: Evaluator = field(repr=False, default=None)
    cells: dict = field(repr=False, default_factory=dict)


def _batch(sweeps, spec: JobSpec):
    return make_batch(sweeps, dt_ms=spec.data.dt_ms, ljp_mV=spec.data.ljp_mV)


def _split_holdout(sweeps, holdout_ms: float):
    fit, hold = [], []
    for s in sweeps:
        cut = s.duration_ms - holdout_ms
        if cut <= 0:
            raise ValueError(f"holdout_ms={holdout_ms} is longer than sweep {s.sweep_id} ({s.duration_ms} ms)")
        fit.append(crop(s, None, cut))
        hold.append(crop(s, cut, None))
    return fit, hold


def _evaluator(spec: JobSpec, objective: dict | None = None, batch_size: int | None = None) -> Evaluator:
    fixed = spec.fixed_values()
    init = {"V": fixed["V_rest"]} if "V_rest" in fixed else {}
    return Evaluator(spec.model.name, tuple(spec.params), fixed, spk_reset=spec.model.spk_reset,
                     objective=objective or spec.objective, batch_size=batch_size or spec.search.batch_size,
                     max_rate_hz=spec.model.max_rate_hz, derived=dict(spec.model.derived), init=init)


def run_stages(spec: JobSpec, stages: list[Stage], *, holdout_ms: float | None = None,
               aux: Selection | None = None, aux_objective: dict | None = None, aux_weight: float = 1.0,
               log=print) -> StagedResult:
    """Fit every cell of ``spec`` (one cell expected) with ``stages``; see the module doc."""
    from spikefit.execution.driver import _space
    from spikefit.search.study import Study, TrialResult

    t_start = time.perf_counter()
    cells = prepare_cells(spec)
    if len(cells) != 1:
        raise ValueError(f"run_stages fits one cell at a time, the job has {sorted(cells)}")
    (cell, sets), = cells.items()
    space = _space(spec)
    ev = _evaluator(spec)
    fit_sweeps, hold_sweeps = (list(sets.train_sweeps), None)
    if holdout_ms:
        fit_sweeps, hold_sweeps = _split_holdout(fit_sweeps, holdout_ms)
        ev.add_cell("holdout", CellData.from_batch(_batch(hold_sweeps, spec)))
    ev.add_cell("fit", CellData.from_batch(_batch(fit_sweeps, spec)))
    aux_ev = None
    if aux is not None:
        from spikefit.data.readers import load
        from pathlib import Path

        recs = []
        for p in spec.data.paths(Path(spec.base_dir)):
            got = load(p, format=spec.data.format, **spec.data.options)
            recs.extend(got if isinstance(got, list) else [got])
        sw = select([s for r in recs for s in r.sweeps], aux, where="aux")
        aux_ev = _evaluator(spec, aux_objective or {"metrics": [{"name": "spike_count", "relative": True}]})
        aux_ev.add_cell("aux", CellData.from_batch(_batch(sw, spec)))

    def loss_of(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = ev.evaluate("fit", x.astype(np.float32))
        loss = np.asarray(r.loss, np.float64)
        if aux_ev is not None:
            ra = aux_ev.evaluate("aux", x.astype(np.float32))
            loss = loss + aux_weight * np.asarray(ra.loss, np.float64)
        return loss, np.asarray(r.valid)

    bs = spec.search.batch_size
    candidates: list[Candidate] = []
    n_trials = 0
    for stage in stages:
        for seed in stage.seeds:
            opts = dict(stage.options)
            if stage.sampler == "cmaes_batch":
                opts.setdefault("popsize", bs)
            if stage.local:
                if not candidates:
                    raise ValueError(f"stage {stage.name!r}: a local stage needs an earlier stage")
                start = min(candidates, key=lambda c: c.train_loss)
                opts.update(x0=dict(start.params), sigma0=stage.sigma0)
            study = Study.create(f"{spec.name}.{stage.name}.{seed}.{time.time_ns()}", space,
                                 sampler=stage.sampler, sampler_options=opts, seed=seed + 1000 * spec.seed)
            best_l, best_x, n = np.inf, None, 0
            while n < stage.trials:
                cands = study.ask_batch(min(bs, stage.trials - n))
                x = space.reflect(space.to_array([c.params for c in cands]))
                loss, valid = loss_of(x)
                study.tell_batch([TrialResult(c.number, float(l), "complete", None, None)
                                  for c, l in zip(cands, loss)])
                i = int(np.argmin(loss))
                if loss[i] < best_l:
                    best_l, best_x = float(loss[i]), x[i]
                n += len(cands)
            n_trials += n
            cand = Candidate(stage.name, seed, dict(zip(space.names, map(float, best_x))), best_l)
            candidates.append(cand)
            log(f"  {spec.name} stage {stage.name} seed {seed}: train loss {best_l:.4f} "
                f"({n} trials, {time.perf_counter() - t_start:.0f} s)")
    if hold_sweeps is not None:
        x = np.array([[c.params[n] for n in space.names] for c in candidates], np.float32)
        r = ev.evaluate("holdout", x)
        for i, c in enumerate(candidates):
            c.holdout_loss = float(np.asarray(r.loss)[i])
            c.holdout_metrics = {k: float(np.mean(v[i])) for k, v in r.per_sweep.items()}
        best = min(candidates, key=lambda c: c.holdout_loss)
        why = (f"lowest objective on the held-out last {holdout_ms:g} ms of the training sweeps: "
               f"{best.holdout_loss:.4f} ("
               + ", ".join(f"{k} {v:.3f}" for k, v in best.holdout_metrics.items())
               + f"; stage {best.stage}, seed {best.seed}; others "
               + ", ".join(f"{c.stage}/{c.seed}={c.holdout_loss:.4f}" for c in candidates if c is not best) + ")")
    else:
        best = min(candidates, key=lambda c: c.train_loss)
        why = "lowest training loss (no held-out segment asked)"
    return StagedResult(spec.model.name, best, candidates, n_trials, time.perf_counter() - t_start, why,
                        evaluator=ev, cells=cells)


def validation_report(spec: JobSpec, result: StagedResult, *, delta_ms: float = 2.0) -> list[dict]:
    """Per validation stimulus: Gamma (model vs every repeat), Gamma_int, their ratio, counts."""
    (cell, sets), = result.cells.items()
    return validation_rows(spec, sets, result.evaluator, result.best.params, delta_ms=delta_ms)


def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _pad(steps: np.ndarray, k: int) -> np.ndarray:
    """Spike steps [S, K] padded with -1 to [S, k]."""
    return np.pad(steps, ((0, 0), (0, k - steps.shape[1])), constant_values=-1)


def validation_rows(spec: JobSpec, sets, ev: Evaluator | None, params: dict, *, delta_ms: float = 2.0,
                    times: list | None = None) -> list[dict]:
    """:func:`validation_report` for one cell's sets and parameters. ``times``: the model's spike
    times (ms) on each validation sweep when already simulated; otherwise ``ev`` simulates them."""
    from spikefit.scoring.metrics import gamma_factor, intrinsic_reliability

    if sets.validation is None:
        return []
    rows = []
    val, tr = sets.validation, sets.train
    if times is None:  # every validation sweep in one simulator call
        ev.add_cell("val:all", CellData.from_batch(_batch(list(sets.validation_sweeps), spec)))
        _, times, _ = ev.traces("val:all", params)
    all_times = times
    same_window = (spec.data.train.t_start_ms, spec.data.train.t_stop_ms) == (
        spec.data.validation.t_start_ms, spec.data.validation.t_stop_ms)
    # one spike-buffer size for every stimulus: the scoring compiles once, not per stimulus
    k_all = _pow2(max([1, *(np.size(t) for t in all_times), int(np.max(val.n_spikes, initial=0)),
                       int(np.max(tr.n_spikes, initial=0))]))
    for stim in dict.fromkeys(val.stimulus_ids):
        idx = [i for i, s in enumerate(val.stimulus_ids) if s == stim]
        data = CellData.from_batch(_batch([sets.validation_sweeps[i] for i in idx], spec))
        dt = data.dt_ms
        dur = float(data.durations_ms[0])
        model = [np.rint(np.asarray(all_times[i]) / dt).astype(np.int32) for i in idx]
        model_steps = np.full((len(model), data.spike_steps.shape[0], k_all), -1, np.int32)
        for i, m in enumerate(model):
            model_steps[i, :, : m.size] = m  # model response to repeat i's current, vs every repeat
        g = np.asarray(gamma_factor(model_steps, _pad(data.spike_steps, k_all), dt, delta_ms,
                                    duration=data.durations_ms))
        reps = data.spike_steps
        # a stimulus with one validation repeat (BBP steps): its training repeats over the same
        # time window count for the data's reliability (never for the model's score)
        extra = [i for i, s in enumerate(tr.stimulus_ids) if s == stim]
        if len(idx) < 2 and extra and same_window:
            more = _batch([sets.train_sweeps[i] for i in extra] + [sets.validation_sweeps[i] for i in idx], spec)
            reps = more.spike_steps
        gi = (float(intrinsic_reliability(_pad(reps, k_all), dt, delta_ms, duration=dur))
              if reps.shape[0] >= 2 else float("nan"))
        n_model = np.mean([m.size for m in model])
        n_data = float(np.mean(data.n_spikes))
        rows.append({"stimulus": stim, "gamma": float(g.mean()), "gamma_int": gi,
                     "ratio": float(g.mean()) / gi if gi == gi and gi > 0 else float("nan"),
                     "n_model": float(n_model), "n_data": n_data,
                     "count_error": abs(n_model - n_data) / max(n_data, 1.0)})
    return rows
