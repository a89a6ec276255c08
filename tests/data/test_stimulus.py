"""fitter/data/stimulus.py: the idealised step replaces the recorded current of step protocols only."""

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.recording import RecordingError
from spikefit.data.stimulus import choose_stimulus, idealise, summarise_kinds


def test_idealised_idrest_sweep_has_no_artefacts(example_data):
    rec = load(example_data)
    s = rec["330"]
    d = s.step()
    got = idealise(s)
    i0, i1 = int(round(d.onset_ms / s.dt_ms)), int(round(d.offset_ms / s.dt_ms))
    plateau = d.holding_pA + d.amplitude_pA
    assert np.max(np.abs(s.current[i0:i1] - plateau)) > 300  # recorded: spike-locked artefacts
    assert np.max(np.abs(got.current[i0:i1] - plateau)) == 0.0  # idealised: the plateau only
    assert np.all(got.current[:i0] == d.holding_pA) and np.all(got.current[i1:] == d.holding_pA)
    assert got.current[0] == pytest.approx(-202.5, abs=2)  # the holding current
    np.testing.assert_array_equal(got.spike_times_ms, s.spike_times_ms)  # the recorded response stays
    np.testing.assert_array_equal(got.voltage, s.voltage)


def test_auto_per_protocol(shared_data):
    a2 = load(shared_data / "bbp_sscx_l5pc" / "C060109A2-SR-C1", protocols=["IDrest", "sAHP"])
    out, kinds = choose_stimulus(a2.sweeps, "auto")
    by_id = {s.sweep_id: s for s in out}
    assert {kinds[s.sweep_id] for s in a2 if s.protocol == "IDrest"} == {"idealised"}
    assert {kinds[s.sweep_id] for s in a2 if s.protocol == "sAHP"} == {"recorded"}  # a step on a step
    for s in a2:
        same = np.array_equal(by_id[s.sweep_id].current, s.current)
        assert same == (s.protocol == "sAHP")
    assert summarise_kinds(kinds.values()) == "mixed"


def test_noise_keeps_its_recorded_current(shared_data):
    gif = load(shared_data / "gif_pozzorini_cell3")
    out, kinds = choose_stimulus(gif.sweeps, "auto")
    assert set(kinds.values()) == {"recorded"} and summarise_kinds(kinds.values()) == "recorded"
    assert all(np.array_equal(a.current, b.current) for a, b in zip(out, gif))
    with pytest.raises(RecordingError, match=r"Cell3_Ger1\w+_ch3_\d+\.ibw, sweep '\d+' .*expects a one-step current"):
        choose_stimulus(gif.sweeps, "idealised")
    out, kinds = choose_stimulus(gif.sweeps, "recorded")
    assert out[0] is gif[0] and set(kinds.values()) == {"recorded"}
    with pytest.raises(RecordingError, match=r"\[data\] stimulus: expected one of \['auto', 'idealised', 'recorded'\]"):
        choose_stimulus(gif.sweeps, "ideal")
