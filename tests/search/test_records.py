"""spikefit.search.records: told batches become Optuna trials, added in trial-number order."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

from spikefit.search.records import TrialLog, frozen_trials

DISTS = {"tau": FloatDistribution(5.0, 50.0, log=True), "V_T": FloatDistribution(-60.0, -40.0)}


def _batch(numbers):
    numbers = np.asarray(numbers)
    x = np.column_stack([5.0 + numbers, -50.0 + 0.1 * numbers])
    values = 0.5 + 0.01 * numbers
    failed = numbers % 3 == 2
    reasons = ["diverged: V non-finite" if f else ("silent" if n % 3 == 1 else None) for n, f in zip(numbers, failed)]
    return numbers, x, values, failed, reasons


def test_complete_failed_and_penalised_trials():
    numbers, x, values, failed, reasons = _batch([0, 1, 2])
    t0, t1, t2 = (t.frozen(DISTS) for t in frozen_trials(("tau", "V_T"), DISTS, numbers, x, values, failed, reasons))
    assert t0.state.name == "COMPLETE" and t0.value == pytest.approx(0.5) and "penalized" not in t0.user_attrs
    assert t1.state.name == "COMPLETE" and t1.user_attrs["penalized"] == "silent"
    assert t2.state.name == "FAIL" and t2.user_attrs["fail_reason"].startswith("diverged")
    assert t0.params == {"tau": 5.0, "V_T": -50.0}


def test_params_outside_the_distribution_are_clipped_to_it():
    (t,) = frozen_trials(("tau", "V_T"), DISTS, [0], np.array([[60.0, -70.0]]), np.array([0.1]),
                         np.array([False]), [None])
    t = t.frozen(DISTS)
    assert t.params == {"tau": 50.0, "V_T": -60.0}


@pytest.mark.parametrize("storage", ["memory", "journal"])
def test_batches_told_out_of_order_are_added_in_number_order(storage, tmp_path):
    from spikefit.search.storage import journal_of, make_storage

    backend = make_storage(None, None if storage == "memory" else tmp_path)
    study = optuna.create_study(study_name="s", storage=backend)
    journal = journal_of(backend, backend.get_study_id_from_name("s"))
    assert (journal is None) == (storage == "memory")
    log = TrialLog(study, 0, DISTS, journal)
    late = _batch([3, 4, 5])
    log.add(frozen_trials(("tau", "V_T"), DISTS, *late), late[0])
    assert log.write() == 0 and log.waiting == 3  # trials 0-2 are not told yet
    early = _batch([0, 1, 2])
    log.add(frozen_trials(("tau", "V_T"), DISTS, *early), early[0])
    assert log.write() == 6 and log.waiting == 0
    if storage == "journal":  # read back by Optuna itself, from the file
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        study = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(str(tmp_path / "study.journal"))))
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(6))
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"] * 2
    assert trials[1].user_attrs["penalized"] == "silent" and trials[0].value == pytest.approx(0.5)
    assert trials[2].user_attrs["fail_reason"].startswith("diverged")
    # Optuna numbered them as spikefit did: each trial's params are those of its number
    np.testing.assert_allclose([t.params["tau"] for t in trials], 5.0 + np.arange(6))
    assert [t.user_attrs["spikefit_number"] for t in trials] == list(range(6))
