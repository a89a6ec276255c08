"""Job specs (``jobs/*.toml``): parsed and validated before anything starts.

A job spec says which recordings to fit, which model with which fixed parameters, which
parameters are free (bounds, unit, log scale), the objective, the search (sampler, budget,
batch size, seed), the resources and where results go. Every error names the key, the value
seen and what is allowed, e.g. ``quickstart.toml: [search.sampler] expected one of 'tpe',
'cmaes', ..., got 'adam'``. See the README for a commented example.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from spikefit.units import to_unit

__all__ = ["JobSpec", "JobSpecError", "SearchSpec", "StageSpec", "load_job", "parse_job", "SAMPLERS"]

from spikefit.errors import SpikefitError  # noqa: E402
from spikefit.search.samplers import SAMPLERS  # noqa: E402  (one list of sampler names, no Optuna)
from spikefit.spec._strict import Strict as _Strict  # noqa: E402
from spikefit.spec.messages import describe  # noqa: E402
from spikefit.spec.search import SearchSpec, StageSpec  # noqa: E402


class JobSpecError(SpikefitError):
    """A job spec that cannot run: names the file, key, value seen and what is allowed."""


class Selection(_Strict):
    """Which sweeps form a set. Empty fields select everything."""

    sweeps: list[str] | None = None
    stimuli: list[str] | None = None
    repeats: list[int] | None = None
    protocols: list[str] | None = None
    t_start_ms: float | None = Field(default=None, ge=0)
    t_stop_ms: float | None = Field(default=None, gt=0)


class DataSpec(_Strict):
    path: str | list[str]
    format: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    cells: list[str] | None = None
    train: Selection = Selection()
    validation: Selection | None = None
    dt_ms: float | None = Field(default=None, gt=0)
    ljp_mV: float = 0.0
    spike_detection: dict[str, Any] = Field(default_factory=dict)
    # the current that drives the model: "idealised" steps (holding + plateau, no spike-locked
    # artefacts), the "recorded" current, or "auto": idealised for step protocols (spikefit.data.stimulus)
    stimulus: Literal["auto", "idealised", "recorded"] = "auto"

    def paths(self, base: Path) -> list[Path]:
        raw = [self.path] if isinstance(self.path, str) else list(self.path)
        out = []
        for p in raw:
            q = Path(p).expanduser()
            out.append(q if q.is_absolute() else (base / q))
        return out


class FreeParam(_Strict):
    low: float | str
    high: float | str
    unit: str = ""
    log: bool = False


class ModelSpec(_Strict):
    name: str
    spk_reset: Literal["hard", "soft"] = "hard"
    fixed: dict[str, float | str] = Field(default_factory=dict)
    derived: dict[str, str] = Field(default_factory=dict)
    max_rate_hz: float = Field(default=200.0, gt=0)


class ResourceSpec(_Strict):
    workers: int = Field(default=1, ge=1)
    cpus_per_worker: float = Field(default=1.0, gt=0)
    gpus_per_worker: float = Field(default=0.0, ge=0)
    address: str | None = None
    executor: Literal["ray", "local"] = "ray"  # local: in the driver's process, no Ray
    in_flight_per_worker: int = Field(default=2, ge=1)
    # simulation engine: "auto" (the fused Pallas kernel on GPU, the scan loop elsewhere), or force one
    engine: Literal["auto", "kernel", "scan"] = "auto"


class JobSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    output: str | None = None
    data: DataSpec
    model: ModelSpec
    params: dict[str, FreeParam]
    objective: dict[str, Any] = Field(default_factory=lambda: {"metrics": [{"name": "gamma"}]})
    search: SearchSpec = SearchSpec()
    resources: ResourceSpec = ResourceSpec()
    #: folder of the job file; relative data paths are resolved against it
    base_dir: str = "."
    _source: str = PrivateAttr(default="<job>")

    @model_validator(mode="after")
    def _check_model(self) -> "JobSpec":
        from spikefit import models
        if self.model.name not in models.MODEL_NAMES:
            raise ValueError(
                f"[model.name] expected one of {', '.join(models.MODEL_NAMES)}, got {self.model.name!r}"
            )
        units = models.parameter_units(self.model.name)
        for section, names in (("params", self.params), ("model.fixed", self.model.fixed)):
            for name in names:
                if name not in units:
                    raise ValueError(
                        f"[{section}.{name}] {self.model.name} has no parameter {name!r}; "
                        f"its parameters are {', '.join(units)}"
                    )
        for name, expr in self.model.derived.items():
            if name not in units:
                raise ValueError(f"[model.derived.{name}] {self.model.name} has no parameter {name!r}; "
                                 f"its parameters are {', '.join(units)}")
            if name in self.params or name in self.model.fixed:
                raise ValueError(f"[model.derived.{name}] {name!r} is also free or fixed; keep one")
            from spikefit.spec.derived import parse_expression

            parse_expression(expr, set(self.params) | set(self.model.fixed), key=f"model.derived.{name}")
        both = set(self.params) & set(self.model.fixed)
        if both:
            raise ValueError(f"[params] {sorted(both)} are both free and fixed; keep one")
        if not self.params:
            raise ValueError("[params] expected at least one free parameter, got none")
        for name, p in self.params.items():
            unit = p.unit or units[name]
            low = to_unit(p.low, unit, key=f"params.{name}.low")
            high = to_unit(p.high, unit, key=f"params.{name}.high")
            if not low < high:
                raise ValueError(f"[params.{name}] expected low < high, got low={p.low}, high={p.high}")
            if p.log and low <= 0:
                raise ValueError(f"[params.{name}] log = true needs low > 0, got low={p.low}")
        for name, value in self.model.fixed.items():
            to_unit(value, units[name], key=f"model.fixed.{name}")
        if self.model.derived:  # once, on the corners and centre of the bounds (see spec.derived)
            from spikefit.spec.derived import check_values

            check_values(dict(self.model.derived), self.free_bounds(), self.fixed_values())
        return self

    @model_validator(mode="after")
    def _check_objective(self) -> "JobSpec":
        from spikefit.scoring.objective import Objective  # metric names and options, no Optuna

        Objective.from_spec(self.objective)
        return self

    @property
    def source(self) -> str:
        """Where the spec came from (the job file, or ``parse_job``'s ``source``), for messages."""
        return self._source

    def model_units(self) -> dict[str, str]:
        """Every parameter of the model -> its unit in the simulator's unit system."""
        from spikefit import models

        return models.parameter_units(self.model.name)

    def fixed_values(self) -> dict[str, float]:
        """Fixed parameters as floats in the simulator's unit system."""
        units = self.model_units()
        return {k: to_unit(v, units[k], key=f"model.fixed.{k}") for k, v in self.model.fixed.items()}

    def free_bounds(self) -> dict[str, tuple[float, float, bool]]:
        """Free parameters: name -> (low, high, log) in the simulator's unit system."""
        units = self.model_units()
        out = {}
        for name, p in self.params.items():
            spec_unit = p.unit or units[name]
            low = to_unit(p.low, spec_unit, key=f"params.{name}.low")
            high = to_unit(p.high, spec_unit, key=f"params.{name}.high")
            factor = to_unit(f"1 {spec_unit}", units[name], key=f"params.{name}.unit") if spec_unit else 1.0
            out[name] = (low * factor, high * factor, p.log)
        return out

    def output_dir(self) -> str:
        return self.output or str(Path("results") / self.name)

    def fingerprint(self) -> str:
        """What makes two runs the same job: data, model, parameters, objective and search plan
        (not the output, the trial budgets or the resources, which a resume may change)."""
        import hashlib
        import json

        d = self.model_dump(exclude={"output", "resources", "base_dir"})
        d["search"].pop("trials", None)
        for stage in d["search"].get("stages") or ():
            stage.pop("trials", None)
        text = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_job(data: dict[str, Any], *, source: str = "<job>", base_dir: str | Path = ".") -> JobSpec:
    """Validate a job spec given as a dict (as read from TOML); a job with ``[[models]]`` gives a
    :class:`~spikefit.spec.choice.ModelChoiceJob` (one JobSpec per model)."""
    if not isinstance(data, dict):
        raise JobSpecError(f"{source}: expected a table of job keys (name, data, model, params, ...), "
                           f"got {type(data).__name__}")
    if "models" in data:  # several models, one chosen on the held-out segment (spikefit.spec.choice)
        from spikefit.spec.choice import parse_variants

        return parse_variants(data, source=source, base_dir=base_dir, error=JobSpecError,
                              validate=lambda d, src: parse_job(d, source=src, base_dir=base_dir))
    try:
        spec = JobSpec.model_validate({**data, "base_dir": str(base_dir)})
        spec._source = str(source)
        return spec
    except ValidationError as err:
        raise JobSpecError(describe(err, source, JobSpec)) from None
    except ValueError as err:  # from units / models inside validators
        raise JobSpecError(f"{source}: {err}") from None


def load_job(path: str | Path, **overrides: Any) -> JobSpec:
    """Read and validate ``path``; ``overrides`` replace top-level sections/keys (e.g. output)."""
    path = Path(path)
    if not path.is_file():
        raise JobSpecError(f"{path}: job file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise JobSpecError(f"{path}: not valid TOML: {err}") from None
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "trials":  # the budget: of the one stage, or of every stage (per seed)
            search = data.setdefault("search", {})
            search["trials"] = value
            for stage in search.get("stages") or ():
                if not stage.get("passive"):
                    stage["trials"] = value
        else:
            data[key] = value
    return parse_job(data, source=str(path), base_dir=path.resolve().parent)
