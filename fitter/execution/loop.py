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

__all__ = ["Clock", "Run", "drive", "resume", "told", "trial_columns", "stage_key"]


class Clock:
    """Seconds spent per phase of the run (reported in the manifest)."""

    #: ``write``: building a batch's trial columns and queueing them (driver thread);
    #: ``record``: the writer thread writing them (Parquet, then the study), which overlaps
    #: the simulation of the next batches, so it is not a share of the wall time.
    PHASES = ("compile", "ask", "tell", "transport", "simulate", "score", "write", "final", "record")

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
    space: object = None  # the cell's bounds (spikefit.search.space.SearchSpace), for a study opened later
    data: str | None = None  # the workers' data it trains on (default ``cell``; a stage's own step: ``cell@<dt>ms``)


def stage_key(cell: str, stage, job_dt_ms: float) -> str:
    """The workers' data a stage trains on: the cell's training sweeps at the stage's step."""
    if stage.dt_ms is None or abs(stage.dt_ms - job_dt_ms) < 1e-9 * job_dt_ms:
        return cell
    return f"{cell}@{stage.dt_ms:g}ms"


def resume(runs: dict, store) -> dict:
    """Trials already spent per run. A driver that died left trials asked but never told:
    they are re-asked (same parameters, new numbers; ``cmaes_batch``: failed, and the search
    restarts its generation) so that none is lost or counted twice. Trials the results table
    has but the study lacks (the driver died between writing the two) are added to the study."""
    table = store.read_trials() if store.has_trials() else None
    spent = {}
    for key, run in runs.items():
        study = run.study
        if table is not None and study.sampler_name == "cmaes_batch":
            mine = table[(table["cell"] == run.cell) & (table["stage"] == run.stage) & (table["seed"] == run.seed)]
            if len(mine):
                losses = mine[[c for c in mine.columns if c.startswith("loss_")] or ["loss"]].to_numpy(float)
                study.restore(mine["trial"].to_numpy(), mine[list(study.space.names)].to_numpy(float),
                              losses if losses.shape[1] > 1 else losses[:, 0], (mine["state"] == "FAIL").to_numpy(),
                              mine["fail_reason"].tolist())
        if study.sampler_name == "cmaes_batch":
            redo = study.fail_pending("driver stopped before the trial was told; resumed")
        else:
            redo = study.requeue_pending()
        spent[key] = study.n_complete + study.n_failed - len(redo)
    return spent


def drive(spec, runs: dict, pool, store, space, clock: Clock, bar, writer, *, batch_no: int = 0) -> int:
    """Run every study of ``runs`` (key -> :class:`Run`) to its budget; returns the last batch
    number (batches are numbered across the stages of a run). Told batches are recorded by
    ``writer`` (a :class:`~spikefit.execution.writer.Writer`): the trials-table part, then the
    study's trials."""
    asked = resume(runs, store)
    for k, a in asked.items():
        bar.advance(min(a, runs[k].budget), cell=runs[k].cell)
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
            numbers, x = run.study.ask_array(min(spec.search.batch_size, run.budget - asked[key]))
            x = run.study.space.reflect(x)  # a cell's own bounds (narrowed by a passive stage)
            clock.add("ask", time.perf_counter() - t0)
            if not len(numbers):
                break
            batch_no += 1
            ref = pool.submit(run.data or run.cell, x.astype(np.float32))
            in_flight[ref] = (key, numbers, x, batch_no, time.time())
            asked[key] += len(numbers)
        if not in_flight:
            return batch_no
        done, _ = pool.wait(list(in_flight))
        for ref in done:
            key, numbers, x, bno, t_sent = in_flight.pop(ref)
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
            t0 = time.perf_counter()
            loss, failed, reasons = told(result)
            batch = run.study.tell_array(numbers, x, loss, failed, reasons)
            clock.add("tell", time.perf_counter() - t0)
            t0 = time.perf_counter()
            cols = trial_columns(spec, run, numbers, x, result, space, bno, received - t_sent, failed)
            writer.submit(_recorder(store, cols, space.units, run.study, batch, clock))
            clock.add("write", time.perf_counter() - t0)
            valid = np.asarray(result.valid)
            best = None
            if valid.any():
                best = float((loss if loss.ndim == 1 else loss.sum(axis=1))[valid].min())
            bar.advance(len(numbers), best=best, cell=run.cell)


def _recorder(store, cols, units, study, batch, clock: Clock):
    """The writer's job for one told batch: its trials-table part first, then its trials in
    the study (so the study never holds a trial the table lacks; resume adds the reverse)."""
    def job():
        t0 = time.perf_counter()
        store.append_trial_columns(cols, units=units)
        study.record(batch)
        clock.add("record", time.perf_counter() - t0)
    return job


def told(result) -> tuple[np.ndarray, np.ndarray, list]:
    """Losses, FAIL flags (diverged candidates) and reasons of one batch."""
    loss = np.asarray(result.loss, float)
    reasons = list(result.reasons)
    failed = np.array([(not bool(v)) and r is not None and r.startswith("diverged")
                       for v, r in zip(np.asarray(result.valid).tolist(), reasons)], bool)
    return loss, failed, reasons


def trial_columns(spec, run: Run, numbers, x, result, space, batch_no: int, round_trip: float, failed) -> dict:
    """The trials-table columns of one told batch (one value per trial), built as arrays."""
    n = len(numbers)
    loss = np.asarray(result.loss, float)
    cols = {"job": [spec.name] * n, "cell": [run.cell] * n, "model": [spec.model.name] * n,
            "stage": [run.stage] * n, "seed": np.full(n, run.seed, np.int64), "trial": np.asarray(numbers, np.int64),
            "batch": np.full(n, batch_no, np.int64), "worker": [result.worker] * n,
            "state": np.where(failed, "FAIL", "COMPLETE").tolist(), "fail_reason": list(result.reasons),
            "duration_s": np.full(n, round_trip / max(n, 1)), "datetime": dt.datetime.now(dt.timezone.utc),
            "sweeps": [list(result.extra.get("sweep_ids", ()))] * n,
            **{name: np.asarray(x[:, i], float) for i, name in enumerate(space.names)}}
    if loss.ndim == 2:
        cols["loss"] = loss.sum(axis=1)
        cols.update({f"loss_{j}": loss[:, j] for j in range(loss.shape[1])})
    else:
        cols["loss"] = loss
    for label, arr in result.per_sweep.items():
        cols[f"per_sweep_{label}"] = np.asarray(arr, float).reshape(n, -1)
    return cols
