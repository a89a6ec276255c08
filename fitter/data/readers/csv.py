"""CSV, long format: one row per sample, units in the column names.

Columns (header row required):

- ``current_<unit>`` (required): ``current_pA``, ``current_nA`` or ``current_A``
- ``voltage_<unit>`` (optional): ``voltage_mV`` or ``voltage_V``
- ``time_<unit>`` (optional): ``time_ms`` or ``time_s``; uniform steps give dt. Without it
  pass ``rate_hz=`` (the sampling rate is not otherwise in the file).
- ``spike`` (optional): 1 where a spike starts (given spike times = those sample times),
  else 0. Without it spikes are detected from the voltage.
- ``sweep`` (optional, default one sweep ``"0"``), and per-sweep constants ``stimulus``,
  ``repeat``, ``cell``, ``protocol`` (optional).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from spikefit.data.readers._common import group_cells
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS"]

EXTENSIONS = (".csv", ".csv.gz")


def _unit_column(columns, quantity: str, path, required: bool):
    found = [c for c in columns if re.fullmatch(rf"{quantity}_\w+", c)]
    if len(found) > 1:
        raise RecordingError(f"{path}: expected one {quantity}_<unit> column, got {found}")
    if not found:
        if required:
            raise RecordingError(
                f"{path}: missing column '{quantity}_<unit>' (e.g. {quantity}_pA); found columns {list(columns)}"
            )
        return None, None
    return found[0], found[0].split("_", 1)[1]


def read(path, *, rate_hz: float | None = None, detector: SpikeDetector | None = None) -> Recording | list[Recording]:
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        df = pd.read_csv(path)
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as CSV: {type(err).__name__}: {err}") from err
    if df.empty:
        raise RecordingError(f"{path}: expected at least 1 row of samples, got none")
    icol, iunit = _unit_column(df.columns, "current", path, True)
    vcol, vunit = _unit_column(df.columns, "voltage", path, False)
    tcol, tunit = _unit_column(df.columns, "time", path, False)
    groups = df.groupby("sweep", sort=False) if "sweep" in df.columns else [(0, df)]
    sweeps = []
    for sid, g in groups:
        where = f"{path}, sweep {str(sid)!r}"
        if tcol is not None:
            t = g[tcol].to_numpy(dtype=float)
            steps = np.diff(t)
            if t.size < 2 or not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
                raise RecordingError(f"{where}, field {tcol!r}: expected uniform increasing time steps")
            dt, dt_unit = float(steps[0]), tunit
        elif rate_hz is not None:
            dt, dt_unit = 1000.0 / float(rate_hz), "ms"
        else:
            raise RecordingError(f"{where}: no time_<unit> column and no rate_hz given; the sampling rate is needed")
        spikes, s_unit = None, None
        if "spike" in g.columns:
            flags = g["spike"].to_numpy()
            spikes, s_unit = np.flatnonzero(flags != 0) * dt, dt_unit
        meta = {k: g[k].iloc[0] for k in ("stimulus", "repeat", "cell", "protocol") if k in g.columns}
        sweeps.append(
            Sweep.from_arrays(
                g[icol].to_numpy(dtype=float), current_unit=iunit,
                voltage=None if vcol is None else g[vcol].to_numpy(dtype=float), voltage_unit=vunit,
                spike_times=spikes, spike_time_unit=s_unit, dt=dt, dt_unit=dt_unit, detector=detector,
                cell=str(meta.get("cell", path.stem)), sweep_id=str(sid), stimulus=str(meta.get("stimulus", "")),
                repeat=int(meta.get("repeat", 0)), protocol=str(meta.get("protocol", "")), source=str(path),
            )
        )
    return group_cells(sweeps, path)
