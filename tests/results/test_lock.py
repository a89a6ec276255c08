"""spikefit.results.lock: a results folder belongs to one job (real drivers, real folders)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pandas as pd
import pytest

from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording

from spikefit.cli.main import main
from spikefit.results.lock import LOCK_NAME, FolderInUse, FolderLock
from spikefit.results.store import ResultStore
from spikefit.results.sweep_table import write_sweep_table

JOB = """
name = "{name}"
seed = 4
output = "{out}"

[data]
path = "{table}"
format = "parquet"
train = {{ t_stop_ms = 1500.0 }}

[model]
name = "AdExIF"
fixed = {fixed}
derived = {{ V_th = "V_T + 5 * delta_T" }}

[params]
tau = {{ low = "8 ms", high = "40 ms", log = true }}
V_T = {{ low = "{vt_low} mV", high = "-44 mV" }}
delta_T = {{ low = "0.8 mV", high = "4 mV", log = true }}

[search]
trials = {trials}
batch_size = 32

[resources]
executor = "local"
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rec = synthetic_adex_recording(n_sweeps=1, duration_ms=2000.0)
    return write_sweep_table(replace(rec, sweeps=(replace(rec.sweeps[0], sweep_id="n"),)),
                             tmp_path_factory.mktemp("lock") / "syn.parquet")


def job_file(path, table, out, *, name="lockjob", trials=96, vt_low=-56):
    fixed = {**FIXED_ADEX, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"]}
    path.write_text(JOB.format(name=name, out=out, table=table, trials=trials, vt_low=vt_low,
                               fixed="{ " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + " }"))
    return str(path)


def test_second_driver_is_refused_then_a_dead_drivers_lock_is_taken_over(tmp_path, table, capsys):
    out = tmp_path / "out"
    job = job_file(tmp_path / "job.toml", table, out, trials=3200)
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


def test_another_job_is_refused_unless_overwrite(tmp_path, table, capsys):
    out = tmp_path / "out"
    a = job_file(tmp_path / "a.toml", table, out, name="job_a")
    assert main(["run", a, "--no-progress"]) == 0
    before = pd.read_parquet(out / "trials")
    for name, vt_low in (("job_b", -56), ("job_a", -58)):  # another name; same name, other bounds
        other = job_file(tmp_path / f"{name}.toml", table, out, name=name, vt_low=vt_low)
        capsys.readouterr()
        assert main(["run", other, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "got results of job 'job_a'" in err[0] and "--overwrite" in err[0]
        pd.testing.assert_frame_equal(pd.read_parquet(out / "trials"), before)  # untouched
    b = job_file(tmp_path / "b.toml", table, out, name="job_b")
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
