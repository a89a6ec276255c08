"""models.Simulator: equals the object API, compiles once, flags divergence."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import saiunit as u

from spikefit import models
from _model_cases import DT, random_current, random_params, run_object, with_units


@pytest.mark.parametrize("name", ["LIFRef", "ALIF", "AdExIF", "AdQuaIFRef", "Gif", "GifRef"])
def test_simulator_equals_object_api(name):
    P, S, T = 6, 2, 150  # T not a multiple of the chunk: both code paths run
    plain = random_params(name, P, seed=3)
    current = random_current(S, T, seed=4).T  # [S, T]
    res = models.Simulator(name, free=tuple(plain), dt=DT, spk_reset="hard", max_spikes=40, record_v=True)(plain, current)
    assert res.V.shape == (P, S, T) and res.spike_steps.shape == (P, S, 40)
    for s in range(S):
        V, spk = run_object(getattr(models, name), P, with_units(name, plain), np.repeat(current[s][:, None], P, 1), "hard")
        np.testing.assert_allclose(np.asarray(res.V[:, s]), V.T, atol=1e-4)
        for p in range(P):
            steps = np.where(spk[:, p])[0]
            assert int(res.n_spikes[p, s]) == len(steps)
            got = np.asarray(res.spike_steps[p, s])
            np.testing.assert_array_equal(got[: len(steps)], steps)
            assert (got[len(steps):] == -1).all()
    assert int(res.n_spikes.sum()) > 0 and not bool(res.diverged.any())


def test_no_recompile_and_new_values_used():
    sim = models.Simulator("AdExIF", free=("tau", "b"), fixed={"R": 0.15, "V_th": -45.0, "a": 2.0}, dt=DT,
                           max_spikes=16)
    current = np.full((1, 300), 300.0)
    before = sim.n_traces
    r1 = sim({"tau": np.full(4, 10.0), "b": np.full(4, 5.0)}, current)
    r2 = sim({"tau": np.full(4, 30.0), "b": np.full(4, 80.0)}, current)
    r3 = models.Simulator("AdExIF", free=("tau", "b"), fixed={"R": 0.15, "V_th": -45.0, "a": 2.0}, dt=DT,
                          max_spikes=16)({"tau": np.full(4, 10.0), "b": np.full(4, 5.0)}, current)
    assert sim.n_traces - before == 1
    assert int(r1.n_spikes[0, 0]) > int(r2.n_spikes[0, 0]) > 0
    np.testing.assert_array_equal(np.asarray(r1.spike_steps), np.asarray(r3.spike_steps))


def test_overflow_counts_beyond_capacity():
    res = models.simulate("LIF", np.full((1, 500), 500.0), DT, {"tau": np.array([5.0, 5.0])},
                          fixed={"R": 0.1, "V_th": 10.0}, max_spikes=3)
    assert (np.asarray(res.n_spikes) > 3).all() and np.asarray(res.overflow).all()
    assert (np.asarray(res.spike_steps) >= 0).all()


def test_divergence_flagged_without_poisoning_others():
    # soft-reset ExpIF with a high threshold runs away; the sane candidate must be unaffected
    free = {"V_th": np.array([-45.0, 10.0]), "R": np.array([0.1, 0.1])}
    res = models.simulate("ExpIF", np.full((1, 400), 400.0), DT, free, spk_reset="soft", record_v=True)
    assert np.asarray(res.diverged).tolist() == [False, True]
    assert np.isfinite(np.asarray(res.V[0])).all() and int(res.n_spikes[0, 0]) > 0


def test_quantities_converted_and_wrong_units_rejected():
    sim = models.Simulator("LIF", free=("tau",), fixed={"R": 0.1 * u.Gohm, "V_th": 10 * u.mV}, dt=0.1 * u.ms)
    a = sim({"tau": np.array([10.0])}, np.full((1, 200), 300.0))
    b = sim({"tau": np.array([10.0]) * u.ms}, np.full((1, 200), 300.0) * u.pA)
    np.testing.assert_array_equal(np.asarray(a.spike_steps), np.asarray(b.spike_steps))
    with pytest.raises(models.UnitError, match=r"'tau'.*ms"):
        sim({"tau": np.array([10.0]) * u.mV}, np.full((1, 200), 300.0))
    with pytest.raises(ValueError, match="unknown free parameter 'taux'"):
        models.Simulator("LIF", free=("taux",), dt=0.1)


def test_parameter_units_and_names():
    assert len(models.MODEL_NAMES) == 13
    assert models.parameter_units("AdExIF")["a"] == "nS" and models.parameter_units("Gif")["k1"] == "1/ms"
    assert models.Simulator("AdExIF", dt=0.1).fixed["R"] == pytest.approx(1e-9)  # 1 ohm in GOhm


# -- fit shapes: P candidates x S sweeps ---------------------------------------------------------

@pytest.fixture
def fresh_compiles():
    """Simulators built in the test trace anew (layout and compaction settings are read at
    trace time), and nothing compiled under a test's settings outlives it."""
    from spikefit.models import simulator

    simulator._compiled.cache_clear()
    yield
    simulator._compiled.cache_clear()


@pytest.fixture(params=["flat", "grid"])
def layout(request, monkeypatch, fresh_compiles):
    """Force the flat or the grid state layout (by size they are chosen as in ``_simloop``)."""
    from spikefit.models import _simloop

    if request.param == "grid":
        monkeypatch.setattr(_simloop, "GRID_MIN_NEURONS", 0)
        monkeypatch.setattr(_simloop, "GRID_MIN_P", 0)
    else:
        monkeypatch.setattr(_simloop, "GRID_MIN_NEURONS", 2**62)
    return request.param


@pytest.mark.parametrize("name", ["AdExIFRef", "Gif", "LIFRef"])
def test_fit_shape_equals_single_sweeps(name, layout):
    """[P, S] in one call == S calls of one sweep each: spikes exactly, V to float32 rounding."""
    P, S, T = 5, 4, 443  # T not a multiple of the chunk
    plain = random_params(name, P, seed=11)
    current = 2.0 * random_current(S, T, seed=12).T
    kw = dict(free=tuple(plain), dt=DT, spk_reset="hard", max_spikes=64, record_v=True)
    res = models.Simulator(name, **kw)(plain, current)
    assert res.spike_steps.shape == (P, S, 64) and res.V.shape == (P, S, T) and res.overflow.shape == (P, S)
    for s in range(S):
        one = models.Simulator(name, **kw)(plain, current[s:s + 1])
        np.testing.assert_array_equal(np.asarray(res.spike_steps[:, s]), np.asarray(one.spike_steps[:, 0]))
        np.testing.assert_array_equal(np.asarray(res.n_spikes[:, s]), np.asarray(one.n_spikes[:, 0]))
        np.testing.assert_allclose(np.asarray(res.V[:, s]), np.asarray(one.V[:, 0]), atol=1e-4, rtol=1e-6)
    assert int(res.n_spikes.sum()) > P * S and not bool(res.diverged.any()) and not bool(res.overflow.any())


def test_flags_per_candidate_with_one_bad_sweep(layout):
    """A candidate diverged (overflowed) if one of its sweeps did; the others are untouched."""
    # soft-reset ExpIF: candidate 1 (high threshold) runs away on the strong sweep 2 only;
    # candidate 0 fires fastest there and overflows a buffer of 12 there only
    free = {"V_th": np.array([-45.0, 10.0, -45.0]), "R": np.array([0.1, 0.02, 0.05])}
    current = np.stack([np.full(400, 20.0), np.full(400, 150.0), np.full(400, 900.0)])
    res = models.simulate("ExpIF", current, DT, free, spk_reset="soft", max_spikes=12)
    assert np.asarray(res.diverged).tolist() == [False, True, False]
    n, ovf = np.asarray(res.n_spikes), np.asarray(res.overflow)
    assert ovf.tolist() == [[False, False, True], [False] * 3, [False] * 3] and n[0, 2] > 12
    assert n[0, 1] > 0 and n[2, 1] > 0 and n[2, 2] > 0
    for s in (0, 1):  # the good sweeps of every candidate equal a run without the bad sweep
        one = models.simulate("ExpIF", current[s:s + 1], DT, free, spk_reset="soft", max_spikes=12)
        np.testing.assert_array_equal(np.asarray(res.spike_steps[:, s]), np.asarray(one.spike_steps[:, 0]))
        np.testing.assert_array_equal(np.asarray(res.n_spikes[:, s]), np.asarray(one.n_spikes[:, 0]))
        assert not bool(one.diverged.any()) and not bool(one.overflow.any())


def test_spike_buffer_size_changes_nothing_but_capacity():
    """K large vs small: the same spikes where nothing overflows; the first K where it does."""
    P, S, T = 6, 3, 400
    plain = random_params("AdExIF", P, seed=21)
    current = random_current(S, T, seed=22).T
    big = models.Simulator("AdExIF", free=tuple(plain), dt=DT, max_spikes=400)(plain, current)
    n = np.asarray(big.n_spikes)
    assert not np.asarray(big.overflow).any() and n.max() > 4
    k = int(np.median(n))  # some (p, s) fit, others overflow
    small = models.Simulator("AdExIF", free=tuple(plain), dt=DT, max_spikes=k)(plain, current)
    np.testing.assert_array_equal(np.asarray(small.n_spikes), n)  # true counts either way
    np.testing.assert_array_equal(np.asarray(small.overflow), n > k)
    np.testing.assert_array_equal(np.asarray(small.spike_steps), np.asarray(big.spike_steps)[..., :k])
    assert (np.asarray(big.spike_steps)[..., 400 - 1] == -1).all()


def test_memory_does_not_grow_with_steps_times_neurons(layout):
    """No [P, S, T] buffer: the compiled call's temporary memory grows with T by O(S) bytes a
    step (the current), not with P * S * T; V, when recorded, is written in place."""
    temp = {}
    for record_v in (False, True):
        sim = models.Simulator("AdExIFRef", free=("tau",), dt=1.0, max_spikes=64, record_v=record_v)
        fn, _ = sim._fn()
        for P, T in ((1000, 310), (1000, 3100), (2000, 3100)):
            c = fn.lower({"tau": jax.numpy.ones(P)}, jax.numpy.zeros((8, T), "float32")).compile()
            temp[record_v, P, T] = c.memory_analysis().temp_size_in_bytes
    for record_v in (False, True):
        per_step = (temp[record_v, 1000, 3100] - temp[record_v, 1000, 310]) / 2790
        assert per_step < 100  # 8 sweeps: the current's copies, a few bytes a sweep
        assert temp[record_v, 2000, 3100] < 3 * temp[record_v, 1000, 3100]  # ~ P * S state, not * T
        assert temp[record_v, 2000, 3100] < 2000 * 8 * 3100  # far below one [P, S, T] int8 array


def test_busy_subset_compaction_writes_what_plain_ranks_write(layout, monkeypatch):
    """Spikes beyond rank R0 of a chunk go through the busy subset (or, when it does not fit,
    all neurons): the same buffer as writing every rank over all neurons."""
    from spikefit.models import _compact, simulator

    P, S, T = 40, 3, 700  # dt 1 ms: from silent to a spike every step (31 a chunk)
    rng = np.random.default_rng(41)
    plain = {"tau": rng.uniform(2.0, 30.0, P), "R": rng.uniform(0.02, 0.3, P), "V_th": rng.uniform(2.0, 20.0, P)}
    current = rng.uniform(0.0, 900.0, (S, 1)) + rng.normal(0.0, 150.0, (S, T))
    runs = {}
    for label, r0, size in (("plain", 32, _compact.subset_size), ("subset", _compact.R0, _compact.subset_size),
                            ("no fit", _compact.R0, lambda N: 3)):
        monkeypatch.setattr(_compact, "R0", r0)
        monkeypatch.setattr(_compact, "subset_size", size)
        simulator._compiled.cache_clear()
        runs[label] = models.Simulator("LIF", free=tuple(plain), dt=1.0, max_spikes=150)(plain, current)
    n = np.asarray(runs["plain"].n_spikes)
    assert n.max() > 150 and (n < 20).any()  # some overflow, some nearly silent
    for label in ("subset", "no fit"):
        for a, b in zip(runs["plain"][:4], runs[label][:4]):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=label)


def test_accelerator_compaction_path_on_cpu(layout):
    """The loop-free spike compaction of GPU/TPU (run here on the CPU) gives the same result."""
    from spikefit.models import simulator

    P, S, T = 4, 3, 250
    plain = random_params("AdExIFRef", P, seed=31)
    current = random_current(S, T, seed=32).T
    sim = models.Simulator("AdExIFRef", free=tuple(plain), dt=DT, max_spikes=30, record_v=True)
    ref = sim(plain, current)
    key = list(sim._key())
    key[8], key[10] = 31, "gpu"  # whole-chunk unroll, dense compaction, no CPU options
    res = simulator._compiled(*key)({k: np.asarray(v, np.float32) for k, v in plain.items()}, current)
    for a, b in zip(ref[:4], res[:4]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(np.asarray(res.V), np.asarray(ref.V), atol=1e-4)
    assert int(ref.n_spikes.sum()) > 0
