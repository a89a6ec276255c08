"""Execution: the evaluator, Ray workers (the only door to Ray), the driver loop, cluster jobs."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.evaluator': ('Evaluator', 'CellData', 'BatchResult'),
    '.workers': ('WorkerPool', 'start_ray', 'stop_ray'),
    '.retry': ('RetryPolicy', 'WorkerError'),
    '.driver': ('run_job', 'RunSummary'),
})
