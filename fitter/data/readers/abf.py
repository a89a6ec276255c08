"""Axon Binary Format (``.abf``, pyabf).

Each sweep's current is the command waveform pyabf rebuilds from the epoch table
(``sweepC``, pA), the voltage is ``sweepY`` (mV) of ``channel`` (default 0), dt = 1/dataRate.
A holding or bias current set on the amplifier is not in the file. Every sweep is its own
stimulus (``"<abfID>:<sweep>"``); the cell id is the file's ``abfID`` unless ``cell=`` is given.
"""

from __future__ import annotations

from pathlib import Path

from spikefit.data.readers._common import format_hint, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS"]

EXTENSIONS = (".abf",)


def read(path, *, channel: int = 0, cell: str | None = None, detector: SpikeDetector | None = None) -> Recording:
    """Read every sweep of one ``.abf`` file."""
    import pyabf

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        abf = pyabf.ABF(str(path))
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as an ABF file (truncated or not .abf?): {short_error(err)}"
                             f"{format_hint(path, 'abf')}") from err
    if not 0 <= channel < abf.channelCount:
        raise RecordingError(f"{path}: option 'channel': expected 0..{abf.channelCount - 1}, got {channel}")
    cell_id = cell or abf.abfID
    sweeps = []
    for i in abf.sweepList:
        try:
            abf.setSweep(i, channel=channel)
            voltage, current = abf.sweepY.copy(), abf.sweepC.copy()
        except Exception as err:
            raise RecordingError(f"{path}: sweep {i}: cannot read samples (truncated file?): {short_error(err)}") from err
        sweeps.append(
            Sweep.from_arrays(
                current,
                current_unit=abf.sweepUnitsC,
                voltage=voltage,
                voltage_unit=abf.sweepUnitsY,
                dt=1.0 / abf.dataRate,
                dt_unit="s",
                detector=detector,
                cell=cell_id,
                sweep_id=str(i),
                stimulus=f"{abf.abfID}:{i}",
                repeat=0,
                protocol=abf.protocol,
                source=str(path),
            )
        )
    return Recording(tuple(sweeps), cell=cell_id, source=str(path))
