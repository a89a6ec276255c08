"""fitter/data/series.py: series of a step protocol from sweep numbers and the step pattern."""

import numpy as np
import pytest

from spikefit.data.series import assign_stimuli, find_series


def _amps(numbers, values):
    return dict(zip(numbers, values))


def test_two_unequal_series_with_other_increments():
    first = list(range(100, 113))  # 13 sweeps, 50 pA apart
    second = list(range(150, 162))  # 12 sweeps, 40 pA apart, after a gap in the numbering
    amps = _amps(first + second, [50.0 * (k + 1) for k in range(13)] + [20.0 + 40.0 * k for k in range(12)])
    series = find_series(first + second, amps)
    assert series == [first, second]
    stim = assign_stimuli("IDrest", series, amps)
    assert [stim[n][1] for n in first] == [0] * 13 and [stim[n][1] for n in second] == [1] * 12
    # 50 vs 20, 100 vs 60, ... pA: the same position is no repeat when the amplitudes differ
    assert len({s for s, _ in stim.values()}) == 25 and stim[150] == ("IDrest:150", 1)
    # the same steps with the last sweep of the second series missing: 12 shared stimuli
    amps = _amps(first + second, [50.0 * (k + 1) for k in range(13)] + [50.0 * (k + 1) + 4 for k in range(12)])
    stim = assign_stimuli("IDrest", find_series(first + second, amps), amps)
    assert stim[100] == ("IDrest:0", 0) and stim[161] == ("IDrest:11", 1) and stim[112] == ("IDrest:112", 0)


def test_restart_without_a_gap_splits_series():
    numbers = list(range(265, 295))  # IV: 3 x 10 consecutive sweeps, each series -375 .. 188 pA
    amps = _amps(numbers, [-375.0 + 62.5 * k + (3.0 if r == 1 else 0.0) for r in range(3) for k in range(10)])
    series = find_series(numbers, amps)
    assert [len(s) for s in series] == [10, 10, 10] and series[1][0] == 275
    stim = assign_stimuli("IV", series, amps)
    assert stim[265] == ("IV:0", 0) and stim[275] == ("IV:0", 1) and stim[294] == ("IV:9", 2)
    # unequal series that restart in one run (13 then 12 consecutive)
    numbers = list(range(1, 26))
    amps = _amps(numbers, [20.0 * k for k in range(13)] + [10.0 + 30.0 * k for k in range(12)])
    assert [len(s) for s in find_series(numbers, amps)] == [13, 12]


def test_noise_does_not_split_a_series():
    rng = np.random.default_rng(1)
    numbers = list(range(40))
    amps = _amps(numbers, 20.0 * np.arange(40) + rng.normal(0, 8, 40))  # small non-monotonic wiggles
    assert find_series(numbers, amps) == [numbers]


def test_numbering_only_and_series_length_override():
    numbers = [1, 2, 3, 7, 8, 9]
    series = find_series(numbers)  # no amplitudes (not steps): runs of consecutive numbers
    assert series == [[1, 2, 3], [7, 8, 9]]
    assert assign_stimuli("P", series)[8] == ("P:1", 1)  # equal lengths: position k is a repeat
    unequal = find_series([1, 2, 3, 7, 8])
    assert assign_stimuli("P", unequal) == {1: ("P:1", 0), 2: ("P:2", 0), 3: ("P:3", 0), 7: ("P:7", 1), 8: ("P:8", 1)}
    amps = _amps(range(30), [10.0 * (k % 10) for k in range(30)])
    assert find_series(range(30), amps, series_length=15) == [list(range(15)), list(range(15, 30))]
    assert find_series([5]) == [[5]] and assign_stimuli("P", [[5]]) == {5: ("P:5", 0)}
    with pytest.raises(ValueError, match="series_length: expected an integer >= 1, got 0"):
        find_series([1, 2], series_length=0)
