"""spikefit.data.recording: construction, unit conversion and validation messages."""

import numpy as np
import pytest
import saiunit as u

from spikefit.data.recording import Recording, RecordingError, Sweep


def _sweep(**kw):
    base = dict(current=np.zeros(100), dt_ms=0.1, source="f.ibw", sweep_id="7")
    base.update(kw)
    return Sweep(**base)


def test_from_arrays_converts_units_and_detects_spikes():
    v = np.full(1000, -0.07)
    v[500:505] = 0.02  # one spike, in volts
    s = Sweep.from_arrays(np.full(1000, 0.1), current_unit="nA", voltage=v, voltage_unit="V", dt=0.1, dt_unit="ms")
    np.testing.assert_allclose(s.current, 100.0)
    np.testing.assert_allclose(s.voltage[0], -70.0)
    assert s.spikes_source == "detected" and s.spike_times_ms.tolist() == [50.0]
    assert s.duration_ms == pytest.approx(100.0) and s.rate_hz == pytest.approx(10.0)


def test_from_arrays_accepts_quantities():
    s = Sweep.from_arrays(np.ones(10) * u.nA, dt=0.5 * u.ms, spike_times=np.array([1.0]) * u.ms)
    assert s.current[0] == pytest.approx(1000.0) and s.dt_ms == 0.5 and s.spikes_source == "given"


@pytest.mark.parametrize(
    "kwargs, needles",
    [
        (dict(current=np.ones(3), current_unit="furlong", dt=1, dt_unit="ms"), ["current", "unknown current unit 'furlong'", "pA"]),
        (dict(current=np.ones(3), dt=1, dt_unit="ms"), ["current", "need a unit"]),
        (dict(current=np.ones(3) * u.mV, dt=1, dt_unit="ms"), ["current", "expected a current quantity", "mV"]),
        (dict(current=np.ones(3), current_unit="pA", dt=None), ["dt", "sampling interval is missing"]),
    ],
)
def test_unit_errors(kwargs, needles):
    with pytest.raises(RecordingError) as err:
        Sweep.from_arrays(source="cell.abf", sweep_id="3", **kwargs)
    msg = str(err.value)
    assert "cell.abf" in msg and "sweep '3'" in msg
    for n in needles:
        assert n in msg


@pytest.mark.parametrize(
    "kw, needles",
    [
        (dict(voltage=np.zeros(99)), ["field 'voltage'", "expected 100 samples", "got shape (99,)"]),
        (dict(current=np.r_[np.zeros(9), np.nan]), ["field 'current'", "1 NaN/inf", "index 9"]),
        (dict(voltage=np.r_[np.nan, np.zeros(99)]), ["field 'voltage'", "index 0"]),
        (dict(spike_times_ms=[5.0, 2.0]), ["field 'spike_times_ms'", "expected sorted", "5.0 ms before 2.0 ms"]),
        (dict(spike_times_ms=[2.0, 10.0]), ["field 'spike_times_ms'", "[0, 10.0) ms", "got 10.0 ms"]),
        (dict(spike_times_ms=[-1.0]), ["got -1.0 ms"]),
        (dict(current=np.zeros(0)), ["field 'current'", "empty sweep"]),
        (dict(dt_ms=0.0), ["field 'dt_ms'", "> 0 ms", "got 0.0"]),
    ],
)
def test_validation_messages(kw, needles):
    with pytest.raises(RecordingError) as err:
        _sweep(**kw)
    msg = str(err.value)
    assert "f.ibw" in msg and "sweep '7'" in msg
    for n in needles:
        assert n in msg, msg


def test_recording_groups_and_frame():
    a = _sweep(sweep_id="1", stimulus="s1", repeat=1)
    b = _sweep(sweep_id="2", stimulus="s1", repeat=0)
    c = _sweep(sweep_id="3", stimulus="s2", spike_times_ms=[1.0, 2.0])
    rec = Recording((a, b, c), cell="c1")
    assert [s.sweep_id for s in rec.by_stimulus()["s1"]] == ["2", "1"]
    df = rec.to_frame()
    assert list(df["sweep"]) == ["1", "2", "3"] and list(df["n_spikes"]) == [0, 0, 2]
    assert rec["3"] is c and len(rec) == 3


def test_recording_rejects_empty_and_duplicates():
    with pytest.raises(RecordingError, match="expected at least one sweep, got none"):
        Recording((), source="x.nwb")
    with pytest.raises(RecordingError, match=r"unique sweep ids, got duplicates \['7'\]"):
        Recording((_sweep(), _sweep()))
