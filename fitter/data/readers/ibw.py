"""Igor binary waves (``.ibw``, igor2), one channel per file.

File names: ``[<prefix>_]<protocol>_ch<k>_<n>.ibw``; files with the same protocol and sweep
number ``n`` form one sweep. Which channel is the current and which the voltage comes from
the wave's data unit (``A``/``V`` and their prefixes); ``current_channel=`` and
``voltage_channel=`` override it. dt comes from the wave header (``hsA`` or ``sfA[0]``).

Known layouts (``layout=``, detected from the channel numbers when not given):

- ``"bbp"``: Blue Brain SSCx (``X_IDrest_ch0_326.ibw``), ch0 = I (A), ch1 = V (V). Stimulus ids
  follow series (:mod:`spikefit.data.series`): runs of consecutive sweep numbers, cut where
  the step amplitude restarts; the k-th sweep of a series repeats the k-th of the first when
  their amplitudes agree (stimulus ``"<protocol>:<k>"``), the series index is the repeat
  (IDrest: 2 x 16, IDthresh: 2 x 9, IV: 3 x 10). ``series_length=`` cuts runs into series of
  that many sweeps instead.
- ``"gif"``: GIF toolbox (``Cell3_Ger1Test_ch3_1009.ibw``), ch3 = I, ch2 = V. All sweeps of a
  protocol are repeats of one frozen stimulus ``"<protocol>"`` (Test: 9 repeats).

``repeats="series"|"all"|"none"`` overrides the layout's stimulus rule.

Cell id: ``cell=``, else the file prefix, unless it is generic (:data:`GENERIC_PREFIXES`, or
one or two characters, as BBP's ``X_`` and the ``exp_`` of other cells of the same set): then
the folder name.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dataclasses import replace

from spikefit.data.readers._common import format_hint, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector
from spikefit.data.series import assign_stimuli, find_series
from spikefit.data.steps import describe_step

__all__ = ["read", "cell_id", "EXTENSIONS", "LAYOUTS", "GENERIC_PREFIXES"]

EXTENSIONS = (".ibw",)
NAME_RE = re.compile(r"^(?:(?P<prefix>.+)_)?(?P<protocol>[^_]+)_ch(?P<ch>\d+)_(?P<n>\d+)\.ibw$", re.IGNORECASE)
#: file prefixes that name no cell (lower case); the folder name is the cell id then
GENERIC_PREFIXES = frozenset({"exp", "cell", "data", "rec", "recording", "sweep", "trace", "test", "file", "wave"})
LAYOUTS = {
    "bbp": {"current_channel": 0, "voltage_channel": 1, "repeats": "series"},
    "gif": {"current_channel": 3, "voltage_channel": 2, "repeats": "all"},
}


@contextmanager
def _igor2_quiet():
    """igor2 logs the raw bytes of a wave it cannot shape (tens of KB on stderr) before it
    raises; the error is reported as one line instead, so its loggers are muted meanwhile."""
    log = logging.getLogger("igor2")
    saved = log.propagate, log.handlers[:]
    log.propagate, log.handlers = False, [logging.NullHandler()]
    try:
        yield
    finally:
        log.propagate, log.handlers = saved[0], saved[1]


def _load_wave(path: Path) -> tuple[np.ndarray, float, str, str]:
    """(data, dt in x units, data unit, x unit) of one .ibw file."""
    from igor2 import binarywave

    try:
        with _igor2_quiet():
            wave = binarywave.load(str(path))["wave"]
        header = wave["wave_header"]
        raw = np.asarray(wave["wData"])
        if raw.dtype.kind not in "iuf":
            raise RecordingError(f"{path}: field 'wData': expected a numeric wave, got {raw.dtype} values; "
                                 "is this a text or complex wave?")
        data = raw.astype(np.float64).reshape(-1)
        if "hsA" in header:
            dt = float(header["hsA"])
            x_unit = b"".join(header["xUnits"]).decode("ascii", "replace")
        else:
            dt = float(header["sfA"][0])
            x_unit = b"".join(header["dimUnits"][0]).decode("ascii", "replace")
        unit = b"".join(header["dataUnits"]).decode("ascii", "replace")
        npnts = int(header["npnts"])
    except (FileNotFoundError, RecordingError):
        raise
    except Exception as err:  # igor2 raises struct/value/key errors on short or damaged files
        raise RecordingError(
            f"{path}: cannot read as an Igor binary wave (truncated or not .ibw?): {short_error(err)}"
            f"{format_hint(path, 'ibw')}"
        ) from err
    if data.size != npnts:
        raise RecordingError(f"{path}: field 'wData': expected {npnts} samples (header npnts), got {data.size}")
    return data, dt, unit, x_unit


def _parse(path: Path) -> dict:
    m = NAME_RE.match(path.name)
    if not m:
        raise RecordingError(
            f"{path}: expected a file name like '<protocol>_ch<k>_<n>.ibw' (e.g. X_IDrest_ch0_326.ibw), got {path.name!r}"
        )
    return {"prefix": m["prefix"] or "", "protocol": m["protocol"], "ch": int(m["ch"]), "n": int(m["n"]), "path": path}


def _detect_layout(channels: set[int]) -> str:
    for name, lay in LAYOUTS.items():
        if lay["current_channel"] in channels:
            return name
    for name, lay in LAYOUTS.items():
        if lay["voltage_channel"] in channels:
            return name
    raise RecordingError(
        f"cannot tell the .ibw layout from channels {sorted(channels)}; pass layout= one of {sorted(LAYOUTS)} "
        "or current_channel= and voltage_channel="
    )


def _stimuli(protocol: str, sweeps: list[Sweep], rule: str, series_length: int | None) -> dict[int, tuple[str, int]]:
    """sweep number -> (stimulus id, repeat index)."""
    numbers = sorted(int(s.sweep_id) for s in sweeps)
    if rule == "all":
        return {n: (protocol, r) for r, n in enumerate(numbers)}
    if rule == "none":
        return {n: (f"{protocol}:{n}", 0) for n in numbers}
    steps = {int(s.sweep_id): describe_step(s.current, s.dt_ms) for s in sweeps}
    amps = {n: d.amplitude_pA for n, d in steps.items() if d.is_step}
    return assign_stimuli(protocol, find_series(numbers, amps, series_length=series_length), amps)


def cell_id(prefixes: set[str], folder: str) -> str:
    """The cell id of files with these prefixes in ``folder`` (see the module doc)."""
    named = {p for p in prefixes if len(p) > 2 and p.lower() not in GENERIC_PREFIXES}
    return named.pop() if len(named) == 1 and len(prefixes) == 1 else folder


def read(
    path,
    *,
    layout: str | None = None,
    current_channel: int | None = None,
    voltage_channel: int | None = None,
    repeats: str | None = None,
    series_length: int | None = None,
    protocols: list[str] | None = None,
    cell: str | None = None,
    detector: SpikeDetector | None = None,
) -> Recording:
    """Read one ``.ibw`` file (with its partner channel beside it) or a folder of them."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".ibw")
        if not files:
            raise RecordingError(f"{path}: expected .ibw files in this folder, found none")
        parsed = [_parse(p) for p in files]
    else:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        me = _parse(path)
        parsed = [
            q
            for q in (_parse(p) for p in sorted(path.parent.glob(f"*_ch*_{me['n']}.ibw")) if NAME_RE.match(p.name))
            if q["protocol"] == me["protocol"] and q["prefix"] == me["prefix"] and q["n"] == me["n"]
        ]
    if protocols is not None:
        parsed = [q for q in parsed if q["protocol"] in set(protocols)]
        if not parsed:
            raise RecordingError(f"{path}: no .ibw files for protocols {list(protocols)}")
    if layout is not None and layout not in LAYOUTS:
        raise RecordingError(f"ibw option 'layout': expected one of {sorted(LAYOUTS)}, got {layout!r}")
    lay = LAYOUTS[layout or _detect_layout({q["ch"] for q in parsed})]
    ich = lay["current_channel"] if current_channel is None else current_channel
    vch = lay["voltage_channel"] if voltage_channel is None else voltage_channel
    rule = repeats or lay["repeats"]
    if rule not in ("series", "all", "none"):
        raise RecordingError(f"ibw option 'repeats': expected 'series', 'all' or 'none', got {rule!r}")
    if series_length is not None and (isinstance(series_length, bool) or not isinstance(series_length, int)
                                      or series_length < 1):
        raise RecordingError(f"ibw option 'series_length': expected an integer >= 1, got {series_length!r}")
    groups: dict[tuple[str, int], dict[int, Path]] = {}
    for q in parsed:
        groups.setdefault((q["protocol"], q["n"]), {})[q["ch"]] = q["path"]
    folder = path.resolve().name if path.is_dir() else path.resolve().parent.name
    cell_name = cell or cell_id({q["prefix"] for q in parsed}, folder)
    sweeps = []
    for (protocol, n) in sorted(groups, key=lambda k: k[1]):
        chans = groups[(protocol, n)]
        if ich not in chans:
            raise RecordingError(
                f"{path}: sweep {n} ({protocol}): expected a current file on ch{ich}, found channels {sorted(chans)}"
            )
        cur, dt, cur_unit, x_unit = _load_wave(chans[ich])
        volt, v_unit = None, None
        if vch in chans:
            volt, vdt, v_unit, _ = _load_wave(chans[vch])
            if not np.isclose(vdt, dt, rtol=1e-6):
                raise RecordingError(
                    f"{chans[vch]}: sweep {n}, field 'dt': expected {dt} {x_unit} (as the current file), got {vdt}"
                )
            if volt.shape != cur.shape:
                raise RecordingError(
                    f"{chans[vch]}: sweep {n}, field 'voltage': expected {cur.size} samples (length of "
                    f"{chans[ich].name}), got {volt.size}"
                )
        sweeps.append(
            Sweep.from_arrays(
                cur,
                current_unit=cur_unit,
                voltage=volt,
                voltage_unit=v_unit,
                dt=dt,
                dt_unit=x_unit or "s",
                detector=detector,
                cell=cell_name,
                sweep_id=str(n),
                protocol=protocol,
                source=str(chans[ich]),
            )
        )
    by_protocol: dict[str, list[Sweep]] = {}
    for sw in sweeps:
        by_protocol.setdefault(sw.protocol, []).append(sw)
    stim = {p: _stimuli(p, sw, rule, series_length) for p, sw in by_protocol.items()}
    sweeps = [replace(sw, stimulus=stim[sw.protocol][int(sw.sweep_id)][0], repeat=stim[sw.protocol][int(sw.sweep_id)][1])
              for sw in sweeps]
    return Recording(tuple(sweeps), cell=cell_name, source=str(path))
