"""Neurodata Without Borders (``.nwb``, pynwb), intracellular ephys, Allen Cell Types layout.

Every ``CurrentClampSeries`` in ``acquisition`` (the voltage) is paired, by
``sweep_number``, with the ``CurrentClampStimulusSeries`` in ``stimulus`` (the injected
current). Values are ``data * conversion + offset`` in the series' unit (``volts``/``amperes``
in NWB), converted to mV/pA; dt = 1/rate. A stimulus without a response gives a sweep
without voltage. Stimulus id = the sweep number (each sweep its own stimulus); protocol =
``stimulus_description``. Cell id = ``subject.subject_id``, else the file's ``identifier``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikefit.data.readers._common import format_hint, short_error
from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.detection import SpikeDetector

__all__ = ["read", "EXTENSIONS"]

EXTENSIONS = (".nwb",)
_UNITS = {"volts": "V", "volt": "V", "amperes": "A", "ampere": "A", "amps": "A"}


def _values(series, path, what):
    unit = _UNITS.get(str(series.unit).lower(), str(series.unit))
    data = np.asarray(series.data[:], dtype=np.float64) * float(series.conversion) + float(getattr(series, "offset", 0.0) or 0.0)
    if series.rate is None:
        raise RecordingError(f"{path}: series {series.name!r}, field 'rate': expected a sampling rate, got timestamps only")
    return data, unit, 1.0 / float(series.rate)


def read(path, *, cell: str | None = None, detector: SpikeDetector | None = None) -> Recording:
    from pynwb import NWBHDF5IO
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        io = NWBHDF5IO(str(path), "r")
        nwb = io.read()
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as NWB (truncated or not HDF5?): {short_error(err)}"
                             f"{format_hint(path, 'nwb')}") from err
    try:
        stims = {int(s.sweep_number): s for s in nwb.stimulus.values() if isinstance(s, CurrentClampStimulusSeries)}
        resps = {int(s.sweep_number): s for s in nwb.acquisition.values() if isinstance(s, CurrentClampSeries)}
        if not stims:
            raise RecordingError(f"{path}: expected CurrentClampStimulusSeries in /stimulus (the injected current), found none")
        subject = getattr(nwb, "subject", None)
        cell_id = cell or (subject.subject_id if subject is not None and subject.subject_id else nwb.identifier)
        sweeps = []
        for n in sorted(stims):
            cur, cur_unit, dt = _values(stims[n], path, "current")
            volt = v_unit = None
            if n in resps:
                volt, v_unit, vdt = _values(resps[n], path, "voltage")
                if not np.isclose(vdt, dt, rtol=1e-9):
                    raise RecordingError(f"{path}: sweep {n}, field 'rate': expected {1 / dt} Hz (as the stimulus), got {1 / vdt}")
            desc = getattr(stims[n], "stimulus_description", None)
            sweeps.append(
                Sweep.from_arrays(
                    cur, current_unit=cur_unit, voltage=volt, voltage_unit=v_unit, dt=dt, dt_unit="s",
                    detector=detector, cell=cell_id, sweep_id=str(n),
                    stimulus=str(n), repeat=0,
                    protocol=desc if desc and desc != "N/A" else "", source=str(path),
                )
            )
    except RecordingError:
        raise
    except Exception as err:  # a readable HDF5 file with damaged or unexpected NWB content
        raise RecordingError(f"{path}: cannot read the NWB content (damaged or not the Allen icephys layout?): "
                             f"{short_error(err)}") from err
    finally:
        io.close()
    return Recording(tuple(sweeps), cell=cell_id, source=str(path))
