"""Feature and f-I terms of the objective, scored through Objective.evaluate on the real steps.

The data are the 16 recorded IDrest steps (BBP L5PC, 0 to 45 spikes, step 700-2700 ms); the
"candidates" are made from them with known changes, so each loss has a value worked out by
hand: the data itself (0), every other spike removed and V shifted by 3 mV (fi_curve: half the
count, relative; voltage_base: 3 mV), spikes added to the silent step (undefined on one side),
V shifted by 3 mV (AHP_depth_abs: 3 mV where there are spikes).
"""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.scoring.objective import Objective

WINDOW = [700.0, 2700.0]


@pytest.fixture(scope="module")
def steps(example_data):
    from spikefit.data.readers import load

    sweeps = [s for s in load(example_data).sweeps if s.repeat == 0]
    dt = sweeps[0].dt_ms
    k = 64
    spikes = np.full((len(sweeps), k), -1, np.int32)
    for row, s in zip(spikes, sweeps):
        st = np.rint(s.spike_times_ms / dt).astype(np.int32)
        row[: st.size] = st
    V = np.stack([s.voltage for s in sweeps]).astype(np.float32)
    return dict(spikes=spikes, V=V, dt=dt, duration=V.shape[-1] * dt, window=np.tile(WINDOW, (len(sweeps), 1)))


def _candidates(d):
    half = np.full_like(d["spikes"], -1)
    for row, src in zip(half, d["spikes"]):
        kept = src[src >= 0][::2]
        row[: kept.size] = kept
    extra = d["spikes"].copy()
    extra[0, :3] = [3200, 4400, 6000]  # three spikes (800, 1100, 1500 ms) in the silent step
    spikes = np.stack([d["spikes"], half, extra, d["spikes"]])
    V = np.stack([d["V"], d["V"] + 3.0, d["V"], d["V"] + 3.0])
    return spikes, V


def _score(spec, d, **kw):
    spikes, V = _candidates(d)
    obj = Objective.from_spec({"metrics": spec, "silent_min_data_spikes": 1000})
    return obj.evaluate({"spike_steps": spikes, "V": V}, {"spike_steps": d["spikes"], "V": d["V"]}, dt=d["dt"],
                        duration=d["duration"], **kw)


def test_identical_candidate_scores_zero_and_known_changes_score_by_hand(steps):
    spec = [{"name": "feature", "feature": "voltage_base"}, {"name": "feature", "feature": "mean_frequency"},
            {"name": "feature", "feature": "AHP_depth_abs"}, {"name": "feature", "feature": "time_to_first_spike"},
            {"name": "fi_curve"}]
    res = _score(spec, steps, stim_window_ms=steps["window"])
    assert res.valid.all() and np.all(np.isfinite(res.loss))
    for label in ("voltage_base", "mean_frequency", "AHP_depth_abs", "time_to_first_spike", "fi_curve"):
        np.testing.assert_allclose(res.per_sweep[label][0], 0.0, atol=1e-4, err_msg=label)  # float32 sums
    np.testing.assert_allclose(res.per_sweep["voltage_base"][1], 3.0, atol=1e-3)  # mV error, scale 1 mV
    np.testing.assert_allclose(res.per_sweep["AHP_depth_abs"][3], [0.0] + [3.0] * 15, atol=1e-3)
    n = (steps["spikes"] >= 0).sum(-1).astype(float)  # all spikes of these sweeps are inside the step
    expected = np.abs(np.ceil(n / 2) - n) / np.maximum(n, 1)
    np.testing.assert_allclose(res.per_sweep["fi_curve"][1], expected, rtol=1e-5)
    # the silent step: 3 model spikes where the data has none cost 1 each (floor: one spike per window)
    assert res.per_sweep["fi_curve"][2][0] == pytest.approx(3.0)
    np.testing.assert_allclose(res.loss[0], 0.0, atol=1e-3)


def test_undefined_on_one_side_costs_the_stated_penalty(steps):
    spec = [{"name": "feature", "feature": "mean_frequency"},
            {"name": "feature", "feature": "time_to_first_spike", "undefined_loss": 7.0, "label": "ttfs"},
            {"name": "feature", "feature": "ISI_CV", "label": "cv"}]
    res = _score(spec, steps, stim_window_ms=steps["window"])
    # data sweep 0 is silent: NaN on both sides -> 0; the candidate firing there -> the penalty
    assert res.per_sweep["mean_frequency"][0][0] == 0.0
    assert res.per_sweep["mean_frequency"][2][0] == 1.0  # relative feature: 100 %
    assert res.per_sweep["ttfs"][2][0] == 7.0
    # ISI_CV needs 4 spikes: sweep 1 has 1 spike in the data; kept as undefined on both sides
    assert res.per_sweep["cv"][0][1] == 0.0
    assert res.per_sweep["cv"][2][0] == 0.0  # 3 model spikes: ISI_CV still undefined on both sides
    assert res.per_sweep["cv"][2][1] == 0.0
    half_cv = res.per_sweep["cv"][1]  # every other spike dropped: sweeps with 4-7 data spikes lose ISI_CV
    n = (steps["spikes"] >= 0).sum(-1)
    np.testing.assert_array_equal(half_cv[(n >= 4) & (np.ceil(n / 2) < 4)], 1.0)


def test_feature_scale_divides_absolute_errors(steps):
    res = _score([{"name": "feature", "feature": "voltage_base", "scale": 2.0}], steps, stim_window_ms=steps["window"])
    np.testing.assert_allclose(res.per_sweep["voltage_base"][1], 1.5, atol=1e-3)


def test_window_is_required_where_a_baseline_is_measured_and_checked(steps):
    with pytest.raises(ValueError, match=r"'voltage_base': needs stim_window_ms \[S, 2\]"):
        _score([{"name": "feature", "feature": "voltage_base"}], steps)
    with pytest.raises(ValueError, match=r"stim_window_ms: expected \[16, 2\]"):
        _score([{"name": "fi_curve"}], steps, stim_window_ms=[[700.0, 2700.0]])
    with pytest.raises(ValueError, match=r"0 <= onset < offset"):
        _score([{"name": "fi_curve"}], steps, stim_window_ms=np.tile([2700.0, 700.0], (16, 1)))
    whole = _score([{"name": "fi_curve"}], steps)  # no window: the whole 3 s sweep
    assert whole.per_sweep["fi_curve"][2][0] == pytest.approx(3.0)
