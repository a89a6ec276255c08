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


from spikefit.data.readers._common import group_cells, load_file
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

    path, table = load_file(path, pq.read_table, what="Parquet (truncated?)", fmt="parquet")
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
        sid = d["sweep"][i]
        if sid is None or (isinstance(sid, float) and sid != sid):
            raise RecordingError(f"{path}, row {i}, column 'sweep': expected a sweep id, got null; fill it in")
        try:
            sweeps.append(
                Sweep.from_arrays(
                    d["current_pA"][i] or [], current_unit="pA",  # types checked by the sweep (field names)
                    voltage=col("voltage_mV", None)[i], voltage_unit="mV",
                    spike_times=col("spike_times_ms", None)[i], spike_time_unit="ms",
                    dt=d["dt_ms"][i], dt_unit="ms", detector=detector,
                    cell=str(col("cell", path.stem)[i] or path.stem), sweep_id=str(sid),
                    protocol=str(col("protocol", "")[i] or ""), stimulus=str(col("stimulus", "")[i] or ""),
                    repeat=col("repeat", 0)[i] or 0, source=str(col("source", str(path))[i] or str(path)),
                )
            )
        except RecordingError as err:  # the row's own source names the original file: add the table's
            if str(path) in str(err):
                raise
            raise type(err)(f"{path}, row {i}: {err}") from None
    return group_cells(sweeps, path)
