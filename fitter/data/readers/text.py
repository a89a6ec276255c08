"""Plain-text columns (``.txt``, ``.dat``, ``.asc``, optionally ``.gz``) with a declared layout.

A text file has no header saying what its columns are, in what unit, at what rate, so all
of that is declared: ``columns`` names each column (``"current"``, ``"voltage"``, or
``None``/``"index"`` to skip), ``current_unit``/``voltage_unit`` their units, and ``rate_hz``
the sampling rate (required: it is not in the file). Presets bundle a layout:

- ``preset="qsnmc2007"``: the 2007 single-neuron modelling competition, challenge A. Files
  ``SS-R.voltage.gz``: 3 columns [sample index, I pA, V mV] at 1 kHz; spike times beside them
  in ``SS-R.spiketimes`` (column 1 = spike time in samples) are used as given spike times.
  Stimulus id = ``SS``, repeat = ``R``, sweep id = ``"SS-R"``.

A folder loads every matching file as one recording (cell id = the folder name).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from spikefit.data.readers._common import format_hint, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS", "PRESETS"]

EXTENSIONS = (".txt", ".dat", ".asc", ".voltage", ".voltage.gz", ".txt.gz", ".dat.gz")

PRESETS = {
    "qsnmc2007": {
        "columns": ("index", "current", "voltage"),
        "current_unit": "pA",
        "voltage_unit": "mV",
        "rate_hz": 1000.0,
        "pattern": r"^(?P<stimulus>\d+)-(?P<repeat>\d+)\.voltage(\.gz)?$",
        "spike_suffix": ".spiketimes",
        "spike_unit": "samples",
    },
}


def _loadtxt(path: Path, what: str) -> np.ndarray:
    """``np.loadtxt`` (2-D); any parse, decompression or read error names the file."""
    try:
        return np.loadtxt(path, ndmin=2)
    except FileNotFoundError:
        raise
    except Exception as err:  # ValueError, EOFError, OSError (gzip), zlib.error, UnicodeDecodeError
        raise RecordingError(f"{path}: cannot parse as {what} (truncated or damaged file?): {short_error(err)}"
                             f"{format_hint(path, 'text')}") from err


def _load_columns(path: Path, n_columns: int) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    data = _loadtxt(path, "numeric text columns")
    if data.shape[0] == 0:
        raise RecordingError(f"{path}: expected at least 1 row of samples, got an empty file")
    if data.shape[1] != n_columns:
        raise RecordingError(
            f"{path}: field 'columns': expected {n_columns} columns as declared, got {data.shape[1]}"
        )
    return data


def _read_file(path: Path, *, opts: dict, cell: str, sweep_id: str, stimulus: str, repeat: int, detector) -> Sweep:
    columns = tuple(opts["columns"])
    if "current" not in columns:
        raise RecordingError(f"{path}: option 'columns': expected a 'current' column, got {columns}")
    rate = opts.get("rate_hz")
    if rate is None:
        raise RecordingError(
            f"{path}: the sampling rate is not in text files and was not given; pass rate_hz= "
            f"(CLI: --rate-hz) or a preset (one of {sorted(PRESETS)})"
        )
    try:
        ok = not isinstance(rate, bool) and 0 < float(rate) < float("inf")
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RecordingError(f"{path}: option 'rate_hz': expected a number > 0 (samples per second), got {rate!r}")
    rate = float(rate)
    data = _load_columns(path, len(columns))
    current = data[:, columns.index("current")]
    voltage = data[:, columns.index("voltage")] if "voltage" in columns else None
    spikes, spike_unit = None, None
    suffix = opts.get("spike_suffix")
    if suffix:
        spath = path.parent / (re.sub(r"\.voltage(\.gz)?$", "", path.name) + suffix)
        if spath.exists():
            raw = _loadtxt(spath, "spike times (numbers, one spike per line)")
            spikes = raw[:, 0] if raw.size else np.zeros(0)
            if opts.get("spike_unit") == "samples":
                spikes, spike_unit = spikes * (1000.0 / rate), "ms"
            else:
                spike_unit = opts.get("spike_unit", "ms")
    return Sweep.from_arrays(
        current,
        current_unit=opts.get("current_unit"),
        voltage=voltage,
        voltage_unit=opts.get("voltage_unit"),
        spike_times=spikes,
        spike_time_unit=spike_unit,
        dt=1000.0 / rate,
        dt_unit="ms",
        detector=detector,
        cell=cell,
        sweep_id=sweep_id,
        stimulus=stimulus,
        repeat=repeat,
        protocol=opts.get("protocol", ""),
        source=str(path),
    )


def read(
    path,
    *,
    preset: str | None = None,
    columns=None,
    current_unit: str | None = None,
    voltage_unit: str | None = None,
    rate_hz: float | None = None,
    cell: str | None = None,
    detector: SpikeDetector | None = None,
) -> Recording:
    """Read one text file or a folder of them (see the module docstring for the options)."""
    path = Path(path)
    if preset is not None and preset not in PRESETS:
        raise RecordingError(f"text option 'preset': expected one of {sorted(PRESETS)}, got {preset!r}")
    opts = dict(PRESETS.get(preset, {"columns": ("current", "voltage"), "pattern": r".*"}))
    if preset:
        opts["protocol"] = preset
    for key, value in (("columns", columns), ("current_unit", current_unit), ("voltage_unit", voltage_unit), ("rate_hz", rate_hz)):
        if value is not None:
            opts[key] = value
    pattern = re.compile(opts["pattern"])
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and pattern.match(p.name) and _is_text(p))
        if not files:
            raise RecordingError(f"{path}: expected text files matching {opts['pattern']!r}, found none")
        cell_id = cell or path.name
    else:
        files, cell_id = [path], cell or path.parent.name
    sweeps = []
    for f in files:
        m = pattern.match(f.name)
        gd = m.groupdict() if m else {}
        sid = re.sub(r"\.(voltage|txt|dat|asc)(\.gz)?$", "", f.name)
        sweeps.append(
            _read_file(
                f, opts=opts, cell=cell_id, sweep_id=sid,
                stimulus=gd.get("stimulus") or sid, repeat=int(gd.get("repeat") or 0), detector=detector,
            )
        )
    return Recording(tuple(sweeps), cell=cell_id, source=str(path))


def _is_text(p: Path) -> bool:
    name = p.name.lower()
    return any(name.endswith(ext) for ext in EXTENSIONS)
