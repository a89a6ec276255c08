"""The ``[search]`` section of a job spec: sampler, budget, batch size and the stages of the plan."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from spikefit.search.samplers import SAMPLERS  # one list of sampler names, no Optuna
from spikefit.spec._strict import Strict as _Strict
from spikefit.spec.messages import did_you_mean

__all__ = ["SearchSpec", "StageSpec"]


def _unknown_sampler(v: Any) -> str:
    hint = (did_you_mean(v, SAMPLERS) if isinstance(v, str) else "") or "; use one of these names"
    return f"expected one of {', '.join(map(repr, SAMPLERS))}, got {v!r}{hint}"


class StageSpec(_Strict):
    """One stage of a multi-stage search (``[[search.stages]]``): one study per seed.

    A global stage searches the job's full bounds; a local stage (``local = true``) starts a
    CMA-ES at the best candidate of the earlier stages with step ``sigma0`` (in the sampler's
    [0, 1]-scaled space). ``trials`` is the budget per seed.

    A passive stage (``passive = true``, no trials) fits R, tau and V_rest to the sub-threshold
    samples of the training sweeps (:mod:`spikefit.search.passive`); the later stages search R
    and tau within a factor ``1 +/- tolerance`` of its estimates and V_rest within
    ``v_tolerance_mV``.

    ``dt_ms``: the step this stage simulates at (default ``[data] dt_ms``), the current held at
    the data's rate. A coarse step for the global stages and the job's own step for a local
    stage is a coarse-to-fine search: the wide search runs where a trial is cheap, the
    refinement (and every score the fit reports) at the step the model is meant for.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    trials: int | None = Field(default=None, gt=0)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    sampler: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    local: bool = False
    sigma0: float = Field(default=0.05, gt=0, le=1)
    passive: bool = False
    tolerance: float = Field(default=0.15, gt=0, le=10)
    v_tolerance_mV: float = Field(default=2.0, gt=0)
    dt_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _trials_or_passive(self) -> "StageSpec":
        if self.passive and (self.trials is not None or self.local):
            raise ValueError(f"stage {self.name!r}: a passive stage has no trials and is not local (it fits "
                             "R, tau and V_rest directly); remove 'trials'/'local'")
        if self.passive and self.dt_ms is not None:
            raise ValueError(f"stage {self.name!r}: a passive stage simulates nothing; remove 'dt_ms'")
        if not self.passive and self.trials is None:
            raise ValueError(f"stage {self.name!r}: expected 'trials' (a positive integer, the budget per seed)")
        return self

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, v: str | None) -> str | None:
        if v is not None and v not in SAMPLERS:
            raise ValueError(_unknown_sampler(v))
        return v


class SearchSpec(_Strict):
    """How to search. Without ``stages``: one study per cell of ``trials`` trials.

    With ``[[search.stages]]`` the stages run in order (the seeds of a stage side by side);
    ``holdout_ms`` cuts the last ``holdout_ms`` of every training sweep off before fitting and
    uses it only to choose among the stages' best candidates (never the validation sweeps).
    """

    sampler: str = "cmaes_batch"
    options: dict[str, Any] = Field(default_factory=dict)
    trials: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=256, gt=0)
    storage: str | None = None
    stages: list[StageSpec] | None = Field(default=None, min_length=1)
    holdout_ms: float | None = Field(default=None, gt=0)

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, v: str) -> str:
        if v not in SAMPLERS:
            raise ValueError(_unknown_sampler(v))
        return v

    @model_validator(mode="after")
    def _check_stages(self) -> "SearchSpec":
        names = [s.name for s in self.stages or ()]
        if len(set(names)) != len(names):
            raise ValueError(f"[search.stages] expected distinct stage names, got {names}")
        searching = [s for s in self.stages or () if not s.passive]
        if any(s.passive for s in (self.stages or [])[1:]):
            raise ValueError("[search.stages] a passive stage must be the first stage (it narrows the bounds "
                             "of the stages after it), and there can be only one")
        if self.stages and not searching:
            raise ValueError("[search.stages] expected at least one stage with trials after the passive stage")
        if searching and searching[0].local:
            raise ValueError(f"[search.stages] the first stage with trials ({searching[0].name!r}) cannot be local: a local "
                             "stage starts at the best of the earlier stages")
        for s in self.stages or ():
            sampler = s.sampler or self.sampler
            if s.local and sampler != "cmaes_batch":
                raise ValueError(f"[search.stages] local stage {s.name!r} needs sampler 'cmaes_batch' "
                                 f"(it starts a CMA-ES at the best so far), got {sampler!r}")
        return self

    def total_trials(self) -> int:
        """Trials per cell over every stage and seed."""
        if not self.stages:
            return self.trials
        return sum(s.trials * len(s.seeds) for s in self.stages if not s.passive)
