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
