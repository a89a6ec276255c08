"""spikefit.search.stages: the search plan of a job, sampler options and the choice of the fit."""

from __future__ import annotations

import math

import pytest

from spikefit.search.stages import Choice, choose, plan, sampler_options, study_name
from spikefit.spec.jobspec import JobSpecError, SearchSpec, parse_job


def test_a_job_without_stages_is_one_stage_with_the_job_seed():
    search = SearchSpec(sampler="tpe", options={"n_startup_trials": 5}, trials=300)
    (stage,) = plan(search, job_seed=7)
    assert (stage.name, stage.trials, stage.seeds, stage.sampler) == ("main", 300, (7,), "tpe")
    assert stage.options == {"n_startup_trials": 5} and not stage.local
    # a one-stage job keeps the study name older runs resume from
    assert study_name("job", "cell", stage, 7, single=True) == "job.cell"


def test_stages_keep_their_order_seeds_and_options():
    search = SearchSpec(options={"sigma0": 0.25}, batch_size=64, stages=[
        {"name": "global", "trials": 1000, "seeds": [0, 1]},
        {"name": "explore", "trials": 200, "sampler": "random"},
        {"name": "local", "trials": 500, "seeds": [100], "local": True, "sigma0": 0.03}])
    stages = plan(search, job_seed=2)
    assert [s.name for s in stages] == ["global", "explore", "local"]
    assert stages[0].seeds == (2000, 2001) and stages[2].seeds == (2100,)
    assert stages[0].options == {"sigma0": 0.25}
    assert stages[1].options == {}  # the job's cmaes options do not go to another sampler
    assert search.total_trials() == 2 * 1000 + 200 + 500
    assert study_name("job", "c", stages[2], 2100, single=False) == "job.c.local.2100"


def test_local_stage_starts_at_the_given_candidate():
    search = SearchSpec(batch_size=48, stages=[{"name": "g", "trials": 10},
                                               {"name": "l", "trials": 10, "local": True, "sigma0": 0.02}])
    g, loc = plan(search, 0)
    assert sampler_options(g, 48, None) == {"popsize": 48}
    opts = sampler_options(loc, 48, {"tau": 12.0})
    assert opts == {"popsize": 48, "x0": {"tau": 12.0}, "sigma0": 0.02}
    with pytest.raises(ValueError, match="local stage needs a finished earlier stage"):
        sampler_options(loc, 48, None)


@pytest.mark.parametrize("stages, message", [
    ([{"name": "l", "trials": 5, "local": True}], "first stage .* cannot be local"),
    ([{"name": "a", "trials": 5}, {"name": "a", "trials": 5}], "distinct stage names"),
    ([{"name": "a", "trials": 5}, {"name": "b", "trials": 5, "local": True, "sampler": "tpe"}],
     "needs sampler 'cmaes_batch'"),
    ([{"name": "a", "trials": 5, "sampler": "adam"}], "expected one of"),
    ([{"name": "a", "trials": 0}], "greater than 0"),
])
def test_bad_stage_plans_name_the_key(stages, message):
    job = {"name": "t", "data": {"path": "x"}, "model": {"name": "LIF"},
           "params": {"tau": {"low": "5 ms", "high": "50 ms"}}, "search": {"stages": stages}}
    with pytest.raises(JobSpecError, match=r"job.toml: \[search") as err:
        parse_job(job, source="job.toml")
    assert err.match(message)


def _c(stage, seed, train, hold=math.nan):
    return Choice(stage, seed, 0, {"tau": float(seed)}, train, hold, {"gamma": 0.5})


def test_choice_on_the_held_out_segment_not_the_training_loss():
    cands = [_c("global", 0, 0.30, 0.60), _c("global", 1, 0.40, 0.50), _c("local", 100, 0.20, 0.55)]
    best, why = choose(cands, holdout_ms=8000)
    assert best is cands[1]
    assert "held-out last 8000 ms" in why and "global/0=0.6000" in why and "local/100=0.5500" in why
    best, why = choose(cands, holdout_ms=None)
    assert best is cands[2] and "training loss" in why


def test_a_candidate_without_a_held_out_score_is_never_preferred():
    best, _ = choose([_c("g", 0, 0.1, math.nan), _c("g", 1, 0.9, 0.8)], holdout_ms=100)
    assert best.seed == 1
    with pytest.raises(ValueError, match="no candidates"):
        choose([], holdout_ms=None)
