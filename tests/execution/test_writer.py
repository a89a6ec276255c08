"""spikefit.execution.writer: jobs run in order in one background thread; errors reach the driver."""

from __future__ import annotations

import threading
import time

import pytest

from spikefit.execution.writer import Writer


def test_jobs_run_in_order_off_the_calling_thread():
    w = Writer()
    seen, threads = [], set()

    def job(i):
        def run():
            time.sleep(0.002 * (5 - i))  # earlier jobs take longer: order is kept anyway
            seen.append(i)
            threads.add(threading.current_thread().name)
        return run

    for i in range(5):
        w.submit(job(i))
    w.flush()
    assert seen == [0, 1, 2, 3, 4]
    assert threads == {"spikefit-writer"}
    w.close()


def test_submit_returns_before_the_job_runs():
    w = Writer()
    gate = threading.Event()
    done = []
    w.submit(lambda: (gate.wait(5), done.append(1)))
    assert done == []  # the caller went on while the job waits
    gate.set()
    w.flush()
    assert done == [1]
    w.close()


def test_an_error_stops_later_jobs_and_is_raised_in_the_driver():
    w = Writer()
    ran = []

    def boom():
        raise OSError("disk full")

    w.submit(lambda: ran.append("a"))
    w.submit(boom)
    w.submit(lambda: ran.append("c"))  # would write out of order after a failed part
    with pytest.raises(OSError, match="disk full"):
        w.flush()
    assert ran == ["a"]
    w.close()


def test_close_runs_what_is_queued():
    w = Writer()
    ran = []
    for i in range(20):
        w.submit(lambda i=i: ran.append(i))
    w.close()
    assert ran == list(range(20))
