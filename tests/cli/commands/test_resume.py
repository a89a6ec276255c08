"""``spikefit resume DIR``: the job a real results folder records, run on to its budget."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd

from spikefit.cli.main import main

from _study_checks import study_agrees_with_table
from _synthetic import synthetic_job_file

PARAMS = ("tau", "V_T", "delta_T")


def test_an_interrupted_run_resumes_from_its_folder_alone(tmp_path, synthetic_table, capsys):
    out = tmp_path / "out"
    job = tmp_path / "job.toml"
    synthetic_job_file(job, synthetic_table, out, trials=1600)
    proc = subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", str(job), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((out / "trials").glob("part-*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    job.unlink()  # the job file is gone (or edited): the manifest's record of the job is used
    capsys.readouterr()
    assert main(["resume", str(out), "--no-progress"]) == 0
    assert "complete: 1600 trials (0 failed)" in capsys.readouterr().out
    trials = pd.read_parquet(out / "trials").sort_values("trial")
    assert trials.trial.tolist() == list(range(1600))
    study_agrees_with_table(out / "study.journal", "lockjob.synthetic", trials, PARAMS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["trials"] == {"COMPLETE": 1600, "FAIL": 0}

    # a complete job is refused, in one line; --trials runs it on
    assert main(["resume", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out}: job 'lockjob' is already complete (1600 trials)" in err[0], err
    assert main(["resume", str(out), "--trials", "1632", "--no-progress"]) == 0
    assert sorted(pd.read_parquet(out / "trials").trial) == list(range(1632))


def test_a_folder_without_a_manifest_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for folder, seen in ((tmp_path / "empty", "a folder without manifest.json"),
                         (tmp_path / "nowhere", "no such folder")):
        assert main(["resume", str(folder)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{folder}: expected the results folder of a spikefit run" in err[0]
        assert seen in err[0] and f"spikefit run JOB.toml --output {folder}" in err[0]
    assert not (tmp_path / "nowhere").exists()  # nothing created
    assert list((tmp_path / "empty").iterdir()) == []
