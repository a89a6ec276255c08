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

from spikefit.data.readers._common import format_hint, group_cells, require, scalar_str, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS"]

EXTENSIONS = (".npz",)


def _numeric(data: dict, key: str, path, *, ndim: tuple[int, ...], kinds: str = "iuf") -> np.ndarray:
    """``data[key]`` as a numeric array of one of the ``ndim`` ranks (an error names the key)."""
    x = np.asarray(data[key])
    if x.dtype.kind not in kinds:
        want = "integers" if kinds == "iu" else "numbers"
        raise RecordingError(f"{path}: key {key!r}: expected an array of {want}, got dtype {x.dtype}")
    if x.ndim not in ndim and not (x.ndim < min(ndim)):
        raise RecordingError(f"{path}: key {key!r}: expected {' or '.join(f'{n}-D' for n in ndim)} values, "
                             f"got shape {x.shape}")
    return np.atleast_2d(x) if key in ("current", "voltage") else x


def _positive_scalar(data: dict, key: str, path) -> float:
    x = np.asarray(data[key])
    if x.dtype.kind not in "iuf" or x.size != 1 or not np.isfinite(x.reshape(-1)[0]) or not x.reshape(-1)[0] > 0:
        raise RecordingError(f"{path}: key {key!r}: expected one finite number > 0, got {x.reshape(-1)[:3]!r} "
                             f"(dtype {x.dtype}, shape {x.shape})")
    return float(x.reshape(-1)[0])


def read(path, *, detector: SpikeDetector | None = None) -> Recording | list[Recording]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:6] == b"\x93NUMPY":
        raise RecordingError(f"{path}: expected a .npz archive (numpy.savez: named arrays), got a single .npy "
                             "array; save the keys below with numpy.savez")
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise RecordingError(f"{path}: expected a .npz archive (a zip of .npy arrays, as numpy.savez writes), got a "
                             f"file starting with {head!r}{format_hint(path, 'npz') or '; is it another format? pass format='}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as err:
        if "allow_pickle" in str(err):  # a real .npz whose arrays are objects
            raise RecordingError(f"{path}: holds object (pickled) arrays, which spikefit never loads; store plain arrays") from err
        raise RecordingError(f"{path}: cannot read as .npz (truncated or damaged?): {short_error(err)}") from err
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as .npz (truncated or damaged?): {short_error(err)}") from err
    require(data, "current", path, "key")
    current = _numeric(data, "current", path, ndim=(1, 2))
    S = current.shape[0]
    unit = scalar_str(require(data, "current_unit", path, "key"))
    if "dt_ms" in data:
        dt = _positive_scalar(data, "dt_ms", path)
    elif "rate_hz" in data:
        dt = 1000.0 / _positive_scalar(data, "rate_hz", path)
    else:
        raise RecordingError(f"{path}: missing key 'dt_ms' or 'rate_hz' (the sampling rate is not in the file otherwise)")
    voltage = data.get("voltage")
    if voltage is not None:
        voltage = _numeric(data, "voltage", path, ndim=(1, 2))
        if voltage.shape != current.shape:
            raise RecordingError(f"{path}: key 'voltage': expected shape {current.shape} (as 'current'), got {voltage.shape}")
        v_unit = scalar_str(require(data, "voltage_unit", path, "key"))
    spikes = data.get("spike_times_ms")
    if spikes is not None:
        spikes = _numeric(data, "spike_times_ms", path, ndim=(0, 1, 2)).reshape(-1)
        require(data, "spike_sweep", path, "key")
        owner = _numeric(data, "spike_sweep", path, ndim=(0, 1, 2), kinds="iu").reshape(-1)
        if owner.shape != spikes.shape:
            raise RecordingError(f"{path}: key 'spike_sweep': expected {spikes.size} entries (one per spike), got {owner.size}")
    ids = [str(x) for x in np.asarray(data.get("sweep_ids", np.arange(S))).reshape(-1)]
    stim = [str(x) for x in np.asarray(data.get("stimulus", ids)).reshape(-1)]
    rep = _numeric(data, "repeat", path, ndim=(0, 1), kinds="iu").reshape(-1) if "repeat" in data else np.zeros(S, int)
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
            repeat=int(rep[i]), protocol=protocol, source=str(path),
        )
        for i in range(S)
    ]
    return group_cells(sweeps, path)
