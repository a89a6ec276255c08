"""Write spikefit's own Parquet sweep table: any recording converted to one portable file.

The schema (columns, types, version) is defined and documented beside its reader,
:mod:`spikefit.data.readers.parquet`; read a table back with ``spikefit.load(path)``. The writer
lives here because the results package is the only one that writes Parquet.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spikefit.data.readers.parquet import COLUMNS, SCHEMA_VERSION
from spikefit.data.recording import Recording

__all__ = ["write_sweep_table"]


def _schema() -> pa.Schema:
    f64 = pa.list_(pa.float64())
    return pa.schema(
        [("cell", pa.string()), ("sweep", pa.string()), ("protocol", pa.string()), ("stimulus", pa.string()),
         ("repeat", pa.int32()), ("dt_ms", pa.float64()), ("current_pA", f64), ("voltage_mV", f64),
         ("spike_times_ms", f64), ("source", pa.string())],
        metadata={"spikefit.sweep_table": SCHEMA_VERSION},
    )


def write_sweep_table(recording: Recording | list[Recording], path) -> Path:
    """Write one or several recordings as a sweep table at ``path`` (atomically); returns the path."""
    recs = [recording] if isinstance(recording, Recording) else list(recording)
    rows = {c: [] for c in COLUMNS}
    for rec in recs:
        for s in rec:
            for key, value in (
                ("cell", s.cell or rec.cell), ("sweep", s.sweep_id), ("protocol", s.protocol), ("stimulus", s.stimulus),
                ("repeat", s.repeat), ("dt_ms", s.dt_ms), ("current_pA", s.current),
                ("voltage_mV", s.voltage), ("spike_times_ms", s.spike_times_ms if s.spikes_source != "none" else None),
                ("source", s.source),
            ):
                rows[key].append(value)
    table = pa.table(rows, schema=_schema())
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path
