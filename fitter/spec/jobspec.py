"""Job specs (``jobs/*.toml``): parsed and validated before anything starts.

A job spec says which recordings to fit, which model with which fixed parameters, which
parameters are free (bounds, unit, log scale), the objective, the search (sampler, budget,
batch size, seed), the resources and where results go. Every error names the key, the value
seen and what is allowed, e.g. ``quickstart.toml: [search.sampler] expected one of 'tpe',
'cmaes', ..., got 'adam'``. See the README for a commented example.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from spikefit.units import to_unit

__all__ = ["JobSpec", "JobSpecError", "SearchSpec", "StageSpec", "load_job", "parse_job", "SAMPLERS"]

from spikefit.errors import SpikefitError  # noqa: E402
from spikefit.search.samplers import SAMPLERS  # noqa: E402  (one list of sampler names, no Optuna)


class JobSpecError(SpikefitError):
    """A job spec that cannot run: names the file, key, value seen and what is allowed."""


def _did_you_mean(seen: Any, allowed) -> str:
    import difflib

    close = difflib.get_close_matches(str(seen), [str(a) for a in allowed], n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown_sampler(v: Any) -> str:
    hint = (_did_you_mean(v, SAMPLERS) if isinstance(v, str) else "") or "; use one of these names"
    return f"expected one of {', '.join(map(repr, SAMPLERS))}, got {v!r}{hint}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class StageSpec(_Strict):
    """One stage of a multi-stage search (``[[search.stages]]``): one study per seed.

    A global stage searches the job's full bounds; a local stage (``local = true``) starts a
    CMA-ES at the best candidate of the earlier stages with step ``sigma0`` (in the sampler's
    [0, 1]-scaled space). ``trials`` is the budget per seed.

    A passive stage (``passive = true``, no trials) fits R, tau and V_rest to the sub-threshold
    samples of the training sweeps (:mod:`spikefit.search.passive`); the later stages search R
    and tau within a factor ``1 +/- tolerance`` of its estimates and V_rest within
    ``v_tolerance_mV``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    trials: int | None = Field(default=None, gt=0)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    sampler: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    local: bool = False
    sigma0: float = Field(default=0.05, gt=0, le=1)
    passive: bool = False
    tolerance: float = Field(default=0.15, gt=0, le=10)
    v_tolerance_mV: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _trials_or_passive(self) -> "StageSpec":
        if self.passive and (self.trials is not None or self.local):
            raise ValueError(f"stage {self.name!r}: a passive stage has no trials and is not local (it fits "
                             "R, tau and V_rest directly); remove 'trials'/'local'")
        if not self.passive and self.trials is None:
            raise ValueError(f"stage {self.name!r}: expected 'trials' (a positive integer, the budget per seed)")
        return self

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, v: str | None) -> str | None:
        if v is not None and v not in SAMPLERS:
            raise ValueError(_unknown_sampler(v))
        return v


class SearchSpec(_Strict):
    """How to search. Without ``stages``: one study per cell of ``trials`` trials.

    With ``[[search.stages]]`` the stages run in order (the seeds of a stage side by side);
    ``holdout_ms`` cuts the last ``holdout_ms`` of every training sweep off before fitting and
    uses it only to choose among the stages' best candidates (never the validation sweeps).
    """

    sampler: str = "cmaes_batch"
    options: dict[str, Any] = Field(default_factory=dict)
    trials: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=256, gt=0)
    storage: str | None = None
    stages: list[StageSpec] | None = Field(default=None, min_length=1)
    holdout_ms: float | None = Field(default=None, gt=0)

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, v: str) -> str:
        if v not in SAMPLERS:
            raise ValueError(_unknown_sampler(v))
        return v

    @model_validator(mode="after")
    def _check_stages(self) -> "SearchSpec":
        names = [s.name for s in self.stages or ()]
        if len(set(names)) != len(names):
            raise ValueError(f"[search.stages] expected distinct stage names, got {names}")
        searching = [s for s in self.stages or () if not s.passive]
        if any(s.passive for s in (self.stages or [])[1:]):
            raise ValueError("[search.stages] a passive stage must be the first stage (it narrows the bounds "
                             "of the stages after it), and there can be only one")
        if self.stages and not searching:
            raise ValueError("[search.stages] expected at least one stage with trials after the passive stage")
        if searching and searching[0].local:
            raise ValueError(f"[search.stages] the first search stage ({searching[0].name!r}) cannot be local: a local "
                             "stage starts at the best of the earlier stages")
        for s in self.stages or ():
            sampler = s.sampler or self.sampler
            if s.local and sampler != "cmaes_batch":
                raise ValueError(f"[search.stages] local stage {s.name!r} needs sampler 'cmaes_batch' "
                                 f"(it starts a CMA-ES at the best so far), got {sampler!r}")
        return self

    def total_trials(self) -> int:
        """Trials per cell over every stage and seed."""
        if not self.stages:
            return self.trials
        return sum(s.trials * len(s.seeds) for s in self.stages if not s.passive)


class ResourceSpec(_Strict):
    workers: int = Field(default=1, ge=1)
    cpus_per_worker: float = Field(default=1.0, gt=0)
    gpus_per_worker: float = Field(default=0.0, ge=0)
    address: str | None = None
    executor: Literal["ray", "local"] = "ray"  # local: in the driver's process, no Ray
    in_flight_per_worker: int = Field(default=2, ge=1)


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


_UNION_TAG = re.compile(r"^(float|int|str|bool|none|list\[.*\]|dict\[.*\])$")


def _describe(err: ValidationError, source: str) -> str:
    lines: dict[str, list] = {}  # one line per key: the members of a union ("float | str") merged
    for e in err.errors():
        parts = list(e["loc"])
        if len(parts) > 1 and isinstance(parts[-1], str) and _UNION_TAG.match(parts[-1]) \
                and e["type"] not in ("extra_forbidden", "missing"):
            parts.pop()  # params.tau.high.float -> params.tau.high
        loc = ".".join(str(p) for p in parts)
        msg = e["msg"].removeprefix("Value error, ")
        named = re.match(r"^\[?([A-Za-z_][\w.]*(?:\[\d+\])?[\w.]*)(?:\]|:) (.*)$", msg, re.S)
        if named and e["type"] == "value_error":  # the message names its own key (units: "params.x.low: ...")
            loc, msg = named[1], named[2]
        seen = e.get("input")
        seen_txt = "" if e["type"] in ("missing",) or isinstance(seen, dict) else f" (got {_short(seen)})"
        if ", got " in msg or msg.startswith("got "):  # the message already says what it saw
            seen_txt = ""
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(e["loc"][:-1])
            msg = (f"unknown key; expected one of {', '.join(allowed)}{_did_you_mean(e['loc'][-1], allowed)}"
                   if allowed else "unknown key (check the spelling; see the README for the allowed keys)")
            seen_txt = f" (got {_short(seen)})"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Input should be "):  # pydantic's wording -> "expected ..., got ..."
            if loc in lines and lines[loc][0].startswith("expected "):
                lines[loc][0] = lines[loc][0].replace(", got ", f" or {msg.removeprefix('Input should be ')}, got ", 1)
                continue
            msg, seen_txt = f"expected {msg.removeprefix('Input should be ')}, got {_short(seen)}", ""
        lines.setdefault(loc, [msg, seen_txt])
    return "\n".join(f"{source}: [{loc}] {m}{t}" if loc else f"{source}: {m}{t}" for loc, (m, t) in lines.items())


def _allowed_keys(loc) -> list[str]:
    """Keys allowed at ``loc`` (a pydantic error location), for "unknown key" errors."""
    import typing

    cls: Any = JobSpec
    parts = list(loc)
    while True:
        origin, args = typing.get_origin(cls), typing.get_args(cls)
        if origin is dict and args:  # dict[str, Model]: the next part is a user key
            if not parts:
                return []
            parts.pop(0)
            cls = args[1]
            continue
        if origin is not None and args:  # Optional / Union: the first model among the args
            models_ = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if not models_:
                return []
            cls = models_[0]
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return []
        if not parts:
            return [k for k in cls.model_fields if k != "base_dir"]
        name = parts.pop(0)
        if name not in cls.model_fields:
            return []
        cls = cls.model_fields[name].annotation


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_job(data: dict[str, Any], *, source: str = "<job>", base_dir: str | Path = ".") -> JobSpec:
    """Validate a job spec given as a dict (as read from TOML)."""
    if not isinstance(data, dict):
        raise JobSpecError(f"{source}: expected a table of job keys (name, data, model, params, ...), "
                           f"got {type(data).__name__}")
    try:
        spec = JobSpec.model_validate({**data, "base_dir": str(base_dir)})
        spec._source = str(source)
        return spec
    except ValidationError as err:
        raise JobSpecError(_describe(err, source)) from None
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
                stage["trials"] = value
        else:
            data[key] = value
    return parse_job(data, source=str(path), base_dir=path.resolve().parent)
