"""The end of a run: the chosen fit of each cell scored and written (best, traces, validation).

For each cell the stages' candidates (the best trial of each study) are scored on the held-out
segment when one was asked, the fit is chosen (:func:`spikefit.search.stages.choose`), and the
chosen parameters are re-simulated by a worker on the training and validation sweeps: their
scores go to ``best``, their voltage and spikes beside the recorded ones to ``traces``, and the
per-stimulus Gamma / Gamma_int to ``validation``.
"""

from __future__ import annotations

import threading

import numpy as np

from spikefit.execution.stepcheck import STEP_TOLERANCE, fine_spike_times, fine_step_scores
from spikefit.scoring.validation import validation_rows
from spikefit.execution.loop import stage_key
from spikefit.search.stages import Choice, choose, plan

__all__ = ["score_holdout", "finish", "warm_final", "same_window"]


def warm_final(spec, cells: dict, params: dict, ev_kwargs: dict | None) -> threading.Thread:
    """Compile, in a background thread of the driver, what :func:`finish` computes in this
    process: the validation scores (Gamma and Gamma_int, jitted per shape) and the dt / 4
    re-simulation of the step-size check. A fit simulates a few hundred neurons per step on one
    core, so the compiler takes a core that would otherwise wait, and the run's end no longer
    waits for it. ``params``: any candidate (the centre of the bounds); the results are dropped.
    Join the thread before :func:`finish` (a failure here only means that finish compiles)."""
    same = same_window(spec)

    def work():
        for sets in cells.values():
            if sets.validation is None or not sets.validation_sweeps:
                continue
            try:
                val = sets.validation
                recorded = [val.spike_steps[i][val.spike_steps[i] >= 0] * float(val.dt_ms)
                            for i in range(len(sets.validation_sweeps))]
                validation_rows(sets, recorded, dt_ms=spec.data.dt_ms, ljp_mV=spec.data.ljp_mV,
                                same_window=same)
                if ev_kwargs is not None:
                    fine_spike_times(ev_kwargs, sets, params, ljp_mV=spec.data.ljp_mV)
            except Exception:  # noqa: BLE001 (finish computes it again and reports what fails)
                pass

    thread = threading.Thread(target=work, name="spikefit-warm-final", daemon=True)
    thread.start()
    return thread


def same_window(spec) -> bool:
    """Training and validation select the same time window (training repeats may count for Gamma_int)."""
    if not spec.data.validation:
        return False
    return (spec.data.train.t_start_ms, spec.data.train.t_stop_ms) == (
        spec.data.validation.t_start_ms, spec.data.validation.t_stop_ms)


def _evaluate(pool, key: str, candidates: list[Choice], space):
    x = np.array([[c.params[n] for n in space.names] for c in candidates], np.float32)
    return pool.result(pool.submit(key, x))


def score_holdout(pool, cell: str, candidates: list[Choice], space) -> None:
    """Fill each candidate's held-out loss and scores (one batch on ``<cell>/holdout``)."""
    r = _evaluate(pool, f"{cell}/holdout", candidates, space)
    loss = np.asarray(r.loss)
    for i, c in enumerate(candidates):
        c.holdout_loss = float(np.sum(loss[i]))
        c.holdout_scores = {k: float(np.mean(np.asarray(v)[i])) for k, v in r.per_sweep.items()}


def score_train(pool, cell: str, candidates: list[Choice], space) -> None:
    """Each candidate's training loss at the job's own step (one batch on ``<cell>``), for a
    choice among stages that simulated at other steps."""
    loss = np.asarray(_evaluate(pool, cell, candidates, space).loss)
    for i, c in enumerate(candidates):
        c.train_loss = float(np.sum(loss[i]))


def finish(spec, cells: dict, candidates: dict[str, list[Choice]], pool, store, space, *, units: dict,
           defaults: dict, derive, ev_kwargs: dict | None = None) -> dict:
    """Choose, score and write each cell's fit; returns cell -> its ``best`` row.

    ``units``: every model parameter's unit; ``defaults``: every parameter not fitted (the
    model's defaults and the job's fixed values); ``derive(params)``: the free parameters
    plus the derived ones. ``ev_kwargs``: the evaluator's arguments, to re-simulate each fit at
    dt / 4 in this process (the step-size check; skipped when None).
    """
    holdout = spec.search.holdout_ms
    best_rows, out, val_times = [], {}, {}
    for cell, sets in cells.items():
        if not candidates.get(cell):
            continue
        if holdout:
            score_holdout(pool, cell, candidates[cell], space)
        elif len({stage_key(cell, s, float(sets.train.dt_ms)) for s in plan(spec.search, spec.seed)
                  if not s.passive}) > 1:  # stages at other steps: compare their bests at the job's
            score_train(pool, cell, candidates[cell], space)
        chosen, why = choose(candidates[cell], holdout)
        params = dict(chosen.params)
        x = np.array([[params[n] for n in space.names]], np.float32)
        row = {"job": spec.name, "cell": cell, "model": spec.model.name, "trial": chosen.trial,
               "stage": chosen.stage, "seed": chosen.seed, "chosen_by": why,
               "free_parameters": list(space.names), **defaults, **derive(params)}
        if holdout:
            row["holdout_loss"] = chosen.holdout_loss
        for set_name, key, sweeps in (("train", cell, sets.train_sweeps),
                                      ("validation", f"{cell}/validation", sets.validation_sweeps)):
            if not sweeps:
                continue
            r = pool.result(pool.submit(key, x))
            row[f"{set_name}_loss"] = float(np.sum(np.asarray(r.loss)[0]))
            for label, arr in r.per_sweep.items():
                row[f"{set_name}_{label}"] = float(np.mean(np.asarray(arr)[0]))
            V, times, _ = pool.traces(key, params)
            if set_name == "validation":
                val_times[cell] = times
            store.append_traces(_trace_rows(spec, cell, chosen.trial, set_name, sweeps, V, times, sets))
        best_rows.append(row)
        out[cell] = row
    if best_rows:
        rows = _validation(spec, cells, out, val_times, ev_kwargs)  # also flags step-size dependent fits
        store.write_best(best_rows, units=units)
        if rows:
            store.write_validation(rows)
    return out


def _validation(spec, cells, best: dict, val_times: dict, ev_kwargs: dict | None) -> list[dict]:
    """The validation rows of every cell; with ``ev_kwargs``, each fit is also re-simulated at
    dt / 4 (:mod:`spikefit.execution.stepcheck`) and its ``best`` row gets
    ``validation_step_change`` and ``validation_step_dependent``."""
    same = same_window(spec)
    rows = []
    for cell, row in best.items():
        if cell not in val_times:
            continue
        cell_rows = validation_rows(cells[cell], val_times[cell], dt_ms=spec.data.dt_ms, ljp_mV=spec.data.ljp_mV,
                                    same_window=same)
        if ev_kwargs is not None and cell_rows:
            params = {n: row[n] for n in row["free_parameters"]}
            change = fine_step_scores(ev_kwargs, cells[cell], params, cell_rows, ljp_mV=spec.data.ljp_mV,
                                      same_window=same)
            row["validation_step_change"] = change
            row["validation_step_dependent"] = bool(change > STEP_TOLERANCE)  # nan (no score defined): not flagged
        rows += [{"job": spec.name, "cell": cell, "model": spec.model.name, **r} for r in cell_rows]
    return rows


def _trace_rows(spec, cell, trial, set_name, sweeps, V, times, sets):
    batch = sets.train if set_name == "train" else sets.validation
    rows = []
    for i, sw in enumerate(sweeps):
        n = int(batch.n_steps[i])
        rec_v = None if batch.voltage is None else np.asarray(batch.voltage[i, :n], np.float32)
        rec_t = batch.spike_steps[i][batch.spike_steps[i] >= 0].astype(np.float64) * batch.dt_ms
        common = {"job": spec.name, "cell": cell, "model": spec.model.name, "sweep": str(sw.sweep_id),
                  "stimulus": str(sw.stimulus), "set": set_name, "dt_ms": float(batch.dt_ms)}
        rows.append({**common, "trial": None, "kind": "recorded", "V": rec_v, "spike_times_ms": rec_t,
                     "I": np.asarray(batch.current[i, :n], np.float32)})
        sim_t = np.asarray(times[i])
        rows.append({**common, "trial": trial, "kind": "simulated",
                     "V": np.asarray(V[i, :n], np.float32), "spike_times_ms": sim_t[sim_t < n * batch.dt_ms]})
    return rows
