"""Checks of what a caller tells a study (one private place, as Optuna's ``study/_tell.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Best", "Candidate", "TrialResult", "check_directions", "parse_result", "values_tuple"]


@dataclass(frozen=True)
class Candidate:
    """One asked trial: its study-wide ``number`` and parameter values (in their units)."""

    number: int
    params: dict[str, float]


@dataclass(frozen=True)
class TrialResult:
    """What to tell about one trial; ``tell_batch`` also takes plain tuples in this order."""

    number: int
    values: float | Sequence[float] | None = None
    state: str = "complete"
    reason: str | None = None
    user_attrs: Mapping[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class Best:
    """A best (or Pareto-optimal) trial."""

    number: int
    params: dict[str, float]
    values: tuple[float, ...]


def check_directions(directions: str | Sequence[str]) -> list[str]:
    dirs = [directions] if isinstance(directions, str) else list(directions)
    if not dirs:
        raise ValueError("directions: expected at least one of 'minimize'/'maximize', got none")
    for d in dirs:
        if d not in ("minimize", "maximize"):
            raise ValueError(f"directions: expected 'minimize' or 'maximize', got {d!r}")
    return dirs


def parse_result(r, result_type):
    """``r`` (a ``result_type`` or a plain tuple in its field order), checked."""
    TrialResult = result_type  # noqa: N806
    if not isinstance(r, TrialResult):
        if not isinstance(r, tuple) or not 1 <= len(r) <= 5:
            raise TypeError(
                "tell_batch: each result must be a TrialResult or a tuple "
                f"(number, values, state, reason, user_attrs), got {r!r}"
            )
        r = TrialResult(*r)
    if isinstance(r.number, bool) or not isinstance(r.number, (int, np.integer)):
        raise TypeError(f"tell_batch: trial number must be an int, got {r.number!r}")
    state = str(r.state).lower()
    if state not in ("complete", "fail"):
        raise ValueError(
            f"tell_batch: trial {r.number}: state must be 'complete' or 'fail', got {r.state!r}"
        )
    return TrialResult(int(r.number), r.values, state, r.reason, r.user_attrs)


def values_tuple(values: Any, m: int, number: int) -> tuple[float, ...]:
    if values is None:
        raise ValueError(f"trial {number}: state 'complete' needs values, got None")
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != m:
        raise ValueError(
            f"trial {number}: expected {m} objective value(s) (one per direction), got {arr.size}"
        )
    return tuple(float(v) for v in arr)
