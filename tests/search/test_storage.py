"""spikefit.search.storage: a study journal written by a real run, torn or corrupt, then resumed."""

from __future__ import annotations

import json
import logging

import pandas as pd

from spikefit.cli.main import main
from spikefit.search.storage import JOURNAL_NAME

from _study_checks import study_agrees_with_table
from _synthetic import synthetic_job_file

PARAMS = ("tau", "V_T", "delta_T")


def _run(tmp_path, table, trials: int) -> tuple[str, object]:
    out = tmp_path / "out"
    job = synthetic_job_file(tmp_path / "job.toml", table, out, trials=trials)
    return job, out


def test_a_torn_last_record_is_cut_kept_and_the_study_resumes(tmp_path, synthetic_table, caplog, capsys):
    job, out = _run(tmp_path, synthetic_table, 96)
    assert main(["run", job, "--no-progress"]) == 0
    journal = out / JOURNAL_NAME
    whole = journal.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1  # where the last record starts
    cut = last + (len(whole) - last) // 2  # the driver died halfway through writing it
    journal.write_bytes(whole[:cut])
    job, _ = _run(tmp_path, synthetic_table, 160)
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="spikefit"):
        assert main(["run", job, "--no-progress"]) == 0
    warnings = [r.getMessage() for r in caplog.records if "torn" in r.getMessage()]
    assert len(warnings) == 1 and len(warnings[0].splitlines()) == 1
    assert f"{journal}: torn last record at byte {last}" in warnings[0] and f"{journal}.torn" in warnings[0]
    assert (out / f"{JOURNAL_NAME}.torn").read_bytes() == whole[last:cut] + b"\n"  # the torn bytes, kept
    assert journal.read_bytes().endswith(b"\n")
    trials = pd.read_parquet(out / "trials")
    assert sorted(trials.trial) == list(range(160))  # the trial of the torn record is in the table once
    study_agrees_with_table(journal, "lockjob.synthetic", trials.sort_values("trial"), PARAMS)
    assert "complete: 160 trials (0 failed)" in capsys.readouterr().out


def test_a_corrupt_record_before_the_last_is_one_line_naming_the_file_and_line(tmp_path, synthetic_table, capsys):
    job, out = _run(tmp_path, synthetic_table, 64)
    assert main(["run", job, "--no-progress"]) == 0
    journal = out / JOURNAL_NAME
    lines = journal.read_bytes().splitlines(keepends=True)
    json.loads(lines[4])
    lines[4] = lines[4][:40] + lines[4][60:]  # a record mangled in the middle of the file
    journal.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert main(["run", job, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    offset = sum(len(x) for x in lines[:4])
    assert len(err) == 1, err
    assert f"{journal}: line 5 (byte {offset}) is not a whole journal record" in err[0]
    assert "JSONDecodeError" not in err[0] and not (out / f"{JOURNAL_NAME}.torn").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
