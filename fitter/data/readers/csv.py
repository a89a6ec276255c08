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

import numpy as np

from spikefit.data.readers._common import group_cells, load_file
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


def _numbers(g, column: str, where: str) -> np.ndarray:
    """A column as float64; a cell that is not a number is an error naming its row."""
    import pandas as pd

    values = pd.to_numeric(g[column], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & g[column].notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = int(g.index[i]) + 1  # data rows, after the header
        raise RecordingError(f"{where}, column {column!r}: expected numbers, got {str(g[column].iloc[i])[:40]!r} "
                             f"in data row {row}; fix or remove that row")
    return values


def _integer(value, column: str, where: str) -> int:
    try:
        x = float(value)
        if x == int(x):
            return int(x)
    except (TypeError, ValueError, OverflowError):
        pass
    raise RecordingError(f"{where}, column {column!r}: expected an integer, got {str(value)[:40]!r}")


def read(path, *, rate_hz: float | None = None, detector: SpikeDetector | None = None) -> Recording | list[Recording]:
    import pandas as pd

    path, df = load_file(path, pd.read_csv, what="CSV", fmt="csv")
    if df.empty:
        raise RecordingError(f"{path}: expected at least 1 row of samples, got none")
    icol, iunit = _unit_column(df.columns, "current", path, True)
    vcol, vunit = _unit_column(df.columns, "voltage", path, False)
    tcol, tunit = _unit_column(df.columns, "time", path, False)
    if "sweep" in df.columns and df["sweep"].isna().any():
        row = int(np.flatnonzero(df["sweep"].isna().to_numpy())[0]) + 1
        raise RecordingError(f"{path}, column 'sweep': expected a sweep id in every row, got an empty cell in "
                             f"data row {row}; fill it in or remove that row")
    groups = df.groupby("sweep", sort=False) if "sweep" in df.columns else [(0, df)]
    sweeps = []
    for sid, g in groups:
        where = f"{path}, sweep {str(sid)!r}"
        if tcol is not None:
            t = _numbers(g, tcol, where)
            steps = np.diff(t)
            if t.size < 2 or not np.all(np.isfinite(t)) or not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
                raise RecordingError(f"{where}, column {tcol!r}: expected at least 2 rows of uniform increasing "
                                     "time steps; fix the times or drop the column and pass rate_hz=")
            dt, dt_unit = float(steps[0]), tunit
        elif rate_hz is not None:
            if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float)) or not 0 < rate_hz < float("inf"):
                raise RecordingError(f"{path}: option 'rate_hz': expected a number > 0, got {rate_hz!r}")
            dt, dt_unit = 1000.0 / float(rate_hz), "ms"
        else:
            raise RecordingError(f"{where}: no time_<unit> column and no rate_hz given; expected one of them (the "
                                 "sampling rate is not otherwise known): add a time_ms column or pass rate_hz= "
                                 "(CLI: --rate-hz)")
        spikes, s_unit = None, None
        if "spike" in g.columns:
            flags = _numbers(g, "spike", where)
            if not np.all(np.isfinite(flags)):
                row = int(g.index[int(np.flatnonzero(~np.isfinite(flags))[0])]) + 1
                raise RecordingError(f"{where}, column 'spike': expected 0 or 1 in every row, got an empty or "
                                     f"non-finite value in data row {row}")
            spikes, s_unit = np.flatnonzero(flags != 0) * dt, dt_unit
        meta = {k: g[k].iloc[0] for k in ("stimulus", "repeat", "cell", "protocol") if k in g.columns}
        sweeps.append(
            Sweep.from_arrays(
                _numbers(g, icol, where), current_unit=iunit,
                voltage=None if vcol is None else _numbers(g, vcol, where), voltage_unit=vunit,
                spike_times=spikes, spike_time_unit=s_unit, dt=dt, dt_unit=dt_unit, detector=detector,
                cell=str(meta.get("cell", path.stem)), sweep_id=str(sid), stimulus=str(meta.get("stimulus", "")),
                repeat=_integer(meta.get("repeat", 0), "repeat", where), protocol=str(meta.get("protocol", "")),
                source=str(path),
            )
        )
    return group_cells(sweeps, path)
