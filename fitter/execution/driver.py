"""Run a job: every cell, every stage of its search plan, on Ray workers or in-process.

The driver owns the studies (one per cell, stage and seed; :mod:`spikefit.search.stages`),
runs the stages in order (the seeds of a stage and all cells side by side, through
:func:`spikefit.execution.loop.drive`), then chooses and writes each cell's fit
(:mod:`spikefit.execution.finish`). Bad data and bad specs fail before any worker starts.
Run the same job again on the same output to resume: finished studies are skipped, trials a
dead driver left untold are re-asked, none is lost or counted twice. A results file that
cannot be written (disk full, read-only folder) stops the run with an
:class:`~spikefit.errors.OutputError` naming it; the manifest then says ``failed`` if it can
still be written, and every file already written stays readable for the resume.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from dataclasses import dataclass, field

import numpy as np

from spikefit.execution.evaluator import Evaluator
from spikefit.execution.finish import finish, warm_final
from spikefit.execution.passive import check_passive, passive_stage
from spikefit.execution.loop import Clock, Run, drive, stage_key
from spikefit.execution.startup import cell_data, load_while_ray_starts, start_pool
from spikefit.execution.progress import Progress
from spikefit.execution.writer import Writer
from spikefit.errors import OutputError, SpikefitError
from spikefit.results.lock import FolderLock
from spikefit.results.store import ResultStore
from spikefit.search.sampler_factory import check_sampler_options, from_unit_array
from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.search.stages import Choice, plan, sampler_options, study_name
from spikefit.search.study import Study

__all__ = ["run_job", "RunSummary", "versions", "search_space"]

EXECUTORS = ("ray", "local")


@dataclass
class RunSummary:
    """``n_trials`` / ``n_failed``: rows of the trials table (all, and FAIL); ``n_study``: the
    trials the studies hold, which also count those re-asked after a restart."""

    output: str
    status: str
    n_trials: int
    n_failed: int
    best: dict[str, dict] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    n_study: int = 0


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("spikefit", "jax", "jaxlib", "brainstate", "saiunit", "optuna", "ray", "pandas", "pyarrow", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def search_space(spec) -> SearchSpace:
    """The job's free parameters, converted once from the spec's units to the model's."""
    units = spec.model_units()
    return SearchSpace([FreeParameter(n, lo, hi, unit=_unit(units[n]), log=log)
                        for n, (lo, hi, log) in spec.free_bounds().items()])


def _unit(unit: str) -> str:
    return {"1": ""}.get(unit, unit)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def evaluator_kwargs(spec) -> dict:
    fixed = spec.fixed_values()
    init = {"V": fixed["V_rest"]} if "V_rest" in fixed else {}
    return dict(model=spec.model.name, free=tuple(spec.params), fixed=fixed,
                spk_reset=spec.model.spk_reset, objective=spec.objective,
                batch_size=spec.search.batch_size, max_rate_hz=spec.model.max_rate_hz,
                derived=dict(spec.model.derived), init=init, engine=spec.resources.engine)


def run_job(spec, *, progress: bool = True, shutdown: bool = True, recordings=None,
            executor: str | None = None, overwrite: bool = False) -> RunSummary:
    """Fit every cell of ``spec``; results go to ``spec.output_dir()``.

    ``recordings``: loaded :class:`~spikefit.data.recording.Recording` objects instead of
    ``spec.data.path``. ``executor``: ``"ray"`` (an embedded cluster, or
    ``resources.address``) or ``"local"`` (in this process); default ``resources.executor``.
    The output folder is locked for the run (:mod:`spikefit.results.lock`); ``overwrite``
    replaces another job's results there instead of refusing.
    """
    executor = executor or spec.resources.executor
    if executor not in EXECUTORS:
        raise ValueError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    t_start = time.perf_counter()
    loaded, started = load_while_ray_starts(spec, recordings, executor)  # bad data fails here
    try:
        return _checked_run(spec, executor, loaded, progress, shutdown, overwrite, t_start)
    except BaseException:  # a bad spec found after the data: the cluster started for it goes too
        if started and shutdown:
            from spikefit.execution.workers import stop_ray

            stop_ray()
        raise


def _checked_run(spec, executor, loaded, progress, shutdown, overwrite, t_start) -> RunSummary:
    cells, data = cell_data(spec, loaded)
    space = search_space(spec)
    ev_kwargs = evaluator_kwargs(spec)
    probe = Evaluator(**{**ev_kwargs, "batch_size": 1})  # validates the objective
    labels = probe.labels
    directions = ("minimize",) * (len(labels) if probe.objective.mode == "multi" else 1)
    check_sampler_options(plan(spec.search, spec.seed), space, len(directions), batch_size=spec.search.batch_size,
                          source=getattr(spec, "source", spec.name))  # pre-flight: before anything is written
    passive = check_passive(spec, plan(spec.search, spec.seed), cells)  # fitted once, here
    output = spec.output_dir()
    if overwrite and spec.search.storage:
        raise ValueError(f"{spec.name}: --overwrite clears the results folder and its study journal, but "
                         f"[search.storage] = {spec.search.storage!r} keeps the studies elsewhere; give the "
                         "job a new name instead")
    try:
        store = ResultStore(output)
    except SpikefitError as err:  # a bad output location: name the job file too
        raise type(err)(f"{getattr(spec, 'source', spec.name)}: {err}") from None
    lock = FolderLock(store, spec.name, spec.fingerprint(), overwrite=overwrite)
    lock.acquire()  # the folder is this run's (or a dead driver's, resumed) before anything is written
    try:
        return _run(spec, executor, cells, data, space, ev_kwargs, labels, directions, store, progress, shutdown,
                    overwrite, t_start, passive)
    finally:
        lock.release()


def _run(spec, executor, cells, data, space, ev_kwargs, labels, directions, store, progress, shutdown,
         overwrite, t_start, passive) -> RunSummary:
    stages = plan(spec.search, spec.seed)
    output = spec.output_dir()
    if overwrite:
        store.clear()
    clock = Clock()
    status, best, studies = "failed", {}, {}
    writer = Writer()
    pool = stop = warming = None
    try:  # from the manifest's first write on, whatever stops the run is recorded in it
        store.write_manifest({"job": spec.name, "fingerprint": spec.fingerprint(), "spec": spec.model_dump(),
                              "job_file": spec.source, "key_order": _key_order(spec), "versions": versions(),
                              "seed": spec.seed, "start": _now(), "end": None, "status": "running",
                              "cells": sorted(cells), "objective_labels": labels, "executor": executor,
                              "stages": [s.name for s in stages],
                              # per stage with trials: the step it simulates at (ms)
                              "stage_dt_ms": {s.name: s.dt_ms or _job_dt(spec, cells) for s in stages if not s.passive},
                              # per cell: the current that drives the model (data.stimulus: idealised steps or recorded)
                              "stimulus": {c: {"mode": spec.data.stimulus,
                                               "used": getattr(cells[c], "stimulus", "recorded")} for c in cells}})
        pool, stop = start_pool(spec, executor, ev_kwargs, data, shutdown)  # a signal while the workers start: "interrupted"
        store.update_manifest(startup_s=time.perf_counter() - t_start)
        t0 = time.perf_counter()  # compile once per worker and training set, outside the accounting
        mid = ((space.low + space.high) / 2)[None, :].astype(np.float32)
        first = {stage_key(c, next(s for s in stages if not s.passive), float(cells[c].train.dt_ms)) for c in cells}
        for ref in [pool.submit(key, mid) for key in sorted(first) for _ in range(len(pool))]:
            pool.result(ref)
        pool.warm(list(data), mid[0])  # the end of the run's calls (traces, held-out, validation): meanwhile
        warming = warm_final(spec, cells, dict(zip(space.names, mid[0].tolist())), ev_kwargs)  # the driver's part
        clock.add("compile", time.perf_counter() - t0)
        candidates: dict[str, list[Choice]] = {c: [] for c in cells}
        batch_no = 0
        with Progress(total=spec.search.total_trials() * len(cells), enabled=progress, description=spec.name,
                      cells={c: spec.search.total_trials() for c in cells}) as bar:
            # every study opened before the first trial is written: opening one later would make
            # Optuna replay the journal (every trial of the earlier stages) in the middle of the run
            stage_runs = _open_studies(spec, stages, cells, passive, space, store, directions, output)
            for stage in stages:
                if stage.passive:
                    continue
                runs = _start_stage(spec, stages, stage, stage_runs[stage.name], candidates, directions, output)
                studies.update({(c, stage.name, s): r.study for (c, s), r in runs.items()})
                batch_no = drive(spec, runs, pool, store, space, clock, bar, writer, batch_no=batch_no)
                t0 = time.perf_counter()
                writer.flush()  # every told trial recorded before the stage's best is read
                clock.add("write", time.perf_counter() - t0)
                for (cell, seed), run in runs.items():
                    if run.study.n_complete:
                        b = run.study.best()
                        b = b[0] if isinstance(b, list) else b
                        own = run.study.space
                        params = dict(zip(own.names, own.reflect(own.to_array([b.params]))[0].tolist()))
                        candidates[cell].append(Choice(stage.name, seed, b.number, params, float(np.sum(b.values))))
        status = "complete"
        t0 = time.perf_counter()
        warming.join()
        best = finish(spec, cells, candidates, pool, store, space, units=_all_units(spec),
                      defaults=_defaults(spec), derive=_deriver(spec), ev_kwargs=ev_kwargs)
        clock.add("final", time.perf_counter() - t0)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        try:
            writer.close()  # told batches still queued are written, whatever stopped the run
        finally:
            wall = time.perf_counter() - t_start
            counts = _counts(store)
            try:
                if store.has("manifest.json"):  # not when the run stopped before its first write
                    store.update_manifest(
                        status=status, end=_now(), wall_s=wall, timing_s=clock.t, trials=counts,
                        n_trials={f"{c}/{st}/{sd}": s.n_trials for (c, st, sd), s in studies.items()},
                        chosen={c: {"stage": r["stage"], "seed": r["seed"], "trial": r["trial"],
                                    "why": r["chosen_by"]} for c, r in best.items()})
            except OutputError:  # the disk is full or read-only: the manifest stays as it was
                if status != "failed":
                    raise
            finally:
                if warming is not None:  # an interpreter exiting under a compiling daemon thread aborts
                    warming.join()
                if pool is not None:
                    pool.shutdown()
                if shutdown and stop is not None:
                    stop()
    return RunSummary(output=output, status=status, n_trials=counts["COMPLETE"] + counts["FAIL"],
                      n_failed=counts["FAIL"], best=best, timing=clock.t, wall_s=wall,
                      n_study=sum(s.n_trials for s in studies.values()))


def _job_dt(spec, cells: dict) -> float:
    return float(spec.data.dt_ms or next(iter(cells.values())).train.dt_ms)


def _key_order(spec) -> dict[str, list[str]]:
    """The spec's tables whose order matters (the search space's parameters), as the manifest
    stores its keys sorted: ``spikefit resume`` puts them back in this order."""
    return {"params": list(spec.params), "model.fixed": list(spec.model.fixed),
            "model.derived": list(spec.model.derived)}


def _counts(store) -> dict[str, int]:
    """Rows of the trials table by state (what the summary reports: the table, not the studies)."""
    try:
        return store.trial_counts()
    except (OSError, ValueError):  # a part that cannot be read back: the run's error says why
        return {"COMPLETE": 0, "FAIL": 0}


def _open_studies(spec, stages, cells, passive, space, store, directions, output) -> dict[str, dict]:
    """Stage name -> ``{(cell, seed): Run}`` for every study of the plan, opened now (a Run's
    ``study`` is None where it can only be opened at the stage's start: a local stage of a
    per-trial sampler, whose start point is baked into the sampler). A passive stage narrows
    the bounds of the stages after it (recorded in the manifest); a local ``cmaes_batch`` stage
    starts at the centre of those bounds until :func:`_start_stage` moves it."""
    spaces = {c: space for c in cells}
    out = {}
    for stage in stages:
        if stage.passive:
            spaces = passive_stage(stage, passive, space, store)
            continue
        later = stage.local and stage.sampler != "cmaes_batch"
        out[stage.name] = {(cell, seed): Run(cell, stage.name, seed, None if later else _open_study(
            spec, stages, stage, cell, seed, spaces[cell], _centre(spaces[cell]) if stage.local else None,
            directions, output), stage.trials, spaces[cell], stage_key(cell, stage, float(cells[cell].train.dt_ms)))
            for cell in cells for seed in stage.seeds}
    return out


def _open_study(spec, stages, stage, cell, seed, space, start, directions, output) -> Study:
    return Study.create(study_name(spec.name, cell, stage, seed, len(stages) == 1), space, directions=directions,
                        sampler=stage.sampler, sampler_options=sampler_options(stage, spec.search.batch_size, start),
                        seed=seed, storage=spec.search.storage,
                        output_dir=output if "://" not in output else ".spikefit")


def _centre(space) -> dict[str, float]:
    return dict(zip(space.names, from_unit_array(space, np.full(len(space.names), 0.5))[0].tolist()))


def _start_stage(spec, stages, stage, runs: dict, candidates: dict, directions, output) -> dict:
    """The runs of a stage, ready to drive: a local stage starts each cell's studies at the best
    candidate of the earlier stages, and skips a cell that has none (nothing to refine)."""
    if not stage.local:
        return runs
    out = {}
    for (cell, seed), run in runs.items():
        if not candidates[cell]:
            continue
        start = min(candidates[cell], key=lambda c: c.train_loss).params
        if run.study is None:
            run.study = _open_study(spec, stages, stage, cell, seed, run.space, start, directions, output)
        else:
            run.study.start_at(start, stage.sigma0)
        out[(cell, seed)] = run
    return out


def _all_units(spec) -> dict:
    return {k: _unit(v) for k, v in spec.model_units().items()}


def _defaults(spec) -> dict:
    from spikefit.spec.defaults import spec_defaults

    return {**spec_defaults(spec.model.name), **spec.fixed_values()}


def _deriver(spec):
    from spikefit.spec.derived import Derived

    d = Derived(dict(spec.model.derived), tuple(spec.params), spec.fixed_values())

    def derive(params: dict) -> dict:
        cols = {k: np.array([v], np.float32) for k, v in params.items()}
        return {**params, **{k: float(v[0]) for k, v in d(cols).items()}}

    return derive
