"""Bad jobs fail before anything starts: `spikefit run` prints one line naming the job file and
key, what was expected and what was seen, and exits 2; no Ray, no results folder, no
manifest.json or study.journal. (Issue 15: the remaining holes.)"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from spikefit.cli.main import main

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "tests" / "assets" / "base_job.toml"  # the quickstart before its step plan


def _job(tmp_path: Path, *subs: tuple[str, str], output: Path | str | None = None) -> Path:
    """The quickstart job, cut to one training step and 8 trials, with regex substitutions."""
    text = QUICKSTART.read_text()
    text = text.replace('path = "../../fitter/', f'path = "{REPO}/fitter/')
    text = re.sub(r"(?m)^train = .*$", 'train = { repeats = [0], stimuli = ["IDrest:6"] }', text)
    text = re.sub(r"(?m)^validation = .*\n", "", text)
    text = re.sub(r"(?m)^trials = .*$", "trials = 8", text)
    text = re.sub(r"(?m)^batch_size = .*$", "batch_size = 4", text)
    text = re.sub(r"(?m)^workers = 1$", 'workers = 1\nexecutor = "local"', text)
    text = re.sub(r"(?m)^output = .*$", f'output = "{output or tmp_path / "out"}"', text)
    for pattern, repl in subs:
        new = re.sub(pattern, repl, text, flags=re.M)
        assert new != text, pattern
        text = new
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def _run_fails(job: Path, capsys, *expected: str, names_job: bool = True) -> str:
    code = main(["run", str(job), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("spikefit run: error: ") and (str(job) in err or not names_job), err
    for piece in expected:
        assert piece in err, (piece, err)
    if "ray" in sys.modules:
        import ray

        assert not ray.is_initialized()
    return err


@pytest.mark.parametrize(("subs", "expected"), [
    ((r"^derived = .*$", 'derived = { V_th = "1/0" }'),
     ("[model.derived.V_th]", "expected a finite value", "division by zero", "'1/0'")),
    ((r"^derived = .*$", 'derived = { V_th = "' + " + ".join(["V_T"] * 20000) + '" }'),
     ("[model.derived.V_th]", "expected an expression of at most")),
    ((r"^derived = .*$", 'derived = { V_th = "V_T + ' + "(" * 40 + "delta_T" + ")" * 40 + '" }'),
     ("[model.derived.V_th]", "expected at most 32 nested parentheses, got 40")),
    ((r"^derived = .*$", 'derived = { V_th = "1e308*1e308" }'), ("[model.derived.V_th]", "got inf")),
    ((r"^derived = .*$", 'derived = { V_th = "V_T / (delta_T - 0.5)" }'),  # zero at delta_T's low corner
     ("[model.derived.V_th]", "division by zero", "delta_T=0.5")),
    ((r'^sampler = "cmaes_batch".*$', 'sampler = "adam"'),
     ("[search.sampler]", "expected one of 'cmaes_batch'", "got 'adam'")),
    ((r'name = "gamma", delta_ms', 'name = "gammma", delta_ms'),
     ("[objective.metrics[0].name]", "got 'gammma'", "did you mean 'gamma'?")),
    ((r'^mode = "weighted"', 'mode = "weigthed"'),
     ("[objective.mode]", "expected one of 'weighted', 'multi', got 'weigthed'", "did you mean 'weighted'?")),
    ((r"delta_ms = 4.0", "delta = 4.0"), ("[objective.metrics[0]]", "unknown key 'delta'", "did you mean 'delta_ms'?")),
])
def test_bad_spec_fails_at_parse_time(tmp_path, capsys, subs, expected):
    err = _run_fails(_job(tmp_path, subs), capsys, *expected)
    assert "(got 'adam')" not in err  # the value seen is said once
    assert not (tmp_path / "out").exists()


def test_sampler_option_typo_fails_before_anything_is_written(tmp_path, capsys):
    job = _job(tmp_path, (r"^batch_size = 4$", "batch_size = 4\noptions = { sigma_0 = 0.3 }"))
    _run_fails(job, capsys, "[search.options]", "sampler 'cmaes_batch'", "got unknown 'sigma_0'",
               "did you mean 'sigma0'?")
    assert not (tmp_path / "out").exists()  # no folder, so no manifest.json and no study.journal


def test_stage_option_typo_names_the_stage(tmp_path, capsys):
    stages = ('batch_size = 4\n\n[[search.stages]]\nname = "global"\ntrials = 8\n\n'
              '[[search.stages]]\nname = "polish"\ntrials = 8\nlocal = true\noptions = { popsize = 1 }')
    job = _job(tmp_path, (r"^batch_size = 4$", stages))
    _run_fails(job, capsys, "[search.stages[1] (polish).options.popsize]", "got 1")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["under_a_file", "is_a_file", "read_only"])
def test_bad_output_location_fails_before_anything_is_written(tmp_path, capsys, monkeypatch, case):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    if case == "under_a_file":
        output, expected = afile / "results", ("expected a folder path", "is a file")
    elif case == "is_a_file":
        output, expected = afile, ("expected a folder", "got an existing file")
    else:  # a read-only file system: os.access says so (root ignores permission bits, not EROFS)
        ro = tmp_path / "ro"
        ro.mkdir()
        output, expected = ro / "results" / "x", ("cannot create it", "read-only file system or no permission")
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real(p, mode, **kw))
    job = _job(tmp_path, output=output)
    # the store is told a folder, not the job: the line names the folder and the key ([output] / --output)
    _run_fails(job, capsys, f"results folder '{output}'", "[output] in the job file, or --output", *expected,
               names_job=False)
    assert afile.read_text() == "not a folder"
    assert not any(p.name in ("manifest.json", "study.journal", "lock.json") for p in tmp_path.rglob("*"))
    if case == "read_only":
        assert list((tmp_path / "ro").iterdir()) == []


def test_cannot_create_is_one_line(tmp_path, monkeypatch):
    """An OSError while creating the folder (e.g. EROFS that os.access missed) is an input error too."""
    from spikefit.errors import SpikefitError
    from spikefit.results import _location
    from spikefit.results.store import ResultStore

    class ReadOnlyFS:
        type_name = "local"

        def create_dir(self, path, recursive=True):
            raise OSError(30, "Read-only file system", path)

    monkeypatch.setattr(_location.pafs, "LocalFileSystem", ReadOnlyFS)
    with pytest.raises(SpikefitError, match=r"results folder '.*new': cannot create it \(OSError: .*Read-only file"):
        ResultStore(tmp_path / "new")


def test_existing_results_on_a_read_only_folder_can_still_be_read(tmp_path, monkeypatch):
    from spikefit.errors import SpikefitError
    from spikefit.results.store import ResultStore

    done = tmp_path / "done"
    ResultStore(done).write_manifest({"job": "x", "status": "complete"})
    empty = tmp_path / "empty"
    empty.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) in (done, empty) else real(p, mode, **kw))
    assert ResultStore(done).read_manifest()["status"] == "complete"
    with pytest.raises(SpikefitError, match=r"results folder '.*empty': expected a writable folder"):
        ResultStore(empty)
