"""``spikefit run``: SIGTERM and SIGINT stop a real run cleanly; the same command resumes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from spikefit.cli.main import main

from _synthetic import synthetic_job_file


@pytest.mark.parametrize("sig, status, parts", [
    (signal.SIGTERM, 143, 0),  # while the workers start and compile: nothing told yet
    (signal.SIGTERM, 143, 1),  # after the first batches, while background threads still compile the run's end
    (signal.SIGINT, 130, 3),
])
def test_signal_stops_the_run_and_the_same_command_resumes(tmp_path, synthetic_table, sig, status, parts):
    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "job.toml", synthetic_table, out, trials=3200)
    # as from a terminal: a background test runner may hand its children SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-m", "spikefit.cli.main", "run", job, "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240

    def waiting() -> bool:
        if not parts:
            return not (out / "manifest.json").exists()
        return len(list((out / "trials").glob("part-*.parquet"))) < parts

    while time.monotonic() < deadline and waiting():
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err.decode()[-2000:]  # not an abort (-6) at the interpreter's exit
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and f"resume with: spikefit run {job}" in lines[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert not (out / "lock.json").exists()
    written = len(pd.read_parquet(out / "trials")) if list((out / "trials").glob("part-*.parquet")) else 0
    assert written < 3200 and (written > 0 or not parts)
    assert main(["run", job, "--no-progress"]) == 0
    trials = pd.read_parquet(out / "trials")
    assert len(trials) == 3200 and sorted(trials.trial) == list(range(3200))


#: ``spikefit run`` in a child whose files may not grow past a limit (writes past it fail with EFBIG)
LIMITED_RUN = ("import resource, sys; limit = int(sys.argv[1]); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
               "from spikefit.cli.main import main; sys.exit(main(sys.argv[2:]))")


def test_a_full_disk_stops_the_run_in_one_line_and_the_same_command_resumes(tmp_path, synthetic_table):
    from _study_checks import study_agrees_with_table

    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "job.toml", synthetic_table, out, trials=3200)
    # the study journal outgrows a 300 kB file size limit after a few hundred trials
    proc = subprocess.run([sys.executable, "-c", LIMITED_RUN, "300000", "run", job, "--no-progress"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=240)
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"spikefit run: error: no space left on device (file size limit reached): {out}/")
    assert f"resume with: spikefit run {job}" in lines[0]
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    written = pd.read_parquet(out / "trials")  # every part already written reads back
    assert 0 < len(written) < 3200
    assert (out / "study.journal").read_bytes().endswith(b"\n")  # no half record left behind
    assert not [p for p in out.rglob(".*tmp-*")]
    assert main(["run", job, "--no-progress"]) == 0  # space freed: the same command resumes
    trials = pd.read_parquet(out / "trials").sort_values("trial")
    assert trials.trial.tolist() == list(range(3200))
    study_agrees_with_table(out / "study.journal", "lockjob.synthetic", trials, ("tau", "V_T", "delta_T"))


def _read_only(folder) -> bool:
    """Make ``folder`` read-only (chmod; as root also the immutable flag); False if it stays writable."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    try:
        (folder / ".probe").touch()
    except OSError:
        return True
    (folder / ".probe").unlink()
    return False


def _writable(folder) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def test_a_read_only_trials_folder_fails_in_one_line_and_the_run_resumes_once_writable(
        tmp_path, synthetic_table, capsys):
    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "job.toml", synthetic_table, out, trials=64)
    assert main(["run", job, "--no-progress"]) == 0
    job = synthetic_job_file(tmp_path / "job.toml", synthetic_table, out, trials=128)
    if not _read_only(out / "trials"):
        _writable(out / "trials")
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        capsys.readouterr()
        assert main(["run", job, "--no-progress"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert f"spikefit run: error: permission denied: {out}/trials/part-000003.parquet;" in err[0]
        assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
        assert len(pd.read_parquet(out / "trials")) == 64
    finally:
        _writable(out / "trials")
    assert main(["run", job, "--no-progress"]) == 0
    assert sorted(pd.read_parquet(out / "trials").trial) == list(range(128))
