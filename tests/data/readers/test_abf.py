"""Axon .abf reader against the pyABF sample files (counts from SOURCE.md)."""

import pytest

from spikefit.data.readers import load
from spikefit.data.recording import RecordingError

SPIKES_0018 = [0, 0, 0, 0, 0, 0, 2, 3, 6, 8, 10, 12, 12, 14, 16, 16, 18]
SPIKES_FSI = [2, 3, 2, 4, 16, 28, 37, 48, 55, 68, 76, 83, 91, 99, 105, 114, 117]


def test_folder_of_abf_files(shared_data):
    recs = load(shared_data / "pyabf_current_clamp")
    assert {r.cell: len(r) for r in recs} == {
        "171116sh_0016": 11, "171116sh_0018": 17, "171116sh_0019": 22,
        "17o05027_ic_ramp": 2, "17o05028_ic_steps": 16, "2019_07_24_0055_fsi": 17,
    }
    for r in recs:
        assert r[0].dt_ms == pytest.approx(0.05)


def test_steps_current_and_spikes(shared_data):
    rec = load(shared_data / "pyabf_current_clamp" / "171116sh_0018.abf")
    assert [s.n_spikes for s in rec] == SPIKES_0018
    assert [round(s.current.max()) for s in rec] == [0] * 5 + list(range(25, 301, 25))
    assert rec[0].current.min() == pytest.approx(-100.0)  # the -100 pA prestep, in pA
    assert rec[0].duration_ms == pytest.approx(3000.0) and rec.protocols == ["0113 steps dual -100 to 300 step 25"]
    assert len({s.stimulus for s in rec}) == 17
    fsi = load(shared_data / "pyabf_current_clamp" / "2019_07_24_0055_fsi.abf")
    assert [s.n_spikes for s in fsi] == SPIKES_FSI


def test_ramp_and_truncated(shared_data, tmp_path):
    rec = load(shared_data / "pyabf_current_clamp" / "171116sh_0016.abf")
    assert [round(s.current.max()) for s in rec] == list(range(0, 101, 10))
    bad = tmp_path / "cut.abf"
    bad.write_bytes((shared_data / "pyabf_current_clamp" / "171116sh_0016.abf").read_bytes()[:3000])
    with pytest.raises(RecordingError, match=r"cut.abf.*(cannot read as an ABF file|truncated)"):
        load(bad)
