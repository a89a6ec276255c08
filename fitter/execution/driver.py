"""Run a job: the driver loop that asks Optuna, dispatches to Ray workers and writes Parquet.

The driver owns one study per cell. It asks candidates in batches, keeps
``resources.in_flight_per_worker`` batches in flight per worker so neither the sampler nor the
workers wait, tells results back as they arrive (invalid candidates: FAIL with the reason),
and appends each told batch to the result store. At the end it re-simulates each cell's best
parameters on the training and validation sweeps and writes ``best`` and ``traces``.
Time is accounted to sampling (ask), telling, transport (round trip minus worker compute),
simulation, scoring and writing, and reported in the manifest.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikefit.data.dataset import CellSets, prepare_cells
from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.spec.jobspec import JobSpec
from spikefit.execution.progress import Progress
from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.results.store import ResultStore
from spikefit.search.study import Study

__all__ = ["run_job", "RunSummary", "versions"]


@dataclass
class RunSummary:
    output: str
    status: str
    n_trials: int
    n_failed: int
    best: dict[str, dict] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("spikefit", "jax", "jaxlib", "brainstate", "saiunit", "optuna", "ray", "pandas", "pyarrow", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _space(spec: JobSpec) -> SearchSpace:
    from spikefit import models
    units = models.parameter_units(spec.model.name)
    return SearchSpace([FreeParameter(n, lo, hi, unit=_space_unit(units[n]), log=log)
                        for n, (lo, hi, log) in spec.free_bounds().items()])


def _space_unit(unit: str) -> str:
    return {"1": ""}.get(unit, unit)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _Clock:
    def __init__(self):
        self.t = {k: 0.0 for k in ("compile", "ask", "tell", "transport", "simulate", "score", "write",
                                   "final")}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] += seconds


def _evaluator_kwargs(spec: JobSpec) -> dict:
    fixed = spec.fixed_values()
    init = {"V": fixed["V_rest"]} if "V_rest" in fixed else {}
    return dict(model=spec.model.name, free=tuple(spec.params), fixed=fixed,
                spk_reset=spec.model.spk_reset, objective=spec.objective,
                batch_size=spec.search.batch_size, max_rate_hz=spec.model.max_rate_hz,
                derived=dict(spec.model.derived), init=init)


def _journal_dir(output: str) -> str:
    return output if "://" not in output else str(Path(".spikefit"))


def run_job(spec: JobSpec, *, progress: bool = True, shutdown: bool = True) -> RunSummary:
    """Fit every cell of ``spec``; returns a summary. Results are in ``spec.output_dir()``."""
    from spikefit.execution import workers

    t_start = time.perf_counter()
    cells = prepare_cells(spec)  # bad data fails here, before Ray starts
    space = _space(spec)
    evaluator_kwargs = _evaluator_kwargs(spec)
    probe = Evaluator(**{**evaluator_kwargs, "batch_size": 1})  # validates the objective
    labels = probe.labels
    multi = probe.objective.mode == "multi"
    directions = ("minimize",) * (len(labels) if multi else 1)
    output = spec.output_dir()
    store = ResultStore(output)
    manifest = {"job": spec.name, "spec": spec.model_dump(), "versions": versions(),
                "seed": spec.seed, "start": _now(), "end": None, "status": "running",
                "cells": sorted(cells), "objective_labels": labels}
    store.write_manifest(manifest)
    options = dict(spec.search.options)
    if spec.search.sampler == "cmaes_batch":
        options.setdefault("popsize", spec.search.batch_size)
    studies = {c: Study.create(f"{spec.name}.{c}", space, directions=directions,
                               sampler=spec.search.sampler, sampler_options=options,
                               seed=spec.seed, storage=spec.search.storage,
                               output_dir=_journal_dir(output)) for c in cells}
    data = {c: CellData.from_batch(s.train) for c, s in cells.items()}
    data.update({f"{c}/validation": CellData.from_batch(s.validation)
                 for c, s in cells.items() if s.validation is not None})
    res = spec.resources
    workers.start_ray(res.address, num_cpus=None if res.address else max(
        res.workers * res.cpus_per_worker, 1), num_gpus=None)
    pool = workers.WorkerPool(res.workers, evaluator_kwargs, data,
                              cpus_per_worker=res.cpus_per_worker, gpus_per_worker=res.gpus_per_worker)
    clock = _Clock()
    store.update_manifest(startup_s=time.perf_counter() - t_start)
    status = "failed"
    try:
        t0 = time.perf_counter()  # compile once per worker and cell, outside the accounting
        mid = ((space.low + space.high) / 2)[None, :].astype(np.float32)
        for ref in [pool.submit(c, mid) for c in studies for _ in range(len(pool))]:
            pool.result(ref)
        clock.add("compile", time.perf_counter() - t0)
        _drive(spec, studies, pool, store, space, labels, clock, progress)
        status = "complete"
        t0 = time.perf_counter()
        best = _finish(spec, cells, studies, pool, store, space, labels)
        clock.add("final", time.perf_counter() - t0)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall = time.perf_counter() - t_start
        store.update_manifest(status=status, end=_now(), wall_s=wall, timing_s=clock.t,
                              n_trials={c: s.n_trials for c, s in studies.items()})
        pool.shutdown()
        if shutdown:
            workers.stop_ray()
    return RunSummary(output=output, status=status,
                      n_trials=sum(s.n_trials for s in studies.values()),
                      n_failed=sum(s.n_failed for s in studies.values()),
                      best=best, timing=clock.t, wall_s=wall)


def _resume(studies: dict) -> dict[str, int]:
    """Trials already spent per study. A driver that died left trials asked but never told:
    they are re-asked (same parameters, new numbers; ``cmaes_batch``: failed, and the search
    restarts its generation) so that none is lost or counted twice."""
    spent = {}
    for cell, study in studies.items():
        if study.sampler_name == "cmaes_batch":
            redo = study.fail_pending("driver stopped before the trial was told; resumed")
        else:
            redo = study.requeue_pending()
        spent[cell] = study.n_complete + study.n_failed - len(redo)
    return spent


def _drive(spec, studies, pool, store, space, labels, clock, progress) -> None:
    budget = spec.search.trials
    asked = _resume(studies)
    in_flight: dict = {}
    max_flight = len(pool) * spec.resources.in_flight_per_worker
    batch_no = 0
    last_end: dict[str, float] = {}
    best_loss = {c: np.inf for c in studies}
    total = budget * len(studies)
    with Progress(total=total, enabled=progress, description=spec.name) as bar:
        bar.advance(sum(min(a, budget) for a in asked.values()))
        while True:
            while len(in_flight) < max_flight:
                open_cells = [c for c in asked if asked[c] < budget and studies[c].can_ask]
                if not open_cells:
                    break
                cell = min(open_cells, key=asked.get)
                n = min(spec.search.batch_size, budget - asked[cell])
                t0 = time.perf_counter()
                cands = studies[cell].ask_batch(n)
                clock.add("ask", time.perf_counter() - t0)
                if not cands:
                    break
                x = space.reflect(space.to_array([c.params for c in cands]))
                batch_no += 1
                ref = pool.submit(cell, x.astype(np.float32))
                in_flight[ref] = (cell, cands, x, batch_no, time.time())
                asked[cell] += len(cands)
            if not in_flight:
                break
            done, _ = pool.wait(list(in_flight))
            for ref in done:
                cell, cands, x, bno, t_sent = in_flight.pop(ref)
                result = pool.result(ref)
                received = time.time()
                round_trip = received - t_sent
                clock.add("simulate", result.sim_s)
                clock.add("score", result.score_s)
                # transport: to the worker (after any queueing behind its previous batch) and back
                ready = max(t_sent, last_end.get(result.worker, 0.0))
                start, end = result.extra.get("started", ready), result.extra.get("ended", received)
                clock.add("transport", max(start - ready, 0.0) + max(received - end, 0.0)
                          + max(end - start - result.sim_s - result.score_s, 0.0))
                last_end[result.worker] = end
                rows, told = _rows(spec, cell, cands, x, result, space, labels, bno, round_trip)
                t0 = time.perf_counter()
                studies[cell].tell_batch(told)
                clock.add("tell", time.perf_counter() - t0)
                t0 = time.perf_counter()
                store.append_trials(rows, units=space.units)
                clock.add("write", time.perf_counter() - t0)
                losses = np.asarray(result.loss)
                valid = np.asarray(result.valid)
                if valid.any():
                    first = losses if losses.ndim == 1 else losses[:, 0]
                    best_loss[cell] = min(best_loss[cell], float(first[valid].min()))
                bar.advance(len(cands), best=min(best_loss.values()))


def _rows(spec, cell, cands, x, result, space, labels, batch_no, round_trip):
    from spikefit.search.study import TrialResult

    rows, told = [], []
    loss = np.asarray(result.loss)
    per_trial_s = round_trip / max(len(cands), 1)
    now = dt.datetime.now(dt.timezone.utc)
    for i, cand in enumerate(cands):
        values = loss[i].tolist() if loss.ndim == 2 else float(loss[i])
        ok = bool(result.valid[i])
        reason = result.reasons[i]
        diverged = (not ok) and reason is not None and reason.startswith("diverged")
        state = "FAIL" if diverged else "COMPLETE"
        row = {"job": spec.name, "cell": cell, "model": spec.model.name, "trial": cand.number,
               "batch": batch_no, "worker": result.worker,
               "state": state, "fail_reason": reason,
               "duration_s": per_trial_s, "datetime": now,
               "sweeps": list(spec_sweeps(result)),
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


def spec_sweeps(result) -> tuple[str, ...]:
    return tuple(result.extra.get("sweep_ids", ()))


def _finish(spec, cells: dict[str, CellSets], studies, pool, store, space, labels) -> dict:
    """Score each cell's best on training and validation sweeps; write best and traces."""
    from spikefit import models
    fixed = spec.fixed_values()
    units = models.parameter_units(spec.model.name)
    best_rows, out, val_times = [], {}, {}
    for cell, sets in cells.items():
        study = studies[cell]
        if study.n_complete == 0:
            continue
        b = study.best()
        b = b[0] if isinstance(b, list) else b
        params = {n: float(v) for n, v in zip(space.names, space.reflect(
            space.to_array([b.params]))[0])}
        x = np.array([[params[n] for n in space.names]], np.float32)
        row = {"job": spec.name, "cell": cell, "model": spec.model.name, "trial": b.number,
               "free_parameters": list(space.names),
               **_all_params(spec.model.name, fixed, _with_derived(spec, params))}
        for set_name, key, sweeps in (("train", cell, sets.train_sweeps),
                                      ("validation", f"{cell}/validation", sets.validation_sweeps)):
            if not sweeps:
                continue
            r = pool.result(pool.submit(key, x))
            loss = np.asarray(r.loss)[0]
            row[f"{set_name}_loss"] = float(np.sum(loss))
            for label, arr in r.per_sweep.items():
                row[f"{set_name}_{label}"] = float(np.mean(np.asarray(arr)[0]))
            V, times, _ = pool.traces(key, params)
            if set_name == "validation":
                val_times[cell] = times
            store.append_traces(_trace_rows(spec, cell, b.number, set_name, sweeps,
                                            V, times, cells[cell], key))
        best_rows.append(row)
        out[cell] = row
    if best_rows:
        all_units = {k: _space_unit(units[k]) for k in units}
        store.write_best(best_rows, units=all_units)
        _write_validation(spec, cells, out, val_times, store)
    return out


def _write_validation(spec, cells, best: dict, val_times: dict, store) -> None:
    """Score each best fit per validation stimulus the way the field does (Gamma / Gamma_int),
    from the validation traces the workers already simulated."""
    from spikefit.execution.stages import validation_rows

    rows = []
    for cell, row in best.items():
        if cell not in val_times:
            continue
        params = {n: row[n] for n in spec.params}
        for r in validation_rows(spec, cells[cell], None, params, times=val_times[cell]):
            rows.append({"job": spec.name, "cell": cell, "model": spec.model.name, "delta_ms": 2.0, **r})
    if rows:
        store.write_validation(rows)


def _all_params(model: str, fixed: dict, free: dict) -> dict:
    from spikefit.spec.defaults import spec_defaults

    return {**spec_defaults(model), **fixed, **free}


def _with_derived(spec, params: dict) -> dict:
    from spikefit.spec.derived import Derived

    d = Derived(dict(spec.model.derived), tuple(spec.params), spec.fixed_values())
    cols = {k: np.array([v], np.float32) for k, v in params.items()}
    return {**params, **{k: float(v[0]) for k, v in d(cols).items()}}


def _trace_rows(spec, cell, trial, set_name, sweeps, V, times, sets, key):
    batch = sets.train if set_name == "train" else sets.validation
    rows = []
    for i, sw in enumerate(sweeps):
        n = int(batch.n_steps[i])
        rec_v = None if batch.voltage is None else np.asarray(batch.voltage[i, :n], np.float32)
        rec_t = batch.spike_steps[i][batch.spike_steps[i] >= 0].astype(np.float64) * batch.dt_ms
        common = {"job": spec.name, "cell": cell, "model": spec.model.name, "sweep": str(sw.sweep_id),
                  "set": set_name, "dt_ms": float(batch.dt_ms)}
        rows.append({**common, "trial": None, "kind": "recorded", "V": rec_v, "spike_times_ms": rec_t})
        sim_t = np.asarray(times[i])
        rows.append({**common, "trial": trial, "kind": "simulated",
                     "V": np.asarray(V[i, :n], np.float32), "spike_times_ms": sim_t[sim_t < n * batch.dt_ms]})
    return rows
