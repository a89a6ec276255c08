"""Search plans: the stages of a fit, their studies, and the choice among their results.

A job's ``[search]`` section becomes a list of :class:`Stage` (:func:`plan`). Each stage runs
one study per seed; a **global** stage searches the full bounds, a **local** stage starts a
CMA-ES at the best candidate of the earlier stages (``x0``) with a small step (``sigma0``).
Every study contributes its best trial as a :class:`Choice` candidate; :func:`choose` picks
the one with the lowest held-out loss when a held-out segment was asked, else the lowest
training loss, and says why. No Optuna here: the studies are :mod:`spikefit.search.study`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "Choice", "plan", "study_name", "sampler_options", "choose"]

#: name of the one stage of a job without ``[[search.stages]]``
DEFAULT_STAGE = "main"


@dataclass(frozen=True)
class Stage:
    """One search stage: ``trials`` per seed, one study per seed."""

    name: str
    trials: int
    seeds: tuple[int, ...]
    sampler: str
    options: dict[str, Any] = field(default_factory=dict)
    local: bool = False
    sigma0: float = 0.05
    passive: bool = False  # fits R, tau, V_rest from sub-threshold data (spikefit.search.passive): no study
    tolerance: float = 0.15
    v_tolerance_mV: float = 2.0
    dt_ms: float | None = None  # the step it simulates at; None: the job's (``[data] dt_ms``)


@dataclass
class Choice:
    """The best trial of one study, a candidate for the fit."""

    stage: str
    seed: int
    trial: int
    params: dict[str, float]
    train_loss: float
    holdout_loss: float = float("nan")
    holdout_scores: dict[str, float] = field(default_factory=dict)


def plan(search, job_seed: int) -> list[Stage]:
    """The stages of a job's ``search`` section (a :class:`~spikefit.spec.jobspec.SearchSpec`)."""
    if not search.stages:
        return [Stage(DEFAULT_STAGE, search.trials, (job_seed,), search.sampler, dict(search.options))]
    return [Stage(s.name, s.trials or 0, tuple(job_seed * 1000 + x for x in s.seeds), s.sampler or search.sampler,
                  {**(search.options if (s.sampler or search.sampler) == search.sampler else {}), **s.options},
                  s.local, s.sigma0, s.passive, s.tolerance, s.v_tolerance_mV, s.dt_ms)
            for s in search.stages]


def study_name(job: str, cell: str, stage: Stage, seed: int, single: bool) -> str:
    """The study's name in the storage. A one-stage job keeps the name ``<job>.<cell>``."""
    return f"{job}.{cell}" if single else f"{job}.{cell}.{stage.name}.{seed}"


def sampler_options(stage: Stage, batch_size: int, start: dict[str, float] | None) -> dict[str, Any]:
    """Options for the stage's sampler; a local stage starts at ``start`` with step ``sigma0``."""
    opts = dict(stage.options)
    if stage.sampler == "cmaes_batch":
        opts.setdefault("popsize", batch_size)
    if stage.local:
        if start is None:
            raise ValueError(f"stage {stage.name!r}: a local stage needs a finished earlier stage")
        opts.update(x0=dict(start), sigma0=stage.sigma0)
    return opts


def choose(candidates: list[Choice], holdout_ms: float | None) -> tuple[Choice, str]:
    """The chosen candidate and why (held-out loss when measured, else training loss)."""
    if not candidates:
        raise ValueError("choose: no candidates (every study failed or none ran)")
    if holdout_ms:
        best = min(candidates, key=lambda c: (c.holdout_loss != c.holdout_loss, c.holdout_loss))
        others = ", ".join(f"{c.stage}/{c.seed}={c.holdout_loss:.4f}" for c in candidates if c is not best)
        scores = ", ".join(f"{k} {v:.3f}" for k, v in best.holdout_scores.items())
        return best, (f"lowest objective on the held-out last {holdout_ms:g} ms of the training sweeps: "
                      f"{best.holdout_loss:.4f} ({scores}; stage {best.stage}, seed {best.seed}"
                      + (f"; others {others}" if others else "") + ")")
    best = min(candidates, key=lambda c: c.train_loss)
    if len(candidates) == 1:
        return best, "lowest training loss"
    return best, (f"lowest training loss {best.train_loss:.4f} (stage {best.stage}, seed {best.seed}; others "
                  + ", ".join(f"{c.stage}/{c.seed}={c.train_loss:.4f}" for c in candidates if c is not best) + ")")
