"""The sampler names a job may ask for (no Optuna import: job specs validate against this list)."""

from __future__ import annotations

__all__ = ["SAMPLERS", "SINGLE_OBJECTIVE_ONLY"]

#: Sampler names accepted by :meth:`spikefit.search.study.Study.create` and by job specs.
SAMPLERS = ("cmaes_batch", "tpe", "cmaes", "nsga2", "qmc", "random", "gp")
#: Samplers that optimise one objective only.
SINGLE_OBJECTIVE_ONLY = frozenset({"cmaes", "cmaes_batch"})
