"""Scoring: spike-train and voltage metrics, eFEL features, the objective, the validation report."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.metrics': ('gamma_factor', 'intrinsic_reliability', 'van_rossum_distance', 'victor_purpura_distance', 'isi_distance', 'spike_count_error', 'firing_rate_error', 'first_spike_latency_error', 'voltage_rmse', 'reduce_sweeps', 'raster_to_spike_steps'),
    '.objective': ('Objective', 'ObjectiveResult', 'MetricTerm', 'METRICS'),
    '.features': ('FEATURES', 'compute_features', 'sweep_features'),
})
