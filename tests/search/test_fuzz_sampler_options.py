"""Fuzzing sampler options: the driver's pre-flight (``check_sampler_options``) either refuses
them with one line naming the job file and key, or the real studies built from them ask and
tell without error. Hypothesis, derandomized; regressions found by fuzzing are kept below."""

from __future__ import annotations

import importlib.util
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikefit.errors import SpikefitError
from spikefit.search.sampler_factory import _option_names, check_sampler_options
from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.search.stages import Stage, sampler_options
from spikefit.search.study import Study

SPACE = SearchSpace([FreeParameter("tau", 1.0, 100.0, "ms", log=True), FreeParameter("V_T", -70.0, -40.0, "mV"),
                     FreeParameter("a", 0.0, 20.0, "nS")])
SOURCE = "fuzz.toml"
SAMPLERS = ["cmaes_batch", "tpe", "cmaes", "nsga2", "qmc", "random"]  # gp: needs torch, slow
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.integers(min_value=2**64, max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                   st.sampled_from(["sobol", "halton", "ipop", "bipop", "x"]), st.lists(st.integers(0, 3), max_size=3),
                   st.dictionaries(st.sampled_from(["tau", "V_T", "a", "b"]), st.floats(-100, 100), max_size=4))


@st.composite
def stages(draw) -> tuple[Stage, int]:
    name = draw(st.sampled_from(SAMPLERS))
    keys = sorted(_option_names(name))
    if draw(st.booleans()):  # half the cases with a misspelt or forbidden name among the options
        keys += ["seed", "sigma_0", "n_startup", "popsize_"]
    options = draw(st.dictionaries(st.sampled_from(keys), VALUES, max_size=3)) if keys else {}
    n_obj = draw(st.sampled_from([1, 1, 2]))
    return Stage("main", 8, (0,), name, options), n_obj


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(stages())
def test_preflight_refuses_with_the_key_or_the_study_runs(case):
    stage, n_obj = case
    try:
        check_sampler_options([stage], SPACE, n_obj, batch_size=4, source=SOURCE)
    except SpikefitError as err:
        msg = str(err)
        assert msg.startswith(f"{SOURCE}: [search") and "\n" not in msg, msg
        return
    study = Study.create("fuzz", SPACE, directions=("minimize",) * n_obj, sampler=stage.sampler,
                         sampler_options=sampler_options(stage, 4, None), seed=0)
    for _ in range(2):
        numbers, x = study.ask_array(4)
        values = x.sum(1) if n_obj == 1 else x[:, :n_obj]
        told = study.tell_array(numbers, x, values, [False] * len(numbers))
        study.record(told)
    assert all(math.isfinite(v) for v in x.ravel())


# ---------------------------------------------------------------------- regressions found by fuzzing
@pytest.mark.parametrize(("name", "options", "match"), [
    # the cmaes library asserts on a zero step: AssertionError, after manifest.json was written
    ("cmaes_batch", {"sigma0": False}, r"\[search.options.sigma0\] sampler 'cmaes_batch': expected sigma0 a number in \(0, 1\]"),
    ("cmaes_batch", {"sigma0": 0}, r"\[search.options.sigma0\]"),
    ("cmaes_batch", {"popsize": 1}, r"\[search.options.popsize\] .*expected popsize an integer in 2..1000000, got 1"),
    # a popsize of 2**64: the CMA-ES allocated a generation that size (a hang, then out of memory)
    ("cmaes_batch", {"popsize": 2**64}, r"\[search.options.popsize\] .*in 2..1000000, got 18446744073709551616"),
    # Optuna samplers take n_startup_trials = None at construction and fail with TypeError when asked
    ("tpe", {"n_startup_trials": None}, r"\[search.options\] sampler 'tpe': TypeError"),
    ("cmaes", {"n_startup_trials": None}, r"\[search.options\] sampler 'cmaes': TypeError"),
    # a typo: refused before anything is written, with the close match
    ("cmaes_batch", {"sigma_0": 0.3}, r"\[search.options\] .*got unknown 'sigma_0'; did you mean 'sigma0'\?"),
    ("tpe", {"n_startup": 3}, r"\[search.options\] sampler 'tpe': .*got unknown 'n_startup'; did you mean 'n_startup_trials'"),
    ("tpe", {"seed": 3}, r"\[search.options\] expected no 'seed' option"),
    # a value Optuna accepts at construction and fails on when asked (the pre-flight asks 4 trials)
    ("qmc", {"qmc_type": "x"}, r"\[search.options\] sampler 'qmc': ValueError"),
    # options that take Python objects, given plain data (used only after the startup trials)
    ("tpe", {"gamma": 1}, r"\[search.options.gamma\] sampler 'tpe': expected a Python object"),
    ("nsga2", {"mutation": "x"}, r"\[search.options.mutation\] sampler 'nsga2': expected a Python object"),
])
def test_fuzz_regressions(name, options, match):
    with pytest.raises(SpikefitError, match=match) as err:
        check_sampler_options([Stage("main", 8, (0,), name, options)], SPACE, 1, batch_size=4, source=SOURCE)
    assert str(err.value).startswith(SOURCE)


def test_huge_batch_size_is_named_when_it_sets_the_population():
    with pytest.raises(SpikefitError, match=r"fuzz.toml: \[search.batch_size\] sampler 'cmaes_batch'"):
        check_sampler_options([Stage("main", 8, (0,), "cmaes_batch", {})], SPACE, 1, batch_size=10**7, source=SOURCE)


def test_several_objectives_with_a_single_objective_sampler():
    with pytest.raises(SpikefitError, match=r"fuzz.toml: \[search.sampler\] sampler 'cmaes'.*one objective"):
        check_sampler_options([Stage("main", 8, (0,), "cmaes", {})], SPACE, 2, batch_size=4, source=SOURCE)


def test_stages_are_named_by_index_and_name():
    plan = [Stage("global", 8, (0,), "tpe", {}), Stage("local", 8, (0,), "cmaes_batch", {"sigma_0": 1}, local=True)]
    with pytest.raises(SpikefitError, match=r"\[search.stages\[1\] \(local\).options\]"):
        check_sampler_options(plan, SPACE, 1, batch_size=4, source=SOURCE)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_gp_without_torch_is_an_input_error_with_the_install_hint():
    with pytest.raises(SpikefitError, match=r"\[search.sampler\] sampler 'gp' .*needs PyTorch.*pip install torch"):
        check_sampler_options([Stage("main", 8, (0,), "gp", {})], SPACE, 1, batch_size=4, source=SOURCE)
