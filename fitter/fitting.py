"""``spikefit.fit``: the one fit engine, as one Python call.

``spikefit run JOB.toml`` is :func:`~spikefit.spec.jobspec.load_job` plus :func:`fit_job`;
:func:`fit` builds the same job spec from Python arguments (recordings as objects or paths,
the model, free parameters with bounds and units, the objective, the search plan) and runs it
the same way, writing the same results folder. Both return a :class:`FitResult` of pandas
DataFrames::

    import spikefit
    rec = spikefit.load("cell.nwb")
    res = spikefit.fit(rec, "AdExIF",
                       params={"tau": ("5 ms", "60 ms"), "a": ("0 nS", "20 nS"), "b": ("0 pA", "300 pA")},
                       objective={"metrics": [{"name": "gamma", "delta_ms": 4.0}]},
                       search={"trials": 2000, "batch_size": 128},
                       data={"train": {"repeats": [0]}, "validation": {"repeats": [1]}})
    res.best        # one row per cell: every parameter (units in res.units), scores
    res.trials      # one row per trial
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["fit", "fit_job", "FitResult"]


@dataclass
class FitResult:
    """A finished fit: the results folder and its tables (pandas DataFrames)."""

    output: str
    status: str
    trials: Any  # pandas.DataFrame
    best: Any
    validation: Any
    traces: Any
    units: dict[str, str] = field(default_factory=dict)
    summary: Any = None  # spikefit.execution.driver.RunSummary (timing, trial counts)

    def __repr__(self) -> str:
        return (f"FitResult({self.output!r}, status={self.status!r}, trials={len(self.trials)}, "
                f"cells={len(self.best)})")


def fit_job(spec, *, recordings=None, executor: str | None = None, progress: bool = True,
            shutdown: bool = True, overwrite: bool = False) -> FitResult:
    """Run a parsed job spec (:class:`~spikefit.spec.jobspec.JobSpec`) and read its results back.

    Running it again on the same output resumes it; ``overwrite`` replaces another job's
    results in the output folder instead of refusing."""
    from spikefit.execution.driver import run_job
    from spikefit.results.store import ResultStore
    from spikefit.spec.choice import ModelChoiceJob

    if isinstance(spec, ModelChoiceJob):
        return _fit_choice(spec, recordings=recordings, executor=executor, progress=progress, shutdown=shutdown,
                           overwrite=overwrite)
    summary = run_job(spec, progress=progress, shutdown=shutdown, recordings=recordings, executor=executor,
                      overwrite=overwrite)
    store = ResultStore(summary.output)
    best = store.read_best() if summary.best else None
    return FitResult(output=summary.output, status=summary.status, trials=store.read_trials(), best=best,
                     validation=store.read_validation() if store.has("validation.parquet") else None,
                     traces=store.read_traces() if summary.best else None,
                     units=dict(best.attrs.get("units", {})) if best is not None else {}, summary=summary)


def _fit_choice(job, **kwargs) -> FitResult:
    """Every model of a model-choice job; ``best`` has one row per cell and model (``label``,
    ``chosen``), the other tables every model's rows (``model`` column)."""
    import pandas as pd

    from spikefit.execution.choice import run_choice
    from spikefit.results.choice import read_models
    from spikefit.results.store import ResultStore

    summaries = run_choice(job, **kwargs)
    parts = {k: [] for k in ("trials", "best", "validation", "traces")}
    units: dict[str, str] = {}
    for label, spec in zip(job.labels, job.variants):
        store = ResultStore(spec.output_dir())
        parts["trials"].append(store.read_trials().assign(label=label))
        if summaries[label].best:
            best = store.read_best()
            units.update(best.attrs.get("units", {}))
            parts["best"].append(best.assign(label=label))
            parts["traces"].append(store.read_traces().assign(label=label))
            if store.has("validation.parquet"):
                parts["validation"].append(store.read_validation().assign(label=label))
    frames = {k: pd.concat(v, ignore_index=True) if v else None for k, v in parts.items()}
    root = ResultStore(job.output_dir())
    if frames["best"] is not None and root.has("models.parquet"):
        chosen = read_models(root)[["cell", "label", "chosen"]]
        frames["best"] = frames["best"].merge(chosen, on=["cell", "label"], how="left")
    status = "complete" if all(s.status == "complete" for s in summaries.values()) else "failed"
    return FitResult(output=job.output_dir(), status=status, trials=frames["trials"], best=frames["best"],
                     validation=frames["validation"], traces=frames["traces"], units=units, summary=summaries)


def _param_section(params: dict) -> dict:
    out = {}
    for name, bounds in params.items():
        if isinstance(bounds, dict):
            out[name] = dict(bounds)
        elif isinstance(bounds, (tuple, list)) and len(bounds) in (2, 3):
            out[name] = {"low": _text(bounds[0]), "high": _text(bounds[1])}
            if len(bounds) == 3:
                out[name]["log"] = bool(bounds[2])
        else:
            raise TypeError(f"params[{name!r}]: expected (low, high[, log]) or a dict with low/high/unit/log, "
                            f"got {bounds!r}")
        for k in ("low", "high"):
            if k in out[name]:
                out[name][k] = _text(out[name][k])
    return out


def _text(value):
    """A bound as the job spec takes it: a number, or ``"<number> <unit>"`` (from a saiunit quantity)."""
    import saiunit as u

    if isinstance(value, u.Quantity):
        return f"{float(u.get_mantissa(value))!r} {value.unit}"
    return value


def fit(recordings, model: str, params: dict, *, objective: dict | None = None, search: dict | None = None,
        fixed: dict | None = None, derived: dict | None = None, spk_reset: str = "hard",
        max_rate_hz: float = 200.0, data: dict | None = None, name: str = "fit", output: str | None = None,
        seed: int = 0, executor: str = "local", address: str | None = None, resources: dict | None = None,
        progress: bool = True, overwrite: bool = False) -> FitResult:
    """Fit ``model`` to ``recordings`` and write the results folder (default ``results/<name>``).

    ``recordings``: a :class:`~spikefit.data.recording.Recording`, a list of them, or file /
    folder paths. ``params``: name -> ``(low, high)`` or ``(low, high, log)`` with units
    (``"5 ms"`` or ``5 * u.ms``), or a dict as in a job's ``[params]``. ``objective``,
    ``search``, ``data`` (selection of training / validation sweeps, ``dt_ms``, ``ljp_mV``,
    reader ``format``/``options``) and ``resources`` take the job spec's keys. ``executor``:
    ``"local"`` (this process), ``"ray"`` (embedded cluster, or ``address``).
    """
    from spikefit.data.recording import Recording
    from spikefit.spec.jobspec import parse_job

    objects = None
    items = recordings if isinstance(recordings, (list, tuple)) else [recordings]
    if all(isinstance(r, Recording) for r in items):
        objects = list(items)
        paths = [str(r.source or "<in memory>") for r in objects]
    elif all(isinstance(r, (str, Path)) for r in items):
        paths = [str(r) for r in items]
    else:
        raise TypeError(f"recordings: expected a Recording, a path or a list of either, got "
                        f"{[type(r).__name__ for r in items]}")
    job = {"name": name, "seed": seed, "data": {**(data or {}), "path": paths},
           "model": {"name": model, "spk_reset": spk_reset, "fixed": dict(fixed or {}),
                     "derived": dict(derived or {}), "max_rate_hz": max_rate_hz},
           "params": _param_section(params), "search": dict(search or {}),
           "resources": {**(resources or {}), "executor": executor}}
    if objective is not None:
        job["objective"] = objective
    if output is not None:
        job["output"] = str(output)
    if address is not None:
        job["resources"]["address"] = address
    spec = parse_job(job, source="spikefit.fit", base_dir=Path.cwd())
    return fit_job(spec, recordings=objects, progress=progress, overwrite=overwrite)
