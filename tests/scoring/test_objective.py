"""Objective: spec validation, weighted / multi losses, penalties and reasons, no NaN."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.scoring.objective import Objective

DATA = np.array([[100, 500, 900, 1200, 1500, 1800, -1], [100, 500, 900, 1200, 1500, 1800, 1900]], np.int32)
SPEC = {"metrics": [{"name": "gamma", "delta_ms": 2.0}, {"name": "spike_count", "weight": 0.1, "relative": True},
                    {"name": "victor_purpura", "q_per_ms": 0.5, "weight": 0.01}]}


def _model(b=5):
    m = np.full((b, 2, 8), -1, np.int32)
    m[0, :, :7] = DATA  # perfect
    m[1, :, :3] = [100, 200, 300]
    if b > 3:
        m[3, :, :7] = DATA  # perfect but overflowed
    return m  # 2 and 4: silent


def test_weighted_loss_penalties_and_reasons():
    obj = Objective.from_spec(SPEC)
    out = {"spike_steps": _model(), "diverged": np.array([0, 0, 1, 0, 0], bool),
           "overflow": np.array([[0, 0], [0, 0], [0, 0], [0, 1], [0, 0]], bool)}
    res = obj.evaluate(out, DATA, dt=0.1, duration=200.0)
    assert res.loss.shape == (5,) and np.all(np.isfinite(res.loss))
    assert res.loss[0] == pytest.approx(0.0, abs=1e-6) and 0 < res.loss[1] < 100
    np.testing.assert_array_equal(res.valid, [True, True, False, False, False])
    assert res.reason[0] is None and "diverged" in res.reason[2]
    assert "overflow" in res.reason[3] and "[1]" in res.reason[3]
    assert "silent" in res.reason[4]
    assert res.loss[2] == res.loss[3] == res.loss[4] == 100.0
    assert set(res.per_sweep) == {"gamma", "spike_count", "victor_purpura"}
    assert res.per_sweep["gamma"].shape == (5, 2)


def test_multi_mode_and_sweep_weights():
    obj = Objective.from_spec({**SPEC, "mode": "multi", "penalty": 7.0})
    res = obj.evaluate(_model(), DATA, dt=0.1, duration=200.0, sweep_weights=[1.0, 0.0])
    assert res.loss.shape == (5, 3)
    np.testing.assert_allclose(res.loss[1, 0], 1 - res.per_sweep["gamma"][1, 0], rtol=1e-6)
    assert np.all(res.loss[4] == 7.0)


def test_nan_never_escapes():
    obj = Objective.from_spec({"metrics": [{"name": "voltage_rmse", "window_ms": [1.0, 2.0]}, {"name": "isi"}]})
    v_data = np.full((2, 2000), -70.0, np.float32)
    v_model = np.full((3, 2, 2000), -65.0, np.float32)
    v_model[1, 0, 50] = np.nan
    v_model[2, 1, :] = np.inf
    res = obj.evaluate({"spike_steps": _model(3), "V": v_model}, {"spike_steps": DATA, "V": v_data},
                       dt=0.1, duration=200.0)
    assert np.all(np.isfinite(res.loss))
    assert all(np.all(np.isfinite(v)) for v in res.per_sweep.values())
    assert res.valid[0] and not res.valid[1] and "voltage_rmse" in res.reason[1]


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"metrics": [{"name": "gama"}]}, r"unknown metric 'gama'.*allowed.*gamma"),
        ({"metrics": [{"name": "gamma", "delta": 2.0}]}, r"unknown key 'delta'.*allowed.*delta_ms"),
        ({"metrics": [{"name": "gamma", "delta_ms": -1}]}, r"delta_ms.*positive.*-1"),
        ({"metrics": [{"name": "gamma", "weight": "x"}]}, r"weight"),
        ({"metrics": []}, r"non-empty"),
        ({"metrics": [{"name": "isi"}], "mode": "pareto"}, r"mode.*'weighted', 'multi'.*'pareto'"),
        ({"metrics": [{"name": "isi"}], "penalti": 1}, r"unknown key 'penalti'"),
        ({"metrics": [{"name": "isi"}, {"name": "isi"}]}, r"label 'isi' used twice"),
        ({"metrics": [{"name": "spike_count", "relative": "yes"}]}, r"relative.*true or false"),
    ],
)
def test_spec_errors_name_key_value_and_allowed(spec, match):
    with pytest.raises(ValueError, match=match):
        Objective.from_spec(spec)


def test_voltage_metric_needs_voltage():
    obj = Objective.from_spec({"metrics": [{"name": "voltage_rmse"}]})
    with pytest.raises(ValueError, match="model_V"):
        obj.evaluate(_model(), DATA, dt=0.1, duration=200.0)


def test_spec_errors_are_spikefit_errors_naming_the_source():
    from spikefit.errors import SpikefitError

    with pytest.raises(SpikefitError, match=r"^job.toml: \[objective.metrics\[0\].name\] unknown metric 'gama'.*"
                                            r"got 'gama'; did you mean 'gamma'\?$"):
        Objective.from_spec({"metrics": [{"name": "gama"}]}, source="job.toml")
    with pytest.raises(SpikefitError, match=r"^\[objective.mode\] expected one of 'weighted', 'multi', got 'weigthed'; "
                                            r"did you mean 'weighted'\?$"):
        Objective.from_spec({"metrics": [{"name": "isi"}], "mode": "weigthed"})


@pytest.mark.parametrize("spec", [{"metrics": [{"name": ["gamma"]}]}, {"metrics": [{"name": "gamma", "weight": 2**1100}]},
                                  {"metrics": [{"name": "voltage_rmse", "window_ms": ["a", "b"]}]},
                                  {"metrics": [{"name": "isi"}], "mode": ["multi"]},
                                  {"metrics": [{"name": "isi"}], "penalty": 10**400}])
def test_odd_values_are_input_errors(spec):
    from spikefit.errors import SpikefitError

    with pytest.raises(SpikefitError, match=r"^\[objective"):
        Objective.from_spec(spec)
