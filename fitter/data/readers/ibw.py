"""Igor binary waves (``.ibw``, igor2), one channel per file.

File names: ``[<prefix>_]<protocol>_ch<k>_<n>.ibw``; files with the same protocol and sweep
number ``n`` form one sweep. Which channel is the current and which the voltage comes from
the wave's data unit (``A``/``V`` and their prefixes); ``current_channel=`` and
``voltage_channel=`` override it. dt comes from the wave header (``hsA`` or ``sfA[0]``).

Known layouts (``layout=``, detected from the channel numbers when not given):

- ``"bbp"``: Blue Brain SSCx (``X_IDrest_ch0_326.ibw``), ch0 = I (A), ch1 = V (V). Stimulus ids
  follow series: sweep numbers of a protocol split into runs of consecutive numbers; when
  there are several runs of equal length, the k-th sweep of every run shares stimulus
  ``"<protocol>:<k>"`` and the run index is the repeat (IDrest: 2 x 16). ``series_length=``
  cuts runs into fixed-size series instead (e.g. 10 for IV's 3 x 10 consecutive sweeps).
- ``"gif"``: GIF toolbox (``Cell3_Ger1Test_ch3_1009.ibw``), ch3 = I, ch2 = V. All sweeps of a
  protocol are repeats of one frozen stimulus ``"<protocol>"`` (Test: 9 repeats).

``repeats="series"|"all"|"none"`` overrides the layout's stimulus rule.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from spikefit.data.readers._common import format_hint, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS", "LAYOUTS"]

EXTENSIONS = (".ibw",)
NAME_RE = re.compile(r"^(?:(?P<prefix>.+)_)?(?P<protocol>[^_]+)_ch(?P<ch>\d+)_(?P<n>\d+)\.ibw$", re.IGNORECASE)
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


def _stimuli(protocol: str, numbers: list[int], rule: str, series_length: int | None) -> dict[int, tuple[str, int]]:
    """sweep number -> (stimulus id, repeat index)."""
    numbers = sorted(numbers)
    if rule == "all":
        return {n: (protocol, r) for r, n in enumerate(numbers)}
    if rule == "none":
        return {n: (f"{protocol}:{n}", 0) for n in numbers}
    if rule != "series":
        raise RecordingError(f"ibw option 'repeats': expected 'series', 'all' or 'none', got {rule!r}")
    if series_length:
        runs = [numbers[i : i + series_length] for i in range(0, len(numbers), series_length)]
    else:
        runs, run = [], [numbers[0]]
        for a, b in zip(numbers, numbers[1:]):
            if b == a + 1:
                run.append(b)
            else:
                runs.append(run)
                run = [b]
        runs.append(run)
    if len(runs) > 1 and len({len(r) for r in runs}) == 1:
        return {n: (f"{protocol}:{k}", r) for r, run in enumerate(runs) for k, n in enumerate(run)}
    return {n: (f"{protocol}:{n}", 0) for n in numbers}


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
    groups: dict[tuple[str, int], dict[int, Path]] = {}
    for q in parsed:
        groups.setdefault((q["protocol"], q["n"]), {})[q["ch"]] = q["path"]
    by_protocol: dict[str, list[int]] = {}
    for protocol, n in groups:
        by_protocol.setdefault(protocol, []).append(n)
    stim = {p: _stimuli(p, ns, rule, series_length) for p, ns in by_protocol.items()}
    prefixes = {q["prefix"] for q in parsed} - {"", "X"}
    folder = path.name if path.is_dir() else path.parent.name
    cell_id = cell or (prefixes.pop() if len(prefixes) == 1 else folder)
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
        stimulus, rep = stim[protocol][n]
        sweeps.append(
            Sweep.from_arrays(
                cur,
                current_unit=cur_unit,
                voltage=volt,
                voltage_unit=v_unit,
                dt=dt,
                dt_unit=x_unit or "s",
                detector=detector,
                cell=cell_id,
                sweep_id=str(n),
                stimulus=stimulus,
                repeat=rep,
                protocol=protocol,
                source=str(chans[ich]),
            )
        )
    return Recording(tuple(sweeps), cell=cell_id, source=str(path))
