"""NWB icephys round trip: write an Allen-style file with pynwb, read it back."""

import warnings
from datetime import datetime, timezone

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.recording import RecordingError


def _write(path, *, with_response=True):
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    f = NWBFile(session_description="t", identifier="file-1", session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
                subject=Subject(subject_id="cell-42"))
    el = f.create_icephys_electrode(name="e0", description="headstage 0", device=f.create_device(name="amp"))
    for n, amp in ((5, 100e-12), (6, 250e-12)):
        i = np.r_[np.zeros(200), np.full(600, amp), np.zeros(200)]
        v = np.full(1000, -70e-3)
        v[500:502] = 20e-3
        f.add_stimulus(CurrentClampStimulusSeries(name=f"stim_{n}", data=i, electrode=el, gain=1.0, rate=50000.0,
                                                  sweep_number=n, stimulus_description="Long Square"))
        if with_response:
            f.add_acquisition(CurrentClampSeries(name=f"resp_{n}", data=v, electrode=el, gain=1.0, rate=50000.0, sweep_number=n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(f)


def test_round_trip(tmp_path):
    path = tmp_path / "cell.nwb"
    _write(path)
    rec = load(path)
    assert rec.cell == "cell-42" and rec.sweep_ids == ["5", "6"]
    a, b = rec
    assert a.dt_ms == pytest.approx(0.02) and a.n_samples == 1000
    assert a.current.max() == pytest.approx(100.0) and b.current.max() == pytest.approx(250.0)  # A -> pA
    assert a.voltage[0] == pytest.approx(-70.0) and a.n_spikes == 1  # V -> mV
    assert a.spike_times_ms[0] == pytest.approx(500 * 0.02)
    assert a.protocol == "Long Square" and a.stimulus != b.stimulus


def test_stimulus_only_and_bad_file(tmp_path):
    path = tmp_path / "stim.nwb"
    _write(path, with_response=False)
    rec = load(path)
    assert all(s.voltage is None and s.spikes_source == "none" for s in rec)
    bad = tmp_path / "bad.nwb"
    bad.write_bytes(path.read_bytes()[:500])
    with pytest.raises(RecordingError, match=r"bad.nwb: cannot read as NWB"):
        load(bad)
