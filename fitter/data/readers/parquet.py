"""spikefit's own Parquet sweep table: any recording converted to one portable file.

Schema (one row per sweep; version 1, stored in the file's metadata as
``spikefit.sweep_table = 1``):

==================  ====================  ===================================================
column              type                  meaning
==================  ====================  ===================================================
``cell``            string                cell id
``sweep``           string                sweep id (unique within a cell)
``protocol``        string                protocol name ("" if none)
``stimulus``        string                stimulus id; sweeps sharing it are repeats
``repeat``          int32                 repeat index within the stimulus
``dt_ms``           float64               sampling interval, ms
``current_pA``      list<float64>         injected current, pA
``voltage_mV``      list<float64>, null   membrane voltage, mV (null: not recorded)
``spike_times_ms``  list<float64>, null   spike times, ms (null: detect from voltage)
``source``          string                file the sweep came from
==================  ====================  ===================================================

Read with ``spikefit.data.readers.load(path)``; write with
:func:`spikefit.results.sweep_table.write_sweep_table` (``spikefit.write_sweep_table``): the
results package is the only Parquet writer, this module only reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikefit.data.readers._common import group_cells
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS", "SCHEMA_VERSION", "COLUMNS"]

EXTENSIONS = (".parquet",)
SCHEMA_VERSION = "1"
#: The columns, in order (their types: the schema above; the writer builds the pyarrow schema).
COLUMNS = ("cell", "sweep", "protocol", "stimulus", "repeat", "dt_ms", "current_pA", "voltage_mV", "spike_times_ms", "source")


def read(path, *, detector: SpikeDetector | None = None) -> Recording | list[Recording]:
    """Read a sweep table (see the module docstring for the schema)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as Parquet (truncated?): {type(err).__name__}: {err}") from err
    missing = [c for c in ("sweep", "dt_ms", "current_pA") if c not in table.column_names]
    if missing:
        raise RecordingError(
            f"{path}: missing column(s) {missing} of the spikefit sweep table; expected {list(COLUMNS)}, "
            f"got {table.column_names}"
        )
    d = table.to_pydict()
    n = table.num_rows
    col = lambda name, default: d.get(name, [default] * n)  # noqa: E731
    sweeps = []
    for i in range(n):
        v = col("voltage_mV", None)[i]
        st = col("spike_times_ms", None)[i]
        sweeps.append(
            Sweep.from_arrays(
                np.asarray(d["current_pA"][i] or [], dtype=float), current_unit="pA",
                voltage=None if v is None else np.asarray(v, dtype=float), voltage_unit="mV",
                spike_times=None if st is None else np.asarray(st, dtype=float), spike_time_unit="ms",
                dt=d["dt_ms"][i], dt_unit="ms", detector=detector,
                cell=col("cell", path.stem)[i] or path.stem, sweep_id=d["sweep"][i], protocol=col("protocol", "")[i] or "",
                stimulus=col("stimulus", "")[i] or "", repeat=col("repeat", 0)[i] or 0, source=col("source", str(path))[i] or str(path),
            )
        )
    return group_cells(sweeps, path)
