"""Results: the result folder (the only Parquet writer), its tables and the report figures."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.store': ('ResultStore', 'column_units', 'TRIAL_COLUMNS', 'TRACE_COLUMNS'),
    '.report': ('write_report', 'load_results'),
})
