"""Igor .ibw reader against the BBP and GIF recordings (counts from their SOURCE.md)."""

import shutil

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.recording import RecordingError

# SOURCE.md, cell C060109A1-SR-C1, IDrest: spikes per sweep at 0 mV
A1_IDREST_SPIKES = [0, 4, 6, 10, 13, 15, 18, 20, 23, 26, 28, 30, 32, 34, 35, 37,
                    3, 8, 11, 14, 16, 19, 21, 23, 26, 27, 29, 31, 33, 35, 37, 38]
A2_IDREST_SPIKES = [0, 1, 3, 5, 8, 12, 16, 20, 24, 28, 32, 35, 38, 41, 43, 45,
                    1, 2, 7, 11, 15, 18, 22, 25, 29, 33, 35, 38, 40, 42, 45, 47]
GIF_SPIKES = [224, 220, 221, 226, 225, 231, 233, 234, 236]


@pytest.fixture(scope="module")
def bbp(shared_data):
    return load(shared_data / "bbp_sscx_l5pc")


def test_bbp_two_cells_protocol_counts(bbp):
    assert [r.cell for r in bbp] == ["C060109A1-SR-C1", "C060109A2-SR-C1"]
    counts = {"APThreshold": 3, "APWaveform": 24, "IDhyperpol": 3, "IDrest": 32, "IDthresh": 18, "IV": 30, "SpikeRec": 6, "sAHP": 6}
    dts = {"APThreshold": 0.1, "APWaveform": 0.01, "IDrest": 0.25, "IV": 0.25, "SpikeRec": 0.05, "sAHP": 0.5}
    for rec in bbp:
        assert len(rec) == 122
        for p, n in counts.items():
            sw = [s for s in rec if s.protocol == p]
            assert len(sw) == n, p
            if p in dts:
                assert sw[0].dt_ms == pytest.approx(dts[p])


def test_bbp_idrest_spikes_units_and_stimuli(bbp):
    a1, a2 = bbp
    for rec, expected in ((a1, A1_IDREST_SPIKES), (a2, A2_IDREST_SPIKES)):
        idrest = [s for s in rec if s.protocol == "IDrest"]
        assert [s.n_spikes for s in idrest] == expected
        assert idrest[0].duration_ms == pytest.approx(3000.0)
        # sweep k of series 1 and sweep k of series 2 share a stimulus
        assert [s.stimulus for s in idrest[:16]] == [s.stimulus for s in idrest[16:]]
        assert {s.repeat for s in idrest[:16]} == {0} and {s.repeat for s in idrest[16:]} == {1}
        assert len({s.stimulus for s in idrest}) == 16
    s = a2["330"]  # step ~626 pA above baseline, V in mV
    on = s.current[int(1000 / s.dt_ms):int(2500 / s.dt_ms)]
    base = s.current[: int(600 / s.dt_ms)]
    assert np.median(on) - np.median(base) == pytest.approx(626, abs=15)
    assert -90 < s.voltage.min() < -70 and 30 < s.voltage.max() < 50


def test_gif_nine_repeats(shared_data):
    rec = load(shared_data / "gif_pozzorini_cell3")
    test = [s for s in rec if s.protocol == "Ger1Test"]
    assert [s.sweep_id for s in test] == [str(n) for n in range(1009, 1018)]
    assert [s.n_spikes for s in test] == GIF_SPIKES
    assert {s.stimulus for s in test} == {"Ger1Test"} and [s.repeat for s in test] == list(range(9))
    assert test[0].dt_ms == pytest.approx(0.1) and test[0].n_samples == 200000
    assert test[0].current.mean() == pytest.approx(152.8, abs=0.2)
    assert test[0].current.std() == pytest.approx(158.8, abs=0.2)
    elec = rec["1007"]
    assert elec.n_samples == 100000 and elec.n_spikes == 0


def test_example_single_file_pairs_channels(example_data):
    s = load(example_data / "X_IDrest_ch0_330.ibw")[0]
    assert s.voltage is not None and s.sweep_id == "330" and s.n_spikes == 12


def test_missing_partner_and_truncated(tmp_path, example_data):
    shutil.copy(example_data / "X_IDrest_ch1_330.ibw", tmp_path)
    with pytest.raises(RecordingError, match=r"sweep 330 \(IDrest\): expected a current file on ch0, found channels \[1\]"):
        load(tmp_path, format="ibw")
    data = (example_data / "X_IDrest_ch0_330.ibw").read_bytes()
    (tmp_path / "X_IDrest_ch0_330.ibw").write_bytes(data[:200])
    with pytest.raises(RecordingError, match=r"X_IDrest_ch0_330.ibw: cannot read as an Igor binary wave \(truncated"):
        load(tmp_path)


def test_voltage_length_mismatch(tmp_path, example_data, shared_data):
    shutil.copy(example_data / "X_IDrest_ch0_330.ibw", tmp_path)
    shutil.copy(example_data / "X_IDrest_ch1_330.ibw", tmp_path / "X_IDrest_ch1_330.ibw")
    # a shorter voltage file: the BBP IV waves (1.32 s) are shorter than IDrest (3 s)
    iv = sorted((shared_data / "bbp_sscx_l5pc" / "C060109A2-SR-C1").glob("X_IV_ch1_*.ibw"))[0]
    shutil.copy(iv, tmp_path / "X_IDrest_ch1_330.ibw")
    with pytest.raises(RecordingError, match=r"sweep 330, field 'voltage': expected 12000 samples .*got 5280"):
        load(tmp_path)


def test_bbp_series_of_iv_and_idthresh(bbp):
    for rec in bbp:
        iv = [s for s in rec if s.protocol == "IV"]  # 3 x 10 consecutive sweep numbers
        assert [s.repeat for s in iv] == [r for r in range(3) for _ in range(10)]
        assert [s.stimulus for s in iv] == [f"IV:{k}" for _ in range(3) for k in range(10)]
        th = [s for s in rec if s.protocol == "IDthresh"]  # 2 x 9, a gap in the numbering
        assert [s.repeat for s in th] == [0] * 9 + [1] * 9 and len({s.stimulus for s in th}) == 9


def _copy(src, dest, numbers, renumber=0, prefix="X"):
    for n in numbers:
        for ch in (0, 1):
            shutil.copy(src / f"X_IDrest_ch{ch}_{n}.ibw", dest / f"{prefix}_IDrest_ch{ch}_{n + renumber}.ibw")


def test_unequal_series_from_real_sweeps(tmp_path, shared_data):
    root = shared_data / "bbp_sscx_l5pc"
    # 13 steps of cell A2 (62.5 pA apart) and 12 of cell A1 (about 37 pA apart), as two series
    _copy(root / "C060109A2-SR-C1", tmp_path, range(325, 338), prefix="exp")
    _copy(root / "C060109A1-SR-C1", tmp_path, range(371, 383), renumber=29, prefix="exp")
    rec = load(tmp_path)
    assert rec.cell == tmp_path.name  # "exp" is a generic prefix
    assert [s.repeat for s in rec] == [0] * 13 + [1] * 12
    assert len({s.stimulus for s in rec}) == 25  # other amplitudes: no position is a repeat
    # the override cuts the numbering instead
    rec = load(tmp_path, series_length=5)
    assert [s.repeat for s in rec][:13] == [0] * 5 + [1] * 5 + [2] * 3
    with pytest.raises(RecordingError, match=r"ibw option 'series_length': expected an integer >= 1, got 0"):
        load(tmp_path, series_length=0)


def test_cell_id_rule():
    from spikefit.data.readers.ibw import cell_id

    assert cell_id({"X"}, "C060109A1-SR-C1") == "C060109A1-SR-C1"
    assert cell_id({"exp"}, "C060109A2-SR-C1") == "C060109A2-SR-C1"
    assert cell_id({"Cell"}, "f") == "f" and cell_id({""}, "f") == "f"
    assert cell_id({"Cell3"}, "gif_pozzorini_cell3") == "Cell3"
    assert cell_id({"C0601a", "C0601b"}, "f") == "f"  # two named prefixes in one folder: the folder
