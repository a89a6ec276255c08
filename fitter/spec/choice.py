"""Model choice in one job: ``[[models]]`` lists several models, each fitted with the job's data,
objective and search plan; the fit is chosen among them on the held-out end of the training
sweeps (``[search] holdout_ms``), never on the validation sweeps.

::

    [[models]]
    name = "AdExIFRef"
    fixed = { V_rest = "-70 mV" }
    params = { R = { low = "20 MOhm", high = "500 MOhm", log = true }, ... }

    [[models]]
    name = "GifRef"
    label = "gif"                 # optional: the variant's name (default: the model's name)
    params = { ... }

Each entry holds what ``[model]`` holds (``name``, ``spk_reset``, ``fixed``, ``derived``,
``max_rate_hz``) plus its own ``params``; it becomes a complete :class:`JobSpec` named
``<job>.<label>`` writing to ``<output>/<label>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ModelChoiceJob", "parse_variants"]

_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class ModelChoiceJob:
    """A job that fits several models (:attr:`variants`, one :class:`JobSpec` each) and chooses
    one per cell. Attributes it does not define (data, search, resources, ...) are the first
    variant's: every variant shares them."""

    name: str
    output: str
    variants: list = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    _source: str = "<job>"

    @property
    def source(self) -> str:
        return self._source

    def output_dir(self) -> str:
        return self.output

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("variants", "labels"):
            raise AttributeError(name)
        return getattr(self.variants[0], name)


def parse_variants(data: dict[str, Any], *, source: str, base_dir, validate, error) -> ModelChoiceJob:
    """``data`` with ``models`` -> a :class:`ModelChoiceJob`; ``validate(dict, source)`` builds
    one JobSpec, ``error`` is the exception class for a bad ``[[models]]`` section."""
    entries = data["models"]
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise error(f"{source}: [models] expected a list of model tables ([[models]] with name and params), "
                    f"got {entries!r}")
    for key in ("model", "params"):
        if key in data:
            raise error(f"{source}: [{key}] a job with [[models]] gives each model its own name and params; "
                        f"remove the top-level [{key}] (or [[models]])")
    search = data.get("search")
    if len(entries) > 1 and not (search.get("holdout_ms") if isinstance(search, dict) else None):
        raise error(f"{source}: [search.holdout_ms] a job with several [[models]] chooses among them on the "
                    "held-out end of the training sweeps; set holdout_ms (e.g. 8000) in [search]")
    name = data.get("name", "job")
    output = data.get("output")
    if output is not None and not isinstance(output, str):
        raise error(f"{source}: [output] expected a folder path or URI (a string), got {output!r}")
    output = output or str(Path("results") / str(name))
    variants, labels = [], []
    for i, entry in enumerate(entries):
        entry = dict(entry)
        label = entry.pop("label", entry.get("name"))
        if not isinstance(label, str) or not _LABEL.match(label):
            raise error(f"{source}: [models[{i}].label] expected letters, digits, '_' or '-', got {label!r}")
        if label in labels:
            raise error(f"{source}: [models[{i}]] label {label!r} used twice; give repeated models a 'label'")
        params = entry.pop("params", None)
        one = {k: v for k, v in data.items() if k != "models"}
        one.update(name=f"{name}.{label}", output=str(Path(output) / label), model=entry,
                   params=params if params is not None else {})
        try:
            variants.append(validate(one, source))
        except error as err:
            raise error(str(err).replace(f"{source}: [model", f"{source}: [models[{i}]", 1)
                        .replace(f"{source}: [params", f"{source}: [models[{i}].params", 1)) from None
        labels.append(label)
    return ModelChoiceJob(str(name), output, variants, labels, str(source))
