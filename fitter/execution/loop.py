"""The driver's hot loop: ask a batch, send it to a worker, tell the result, append the rows.

:func:`drive` runs a set of studies (the seeds of one stage, for every cell) to their
budgets. It keeps ``in_flight_per_worker`` batches in flight per worker so neither the sampler
nor the workers wait, tells each result as it arrives (a diverged candidate: FAIL with its
reason; a penalised one: COMPLETE with the penalty and its reason) and appends the told batch
to the result store. Time goes to the :class:`Clock` (ask, tell, transport, simulate, score,
write).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np

from spikefit.search.study import TrialResult

__all__ = ["Clock", "Run", "drive", "resume"]


class Clock:
    """Seconds spent per phase of the run (reported in the manifest)."""

    PHASES = ("compile", "ask", "tell", "transport", "simulate", "score", "write", "final")

    def __init__(self):
        self.t = {k: 0.0 for k in self.PHASES}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] += seconds


@dataclass
class Run:
    """One study of the loop: which cell's data it scores on, its stage and its budget."""

    cell: str
    stage: str
    seed: int
    study: object  # spikefit.search.study.Study
    budget: int


def resume(runs: dict) -> dict:
    """Trials already spent per run. A driver that died left trials asked but never told:
    they are re-asked (same parameters, new numbers; ``cmaes_batch``: failed, and the search
    restarts its generation) so that none is lost or counted twice."""
    spent = {}
    for key, run in runs.items():
        study = run.study
        if study.sampler_name == "cmaes_batch":
            redo = study.fail_pending("driver stopped before the trial was told; resumed")
        else:
            redo = study.requeue_pending()
        spent[key] = study.n_complete + study.n_failed - len(redo)
    return spent


def drive(spec, runs: dict, pool, store, space, clock: Clock, bar, *, batch_no: int = 0) -> int:
    """Run every study of ``runs`` (key -> :class:`Run`) to its budget; returns the last batch number
    (batches are numbered across the stages of a run)."""
    asked = resume(runs)
    bar.advance(sum(min(a, runs[k].budget) for k, a in asked.items()))
    in_flight: dict = {}
    max_flight = len(pool) * spec.resources.in_flight_per_worker
    last_end: dict[str, float] = {}
    while True:
        while len(in_flight) < max_flight:
            open_keys = [k for k in runs if asked[k] < runs[k].budget and runs[k].study.can_ask]
            if not open_keys:
                break
            key = min(open_keys, key=asked.get)
            run = runs[key]
            t0 = time.perf_counter()
            cands = run.study.ask_batch(min(spec.search.batch_size, run.budget - asked[key]))
            clock.add("ask", time.perf_counter() - t0)
            if not cands:
                break
            x = space.reflect(space.to_array([c.params for c in cands]))
            batch_no += 1
            ref = pool.submit(run.cell, x.astype(np.float32))
            in_flight[ref] = (key, cands, x, batch_no, time.time())
            asked[key] += len(cands)
        if not in_flight:
            return batch_no
        done, _ = pool.wait(list(in_flight))
        for ref in done:
            key, cands, x, bno, t_sent = in_flight.pop(ref)
            result = pool.result(ref)
            received = time.time()
            clock.add("simulate", result.sim_s)
            clock.add("score", result.score_s)
            # transport: to the worker (after any queueing behind its previous batch) and back
            ready = max(t_sent, last_end.get(result.worker, 0.0))
            start, end = result.extra.get("started", ready), result.extra.get("ended", received)
            clock.add("transport", max(start - ready, 0.0) + max(received - end, 0.0)
                      + max(end - start - result.sim_s - result.score_s, 0.0))
            last_end[result.worker] = end
            run = runs[key]
            rows, told = trial_rows(spec, run, cands, x, result, space, bno, received - t_sent)
            t0 = time.perf_counter()
            run.study.tell_batch(told)
            clock.add("tell", time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.append_trials(rows, units=space.units)
            clock.add("write", time.perf_counter() - t0)
            losses, valid = np.asarray(result.loss), np.asarray(result.valid)
            best = None
            if valid.any():
                best = float((losses if losses.ndim == 1 else losses.sum(axis=1))[valid].min())
            bar.advance(len(cands), best=best)


def trial_rows(spec, run: Run, cands, x, result, space, batch_no: int, round_trip: float):
    """The trials-table rows and the study's :class:`TrialResult` for one told batch."""
    rows, told = [], []
    loss = np.asarray(result.loss)
    per_trial_s = round_trip / max(len(cands), 1)
    now = dt.datetime.now(dt.timezone.utc)
    sweeps = list(result.extra.get("sweep_ids", ()))
    for i, cand in enumerate(cands):
        values = loss[i].tolist() if loss.ndim == 2 else float(loss[i])
        reason = result.reasons[i]
        diverged = (not bool(result.valid[i])) and reason is not None and reason.startswith("diverged")
        row = {"job": spec.name, "cell": run.cell, "model": spec.model.name, "stage": run.stage,
               "seed": run.seed, "trial": cand.number, "batch": batch_no, "worker": result.worker,
               "state": "FAIL" if diverged else "COMPLETE", "fail_reason": reason,
               "duration_s": per_trial_s, "datetime": now, "sweeps": sweeps,
               **{n: float(v) for n, v in zip(space.names, x[i])}}
        if loss.ndim == 2:
            row["loss"] = float(np.sum(loss[i]))
            row.update({f"loss_{j}": float(v) for j, v in enumerate(loss[i])})
        else:
            row["loss"] = float(loss[i])
        for label, arr in result.per_sweep.items():
            row[f"per_sweep_{label}"] = [float(v) for v in np.asarray(arr)[i]]
        rows.append(row)
        told.append(TrialResult(cand.number, None if diverged else values,
                                "fail" if diverged else "complete", reason,
                                {"penalized": reason} if (reason and not diverged) else None))
    return rows, told
