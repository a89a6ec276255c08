"""spikefit.search.records: told batches become Optuna trials, added in trial-number order."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from spikefit.search.records import TrialLog, journal_text, told_batch

NAMES = ("tau", "V_T")
DISTS = {"tau": FloatDistribution(5.0, 50.0, log=True), "V_T": FloatDistribution(-60.0, -40.0)}


def _batch(numbers):
    numbers = np.asarray(numbers)
    x = np.column_stack([5.0 + numbers, -50.0 + 0.1 * numbers])
    values = 0.5 + 0.01 * numbers
    failed = numbers % 3 == 2
    reasons = ["diverged: V non-finite" if f else ("silent" if n % 3 == 1 else None) for n, f in zip(numbers, failed)]
    return numbers, x, values, failed, reasons


def _frozen(*batch):
    return [t for b in told_batch(NAMES, DISTS, *batch) for t in b.frozen(NAMES, DISTS)]


def _load(path, name="s"):
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def test_complete_failed_and_penalised_trials():
    t0, t1, t2 = _frozen(*_batch([0, 1, 2]))
    assert t0.state.name == "COMPLETE" and t0.value == pytest.approx(0.5) and "penalized" not in t0.user_attrs
    assert t1.state.name == "COMPLETE" and t1.user_attrs["penalized"] == "silent"
    assert t2.state.name == "FAIL" and t2.user_attrs["fail_reason"].startswith("diverged")
    assert t0.params == {"tau": 5.0, "V_T": -50.0}


def test_params_outside_the_distribution_are_clipped_to_it():
    (t,) = _frozen([0], np.array([[60.0, -70.0]]), np.array([0.1]), np.array([False]), [None])
    assert t.params == {"tau": 50.0, "V_T": -60.0}


def test_a_batch_splits_into_runs_of_consecutive_numbers_in_order():
    parts = told_batch(NAMES, DISTS, *_batch([7, 3, 4, 8, 5]))
    assert [p.numbers.tolist() for p in parts] == [[3, 4, 5], [7, 8]]
    np.testing.assert_allclose(parts[1].x[:, 0], [12.0, 13.0])  # rows travel with their numbers


def test_journal_text_reads_back_exactly_through_optuna(tmp_path):
    """The formatted journal lines are Optuna's records: every float bit-exact, odd reason
    strings (quotes, backslashes, line ends, non-ASCII) intact, FAIL / penalised / COMPLETE."""
    path = tmp_path / "study.journal"
    storage = JournalStorage(JournalFileBackend(str(path)))
    sid = storage.get_study_id_from_name(optuna.create_study(study_name="s", storage=storage).study_name)
    rng = np.random.default_rng(0)
    n = 50
    x = np.column_stack([np.exp(rng.uniform(np.log(5), np.log(50), n)), rng.uniform(-60, -40, n)])
    values = rng.random(n) * 10.0 ** rng.integers(-12, 12, n)
    failed = rng.random(n) < 0.2
    odd = 'quote " back \\ line\nend µ 漢'
    reasons = [odd if f else ("penalised: " + odd if i % 7 == 0 else None) for i, f in enumerate(failed)]
    with open(path, "a") as f:
        f.write(journal_text(sid, told_batch(NAMES, DISTS, np.arange(n), x, values, failed, reasons), NAMES, DISTS))
    for line in path.read_text().splitlines():
        json.loads(line)  # one whole record a line
    trials = _load(path).get_trials()
    assert [t.number for t in trials] == list(range(n))
    for i, t in enumerate(trials):
        assert t.params == {"tau": x[i, 0], "V_T": x[i, 1]}  # exact: repr round-trips
        assert t.user_attrs["spikefit_number"] == i
        if failed[i]:
            assert t.state.name == "FAIL" and t.value is None and t.user_attrs["fail_reason"] == odd
        else:
            assert t.state.name == "COMPLETE" and t.value == values[i]
            assert t.user_attrs.get("penalized") == reasons[i]


def test_journal_text_writes_non_finite_numbers_as_json_does(tmp_path):
    path = tmp_path / "study.journal"
    storage = JournalStorage(JournalFileBackend(str(path)))
    sid = storage.get_study_id_from_name(optuna.create_study(study_name="s", storage=storage).study_name)
    # a restored row with a non-finite parameter (never produced by the samplers) still reads back
    batch = told_batch(NAMES, DISTS, [0], np.array([[float("nan"), -50.0]]), np.array([1.5]), np.array([False]), [None])
    with open(path, "a") as f:
        f.write(journal_text(sid, batch, NAMES, DISTS))
    (t,) = _load(path).get_trials()
    assert np.isnan(t.params["tau"]) and t.params["V_T"] == -50.0 and t.value == 1.5


@pytest.mark.parametrize("storage", ["memory", "journal"])
def test_batches_told_out_of_order_are_added_in_number_order(storage, tmp_path):
    from spikefit.search.storage import journal_of, make_storage

    backend = make_storage(None, None if storage == "memory" else tmp_path)
    study = optuna.create_study(study_name="s", storage=backend)
    journal = journal_of(backend, backend.get_study_id_from_name("s"))
    assert (journal is None) == (storage == "memory")
    log = TrialLog(study, 0, NAMES, DISTS, journal)
    log.add(told_batch(NAMES, DISTS, *_batch([3, 4, 5])))
    assert log.write() == 0 and log.waiting == 3  # trials 0-2 are not told yet
    log.add(told_batch(NAMES, DISTS, *_batch([0, 1, 2])))
    assert log.write() == 6 and log.waiting == 0
    if storage == "journal":  # read back by Optuna itself, from the file
        study = _load(tmp_path / "study.journal")
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(6))
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"] * 2
    assert trials[1].user_attrs["penalized"] == "silent" and trials[0].value == pytest.approx(0.5)
    assert trials[2].user_attrs["fail_reason"].startswith("diverged")
    # Optuna numbered them as spikefit did: each trial's params are those of its number
    np.testing.assert_allclose([t.params["tau"] for t in trials], 5.0 + np.arange(6))
    assert [t.user_attrs["spikefit_number"] for t in trials] == list(range(6))
