"""Gamma coincidence factor: hand-computed cases, over-firing, high rates, reliability."""

from __future__ import annotations

import numpy as np
import pytest
import saiunit as u
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefit.scoring.metrics import gamma_factor, intrinsic_reliability, raster_to_spike_steps

DT, DUR = 0.1, 1000.0  # ms
DATA = np.array([[100, 500, 900, -1]], np.int32)  # 10, 50, 90 ms


def gamma1(model_steps, data=DATA, **kw):
    m = np.full((1, 1, 8), -1, np.int32)
    m[0, 0, : len(model_steps)] = model_steps
    return float(gamma_factor(m, data, DT, kw.pop("delta", 2.0), duration=DUR, **kw)[0, 0])


def expected(n_coinc, n_model, n_data, delta=2.0, dur=DUR):
    rho = 2 * n_model / dur * delta
    return (n_coinc - rho * n_data) / (0.5 * (n_data + n_model)) / (1 - rho)


@pytest.mark.parametrize(
    "model, n_coinc",
    [
        ([100, 500, 900], 3),  # identical
        ([120, 520, 880], 3),  # shifted by exactly delta: inclusive window
        ([121, 479, 921], 0),  # shifted just beyond delta
        ([110, 700], 1),  # one within, one not
        ([95, 105, 500, 900], 3),  # two model spikes near one data spike: one-to-one
        ([300], 0),
    ],
)
def test_hand_computed(model, n_coinc):
    assert gamma1(model) == pytest.approx(expected(n_coinc, len(model), 3), rel=1e-5, abs=1e-7)


def test_identical_is_one_and_empty_rules():
    assert gamma1([100, 500, 900]) == 1.0
    assert gamma1([]) == 0.0  # model silent, data fires
    empty = np.full((1, 4), -1, np.int32)
    assert gamma1([100], data=empty) == 0.0  # data silent, model fires
    assert gamma1([], data=empty) == 1.0  # both silent: silence reproduced
    single = np.array([[300, -1]], np.int32)
    assert gamma1([300], data=single) == 1.0
    assert gamma1([340], data=single) == pytest.approx(expected(0, 1, 1), rel=1e-5)


def test_adding_spikes_to_a_good_model_lowers_gamma():
    rng = np.random.default_rng(1)
    data = np.sort(rng.choice(100_000, 100, replace=False))  # 100 spikes in 10 s
    base = data + rng.integers(-10, 11, data.size)  # all within 1 ms
    scores = []
    for extra in (0, 10, 50, 200, 800):
        more = np.unique(np.concatenate([base, rng.choice(100_000, extra, replace=False)]))
        m = np.full((1, 1, 1100), -1, np.int32)
        m[0, 0, : more.size] = more
        d = np.full((1, 100), -1, np.int32)
        d[0] = data
        scores.append(float(gamma_factor(m, d, DT, 2.0, duration=10_000.0)[0, 0]))
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


@pytest.mark.parametrize("rate_hz", [130, 250, 260, 400, 1000])
def test_high_rate_model_does_not_score_high(rate_hz):
    # the model contains every data spike AND fires regularly at rate_hz (delta = 2 ms)
    period = int(round(10_000 / rate_hz))
    dense = np.unique(np.concatenate([np.arange(0, 10_000, period), DATA[0, :3]]))
    m = dense[None, None].astype(np.int32)
    g = float(gamma_factor(m, DATA, DT, 2.0, duration=DUR)[0, 0])
    assert np.isfinite(g) and g <= 0.05


def test_poisson_scores_near_zero():
    rng = np.random.default_rng(2)
    n_b, dur_steps = 64, 200_000  # 20 s
    data = np.sort(rng.choice(dur_steps, 400, replace=False))[None].astype(np.int32)  # 20 Hz
    model = np.sort(rng.random((n_b, 1, 400)) * dur_steps, axis=-1).astype(np.int32)
    g = np.asarray(gamma_factor(model, data, DT, 2.0, duration=dur_steps * DT))
    assert abs(g.mean()) < 0.03


def test_quantities_raster_and_batch_shapes():
    rng = np.random.default_rng(3)
    raster = rng.random((5, 3, 2000)) < 0.01
    data = rng.random((3, 2000)) < 0.01
    g = gamma_factor(raster, data, 0.1 * u.ms, 2.0 * u.ms)
    assert g.shape == (5, 3)
    steps = raster_to_spike_steps(raster, 60)
    g2 = gamma_factor(steps, raster_to_spike_steps(data, 60), 0.1, 2.0, duration=200.0)
    np.testing.assert_allclose(g, g2, rtol=1e-6)
    with pytest.raises(TypeError, match="delta"):
        gamma_factor(raster, data, 0.1, 2.0 * u.mV)
    with pytest.raises(ValueError, match="duration"):
        gamma_factor(steps, raster_to_spike_steps(data, 60), 0.1)


def test_intrinsic_reliability_ordered_pairs():
    reps = np.array([[100, 500, 900], [100, 500, 930], [100, -1, -1]], np.int32)
    rel = float(intrinsic_reliability(reps, DT, 2.0, duration=DUR))
    m = reps[:, None, :]
    pairs = [float(gamma_factor(m[i : i + 1], reps[j : j + 1], DT, 2.0, duration=DUR)[0, 0])
             for i in range(3) for j in range(3) if i != j]
    assert rel == pytest.approx(np.mean(pairs), rel=1e-6)
    same = np.array([[100, 500, 900]] * 4, np.int32)
    assert float(intrinsic_reliability(same, DT, 2.0, duration=DUR)) == pytest.approx(1.0)


trains = st.lists(st.integers(0, 9_999), max_size=25, unique=True).map(sorted)


def _pad(*ts, k=25):
    out = np.full((len(ts), k), -1, np.int32)
    for i, t in enumerate(ts):
        out[i, : len(t)] = t
    return out


@settings(max_examples=40, deadline=None)
@given(a=trains, b=trains, shift=st.integers(0, 5_000))
def test_gamma_properties(a, b, shift):
    m, d = _pad(a)[:, None], _pad(b)
    g = float(gamma_factor(m, d, DT, 2.0, duration=DUR)[0, 0])
    assert -2.0 <= g <= 1.0
    assert float(gamma_factor(_pad(b)[:, None], d, DT, 2.0, duration=DUR)[0, 0]) == 1.0
    # shifting both trains (and the sweep) leaves Gamma unchanged
    ms = np.where(m >= 0, m + shift, -1)
    ds = np.where(d >= 0, d + shift, -1)
    g2 = float(gamma_factor(ms, ds, DT, 2.0, duration=DUR + shift * DT)[0, 0])
    rho = 2 * len(a) / DUR * 2.0
    rho2 = 2 * len(a) / (DUR + shift * DT) * 2.0
    if len(a) and len(b):  # same coincidences; only the rate (duration) term changes
        nc = g * 0.5 * (len(a) + len(b)) * (1 - rho) + rho * len(b) if rho < 0.5 else None
        if nc is not None and rho2 < 0.5:
            assert g2 == pytest.approx(expected(round(nc), len(a), len(b), dur=DUR + shift * DT), abs=1e-4)


def _max_matching(m, d, delta):
    """Maximum one-to-one matching of |m_i - d_k| <= delta by augmenting paths (reference)."""
    match = {}  # model index -> data index

    def augment(k, seen):
        for i, t in enumerate(m):
            if abs(t - d[k]) <= delta and i not in seen:
                seen.add(i)
                if i not in match or augment(match[i], seen):
                    match[i] = k
                    return True
        return False

    return sum(augment(k, set()) for k in range(len(d)))


def test_count_coincidences_exact_on_bursts():
    # dense, bursty trains (windows of neighbouring spikes overlap on both sides), delta 0/3/20 steps
    from spikefit.scoring.metrics.coincidence import count_coincidences, count_coincidences_scan
    from spikefit.scoring.metrics.spikes import NO_SPIKE

    rng = np.random.default_rng(5)
    b, s, k, kd = 6, 4, 24, 20
    for span in (30, 120, 600):
        m = np.sort(rng.integers(0, span, (b, s, k)), -1)
        n_m = rng.integers(0, k + 1, (b, s))
        m = np.sort(np.where(np.arange(k) < n_m[..., None], m, NO_SPIKE), -1).astype(np.int32)
        d = np.sort(rng.integers(0, span, (s, kd)), -1)
        n_d = rng.integers(0, kd + 1, s).astype(np.int32)
        d = np.where(np.arange(kd) < n_d[:, None], d, NO_SPIKE).astype(np.int32)
        for delta in (0, 3, 20):
            got = np.asarray(count_coincidences(m, d, n_d, np.int32(delta)))
            np.testing.assert_array_equal(got, np.asarray(count_coincidences_scan(m, d, n_d, np.int32(delta))))
            ref = [[_max_matching(list(m[i, j, : n_m[i, j]]), list(d[j, : n_d[j]]), delta) for j in range(s)]
                   for i in range(b)]
            np.testing.assert_array_equal(got, ref)


def test_searchsorted_shared_and_rows_match_numpy():
    from spikefit.scoring.metrics.spikes import NO_SPIKE, searchsorted_rows, searchsorted_shared

    rng = np.random.default_rng(6)
    for n in (1, 2, 7, 8, 9, 40):
        rows = np.sort(rng.integers(-50, 300, (3, n)), -1)
        n_real = rng.integers(0, n + 1, 3)
        rows = np.sort(np.where(np.arange(n) < n_real[:, None], rows, NO_SPIKE), -1).astype(np.int32)
        qs = rng.integers(-60, 320, (4, 3, 11)).astype(np.int32)
        for side in ("left", "right"):
            ref = np.array([[np.searchsorted(rows[j], qs[i, j], side=side) for j in range(3)] for i in range(4)])
            np.testing.assert_array_equal(np.asarray(searchsorted_shared(rows, qs, side=side)), ref)
            np.testing.assert_array_equal(np.asarray(searchsorted_rows(rows, qs, side=side)), ref)
