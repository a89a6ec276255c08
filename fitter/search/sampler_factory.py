"""Building samplers: Optuna's by name with checked options, and spikefit's batch CMA-ES."""

from __future__ import annotations

import importlib.util
import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna

from spikefit.search.samplers import SAMPLERS, SINGLE_OBJECTIVE_ONLY
from spikefit.search.space import SearchSpace

__all__ = ["make_sampler", "make_batch_cma", "check_sampler_options", "to_unit", "from_unit", "from_unit_array"]


def make_sampler(
    name: str, options: Mapping[str, Any], seed: int | None, n_objectives: int
) -> optuna.samplers.BaseSampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {list(SAMPLERS)}")
    if name in SINGLE_OBJECTIVE_ONLY and n_objectives > 1:
        raise ValueError(
            f"sampler {name!r} handles one objective, got {n_objectives} directions; use "
            "'nsga2', 'tpe', 'random', 'qmc' or 'gp' for several objectives"
        )
    if name == "gp" and importlib.util.find_spec("torch") is None:
        raise ImportError(
            "sampler 'gp' (Optuna's GPSampler) needs PyTorch; install it with "
            "`pip install torch --index-url https://download.pytorch.org/whl/cpu` "
            "or pick another sampler"
        )
    cls = {
        "tpe": optuna.samplers.TPESampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "nsga2": optuna.samplers.NSGAIISampler,
        "qmc": optuna.samplers.QMCSampler,
        "random": optuna.samplers.RandomSampler,
        "gp": optuna.samplers.GPSampler,
    }[name]
    if "seed" in options:
        raise ValueError(f"sampler {name!r}: pass the seed as Study.create(seed=...), not as an option")
    allowed = sorted(p for p in inspect.signature(cls).parameters if p != "seed")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"sampler {name!r}: unknown options {unknown}; allowed: {allowed}")
    kwargs = dict(options)
    if name == "qmc" and seed is not None:
        kwargs.setdefault("warn_asynchronous_seeding", False)
    with warnings.catch_warnings():  # QMCSampler is "experimental"; choosing it is deliberate
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(seed=seed, **kwargs)


def to_unit(space: SearchSpace, params: Mapping[str, float]) -> np.ndarray:
    out = []
    for p in space.params:
        lo, hi, v = p.low, p.high, float(params[p.name])
        if p.log:
            lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, p.low))
        out.append((v - lo) / (hi - lo))
    return np.clip(np.array(out), 0.0, 1.0)


def from_unit(space: SearchSpace, z: np.ndarray) -> dict[str, float]:
    out = {}
    for p, zi in zip(space.params, z):
        if p.log:
            v = math.exp(math.log(p.low) + float(zi) * (math.log(p.high) - math.log(p.low)))
        else:
            v = p.low + float(zi) * (p.high - p.low)
        out[p.name] = min(max(v, p.low), p.high)
    return out


def from_unit_array(space: SearchSpace, z: np.ndarray) -> np.ndarray:
    """Unit-cube points [k, n] -> parameters [k, n] in the space's units (log where log)."""
    z = np.asarray(z, float).reshape(-1, len(space.params))
    lo, hi = np.array([p.low for p in space.params]), np.array([p.high for p in space.params])
    log = np.array([p.log for p in space.params])
    llo, lhi = np.log(np.where(log, lo, 1.0)), np.log(np.where(log, hi, 1.0))
    x = np.where(log, np.exp(llo + z * (lhi - llo)), lo + z * (hi - lo))
    return np.clip(x, lo, hi)


def make_batch_cma(space: SearchSpace, options: Mapping[str, Any], seed: int | None, n_obj: int):
    from spikefit.search.batch_cmaes import BatchCMA

    if n_obj > 1:
        raise ValueError("sampler 'cmaes_batch' handles one objective; use 'nsga2' for several")
    allowed = {"popsize", "sigma0", "x0"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"sampler 'cmaes_batch': unknown options {unknown}; allowed: {sorted(allowed)}")
    if "popsize" not in options:
        raise ValueError("sampler 'cmaes_batch': needs option 'popsize' (the runner sets it to the batch size)")
    mean = None
    if options.get("x0") is not None:
        x0 = dict(options["x0"])
        missing = sorted(set(space.names) - set(x0))
        if missing:
            raise ValueError(f"sampler 'cmaes_batch' option x0: missing parameters {missing}")
        mean = to_unit(space, x0)
    return BatchCMA(len(space.names), int(options["popsize"]), seed=seed,
                    sigma0=float(options.get("sigma0", 0.25)), mean=mean)


def check_sampler_options(stages, space: SearchSpace, n_objectives: int, *, batch_size: int,
                          source: str = "<job>") -> None:
    """Pre-flight: build each stage's sampler once, as the driver will, before anything is
    written or started; a bad sampler option is a :class:`~spikefit.errors.SpikefitError`
    naming ``source`` (the job file) and the key.

    ``stages``: :func:`spikefit.search.stages.plan` of the job. A local stage is built at the
    centre of the space (its real start, the best of the earlier stages, comes later).
    """
    from spikefit.errors import SpikefitError
    from spikefit.search.stages import DEFAULT_STAGE, sampler_options

    single = len(stages) == 1 and stages[0].name == DEFAULT_STAGE
    centre = dict(zip(space.names, from_unit_array(space, np.full(len(space.names), 0.5))[0].tolist()))
    for i, stage in enumerate(stages):
        where = "search" if single else f"search.stages[{i}] ({stage.name})"
        opts = sampler_options(stage, batch_size, centre if stage.local else None)
        if "seed" in opts:
            raise SpikefitError(f"{source}: [{where}.options] expected no 'seed' option, got seed = {opts['seed']!r}; "
                                "the samplers are seeded from the job's seed (and each stage's seeds): remove it")
        allowed = _option_names(stage.sampler)
        unknown = sorted(set(opts) - allowed) if allowed is not None else []
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; remove it or fix its spelling"
            raise SpikefitError(
                f"{source}: [{where}.options] sampler {stage.sampler!r}: expected options among "
                f"{', '.join(map(repr, sorted(allowed)))}, got unknown {', '.join(map(repr, unknown))}{hint}")
        for name in sorted(set(opts) & _OBJECT_OPTIONS):
            if opts[name] is not None and _plain(opts[name]):
                raise SpikefitError(f"{source}: [{where}.options.{name}] sampler {stage.sampler!r}: expected a Python "
                                    f"object (a function, sampler or operator), got {opts[name]!r}; a job file cannot "
                                    "give one: remove the option (or pass the object through spikefit.fit)")
        if stage.sampler == "cmaes_batch":
            pop = opts["popsize"]  # the batch size unless given
            for name, ok, want in (("sigma0", _real(opts.get("sigma0", 0.25)) and 0 < opts.get("sigma0", 0.25) <= 1,
                                    "a number in (0, 1] (the step in the [0, 1]-scaled space)"),
                                   ("popsize", _integer(pop) and 2 <= pop <= MAX_POPSIZE,
                                    f"an integer in 2..{MAX_POPSIZE}")):
                if not ok:
                    key = f"{where}.options.{name}" if name in stage.options else "search.batch_size"
                    raise SpikefitError(f"{source}: [{key}] sampler 'cmaes_batch': expected {name} {want}, "
                                        f"got {opts.get(name)!r}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if stage.sampler == "cmaes_batch":
                    make_batch_cma(space, opts, 0, n_objectives)
                else:
                    _dry_run(make_sampler(stage.sampler, opts, 0, n_objectives), space, n_objectives)
        except Exception as err:  # ValueError, TypeError, ImportError, a library's AssertionError ...
            key = f"{where}.options" if stage.options else f"{where}.sampler"
            text = str(err).rstrip(". ")
            text = text if text.startswith("sampler ") else f"sampler {stage.sampler!r}: {type(err).__name__}: {text}"
            raise SpikefitError(f"{source}: [{key}] {text}; fix [{key}] in the job") from None


#: the largest CMA-ES generation ``cmaes_batch`` accepts (its population: the batch size by default)
MAX_POPSIZE = 1_000_000
#: Optuna sampler options that take Python objects (functions, samplers, operators), not data
_OBJECT_OPTIONS = frozenset({"gamma", "weights", "constraints_func", "independent_sampler", "mutation", "crossover",
                             "elite_population_selection_strategy", "child_generation_strategy",
                             "after_trial_strategy", "source_trials"})


def _plain(x: Any) -> bool:
    """Whether ``x`` is plain data (what a TOML file holds): no function or object in it."""
    if isinstance(x, (list, tuple)):
        return all(_plain(v) for v in x)
    if isinstance(x, dict):
        return all(_plain(v) for v in x.values())
    return isinstance(x, (str, int, float, bool)) or x is None


def _dry_run(sampler, space: SearchSpace, n_objectives: int, n: int = 4) -> None:
    """Ask and tell ``n`` trials in memory: options of a wrong type often fail only when used."""
    from optuna.distributions import FloatDistribution

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(sampler=sampler, directions=["minimize"] * n_objectives)
        dists = {p.name: FloatDistribution(p.low, p.high, log=p.log) for p in space.params}
        for k in range(n):
            trial = study.ask(fixed_distributions=dists)
            study.tell(trial, [float(k)] * n_objectives if n_objectives > 1 else float(k))
    finally:
        optuna.logging.set_verbosity(level)


def _real(x: Any) -> bool:
    try:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    except OverflowError:  # an int beyond float
        return False


def _integer(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _option_names(name: str) -> set[str] | None:
    """The option names a sampler takes (``seed`` is set by spikefit), None if unknown here."""
    if name == "cmaes_batch":
        return {"popsize", "sigma0", "x0"}
    cls = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "nsga2": "NSGAIISampler", "qmc": "QMCSampler",
           "random": "RandomSampler", "gp": "GPSampler"}.get(name)
    if cls is None or not hasattr(optuna.samplers, cls):
        return None
    return {p for p in inspect.signature(getattr(optuna.samplers, cls)).parameters if p != "seed"}
