"""fitter/spec/jobspec.py: job specs are validated before anything runs; errors name key, value, allowed."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest

from spikefit.spec.jobspec import SAMPLERS, JobSpecError, load_job, parse_job

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "tests" / "assets" / "base_job.toml"  # the quickstart before its step plan


@pytest.fixture()
def raw() -> dict:
    return tomllib.loads(QUICKSTART.read_text())


def _err(data: dict) -> str:
    with pytest.raises(JobSpecError) as err:
        parse_job(data, source="job.toml", base_dir=REPO / "jobs")
    msg = str(err.value)
    assert msg.startswith("job.toml"), msg  # every error names the file
    return msg


def test_the_shipped_quickstart_runs_the_step_plan():
    spec = load_job(REPO / "jobs" / "quickstart.toml")
    assert [s.name for s in spec.search.stages] == ["passive", "global", "local"]
    assert spec.search.stages[0].passive and spec.search.total_trials() == 1536 + 512
    assert spec.data.stimulus == "auto" and "V_rest" in spec.params and spec.fixed_values() == {}
    assert [t["name"] for t in spec.objective["metrics"]] == ["fi_curve", "spike_count", "feature", "feature"]
    assert spec.data.paths(Path(spec.base_dir))[0].is_dir()
    quick = load_job(REPO / "jobs" / "quickstart.toml", trials=64)  # --trials: every search stage, not the passive one
    assert [s.trials for s in quick.search.stages] == [None, 64, 64]


def test_quickstart_parses(raw):
    spec = load_job(QUICKSTART)
    assert spec.name == "quickstart"
    assert spec.model.name == "AdExIF"
    assert spec.search.sampler == raw["search"]["sampler"] and spec.search.sampler in SAMPLERS
    assert spec.search.trials == raw["search"]["trials"]
    assert spec.search.batch_size == raw["search"]["batch_size"]
    assert Path(spec.base_dir) == QUICKSTART.parent
    assert spec.data.paths(Path(spec.base_dir))[0].is_dir()
    assert spec.fixed_values() == {"V_rest": -70.0}
    bounds = spec.free_bounds()
    assert list(bounds) == ["R", "tau", "V_reset", "V_T", "delta_T", "a", "b", "tau_w"]
    lo, hi, log = bounds["R"]  # MOhm -> GOhm
    assert (lo, hi, log) == (pytest.approx(0.02), pytest.approx(0.3), True)
    assert bounds["tau_w"] == (pytest.approx(20.0), pytest.approx(1000.0), True)
    assert bounds["V_reset"] == (pytest.approx(-75.0), pytest.approx(-40.0), False)
    assert spec.model.derived == {"V_th": "V_T + 5 * delta_T"}
    assert spec.output_dir() == "results/quickstart"


def test_unit_field_converts_bare_bounds(raw):
    raw["params"]["R"] = {"low": 20, "high": 300, "unit": "MOhm", "log": True}
    spec = parse_job(raw, source="job.toml")
    lo, hi, _ = spec.free_bounds()["R"]
    assert lo == pytest.approx(0.02) and hi == pytest.approx(0.3)


def test_unknown_top_level_key(raw):
    raw["serch"] = {"trials": 10}
    msg = _err(raw)
    assert "[serch]" in msg and "unknown key" in msg and "{'trials': 10}" in msg
    for allowed in ("name", "data", "model", "params", "objective", "search", "resources"):
        assert allowed in msg
    assert "base_dir" not in msg  # internal, not a user key


def test_unknown_nested_key(raw):
    raw["search"]["trails"] = 10
    msg = _err(raw)
    assert "search.trails" in msg and "unknown key" in msg and "(got 10)" in msg
    assert "trials" in msg.split("expected", 1)[1] and "batch_size" in msg


def test_unknown_key_in_free_parameter(raw):
    raw["params"]["R"]["lo"] = 3
    msg = _err(raw)
    assert "params.R.lo" in msg and "low, high, unit, log" in msg


def test_unknown_sampler(raw):
    raw["search"]["sampler"] = "adam"
    msg = _err(raw)
    assert "search.sampler" in msg and "'adam'" in msg
    for s in SAMPLERS:
        assert repr(s) in msg


def test_unknown_model(raw):
    raw["model"]["name"] = "HodgkinHuxley"
    msg = _err(raw)
    assert "model.name" in msg and "'HodgkinHuxley'" in msg
    assert "AdExIF" in msg and "GifRef" in msg and "LIF" in msg


def test_parameter_not_in_model(raw):
    raw["params"]["g_Na"] = {"low": 1, "high": 2}
    msg = _err(raw)
    assert "params.g_Na" in msg and "AdExIF" in msg
    assert "tau_w" in msg and "delta_T" in msg  # lists the model's parameters


def test_fixed_not_in_model(raw):
    raw["model"]["fixed"]["E_L"] = "-70 mV"
    msg = _err(raw)
    assert "model.fixed.E_L" in msg and "V_rest" in msg


def test_low_not_below_high(raw):
    raw["params"]["tau"] = {"low": "60 ms", "high": "5 ms"}
    msg = _err(raw)
    assert "params.tau" in msg and "low < high" in msg and "60 ms" in msg and "5 ms" in msg


def test_low_equal_high_in_other_unit(raw):
    raw["params"]["tau"] = {"low": "1 s", "high": "1000 ms"}
    msg = _err(raw)
    assert "params.tau" in msg and "low < high" in msg


def test_log_needs_positive_low(raw):
    raw["params"]["a"] = {"low": "0 nS", "high": "20 nS", "log": True}
    msg = _err(raw)
    assert "params.a" in msg and "log" in msg and "low > 0" in msg and "0 nS" in msg


def test_wrong_unit_dimension(raw):
    raw["params"]["tau"] = {"low": "5 mV", "high": "60 ms"}
    msg = _err(raw)
    assert "params.tau.low" in msg and "ms" in msg and "mV" in msg


def test_wrong_unit_dimension_fixed(raw):
    raw["model"]["fixed"]["V_rest"] = "-70 ms"
    msg = _err(raw)
    assert "model.fixed.V_rest" in msg and "mV" in msg


def test_unknown_unit_string(raw):
    raw["params"]["tau"] = {"low": "5 fortnights", "high": "60 ms"}
    msg = _err(raw)
    assert "params.tau.low" in msg and "'fortnights'" in msg and "'ms'" in msg


def test_both_free_and_fixed(raw):
    raw["model"]["fixed"]["tau"] = "20 ms"
    msg = _err(raw)
    assert "tau" in msg and "both free and fixed" in msg


def test_no_free_parameter(raw):
    raw["params"] = {}
    raw["model"]["derived"] = {}
    msg = _err(raw)
    assert "[params]" in msg and "at least one" in msg


def test_derived_unknown_name(raw):
    raw["model"]["derived"] = {"V_th": "V_T + 5 * slope"}
    msg = _err(raw)
    assert "model.derived.V_th" in msg and "'slope'" in msg and "delta_T" in msg


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "abs(V_T)", "V_T ** 2", "V_T.real",
                                  "[V_T][0]", "'x'", "V_T if delta_T else 0"])
def test_derived_code_rejected(raw, expr):
    raw["model"]["derived"] = {"V_th": expr}
    msg = _err(raw)
    assert "model.derived.V_th" in msg and repr(expr) in msg


def test_derived_target_not_in_model(raw):
    raw["model"]["derived"] = {"V_spike": "V_T + 5 * delta_T"}
    msg = _err(raw)
    assert "model.derived.V_spike" in msg and "V_th" in msg


def test_derived_target_also_free(raw):
    raw["model"]["derived"] = {"tau": "2 * tau_w"}
    msg = _err(raw)
    assert "model.derived.tau" in msg and "free or fixed" in msg


def test_bad_name_pattern(raw):
    raw["name"] = "my job/1"
    msg = _err(raw)
    assert "[name]" in msg and "my job/1" in msg


@pytest.mark.parametrize(("section", "key", "value"), [("search", "trials", 0), ("search", "batch_size", -1),
                                                        ("resources", "workers", 0)])
def test_positive_counts(raw, section, key, value):
    raw.setdefault(section, {})[key] = value
    msg = _err(raw)
    assert f"{section}.{key}" in msg and repr(value) in msg


def test_missing_required(raw):
    del raw["data"]
    msg = _err(raw)
    assert "[data]" in msg and "missing" in msg


def test_spk_reset_allowed_values(raw):
    raw["model"]["spk_reset"] = "medium"
    msg = _err(raw)
    assert "model.spk_reset" in msg and "'medium'" in msg and "hard" in msg and "soft" in msg


def test_missing_file(tmp_path):
    with pytest.raises(JobSpecError, match="not found") as err:
        load_job(tmp_path / "nope.toml")
    assert "nope.toml" in str(err.value)


def test_invalid_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[data\npath = 3\n')
    with pytest.raises(JobSpecError) as err:
        load_job(bad)
    assert "bad.toml" in str(err.value) and "not valid TOML" in str(err.value)


def test_error_in_file_names_the_file(tmp_path):
    text = re.sub(r'(?m)^sampler = "[^"]*"', 'sampler = "adam"', QUICKSTART.read_text())
    assert 'sampler = "adam"' in text
    job = tmp_path / "mine.toml"
    job.write_text(text)
    with pytest.raises(JobSpecError) as err:
        load_job(job)
    assert str(job) in str(err.value) and "'adam'" in str(err.value)


def test_overrides(tmp_path, raw):
    spec = load_job(QUICKSTART, output=str(tmp_path / "out"), trials=60)
    assert spec.output_dir() == str(tmp_path / "out")
    assert spec.search.trials == 60 != raw["search"]["trials"]
    assert spec.search.batch_size == raw["search"]["batch_size"]  # the rest of [search] is kept
    assert spec.search.sampler == raw["search"]["sampler"]
    same = load_job(QUICKSTART, output=None, trials=None)
    assert same.search.trials == raw["search"]["trials"] and same.output == "results/quickstart"


def test_trials_override_is_validated():
    with pytest.raises(JobSpecError, match="search.trials"):
        load_job(QUICKSTART, trials=0)


def test_parse_does_not_mutate_input(raw):
    before = copy.deepcopy(raw)
    parse_job(raw, source="job.toml", base_dir=REPO / "jobs")
    assert raw == before


def test_spec_is_frozen():
    spec = load_job(QUICKSTART)
    with pytest.raises(Exception):
        spec.name = "other"


def test_data_stimulus_option(raw):
    assert parse_job(raw, source="job.toml", base_dir=REPO / "jobs").data.stimulus == "auto"
    for mode in ("idealised", "recorded"):
        data = copy.deepcopy(raw)
        data["data"]["stimulus"] = mode
        assert parse_job(data, source="job.toml", base_dir=REPO / "jobs").data.stimulus == mode
    data = copy.deepcopy(raw)
    data["data"]["stimulus"] = "ideal"
    msg = _err(data)
    assert "data.stimulus" in msg and "'ideal'" in msg and "idealised" in msg


@pytest.mark.parametrize("job", sorted((REPO / "jobs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_job_parses(job):
    spec = load_job(job)
    variants = getattr(spec, "variants", [spec])  # a model-choice job: one spec per model
    for v in variants:
        assert v.free_bounds() and v.search.total_trials() > 0
    assert len({v.output_dir() for v in variants}) == len(variants)


@pytest.mark.parametrize(("stage", "expected"), [
    ({"name": "p", "passive": True, "dt_ms": 1.0}, "a passive stage simulates nothing; remove 'dt_ms'"),
    ({"name": "g", "trials": 64, "dt_ms": 0.0}, "dt_ms"),
])
def test_stage_step_is_checked(raw, stage, expected):
    raw["search"] = {"stages": [stage, {"name": "g2", "trials": 64}]}
    msg = _err(raw)
    assert expected in msg, msg


def test_stage_step_reaches_the_plan(raw):
    from spikefit.search.stages import plan

    raw["search"] = {"stages": [{"name": "g", "trials": 64, "dt_ms": 1.0}, {"name": "l", "trials": 32, "local": True}]}
    spec = parse_job(raw, source="job.toml", base_dir=REPO / "jobs")
    assert [s.dt_ms for s in plan(spec.search, spec.seed)] == [1.0, None]
