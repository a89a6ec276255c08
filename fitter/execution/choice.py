"""Running a model-choice job (:class:`~spikefit.spec.choice.ModelChoiceJob`): each model
fitted as its own job (``<output>/<label>``), then, per cell, the model with the lowest loss on
the held-out end of the training sweeps chosen; ``<output>/models.parquet`` holds every model
side by side (held-out, training and validation scores, the step-size check) with ``chosen``."""

from __future__ import annotations

import math

import numpy as np

from spikefit.execution.driver import RunSummary, run_job
from spikefit.results.choice import write_models
from spikefit.results.store import ResultStore

__all__ = ["run_choice", "comparison_rows"]

_SCORES = ("holdout_loss", "train_loss", "validation_loss", "validation_step_change", "validation_step_dependent")


def comparison_rows(labels: list[str], bests: dict[str, "object"], validations: dict[str, "object"]) -> list[dict]:
    """One row per cell and model (``bests``/``validations``: label -> DataFrame); the model with
    the lowest held-out loss of each cell gets ``chosen = True``."""
    rows = []
    for label in labels:
        best, val = bests[label], validations.get(label)
        for _, b in best.iterrows():
            row = {"cell": b["cell"], "label": label, "model": b["model"], "output": None,
                   **{k: float(b[k]) if k in b and b[k] is not None else math.nan for k in _SCORES}}
            if val is not None and len(val):
                v = val[val["cell"] == b["cell"]]
                row["validation_ratio_mean"] = float(np.nanmean(v["ratio"])) if len(v) else math.nan
                row["validation_gamma_mean"] = float(np.nanmean(v["gamma"])) if len(v) else math.nan
                row["validation_count_error_mean"] = float(np.nanmean(v["count_error"])) if len(v) else math.nan
                if "ratio_fine" in v:
                    row["validation_ratio_fine_mean"] = float(np.nanmean(v["ratio_fine"])) if len(v) else math.nan
            rows.append(row)
    for cell in {r["cell"] for r in rows}:
        mine = [r for r in rows if r["cell"] == cell]
        scored = [r for r in mine if r["holdout_loss"] == r["holdout_loss"]]
        winner = min(scored or mine, key=lambda r: r["holdout_loss"] if scored else r["train_loss"])
        for r in mine:
            r["chosen"] = r is winner
    return rows


def run_choice(job, *, progress: bool = True, shutdown: bool = True, recordings=None, executor: str | None = None,
               overwrite: bool = False) -> dict:
    """Fit every model of ``job``; returns label -> :class:`RunSummary` (the comparison table
    is written to ``<output>/models.parquet``)."""
    summaries: dict[str, RunSummary] = {}
    for i, (label, spec) in enumerate(zip(job.labels, job.variants)):
        last = i == len(job.variants) - 1
        summaries[label] = run_job(spec, progress=progress, shutdown=shutdown and last, recordings=recordings,
                                   executor=executor, overwrite=overwrite)
    bests, validations = {}, {}
    for label, spec in zip(job.labels, job.variants):
        store = ResultStore(spec.output_dir())
        if summaries[label].best:
            bests[label] = store.read_best()
            validations[label] = store.read_validation() if store.has("validation.parquet") else None
    rows = comparison_rows([lab for lab in job.labels if lab in bests], bests, validations)
    for r in rows:
        r["output"] = job.variants[job.labels.index(r["label"])].output_dir()
    if rows:
        write_models(ResultStore(job.output_dir()), rows)
    return summaries
