"""spikefit.execution.loop: a driver killed (SIGKILL) mid-run resumes with no trial lost or
counted twice, and the Optuna study still agrees with the trials table trial for trial."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from _study_checks import study_agrees_with_table
from _synthetic import synthetic_job_file

from spikefit.cli.main import main


def test_killed_driver_resumes_with_no_trial_lost_or_told_twice(tmp_path, synthetic_table):
    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "killed.toml", synthetic_table, out, name="killed", trials=1280)
    proc = subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", str(job), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "trials").glob("part-*.parquet"))) >= 8:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the driver ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = pd.read_parquet(out / "trials")
    assert 0 < len(before) < 1280
    # the kill left every written part readable; the manifest says the run did not finish
    assert '"running"' in (out / "manifest.json").read_text()

    assert main(["run", str(job), "--no-progress"]) == 0
    after = pd.read_parquet(out / "trials")
    assert len(after) == 1280 and not after.duplicated("trial").any()
    assert sorted(after.trial) == list(range(1280))
    # the rows written before the kill are kept as they were
    kept = after.set_index("trial").loc[before.trial, ["tau", "V_T", "delta_T", "loss"]]
    np.testing.assert_array_equal(kept.to_numpy(), before.set_index("trial")[["tau", "V_T", "delta_T", "loss"]].to_numpy())
    study_agrees_with_table(out / "study.journal", "killed.synthetic", after, ("tau", "V_T", "delta_T"))
