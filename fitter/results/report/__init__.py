"""The report of a results folder: figures (PNG) and one HTML page per cell.

``spikefit report DIR`` writes them (:func:`write_report`); the analysis notebook draws the same
figures from the same functions. Everything is read from the Parquet results, so a report can be
made on any machine that has the results folder.
"""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.load': ('load_results',),
    '.steps': ('step_window', 'sweep_summary', 'step_scores', 'input_resistance', 'SUMMARY_COLUMNS'),
    '.figures': ('plot_convergence', 'plot_parameter_spread', 'plot_fit'),
    '.step_figures': ('plot_fi', 'plot_passive', 'plot_scores', 'amplitude_axis'),
    '.sweep_figures': ('plot_voltages', 'plot_rasters', 'sweep_label', 'envelope'),
    '.page': ('cell_page', 'index_page', 'SWEEP_TABLE'),
    '.write': ('write_report', 'parameter_bounds'),
})
