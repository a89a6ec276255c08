"""spikefit.execution.loop: a driver killed (SIGKILL) mid-run resumes with no trial lost or
counted twice, and the Optuna study still agrees with the trials table trial for trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from _study_checks import study_agrees_with_table
from _synthetic import FIXED_ADEX, TRUE_ADEX, synthetic_adex_recording

from spikefit.cli.main import main
from spikefit.results.sweep_table import write_sweep_table

JOB = """
name = "killed"
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
V_T = {{ low = "-56 mV", high = "-44 mV" }}
delta_T = {{ low = "0.8 mV", high = "4 mV", log = true }}

[search]
trials = 1280
batch_size = 32

[resources]
executor = "local"
"""


def test_killed_driver_resumes_with_no_trial_lost_or_told_twice(tmp_path):
    rec = synthetic_adex_recording(n_sweeps=1, duration_ms=2000.0)
    table = write_sweep_table(replace(rec, sweeps=(replace(rec.sweeps[0], sweep_id="n"),)), tmp_path / "syn.parquet")
    fixed = {**FIXED_ADEX, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"]}
    out = tmp_path / "out"
    job = tmp_path / "killed.toml"
    job.write_text(JOB.format(out=out, table=table,
                              fixed="{ " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + " }"))
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
