"""Retrying a batch whose worker failed: how often, how long to wait, and the error when it gives up.

A worker actor can die (its process or its node killed, out of memory, preempted) or be
unreachable for a while. :class:`~spikefit.execution.workers.WorkerPool` then restarts it and
sends the batch again, waiting ``RetryPolicy.wait_s(attempt)`` first (0.5 s, 1 s, 2 s, ...). When
the retries are used up the run stops with a :class:`WorkerError`: one line naming the worker,
its node and the last error. The driver marks the run ``failed``; the same command resumes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spikefit.errors import SpikefitError

__all__ = ["RetryPolicy", "WorkerError", "describe_error"]


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts per batch after its first; exponential waits between them."""

    retries: int = 3
    first_wait_s: float = 0.5
    factor: float = 2.0
    max_wait_s: float = 8.0

    def __post_init__(self):
        if self.retries < 0 or self.first_wait_s < 0 or self.factor < 1 or self.max_wait_s < 0:
            raise ValueError(f"RetryPolicy: expected retries >= 0, waits >= 0 s and factor >= 1, got {self}")

    def wait_s(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...)."""
        return min(self.first_wait_s * self.factor ** (attempt - 1), self.max_wait_s)


class WorkerError(SpikefitError):
    """A worker failed a batch more often than the retries allow (or could not be started)."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its remote tracebacks


def describe_error(err: BaseException) -> str:
    """One line for a Ray error: its kind and the first line that says what happened.

    A :class:`ray.exceptions.RayTaskError` (the evaluation raised) is described by the
    exception it wraps, not by the remote traceback around it."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException) and cause is not err:
        err = cause
    lines = [ln.strip() for ln in _ANSI.sub("", str(err)).splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
    text = next((ln for ln in lines if not ln.startswith(("Traceback", "ray::", "File "))), "")
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
