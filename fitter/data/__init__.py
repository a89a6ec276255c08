"""Recordings: the sweep model, spike detection, sweep selection and batching, readers."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.recording': ('Sweep', 'Recording', 'RecordingError'),
    '.detection': ('SpikeDetector', 'detect_spikes'),
    '.sweeps': ('SweepBatch', 'make_batch', 'select_sweeps', 'split_by_stimulus', 'group_repeats', 'resample', 'step_amplitude'),
    '.dataset': ('CellSets', 'prepare_cells'),
    '.steps': ('StepDescription', 'describe_step'),
    '.series': ('find_series', 'assign_stimuli'),
    '.stimulus': ('STIMULUS_MODES', 'choose_stimulus', 'idealise'),
    '.readers': ('load', 'detect_format', 'FORMATS'),
})
