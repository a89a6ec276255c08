"""Checks shared by the execution tests: the Optuna study read by Optuna itself vs the trials table."""

from __future__ import annotations

import pytest


def study_agrees_with_table(journal, name: str, rows, params) -> None:
    """The Optuna study (as Optuna itself reads it) holds exactly the trials of ``rows``."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(journal))))
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert sorted(trials) == sorted(rows["trial"].tolist()) == list(range(len(rows)))
    for row in rows.itertuples():
        t = trials[row.trial]
        assert t.state.name == row.state
        for name_ in params:
            assert t.params[name_] == pytest.approx(getattr(row, name_), rel=1e-12)
        if row.state == "COMPLETE":
            assert t.value == pytest.approx(row.loss, rel=1e-12)
        else:
            assert t.user_attrs["fail_reason"] == row.fail_reason
