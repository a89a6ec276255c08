"""spikefit.scoring.validation: Gamma / Gamma_int per validation stimulus (hand-made spike trains)."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.data.dataset import CellSets
from spikefit.data.recording import Sweep
from spikefit.data.sweeps import make_batch
from spikefit.scoring.validation import validation_rows

DT = 0.1
SPIKES = np.arange(50.0, 1000.0, 50.0)  # 19 spikes, 20 Hz


def _sweep(stim, repeat, spikes, sid):
    return Sweep(current=np.zeros(10_000), dt_ms=DT, spike_times_ms=np.asarray(spikes, float),
                 spikes_source="given", cell="c", sweep_id=sid, stimulus=stim, repeat=repeat, protocol="p")


def _sets(train, validation):
    return CellSets("c", make_batch(train, dt_ms=None), make_batch(validation, dt_ms=None) if validation else None,
                    tuple(train), tuple(validation))


def test_perfect_and_silent_predictions_of_reliable_repeats():
    val = [_sweep("s", 0, SPIKES, "s0"), _sweep("s", 1, SPIKES, "s1")]
    sets = _sets([_sweep("t", 0, SPIKES + 7.0, "t0")], val)
    (row,) = validation_rows(sets, [SPIKES, SPIKES], dt_ms=None)
    assert row["stimulus"] == "s" and row["gamma_int"] == pytest.approx(1.0)
    assert row["gamma"] == pytest.approx(1.0) and row["ratio"] == pytest.approx(1.0)
    assert (row["n_model"], row["n_data"], row["count_error"]) == (19.0, 19.0, 0.0)
    (silent,) = validation_rows(sets, [np.array([]), np.array([])], dt_ms=None)
    assert silent["gamma"] == pytest.approx(0.0, abs=1e-6) and silent["count_error"] == 1.0


def test_half_the_spikes_shifted_out_of_the_window():
    # model: every other spike 10 ms late (outside delta = 2 ms): 10 of 19 coincide
    model = SPIKES.copy()
    model[1::2] += 10.0
    sets = _sets([_sweep("t", 0, SPIKES, "t0")], [_sweep("s", 0, SPIKES, "s0"), _sweep("s", 1, SPIKES, "s1")])
    (row,) = validation_rows(sets, [model, model], dt_ms=None, delta_ms=2.0)
    # Gamma = (N_coinc - <N_coinc>) / (N_data + N_model) * 2 / (1 - 2 * rate * delta), rate = 19 spikes / s
    rate = 19 / 1000.0
    expected_chance = 2 * rate * 2.0 * 19
    gamma = (10 - expected_chance) / (0.5 * (19 + 19)) / (1 - 2 * rate * 2.0)
    assert row["gamma"] == pytest.approx(gamma, rel=0.02)


def test_one_validation_repeat_borrows_training_repeats_for_gamma_int():
    jitter = SPIKES + np.where(np.arange(SPIKES.size) % 2, 5.0, 0.0)  # half the spikes 5 ms off
    val = [_sweep("s", 1, SPIKES, "s1")]
    train = [_sweep("s", 0, jitter, "s0")]
    (same,) = validation_rows(_sets(train, val), [SPIKES], dt_ms=None, same_window=True)
    assert 0.0 < same["gamma_int"] < 1.0  # repeats disagree on half the spikes
    (other,) = validation_rows(_sets(train, val), [SPIKES], dt_ms=None, same_window=False)
    assert np.isnan(other["gamma_int"]) and np.isnan(other["ratio"])
    assert same["gamma"] == other["gamma"]  # the model is only ever scored on validation sweeps
