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

__all__ = ["make_sampler", "make_batch_cma", "to_unit", "from_unit", "from_unit_array"]


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
