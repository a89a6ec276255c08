"""spikefit.execution.retry: the waits between retries, and one line for a Ray error."""

from __future__ import annotations

import pytest
import ray.exceptions as rex

from spikefit.errors import SpikefitError
from spikefit.execution.retry import RetryPolicy, WorkerError, describe_error


def test_waits_double_up_to_the_cap():
    assert [RetryPolicy().wait_s(k) for k in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert RetryPolicy(first_wait_s=0.1, factor=3, max_wait_s=1).wait_s(3) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="retries >= 0"):
        RetryPolicy(retries=-1)
    assert issubclass(WorkerError, SpikefitError)  # the command line prints it as one line


def test_ray_errors_are_described_in_one_line():
    remote = rex.RayTaskError("evaluate", "Traceback (most recent call last):\n  File \"x.py\", line 3\n"
                              "KeyError: 'nope'", KeyError("nope"))
    assert describe_error(remote) == "KeyError: 'nope'"  # the evaluation's own error, not Ray's wrapper
    died = describe_error(rex.ActorDiedError())
    assert died == "ActorDiedError: The actor died unexpectedly before finishing this task."
    gone = rex.ActorUnavailableError("The actor is temporarily unavailable: RpcError: connection reset", b"1" * 16)
    assert describe_error(gone).startswith("ActorUnavailableError: The actor 3131") and "\n" not in describe_error(gone)
    long = describe_error(RuntimeError("x" * 1000 + "\nsecond line"))
    assert long.startswith("RuntimeError: xxx") and long.endswith("...") and len(long) < 320
    # no cause to show: Ray's own text, without its colour codes and its "ray::f()" header
    assert describe_error(rex.RayTaskError("f", "\x1b[36mray::f()\x1b[39m\nboom", None)) == "RayTaskError: boom"
