"""spikefit.data.detection: agreement with the 2007 competition spike files, depolarisation block."""

import numpy as np
import pytest

from spikefit.data.detection import SpikeDetector, detect_spikes


def test_agrees_with_qsnmc2007_spiketimes(shared_data):
    folder = shared_data / "qsnmc2007" / "challengeA_training"
    files = sorted(folder.glob("*.voltage.gz"))
    assert len(files) == 32
    agree = 0
    for f in files:
        v = np.loadtxt(f)[:, 2]
        n_given = len(np.loadtxt(f.parent / f.name.replace(".voltage.gz", ".spiketimes"), ndmin=2))
        agree += len(detect_spikes(v, 1.0)) == n_given
    assert agree >= 31


def test_depolarisation_block_is_not_a_spike_train(shared_data):
    import pyabf

    abf = pyabf.ABF(str(shared_data / "pyabf_current_clamp" / "171116sh_0019.abf"))
    counts = []
    for i in abf.sweepList:
        abf.setSweep(i)
        counts.append(len(detect_spikes(abf.sweepY, 1000.0 / abf.dataRate)))
    crossings = []
    for i in abf.sweepList:
        abf.setSweep(i)
        v = abf.sweepY
        crossings.append(int(np.sum((v[:-1] < 0) & (v[1:] >= 0))))
    assert crossings[17] == 377 and crossings[18] == 225  # SOURCE.md: block, not spikes
    assert max(counts[17:]) <= 10  # >= 1700 pA: only the onset spikes
    assert counts[2:12] == crossings[2:12]  # healthy steps: every crossing is a spike


def _trace(dt=0.1):
    v = np.full(2000, -70.0)
    return v, dt


def test_slow_crossing_rejected_fast_accepted():
    v, dt = _trace()
    v[100:200] = np.linspace(-70, 10, 100)  # 0.8 mV/step = 8 mV/ms: too slow
    v[200:300] = -70
    v[1000:1003] = [-30, 20, 30]  # fast
    assert detect_spikes(v, dt).tolist() == [pytest.approx(100.1)]
    assert len(detect_spikes(v, dt, min_dvdt=5.0)) == 2


def test_repolarisation_and_refractory():
    v, dt = _trace()
    v[100:102] = 30
    v[102:110] = -2  # does not repolarise below -5 mV
    v[110:112] = 30
    v[112:] = -70
    assert len(detect_spikes(v, dt)) == 1
    assert len(detect_spikes(v, dt, repolarize_mV=-1.0)) == 2
    assert len(detect_spikes(v, dt, repolarize_mV=-1.0, refractory_ms=2.0)) == 1


def test_bad_options():
    with pytest.raises(ValueError, match="repolarize_mV: expected <= threshold_mV"):
        SpikeDetector(threshold_mV=-20, repolarize_mV=0)
    with pytest.raises(ValueError, match="dt_ms must be > 0"):
        detect_spikes(np.zeros(10), 0.0)
