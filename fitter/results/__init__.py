"""Results: the result folder, its tables, the sweep table writer and the report figures.

The only package that writes Parquet."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.store': ('ResultStore', 'column_units', 'TRIAL_COLUMNS', 'TRACE_COLUMNS'),
    '.report': ('write_report', 'load_results'),
    '.sweep_table': ('write_sweep_table',),
})
