"""Job specs: parsing and validation, derived parameters, typical values and bounds.

Importing this package (and parsing a job) loads neither Optuna, Ray nor pandas."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.jobspec': ('JobSpec', 'JobSpecError', 'load_job', 'parse_job'),
    '.derived': ('Derived',),
    '.defaults': ('TYPICAL', 'BOUNDS', 'typical_params', 'default_bounds'),
})
