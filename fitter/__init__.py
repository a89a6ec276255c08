"""spikefit's fitting service: recordings, metrics, objectives, studies, workers and results.

Public names are re-exported here and imported lazily on first use, so ``spikefit --help``
and ``import fitter`` stay fast (JAX, Optuna and Ray load only when needed).
"""

from __future__ import annotations

import importlib

_EXPORTS: dict[str, tuple[str, ...]] = {
    "fitter.recording": ("Sweep", "Recording", "RecordingError"),
    "fitter.readers": ("load", "detect_format", "FORMATS"),
    "fitter.readers.parquet": ("write_sweep_table",),
    "fitter.spikes": ("SpikeDetector", "detect_spikes"),
    "fitter.sweeps": ("SweepBatch", "make_batch", "select_sweeps", "split_by_stimulus",
                      "group_repeats", "resample", "step_amplitude"),
    "fitter.metrics": ("gamma_factor", "intrinsic_reliability", "van_rossum_distance",
                       "victor_purpura_distance", "isi_distance", "spike_count_error",
                       "firing_rate_error", "first_spike_latency_error", "voltage_rmse",
                       "reduce_sweeps", "raster_to_spike_steps"),
    "fitter.objective": ("Objective", "ObjectiveResult", "MetricTerm", "METRICS"),
    "fitter.space": ("FreeParameter", "SearchSpace"),
    "fitter.study": ("Study", "Candidate", "TrialResult", "Best", "SAMPLERS"),
    "fitter.store": ("ResultStore", "column_units", "TRIAL_COLUMNS", "TRACE_COLUMNS"),
    "fitter.jobs": ("JobSpec", "JobSpecError", "load_job", "parse_job"),
    "fitter.dataset": ("CellSets", "prepare_cells"),
    "fitter.evaluator": ("Evaluator", "CellData", "BatchResult"),
    "fitter.workers": ("WorkerPool", "start_ray", "stop_ray"),
    "fitter.runner": ("run_job", "RunSummary"),
    "fitter.units": ("parse_quantity", "to_unit"),
    "fitter.defaults": ("TYPICAL", "BOUNDS", "typical_params", "default_bounds"),
    "fitter.derived": ("Derived",),
    "fitter.batch_cmaes": ("BatchCMA",),
    "fitter.report": ("write_report", "load_results"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'fitter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
