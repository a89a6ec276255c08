"""The metric table: feature terms parse with named errors, labels and per-term needs."""

from __future__ import annotations

import pytest

from spikefit.errors import SpikefitError
from spikefit.scoring.features import FEATURES
from spikefit.scoring.objective import Objective
from spikefit.scoring.registry import METRICS, parse_term


def test_every_metric_is_listed():
    assert {"gamma", "van_rossum", "victor_purpura", "isi", "spike_count", "firing_rate", "first_spike_latency",
            "voltage_rmse", "feature", "fi_curve"} == set(METRICS)


def test_feature_term_defaults_label_and_needs():
    t = parse_term(0, {"name": "feature", "feature": "mean_frequency", "weight": 2})
    assert (t.label, t.weight, t.params) == ("mean_frequency", 2.0,
                                             {"feature": "mean_frequency", "scale": None, "undefined_loss": None})
    assert not t.needs_voltage and not t.needs_window
    vb = parse_term(1, {"name": "feature", "feature": "voltage_base", "scale": 2.0})
    assert vb.needs_voltage and vb.needs_window and vb.params["scale"] == 2.0
    assert parse_term(2, {"name": "fi_curve"}).params == {"min_rate_hz": None}
    obj = Objective.from_spec({"metrics": [{"name": "feature", "feature": "mean_frequency"}, {"name": "fi_curve"},
                                           {"name": "feature", "feature": "AHP_depth_abs"}]})
    assert obj.labels == ["mean_frequency", "fi_curve", "AHP_depth_abs"]
    assert obj.needs_voltage and not obj.needs_stim_window
    # an evaluator that records V whenever the metric may need it is always right
    assert METRICS["feature"].needs_voltage


@pytest.mark.parametrize("entry, match", [
    ({"name": "feature", "feature": "mean_freq"},
     r"^\[objective.metrics\[0\].feature\] unknown feature 'mean_freq'; expected one of the eFEL feature names "
     r"AHP_depth, .*mean_frequency.*voltage_base, got 'mean_freq'; did you mean 'mean_frequency'\?$"),
    ({"name": "feature"}, r"^\[objective.metrics\[0\].feature\] unknown feature None; expected one of"),
    ({"name": "feature", "feature": "ISI_CV", "scale": -1}, r"^\[objective.metrics\[0\].scale\] expected a positive"),
    ({"name": "feature", "feature": "ISI_CV", "undefined_loss": "x"}, r"undefined_loss\] expected a number >= 0"),
    ({"name": "feature", "feature": "ISI_CV", "scal": 1}, r"unknown key 'scal'.*allowed: .*scale.*did you mean 'scale'"),
    ({"name": "fi_curve", "min_rate_hz": 0}, r"min_rate_hz\] expected a positive number, got 0"),
])
def test_feature_term_errors_name_key_and_allowed(entry, match):
    with pytest.raises(SpikefitError, match=match):
        parse_term(0, entry)


def test_the_error_lists_every_feature():
    with pytest.raises(SpikefitError) as err:
        parse_term(0, {"name": "feature", "feature": "spikes"})
    assert all(name in str(err.value) for name in FEATURES)


def test_same_feature_twice_needs_labels():
    two = [{"name": "feature", "feature": "voltage_base"}, {"name": "feature", "feature": "voltage_base"}]
    with pytest.raises(SpikefitError, match="label 'voltage_base' used twice"):
        Objective.from_spec({"metrics": two})
    two[1]["label"] = "vb2"
    assert Objective.from_spec({"metrics": two}).labels == ["voltage_base", "vb2"]
