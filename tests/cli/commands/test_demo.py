"""fitter/cli/commands/demo.py: ``spikefit demo`` drives all 13 models with a recorded stimulus."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from spikefit import models
from spikefit.cli.main import main
from spikefit.data.readers import load


@pytest.fixture(scope="module")
def demo_json() -> dict:
    """``spikefit demo --json`` run once through the CLI entry point, stdout parsed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "--json"])
    assert rc == 0
    return json.loads(buf.getvalue())


def test_lists_all_models_firing(demo_json):
    rows = demo_json["rows"]
    assert [r["model"] for r in rows] == list(models.MODEL_NAMES)
    assert len(rows) == 13
    for r in rows:
        assert r["spikes"] > 0, r
        assert not r["diverged"], r
        assert r["rate_hz"] == pytest.approx(r["spikes"] / demo_json["duration_s"])


def test_recorded_count_matches_chosen_sweep(demo_json, example_data):
    sweeps = {s.sweep_id: s for s in load(example_data).sweeps}
    chosen = sweeps[demo_json["sweep"]]
    assert demo_json["recorded_spikes"] == chosen.n_spikes == len(chosen.spike_times_ms)
    assert demo_json["sweep"] == "332"  # the 8th IDrest step by default
    assert demo_json["duration_s"] == pytest.approx(chosen.duration_ms / 1000.0)
    assert demo_json["dt_ms"] == pytest.approx(chosen.dt_ms)
    assert demo_json["current_max_pA"] == pytest.approx(float(chosen.current.max()), rel=1e-5)


def test_unknown_sweep_is_a_clear_error(capsys):
    assert main(["demo", "--sweep", "9999"]) == 2
    err = capsys.readouterr().err
    assert "--sweep" in err and "'9999'" in err and "'340'" in err
