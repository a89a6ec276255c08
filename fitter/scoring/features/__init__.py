"""Electrophysiology features of step responses under eFEL's names and definitions.

Batched and jittable: spike features take spike steps ``[..., K]`` (padded with -1), voltage
features V ``[..., T]`` (mV), all take ``dt_ms`` and the stimulus window
``stim_start_ms``/``stim_end_ms`` (per sweep) and return ``[...]`` values, NaN where eFEL
has none. :data:`FEATURES` is the catalogue; :func:`sweep_features` computes them for
recorded sweeps (eFEL's peak detection), :func:`compute_features` for any batch.
"""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.spike_events': ('spike_count', 'spike_count_stimint', 'mean_frequency', 'time_to_first_spike',
                      'inv_first_ISI', 'ISI_CV', 'adaptation_index', 'adaptation_index2'),
    '.voltage': ('voltage_base', 'steady_state_voltage_stimend', 'min_AHP_values', 'AHP_depth_abs', 'AHP_depth'),
    '.peaks': ('EFEL_THRESHOLD_MV', 'peak_steps'),
    '.catalog': ('FEATURES', 'FeatureDef', 'FeatureValues', 'compute_features', 'sweep_features'),
})
