"""Fuzzing job specs: the shipped jobs mutated at random (hypothesis, derandomized).

Property: ``parse_job`` either returns a :class:`JobSpec` or raises a :class:`JobSpecError`
whose message starts with the file name; never another exception type. A spec that parses
also passes the driver's sampler pre-flight or fails it the same way. Minimal examples found
by fuzzing are kept below as explicit regression tests.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikefit.errors import SpikefitError
from spikefit.spec.choice import ModelChoiceJob
from spikefit.spec.jobspec import JobSpec, JobSpecError, load_job, parse_job

REPO = Path(__file__).resolve().parents[2]
JOBS = sorted((REPO / "jobs").glob("*.toml"))
SOURCE = "fuzz.toml"
SETTINGS = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _staged(raw: dict) -> dict:
    raw = copy.deepcopy(raw)
    raw["search"] = {"sampler": "cmaes_batch", "batch_size": 8, "holdout_ms": 100.0,
                     "stages": [{"name": "global", "trials": 16, "seeds": [0, 1]},
                                {"name": "local", "trials": 8, "local": True, "sigma0": 0.1}]}
    return raw


BASES = [tomllib.loads(p.read_text()) for p in JOBS]
BASES.append(_staged(BASES[0]))

_TRICKY_TEXT = ["", " ", "5 ms", "-70 mV", "20 MOhm", "1e400 ms", "nan ms", "inf mV", "-inf", "5", "abc",
                "V_T + 5 * delta_T", "1/0", "V_T / (delta_T - delta_T)", "1e308*1e308", "(" * 40 + "V_T" + ")" * 40,
                " + ".join(["V_T"] * 300), "9" * 400, "V_T\x00", "__import__('os')", "gamma", "gama", "multi",
                "tpe", "adam", "cmaes_batch", "ray", "local", "hard", "ibw", "sigma_0", "popsize", "x" * 5000]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(_TRICKY_TEXT))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["name", "low", "high", "unit", "x", "sigma_0", "popsize",
                                                         "metrics", "mode", "trials", "delta_ms"]), inner, max_size=3),
                      max_leaves=6)


def _paths(node, prefix=()):
    """Every path (tuple of keys / indexes) into a nested dict/list, the root included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _at(node, path):
    for p in path:
        node = node[p]
    return node


SECTIONS = ("top", "data", "model", "params", "objective", "search", "resources")


@st.composite
def mutated_specs(draw, section: str) -> dict:
    """A shipped job with 1-3 mutations (set to a random value, delete, add an unknown key,
    rename) at random places inside ``section`` ("top": the top-level keys themselves)."""
    spec = copy.deepcopy(draw(st.sampled_from(BASES)))
    spec.setdefault(section, {}) if section not in ("top", "data", "model", "params") else None
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(spec) if p and (len(p) == 1 if section == "top" else p[0] == section)]
        if not paths:
            break
        path = draw(st.sampled_from(paths[::-1]))  # deepest keys first: hypothesis favours early items
        parent, key = _at(spec, path[:-1]), path[-1]
        op = draw(st.sampled_from(["set", "set", "set", "delete", "add", "rename"]))
        if op == "set":
            parent[key] = draw(VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["sigma_0", "serch", "trails", "lo", "x0", "seed", "options"]))] = draw(VALUES)
        elif op == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["_", "s", "x"]))] = parent.pop(key)
    return spec


def check_parse(spec: dict) -> JobSpec | None:
    """The property: a JobSpec, or a JobSpecError that names the file."""
    try:
        job = parse_job(spec, source=SOURCE, base_dir=REPO / "jobs")
    except JobSpecError as err:
        assert str(err).startswith(SOURCE), str(err)
        return None
    assert isinstance(job, (JobSpec, ModelChoiceJob))
    for variant in getattr(job, "variants", ()):  # a model-choice job: one complete JobSpec per model
        assert isinstance(variant, JobSpec)
    return job


def check_preflight(job: JobSpec) -> None:
    """The driver's sampler pre-flight on a spec that parsed: passes, or names the file."""
    from spikefit.execution.driver import search_space
    from spikefit.scoring.objective import Objective
    from spikefit.search.sampler_factory import check_sampler_options
    from spikefit.search.stages import plan

    objective = Objective.from_spec(job.objective)
    n_obj = len(objective.terms) if objective.mode == "multi" else 1
    try:
        check_sampler_options(plan(job.search, job.seed), search_space(job), n_obj,
                              batch_size=job.search.batch_size, source=job.source)
    except SpikefitError as err:
        assert str(err).startswith(SOURCE), str(err)


@pytest.mark.parametrize("section", SECTIONS)
def test_mutated_specs_parse_or_fail_naming_the_file(section):
    @SETTINGS
    @given(mutated_specs(section))
    def run(spec):
        job = check_parse(spec)
        if job is not None:
            for one in getattr(job, "variants", [job]):
                check_preflight(one)

    run()


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(["V_T", "delta_T", "V_rest", "tau", "1", "0", "0.5", "1e308", "1e-320", "+", "-",
                                 "*", "/", "(", ")", "**", "%", "abs", ",", ".", "x", "'", "9" * 30]),
                min_size=1, max_size=40))
def test_random_derived_expressions_parse_or_fail_naming_the_key(tokens):
    spec = copy.deepcopy(BASES[0])
    spec["model"]["derived"] = {"V_th": " ".join(tokens)}
    job = check_parse(spec)
    if job is None:
        with pytest.raises(JobSpecError, match=r"model\.derived\.V_th"):
            parse_job(spec, source=SOURCE, base_dir=REPO / "jobs")
    else:  # accepted: finite on every probed point of the bounds
        from spikefit.spec.derived import Derived, probe_points

        columns, _ = probe_points(job.free_bounds())
        d = Derived(dict(job.model.derived), tuple(job.params), job.fixed_values())
        assert all(math.isfinite(v) for v in d(columns)["V_th"].tolist())


# ---------------------------------------------------------------------- regressions found by fuzzing
def _base() -> dict:
    return copy.deepcopy(BASES[0])


@pytest.mark.parametrize(("where", "value", "match"), [
    # pydantic's "Input should be ..." is reworded as "expected ..., got ..."
    (("search", "trials"), "many", r"\[search.trials\] expected a valid integer.*got 'many'"),
    # a derived expression with a NUL byte: ast.parse raised ValueError, not SyntaxError
    (("model", "derived", "V_th"), "V_T\x00", r"\[model.derived.V_th\] not an arithmetic expression"),
    # a 400-digit integer in a derived expression: float() overflowed
    (("model", "derived", "V_th"), "9" * 400, r"\[model.derived.V_th\] expected numbers below 1e308"),
    # a metric name that is a list: `name in METRICS` raised TypeError (unhashable)
    (("objective", "metrics", 0, "name"), ["gamma"], r"\[objective.metrics\[0\].name\] unknown metric"),
    # a huge integer weight: math.isfinite raised OverflowError
    (("objective", "metrics", 0, "weight"), 2**1100, r"\[objective.metrics\[0\].weight\] expected a non-negative"),
    # a voltage_rmse window of strings: float('abc') raised a bare ValueError
    (("objective", "metrics", 0), {"name": "voltage_rmse", "window_ms": ["a", "b"]},
     r"\[objective.metrics\[0\].window_ms\] expected \[before_ms, after_ms\]"),
    (("objective", "mode"), ["multi"], r"\[objective.mode\] expected one of 'weighted', 'multi'"),
])
def test_fuzz_regressions(where, value, match):
    spec = _base()
    _at(spec, where[:-1])[where[-1]] = value
    with pytest.raises(JobSpecError, match=match) as err:
        parse_job(spec, source=SOURCE, base_dir=REPO / "jobs")
    assert str(err.value).startswith(SOURCE) and "\n" not in str(err.value)


def test_not_a_table():
    with pytest.raises(JobSpecError, match=r"^fuzz.toml: expected a table of job keys"):
        parse_job(["name", "x"], source=SOURCE)  # type: ignore[arg-type]


def test_non_string_keys():
    spec = _base()
    spec[3] = "x"
    with pytest.raises(JobSpecError, match=r"^fuzz.toml"):
        parse_job(spec, source=SOURCE, base_dir=REPO / "jobs")


def test_every_shipped_job_still_parses():
    for path in JOBS:
        assert load_job(path).source == str(path)
