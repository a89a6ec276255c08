"""NumPy ``.npz`` archives (read with ``allow_pickle=False``: no object arrays, nothing executed).

Keys (S sweeps of T samples; all sweeps of one file share T and dt):

=================  ==========================================================================
``current``        float [S, T] or [T] (required)
``current_unit``   str scalar, e.g. ``"pA"``, ``"nA"``, ``"A"`` (required)
``dt_ms``          float scalar sampling interval, or ``rate_hz`` (one of them is required)
``voltage``        float, same shape as ``current`` (optional)
``voltage_unit``   str scalar, ``"mV"`` or ``"V"`` (required with ``voltage``)
``spike_times_ms`` float [N], all sweeps' spikes concatenated (optional; else detected from V)
``spike_sweep``    int [N], the sweep index (0..S-1) of each spike (required with spike times)
``sweep_ids``      str [S] (default ``"0".."S-1"``); ``stimulus`` str [S]; ``repeat`` int [S]
``cell``           str scalar; ``protocol`` str scalar
=================  ==========================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikefit.data.readers._common import group_cells, require, scalar_str
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS"]

EXTENSIONS = (".npz",)


def read(path, *, detector: SpikeDetector | None = None) -> Recording | list[Recording]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise RecordingError(f"{path}: holds object (pickled) arrays, which spikefit never loads; store plain arrays") from err
        raise RecordingError(f"{path}: cannot read as .npz (truncated?): {err}") from err
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as .npz (truncated?): {type(err).__name__}: {err}") from err
    current = np.atleast_2d(require(data, "current", path, "key"))
    S = current.shape[0]
    unit = scalar_str(require(data, "current_unit", path, "key"))
    if "dt_ms" in data:
        dt = float(data["dt_ms"])
    elif "rate_hz" in data:
        dt = 1000.0 / float(data["rate_hz"])
    else:
        raise RecordingError(f"{path}: missing key 'dt_ms' or 'rate_hz' (the sampling rate is not in the file otherwise)")
    voltage = data.get("voltage")
    if voltage is not None:
        voltage = np.atleast_2d(voltage)
        if voltage.shape != current.shape:
            raise RecordingError(f"{path}: key 'voltage': expected shape {current.shape} (as 'current'), got {voltage.shape}")
        v_unit = scalar_str(require(data, "voltage_unit", path, "key"))
    spikes = data.get("spike_times_ms")
    if spikes is not None:
        owner = np.asarray(require(data, "spike_sweep", path, "key")).reshape(-1)
        if owner.shape != spikes.reshape(-1).shape:
            raise RecordingError(f"{path}: key 'spike_sweep': expected {spikes.size} entries (one per spike), got {owner.size}")
    ids = [str(x) for x in data.get("sweep_ids", np.arange(S))]
    stim = [str(x) for x in data.get("stimulus", ids)]
    rep = [int(x) for x in data.get("repeat", np.zeros(S, int))]
    for key, seq in (("sweep_ids", ids), ("stimulus", stim), ("repeat", rep)):
        if len(seq) != S:
            raise RecordingError(f"{path}: key {key!r}: expected {S} entries (one per sweep), got {len(seq)}")
    cell = scalar_str(data["cell"]) if "cell" in data else path.stem
    protocol = scalar_str(data["protocol"]) if "protocol" in data else ""
    sweeps = [
        Sweep.from_arrays(
            current[i], current_unit=unit,
            voltage=None if voltage is None else voltage[i], voltage_unit=None if voltage is None else v_unit,
            spike_times=None if spikes is None else spikes.reshape(-1)[owner == i], spike_time_unit="ms",
            dt=dt, dt_unit="ms", detector=detector, cell=cell, sweep_id=ids[i], stimulus=stim[i],
            repeat=rep[i], protocol=protocol, source=str(path),
        )
        for i in range(S)
    ]
    return group_cells(sweeps, path)
