"""Text columns with the qsnmc2007 preset (counts from SOURCE.md)."""

import gzip

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.recording import RecordingError

ROWS = {"00": [935, 875, 899, 911], "04": [606, 656, 631, 624], "05": [45, 40, 43, 44], "06": [539, 536, 544, 533],
        "08": [80, 75, 76, 99], "09": [528, 516, 523, 521], "11": [212, 216, 218, 219], "12": [92, 82, 115, 73]}


def test_qsnmc2007_folder(shared_data):
    rec = load(shared_data / "qsnmc2007" / "challengeA_training", preset="qsnmc2007")
    assert len(rec) == 32
    groups = rec.by_stimulus()
    assert sorted(groups) == sorted(ROWS)
    for stim, sweeps in groups.items():
        assert [s.repeat for s in sweeps] == [0, 1, 2, 3]
        assert [s.n_spikes for s in sweeps] == ROWS[stim]
        assert all(s.spikes_source == "given" for s in sweeps)
    s = rec["00-0"]
    assert s.dt_ms == 1.0 and s.n_samples == 34000 and s.duration_ms == 34000.0
    assert s.current.mean() == pytest.approx(624.5, abs=0.1)
    assert s.voltage.max() == pytest.approx(47.6, abs=0.1)
    # .spiketimes column 1 is in samples at 1 kHz -> ms; spikes sit just before the 0 mV crossing
    k = int(s.spike_times_ms[0])
    assert s.voltage[k : k + 3].max() > 0


def test_rate_is_required(shared_data, tmp_path):
    f = shared_data / "qsnmc2007" / "challengeA_training" / "05-0.voltage.gz"
    with pytest.raises(RecordingError, match=r"05-0.voltage.gz: the sampling rate is not in text files and was not given; pass rate_hz="):
        load(f, columns=("index", "current", "voltage"), current_unit="pA", voltage_unit="mV")
    with pytest.raises(RecordingError, match="pass preset='qsnmc2007'"):
        load(shared_data / "qsnmc2007" / "challengeA_training")


def test_generic_columns_units_and_errors(tmp_path):
    f = tmp_path / "trace.txt"
    np.savetxt(f, np.c_[np.full(50, 0.2), np.full(50, -0.065)])
    rec = load(f, current_unit="nA", voltage_unit="V", rate_hz=10000)
    assert rec[0].current[0] == pytest.approx(200.0) and rec[0].voltage[0] == pytest.approx(-65.0)
    assert rec[0].dt_ms == pytest.approx(0.1)
    with pytest.raises(RecordingError, match=r"trace.txt: field 'columns': expected 3 columns as declared, got 2"):
        load(f, columns=("index", "current", "voltage"), current_unit="pA", voltage_unit="mV", rate_hz=1000)
    with pytest.raises(RecordingError, match=r"unknown voltage unit 'volts'"):
        load(f, current_unit="pA", voltage_unit="volts", rate_hz=1000)
    g = tmp_path / "cut.txt.gz"
    g.write_bytes(gzip.compress(b"1 2 3\n4 5 6\n")[:15])
    with pytest.raises(RecordingError, match=r"cut.txt.gz: cannot parse .*truncated"):
        load(g, current_unit="pA", rate_hz=1000, columns=("index", "current", "voltage"), voltage_unit="mV")
    with pytest.raises(FileNotFoundError, match="nope.txt: no such file"):
        load(tmp_path / "nope.txt")
