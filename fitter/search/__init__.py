"""Search: the parameter space, Optuna studies (the only door to Optuna) and samplers."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.space': ('FreeParameter', 'SearchSpace'),
    '.study': ('Study', 'Candidate', 'TrialResult', 'Best', 'SAMPLERS'),
    '.batch_cmaes': ('BatchCMA',),
    '.gradient': ('Refined', 'refine'),
})
