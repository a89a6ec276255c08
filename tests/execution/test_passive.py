"""A job's passive stage on the real example cell: estimates in the manifest, the later
stages searched inside the narrowed bounds, one clear line when it cannot run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tomllib

from spikefit.errors import SpikefitError
from spikefit.execution.driver import run_job
from spikefit.spec.jobspec import parse_job

JOB = """
name = "passive_example"
seed = 3
output = "{out}"
[data]
path = "{data}"
format = "ibw"
ljp_mV = 14.0
train = {{ repeats = [0] }}
[model]
name = "AdExIF"
spk_reset = "hard"
fixed = {fixed}
derived = {{ V_th = "V_T + 5 * delta_T" }}
[params]
R       = {{ low = "20 MOhm", high = "300 MOhm", log = true }}
tau     = {{ low = "5 ms",    high = "60 ms",    log = true }}
{v_rest}
V_T     = {{ low = "-60 mV",  high = "-35 mV" }}
b       = {{ low = "0 pA",    high = "300 pA" }}
[objective]
metrics = [{{ name = "spike_count", relative = true }}]
[search]
batch_size = 32
[[search.stages]]
name = "passive"
passive = true
tolerance = 0.1
[[search.stages]]
name = "global"
trials = 64
[resources]
executor = "local"
"""


def _job(tmp_path, example_data, *, v_rest_free=True):
    v_rest = 'V_rest = { low = "-95 mV", high = "-60 mV" }' if v_rest_free else ""
    fixed = '{ a = "0 nS", tau_w = "100 ms", V_reset = "-60 mV", delta_T = "2 mV"' + ("" if v_rest_free else ', V_rest = "-70 mV"') + " }"
    return parse_job(tomllib.loads(JOB.format(out=tmp_path / "out", data=example_data, fixed=fixed, v_rest=v_rest)),
                     source=str(tmp_path / "job.toml"), base_dir=tmp_path)


def test_later_stages_search_inside_the_passive_bounds(tmp_path, example_data):
    spec = _job(tmp_path, example_data)
    summary = run_job(spec, progress=False)
    assert summary.status == "complete"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (cell, est), = manifest["passive"].items()
    assert 20 < est["R_MOhm"] < 300 and 2 < est["tau_ms"] < 60 and -95 < est["V_rest_mV"] < -60
    bounds = est["bounds"]
    assert bounds["R"][2] == "GOhm" and bounds["R"][0] == pytest.approx(est["R_MOhm"] / 1e3 / 1.1)
    assert bounds["V_rest"][1] - bounds["V_rest"][0] == pytest.approx(4.0)
    trials = pd.read_parquet(tmp_path / "out" / "trials")
    assert len(trials) == 64 and set(trials["stage"]) == {"global"}
    for name, (lo, hi, _unit) in bounds.items():
        x = trials[name].to_numpy()
        assert np.all((x >= lo - 1e-6 * abs(lo)) & (x <= hi + 1e-6 * abs(hi))), name


def test_a_fixed_v_rest_is_held_by_the_passive_fit(tmp_path, example_data):
    spec = _job(tmp_path, example_data, v_rest_free=False)
    from spikefit.data.dataset import prepare_cells
    from spikefit.execution.passive import passive_fits

    (fit,) = passive_fits(spec, prepare_cells(spec)).values()
    assert fit.V_rest == -70.0


def test_no_free_passive_parameter_is_refused_before_anything_is_written(tmp_path, example_data):
    text = JOB.format(out=tmp_path / "out", data=example_data, v_rest="",
                      fixed='{ R = "50 MOhm", tau = "10 ms", V_rest = "-70 mV", a = "0 nS", tau_w = "100 ms", V_reset = "-60 mV", delta_T = "2 mV" }')
    text = text.replace('R       = { low = "20 MOhm", high = "300 MOhm", log = true }\n', "")
    text = text.replace('tau     = { low = "5 ms",    high = "60 ms",    log = true }\n', "")
    spec = parse_job(tomllib.loads(text), source=str(tmp_path / "job.toml"), base_dir=tmp_path)
    with pytest.raises(SpikefitError, match=r"job.toml: \[search.stages\] passive stage 'passive': none of R, tau, V_rest"):
        run_job(spec, progress=False)
    assert not (tmp_path / "out").exists()
