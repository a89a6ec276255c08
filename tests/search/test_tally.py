"""spikefit.search.tally: a study's counts and best trial kept from told batches."""

from __future__ import annotations

import numpy as np
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from spikefit.search.tally import Tally

NAMES = ("a", "b")


def test_batches_give_the_counts_and_the_first_lowest_trial():
    """Told in batches, out of order, with FAILs and ties: the best is the lowest loss among
    COMPLETE trials, the lower number on a tie, as Optuna's best_trial would pick it."""
    rng = np.random.default_rng(1)
    tally, rows = Tally(), []
    for first in (64, 0, 32, 96):
        numbers = np.arange(first, first + 32)
        x = rng.random((32, 2))
        values = np.round(rng.random(32), 1)  # many ties
        failed = rng.random(32) < 0.25
        values[failed] = -1.0  # a FAIL's value never counts, however low
        tally.add(numbers, x, values, failed, NAMES)
        rows += [(v, n, tuple(r)) for v, n, r, f in zip(values, numbers, x, failed) if not f]
    value, number, params = min(rows)
    assert tally.complete == len(rows) and tally.failed == 128 - len(rows)
    assert tally.best == (number, dict(zip(NAMES, params)), (value,))


def test_from_trials_counts_states_and_skips_a_batch_with_no_complete_trial():
    dist = {n: FloatDistribution(0.0, 1.0) for n in NAMES}
    trials = [create_trial(state=TrialState.COMPLETE, value=v, params={"a": v, "b": 0.5}, distributions=dist)
              for v in (0.3, 0.1, 0.1)]
    trials += [create_trial(state=TrialState.FAIL, params={"a": 0.0, "b": 0.0}, distributions=dist)]
    for i, t in enumerate(trials):
        t.number = i
    tally = Tally.from_trials(trials, 1)
    assert (tally.complete, tally.failed, tally.running) == (3, 1, 0)
    assert tally.best == (1, {"a": 0.1, "b": 0.5}, (0.1,))
    tally.add(np.arange(4, 8), np.zeros((4, 2)), np.zeros(4), np.ones(4, bool), NAMES)
    assert (tally.complete, tally.failed, tally.best[0]) == (3, 5, 1)
