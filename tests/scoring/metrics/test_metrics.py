"""Spike-train distances and errors against elephant and PySpike; properties; shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import saiunit as u
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefit.scoring.metrics import (first_spike_latency_error, firing_rate_error, isi_distance, reduce_sweeps,
                            spike_count_error, van_rossum_distance, victor_purpura_distance, voltage_rmse)

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")
spk = pytest.importorskip("pyspike")
dissim = pytest.importorskip("elephant.spike_train_dissimilarity")

DT, N_STEPS = 0.1, 50_000  # 5 s sweeps
DUR = N_STEPS * DT


@pytest.fixture(scope="module")
def batch():
    """B=4 candidates x S=3 sweeps, 0..60 spikes each (including empty trains)."""
    rng = np.random.default_rng(0)
    b, s, k, kd = 4, 3, 60, 50
    m, d = np.full((b, s, k), -1, np.int32), np.full((s, kd), -1, np.int32)
    counts_m = rng.integers(0, k, (b, s))
    counts_m[0, 0] = 0
    counts_d = np.array([0, 1, 40])
    for j in range(s):
        d[j, : counts_d[j]] = np.sort(rng.choice(N_STEPS, counts_d[j], replace=False))
        for i in range(b):
            m[i, j, : counts_m[i, j]] = np.sort(rng.choice(N_STEPS, counts_m[i, j], replace=False))
    return m, d


def _trains(steps):
    return steps[steps >= 0] * DT


def _reference(m, d, fn):
    return np.array([[fn(_trains(m[i, j]), _trains(d[j])) for j in range(d.shape[0])] for i in range(m.shape[0])])


def _neo(t):
    return neo.SpikeTrain(t * pq.ms, t_stop=DUR * pq.ms)


@pytest.mark.parametrize("tau", [2.0, 10.0, 100.0])
def test_van_rossum_matches_elephant(batch, tau):
    m, d = batch
    ours = np.asarray(van_rossum_distance(m, d, DT, tau, duration=DUR))
    ref = _reference(m, d, lambda a, b: dissim.van_rossum_distance(
        [_neo(a), _neo(b)], time_constant=tau * pq.ms)[0, 1])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("q", [0.01, 0.1, 1.0])
def test_victor_purpura_matches_elephant(batch, q):
    m, d = batch
    ours = np.asarray(victor_purpura_distance(m, d, DT, q, duration=DUR))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _reference(m, d, lambda a, b: dissim.victor_purpura_distance(
            [_neo(a), _neo(b)], cost_factor=q / pq.ms)[0, 1])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_isi_distance_matches_pyspike(batch):
    m, d = batch
    ours = np.asarray(isi_distance(m, d, DT, duration=DUR))
    ref = _reference(m, d, lambda a, b: spk.isi_distance(spk.SpikeTrain(a, [0, DUR]), spk.SpikeTrain(b, [0, DUR])))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_counts_rates_latency(batch):
    m, d = batch
    n_m, n_d = (m >= 0).sum(-1), (d >= 0).sum(-1)
    np.testing.assert_array_equal(spike_count_error(m, d, DT, duration=DUR), np.abs(n_m - n_d))
    np.testing.assert_allclose(spike_count_error(m, d, DT, duration=DUR, relative=True),
                               np.abs(n_m - n_d) / np.maximum(n_d, 1), rtol=1e-6)
    np.testing.assert_allclose(firing_rate_error(m, d, DT, duration=DUR * u.ms), np.abs(n_m - n_d) / 5.0, rtol=1e-5)
    lat = np.asarray(first_spike_latency_error(m, d, DT, duration=DUR))
    first = lambda x: x[0] * DT if (x >= 0).any() else DUR  # noqa: E731
    ref = np.array([[abs(first(m[i, j]) - first(d[j])) for j in range(3)] for i in range(4)])
    np.testing.assert_allclose(lat, ref, rtol=1e-5)
    assert lat[0, 0] == 0.0  # both empty


def test_spikes_after_the_sweep_end_are_ignored():
    m = np.array([[[100, 900, 1500]]], np.int32)
    d = np.array([[100, 900]], np.int32)
    np.testing.assert_array_equal(spike_count_error(m, d, DT, duration=100.0), [[0]])
    mask = np.zeros((1, 2000), bool)
    mask[0, :1000] = True
    np.testing.assert_array_equal(spike_count_error(m, d, DT, mask=mask), [[0]])


def test_voltage_rmse_masks_spike_windows():
    t = 1000
    vd = np.full((1, t), -70.0, np.float32)
    vd[0, 500:510] = 30.0  # a data spike at 50 ms
    vm = np.full((2, 1, t), -68.0, np.float32)
    vm[1, 0, 200:205] = 40.0  # a model spike at 20 ms
    d = np.array([[500]], np.int32)
    m = np.array([[[-1]], [[200]]], np.int32)
    r = np.asarray(voltage_rmse(vm, vd, d, DT, model_spikes=m, window_ms=(1.0, 2.0)))
    np.testing.assert_allclose(r, [[2.0], [2.0]], rtol=1e-6)
    r_all = np.asarray(voltage_rmse(vm, vd, d, DT, window_ms=0.0))
    assert r_all[0, 0] > 2.0


def test_reduce_sweeps_and_shapes(batch):
    m, d = batch
    x = van_rossum_distance(m, d, DT, 5.0, duration=DUR)
    assert x.shape == (4, 3)
    np.testing.assert_allclose(reduce_sweeps(x), np.asarray(x).mean(-1), rtol=1e-6)
    w = np.array([1.0, 0.0, 3.0])
    np.testing.assert_allclose(reduce_sweeps(x, w), (np.asarray(x) * w).sum(-1) / 4, rtol=1e-6)
    with pytest.raises(TypeError, match="tau"):
        van_rossum_distance(m, d, DT, 5.0 * u.mV, duration=DUR)
    with pytest.raises(ValueError, match="model"):
        van_rossum_distance(m[0], d, DT, 5.0, duration=DUR)


trains = st.lists(st.integers(0, 4_999), max_size=20, unique=True).map(sorted)


def _pad(t, k=20):
    out = np.full(k, -1, np.int32)
    out[: len(t)] = t
    return out


@settings(max_examples=30, deadline=None)
@given(a=trains, b=trains, shift=st.integers(0, 3_000))
def test_distance_properties(a, b, shift):
    A, Bt = _pad(a), _pad(b)
    dur = 500.0
    pair = lambda x, y, dd=dur: (x[None, None], y[None])  # noqa: E731
    for fn, kw in ((van_rossum_distance, {"tau": 5.0}), (victor_purpura_distance, {"q": 0.2}), (isi_distance, {})):
        ab = float(fn(*pair(A, Bt), DT, duration=dur, **kw)[0, 0])
        ba = float(fn(*pair(Bt, A), DT, duration=dur, **kw)[0, 0])
        aa = float(fn(*pair(A, A), DT, duration=dur, **kw)[0, 0])
        assert ab == pytest.approx(ba, rel=1e-5, abs=1e-5)  # symmetric
        # float32: van Rossum sqrt(D^2) of identical trains has a floor ~ sqrt(1e-7 * n spikes)
        assert ab >= 0 and aa == pytest.approx(0.0, abs=1e-2)
        if fn is isi_distance:
            assert ab <= 1.0
        elif fn is victor_purpura_distance:
            assert ab <= len(a) + len(b) + 1e-4
        else:  # van Rossum is shift invariant (no dependence on the sweep edges)
            sh = lambda x: np.where(x >= 0, x + shift, -1).astype(np.int32)  # noqa: E731
            moved = float(fn(*pair(sh(A), sh(Bt)), DT, duration=dur + shift * DT, **kw)[0, 0])
            assert moved == pytest.approx(ab, rel=1e-4, abs=1e-4)
    sh = lambda x: np.where(x >= 0, x + shift, -1).astype(np.int32)  # noqa: E731
    vp = float(victor_purpura_distance(*pair(A, Bt), DT, 0.2, duration=dur)[0, 0])
    vp_moved = float(victor_purpura_distance(*pair(sh(A), sh(Bt)), DT, 0.2, duration=dur + shift * DT)[0, 0])
    assert vp_moved == pytest.approx(vp, rel=1e-5, abs=1e-4)
