"""spikefit.data.sweeps: selection, split by stimulus, resampling, padding into a SweepBatch."""

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.recording import Recording, Sweep
from spikefit.data.sweeps import make_batch, resample, select_sweeps, split_by_stimulus, step_amplitude


@pytest.fixture(scope="module")
def a2(example_data):
    return load(example_data)


def _sweep(sid, n, dt=0.1, spikes=(), stim=None, rep=0):
    return Sweep(current=np.arange(n, dtype=float), dt_ms=dt, voltage=np.zeros(n), spike_times_ms=list(spikes),
                 spikes_source="given", sweep_id=sid, stimulus=stim or sid, repeat=rep)


def test_split_never_leaks_a_stimulus(a2):
    train, val = split_by_stimulus(a2, validation=0.25, seed=3)
    assert len(train) + len(val) == 32 and len(val) == 8  # 4 of 16 stimuli x 2 repeats
    assert not {s.stimulus for s in train} & {s.stimulus for s in val}
    train, val = split_by_stimulus(a2, validation=["IDrest:3"])
    assert [s.sweep_id for s in val] == ["328", "373"]
    with pytest.raises(ValueError, match=r"validation stimuli \['nope'\] not found"):
        split_by_stimulus(a2, validation=["nope"])
    one = Recording((_sweep("a", 10, stim="s"), _sweep("b", 10, stim="s", rep=1)))
    with pytest.raises(ValueError, match="need >= 2 distinct stimuli"):
        split_by_stimulus(one, validation=0.5)


def test_select(a2):
    big = select_sweeps(a2, amplitude_pA=(1000, 2000))
    assert sorted(s.stimulus for s in big) == sorted(["IDrest:11", "IDrest:12", "IDrest:13", "IDrest:14", "IDrest:15"] * 2)
    assert step_amplitude(a2["330"]) == pytest.approx(626, abs=3)  # SOURCE.md: 626 pA
    assert [s.sweep_id for s in select_sweeps(a2, sweep_ids=["326", "371"])] == ["326", "371"]
    assert select_sweeps(a2, protocol="IV") == []
    with pytest.raises(ValueError, match=r"sweep ids \['999'\] not found"):
        select_sweeps(a2, sweep_ids=["999"])


def test_batch_of_real_sweeps(a2):
    b = make_batch(a2, ljp_mV=14.0)
    assert b.current.shape == (32, 12000) and b.current.dtype == np.float32 and b.mask.all()
    assert b.spike_steps.dtype == np.int32 and b.spike_steps.shape == (32, 47)
    assert b.n_spikes.tolist() == [s.n_spikes for s in a2]
    s = 5
    k = b.n_spikes[s]
    np.testing.assert_allclose(b.spike_steps[s, :k] * b.dt_ms, a2[s].spike_times_ms)
    assert (b.spike_steps[s, k:] == -1).all()
    np.testing.assert_allclose(b.voltage[0], a2[0].voltage - 14.0, atol=1e-4)
    assert b.spike_train().sum() == b.n_spikes.sum()
    assert b.stimulus_ids[0] == b.stimulus_ids[16] and b.repeats[16] == 1


def test_resample_hold_mean_and_errors():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(resample(x, 0.25, 0.125), [1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(resample(np.arange(5.0), 0.1, 0.2), [0.5, 2.5])
    with pytest.raises(ValueError, match=r"simulation dt 0.1 ms must divide the sampling interval 0.25 ms"):
        resample(x, 0.25, 0.1)


def test_padding_and_upsampled_spike_steps():
    a = _sweep("a", 10, dt=0.2, spikes=[0.4, 1.0])
    b = _sweep("b", 6, dt=0.2)
    batch = make_batch([a, b], dt_ms=0.1)
    assert batch.current.shape == (2, 20) and batch.n_steps.tolist() == [20, 12]
    assert batch.mask[1, :12].all() and not batch.mask[1, 12:].any() and (batch.current[1, 12:] == 0).all()
    assert batch.spike_steps.tolist() == [[4, 10], [-1, -1]]  # step i = spike at i * dt
    assert batch.current[0, :4].tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"sweeps have different dt \[0.1, 0.2\] ms"):
        make_batch([a, _sweep("c", 5, dt=0.1)])
    nov = Sweep(current=np.zeros(5), dt_ms=0.2, sweep_id="n")
    assert make_batch([a, nov]).voltage is None
