"""spikefit: fit spiking neuron models to current-clamp recordings, fast and at scale.

Subpackages, one responsibility each (see ``docs/architecture.md``):

* :mod:`spikefit.models` - the 13 neuron models and the batched simulator (imports nothing else of spikefit)
* :mod:`spikefit.data` - recordings, readers, spike detection, sweep selection and batching
* :mod:`spikefit.scoring` - metrics, the objective, the validation report
* :mod:`spikefit.search` - the search space, Optuna studies (the only door to Optuna), samplers, stages
* :mod:`spikefit.execution` - the evaluator, Ray workers (the only door to Ray), the driver
* :mod:`spikefit.results` - the result folder (the only Parquet writer), tables, report figures
* :mod:`spikefit.spec` - job specs (parsing never loads Optuna, Ray or pandas)
* :mod:`spikefit.cli` - the ``spikefit`` command

Public names are re-exported here and imported lazily on first use, so ``spikefit --help``
and ``import spikefit`` stay fast.
"""

from __future__ import annotations

from spikefit._lazy import lazy_exports

__version__ = "0.2.0"

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "spikefit.fitting": ("fit", "fit_job", "FitResult"),
    "spikefit.errors": ("SpikefitError", "UnitError"),
    "spikefit.data.recording": ("Sweep", "Recording", "RecordingError"),
    "spikefit.data.readers": ("load", "detect_format", "FORMATS"),
    "spikefit.results.sweep_table": ("write_sweep_table",),
    "spikefit.data.detection": ("SpikeDetector", "detect_spikes"),
    "spikefit.data.sweeps": ("SweepBatch", "make_batch", "select_sweeps", "split_by_stimulus",
                             "group_repeats", "resample", "step_amplitude"),
    "spikefit.data.dataset": ("CellSets", "prepare_cells"),
    "spikefit.scoring.metrics": ("gamma_factor", "intrinsic_reliability", "van_rossum_distance",
                                 "victor_purpura_distance", "isi_distance", "spike_count_error",
                                 "firing_rate_error", "first_spike_latency_error", "voltage_rmse",
                                 "reduce_sweeps", "raster_to_spike_steps"),
    "spikefit.scoring.objective": ("Objective", "ObjectiveResult", "MetricTerm", "METRICS"),
    "spikefit.search.space": ("FreeParameter", "SearchSpace"),
    "spikefit.search.study": ("Study", "Candidate", "TrialResult", "Best", "SAMPLERS"),
    "spikefit.search.batch_cmaes": ("BatchCMA",),
    "spikefit.results.store": ("ResultStore", "column_units", "TRIAL_COLUMNS", "TRACE_COLUMNS"),
    "spikefit.results.report": ("write_report", "load_results"),
    "spikefit.spec.jobspec": ("JobSpec", "JobSpecError", "load_job", "parse_job"),
    "spikefit.spec.derived": ("Derived",),
    "spikefit.spec.defaults": ("TYPICAL", "BOUNDS", "typical_params", "default_bounds"),
    "spikefit.execution.evaluator": ("Evaluator", "CellData", "BatchResult"),
    "spikefit.execution.workers": ("WorkerPool", "start_ray", "stop_ray"),
    "spikefit.execution.driver": ("run_job", "RunSummary"),
    "spikefit.units": ("parse_quantity", "to_unit"),
})
