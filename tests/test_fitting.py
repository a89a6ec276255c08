"""spikefit.fit / fit_job: one engine behind the Python API and ``spikefit run`` (in-process
executor, the shipped example recording, real journal storage and Parquet)."""

from __future__ import annotations

import numpy as np
import pytest
import saiunit as u

import spikefit
from spikefit.cli.main import main

PARAMS = {"tau": ("5 ms", "60 ms", True), "V_T": ("-60 mV", "-35 mV"), "b": ("0 pA", "300 pA")}
TRAIN = {"repeats": [0], "stimuli": ["IDrest:9", "IDrest:15"]}
VALID = {"repeats": [1], "stimuli": ["IDrest:12"]}

JOB = """
name = "api"
seed = 3
output = "{out}"

[data]
path = "{data}"
ljp_mV = 14.0
train = {{ repeats = [0], stimuli = ["IDrest:9", "IDrest:15"] }}
validation = {{ repeats = [1], stimuli = ["IDrest:12"] }}

[model]
name = "AdExIF"
fixed = {{ V_rest = "-70 mV" }}
derived = {{ V_th = "V_T + 10" }}

[params]
tau = {{ low = "5 ms", high = "60 ms", log = true }}
V_T = {{ low = "-60 mV", high = "-35 mV" }}
b = {{ low = "0 pA", high = "300 pA" }}

[search]
trials = 64
batch_size = 32

[resources]
executor = "local"
"""


@pytest.fixture(scope="module")
def api_result(tmp_path_factory, example_data):
    out = tmp_path_factory.mktemp("api") / "py"
    rec = spikefit.load(example_data)
    params = {**PARAMS, "tau": (5 * u.ms, 60 * u.ms, True)}  # quantities work as well as strings
    return spikefit.fit(rec, "AdExIF", params, fixed={"V_rest": "-70 mV"}, derived={"V_th": "V_T + 10"},
                        data={"ljp_mV": 14.0, "train": TRAIN, "validation": VALID},
                        search={"trials": 64, "batch_size": 32}, name="api", seed=3, output=out,
                        progress=False)


def test_fit_returns_the_results_as_dataframes_with_units(api_result):
    res = api_result
    assert res.status == "complete" and len(res.trials) == 64
    assert set(res.trials.state) <= {"COMPLETE", "FAIL"}
    (best,) = res.best.to_dict("records")
    assert list(best["free_parameters"]) == ["tau", "V_T", "b"]
    assert 5 <= best["tau"] <= 60 and -60 <= best["V_T"] <= -35
    assert best["V_th"] == pytest.approx(best["V_T"] + 10, abs=1e-4)  # derived, written beside
    assert res.units["tau"] == "ms" and res.units["b"] == "pA" and res.units["R"] == "GOhm"
    assert list(res.validation.stimulus) == ["IDrest:12"]
    assert set(res.traces.kind) == {"recorded", "simulated"}
    # the folder reads back the same, without spikefit
    import pandas as pd

    assert len(pd.read_parquet(f"{res.output}/trials")) == 64


def test_cli_run_of_the_same_job_is_the_same_fit(api_result, tmp_path, example_data, capsys):
    job = tmp_path / "api.toml"
    job.write_text(JOB.format(out=tmp_path / "cli", data=example_data))
    assert main(["run", str(job), "--no-progress"]) == 0
    cli = spikefit.ResultStore(tmp_path / "cli")
    py = api_result
    a = py.trials.sort_values("trial")
    b = cli.read_trials().sort_values("trial")
    np.testing.assert_allclose(a[["tau", "V_T", "b"]].to_numpy(), b[["tau", "V_T", "b"]].to_numpy())
    np.testing.assert_allclose(a.loss.to_numpy(), b.loss.to_numpy())
    assert cli.read_best().trial.iloc[0] == py.best.trial.iloc[0]
    assert "complete: 64 trials" in capsys.readouterr().out


def test_bad_arguments_name_the_argument(example_data):
    rec = spikefit.load(example_data)
    with pytest.raises(TypeError, match=r"params\['tau'\]: expected \(low, high\[, log\]\)"):
        spikefit.fit(rec, "AdExIF", {"tau": "5 ms"})
    with pytest.raises(TypeError, match="recordings: expected a Recording, a path"):
        spikefit.fit([rec, 3], "AdExIF", PARAMS)
    with pytest.raises(spikefit.SpikefitError, match=r"spikefit.fit: .*params.tau.low.*expected a quantity in ms"):
        spikefit.fit(rec, "AdExIF", {"tau": ("5 mV", "60 ms")})
    with pytest.raises(ValueError, match="executor: expected one of ray, local"):
        spikefit.fit_job(_spec(example_data), executor="gpu")


def _spec(example_data):
    return spikefit.parse_job({"name": "x", "data": {"path": str(example_data)}, "model": {"name": "LIF"},
                               "params": {"tau": {"low": "5 ms", "high": "50 ms"}}}, source="x")
