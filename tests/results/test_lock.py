"""spikefit.results.lock: a results folder belongs to one job (real drivers, real folders)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from _synthetic import synthetic_job_file as job_file

from spikefit.cli.main import main
from spikefit.results.lock import LOCK_NAME, FolderInUse, FolderLock
from spikefit.results.store import ResultStore

def test_second_driver_is_refused_then_a_dead_drivers_lock_is_taken_over(tmp_path, synthetic_table, capsys):
    out = tmp_path / "out"
    job = job_file(tmp_path / "job.toml", synthetic_table, out, trials=3200)
    first = subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", job, "--no-progress"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list((out / "trials").glob("part-*.parquet")):
            time.sleep(0.05)
        owner = json.loads((out / LOCK_NAME).read_text())
        assert owner["pid"] == first.pid and owner["job"] == "lockjob"
        parts = len(list((out / "trials").glob("part-*")))
        assert main(["run", job, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {first.pid}" in err[0] and "in use by job 'lockjob'" in err[0]
        assert len(list((out / "trials").glob("part-*"))) >= parts  # nothing of the first run was touched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the dead driver's lock is taken over; the rerun resumes to the budget, each trial once
    assert (out / LOCK_NAME).exists()
    assert main(["run", job, "--no-progress"]) == 0
    trials = pd.read_parquet(out / "trials")
    assert len(trials) == 3200 and not trials.duplicated("trial").any()
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_another_job_is_refused_unless_overwrite(tmp_path, synthetic_table, capsys):
    out = tmp_path / "out"
    a = job_file(tmp_path / "a.toml", synthetic_table, out, name="job_a")
    assert main(["run", a, "--no-progress"]) == 0
    before = pd.read_parquet(out / "trials")
    for name, vt_low in (("job_b", -56), ("job_a", -58)):  # another name; same name, other bounds
        other = job_file(tmp_path / f"{name}.toml", synthetic_table, out, name=name, vt_low=vt_low)
        capsys.readouterr()
        assert main(["run", other, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "got results of job 'job_a'" in err[0] and "--overwrite" in err[0]
        pd.testing.assert_frame_equal(pd.read_parquet(out / "trials"), before)  # untouched
    b = job_file(tmp_path / "b.toml", synthetic_table, out, name="job_b")
    assert main(["run", b, "--no-progress", "--overwrite"]) == 0
    after = pd.read_parquet(out / "trials")
    assert set(after.job) == {"job_b"} and len(after) == 96
    assert ResultStore(out).read_manifest()["job"] == "job_b"


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    store = ResultStore(tmp_path / "out")
    (tmp_path / "out" / LOCK_NAME).write_text(json.dumps(
        {"job": "x", "host": "node-7", "pid": 12, "start": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(FolderInUse, match=r"in use by job 'x' on host node-7 .*delete .*lock.json"):
        FolderLock(store, "x", "f").acquire()


def test_a_torn_lock_file_is_taken_over(tmp_path):
    store = ResultStore(tmp_path / "out")
    (tmp_path / "out" / LOCK_NAME).write_text('{"job": "x", "ho')  # its writer died mid-write
    with FolderLock(store, "x", "f") as lock:
        assert json.loads((tmp_path / "out" / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert lock.held
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_stopped_drivers_folder_is_marked_stopped_and_resumes_from_any_host(tmp_path, synthetic_table, capsys):
    from spikefit.results.lock import mark_stopped

    out = tmp_path / "out"
    job = job_file(tmp_path / "job.toml", synthetic_table, out, trials=64)
    assert main(["run", job, "--no-progress"]) == 0
    store = ResultStore(out)
    store.update_manifest(status="running")  # as a driver killed on a cluster node leaves it
    (out / LOCK_NAME).write_text(json.dumps({"job": "lockjob", "host": "node-7", "pid": 12}))
    manifest = mark_stopped(store, "spikefit stop raysubmit_1")
    assert manifest["status"] == "stopped" == store.read_manifest()["status"]
    assert store.read_manifest()["stopped_by"] == "spikefit stop raysubmit_1"
    assert not (out / LOCK_NAME).exists()
    assert main(["resume", str(out), "--trials", "96", "--no-progress"]) == 0  # no other host's lock in the way
    assert sorted(pd.read_parquet(out / "trials").trial) == list(range(96))
    assert mark_stopped(store, "late stop")["status"] == "complete"  # a complete job stays complete
    assert store.read_manifest()["status"] == "complete"
