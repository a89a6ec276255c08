"""``spikefit run``: SIGTERM and SIGINT stop a real run cleanly; the same command resumes it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from spikefit.cli.main import main

from _synthetic import synthetic_job_file


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_the_run_and_the_same_command_resumes(tmp_path, synthetic_table, sig, status):
    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "job.toml", synthetic_table, out, trials=3200)
    # as from a terminal: a background test runner may hand its children SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", job, "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((out / "trials").glob("part-*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and f"resume with: spikefit run {job}" in lines[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert not (out / "lock.json").exists()
    written = pd.read_parquet(out / "trials")
    assert 0 < len(written) < 3200
    assert main(["run", job, "--no-progress"]) == 0
    trials = pd.read_parquet(out / "trials")
    assert len(trials) == 3200 and sorted(trials.trial) == list(range(3200))
