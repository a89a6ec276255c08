"""Parsing a model-choice job ([[models]]): one JobSpec per model, errors that name the entry."""

from __future__ import annotations

import pytest

from spikefit.spec.jobspec import JobSpecError, load_job

JOB = """
name = "choice"
output = "{out}"
[data]
path = "x.parquet"
[search]
holdout_ms = 500
[[search.stages]]
name = "passive"
passive = true
[[search.stages]]
name = "global"
trials = 64
[[models]]
name = "AdExIF"
fixed = { V_rest = "-70 mV" }
params = { V_T = { low = "-56 mV", high = "-44 mV" }, R = { low = "20 MOhm", high = "200 MOhm" } }
[[models]]
name = "LIF"
label = "lif"
params = { tau = { low = "8 ms", high = "40 ms", log = true }, R = { low = "20 MOhm", high = "200 MOhm" } }
"""


def _write(tmp_path, text):
    path = tmp_path / "job.toml"
    path.write_text(text.replace("{out}", str(tmp_path / "out")))
    return path


def test_each_model_becomes_a_job_of_its_own(tmp_path):
    job = load_job(_write(tmp_path, JOB), trials=128)
    assert job.labels == ["AdExIF", "lif"]
    adex, lif = job.variants
    assert (adex.name, lif.name) == ("choice.AdExIF", "choice.lif")
    assert adex.output_dir() == str(tmp_path / "out" / "AdExIF") and lif.output_dir() == str(tmp_path / "out" / "lif")
    assert set(adex.params) == {"V_T", "R"} and adex.fixed_values() == {"V_rest": -70.0}
    assert set(lif.params) == {"tau", "R"} and lif.model.name == "LIF"
    assert [s.trials for s in adex.search.stages] == [None, 128]  # --trials leaves the passive stage alone
    assert job.data == adex.data and job.source == str(tmp_path / "job.toml")
    assert adex.fingerprint() != lif.fingerprint()


def test_several_models_need_a_held_out_segment(tmp_path):
    with pytest.raises(JobSpecError, match=r"job.toml: \[search.holdout_ms\] a job with several \[\[models\]\]"):
        load_job(_write(tmp_path, JOB.replace("holdout_ms = 500\n", "")))


def test_an_error_names_the_model_entry(tmp_path):
    with pytest.raises(JobSpecError, match=r"\[models\[1\]\.name\] expected one of"):
        load_job(_write(tmp_path, JOB.replace('name = "LIF"', 'name = "LIFF"')))
    with pytest.raises(JobSpecError, match=r"\[models\[0\]\.params\.V_T\]"):
        load_job(_write(tmp_path, JOB.replace('low = "-56 mV", high = "-44 mV"', 'low = "-40 mV", high = "-44 mV"')))


def test_models_and_a_top_level_model_are_exclusive(tmp_path):
    with pytest.raises(JobSpecError, match=r"\[model\] a job with \[\[models\]\]"):
        load_job(_write(tmp_path, JOB.replace("[search]", '[model]\nname = "LIF"\n[search]')))


def test_labels_are_distinct(tmp_path):
    with pytest.raises(JobSpecError, match=r"label 'AdExIF' used twice"):
        load_job(_write(tmp_path, JOB.replace('label = "lif"', 'label = "AdExIF"')))
