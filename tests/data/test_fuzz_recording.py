"""Fuzzing spike-time and sample arrays: ``Sweep`` construction and the spike metrics.

Properties (hypothesis, derandomized):

* ``Sweep(...)`` / ``Sweep.from_arrays(...)`` either build a valid sweep (sorted, finite spike
  times inside the sweep) or raise a :class:`RecordingError` naming the source, the sweep and
  the field; never another exception type.
* Any valid sweeps, padded by ``make_batch``, scored against any model spike trains by every
  spike metric of the objective give finite losses (no NaN or inf ever leaves the objective).

Regressions found by fuzzing are kept as explicit tests at the end.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spikefit.data.recording import RecordingError, Sweep
from spikefit.data.sweeps import make_batch

SOURCE = "fuzz.abf"
FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
ODD = st.one_of(st.none(), st.text(max_size=5), st.just("abc"), st.lists(st.text(max_size=3), max_size=3),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(object()),
                st.lists(st.lists(st.floats(0, 10), max_size=3), max_size=3), st.just(np.array(["1", "x"])),
                st.just(np.zeros((2, 3))), st.just(np.array([1 + 2j])), st.integers(-5, 5), FLOATS)
ARRAYS = st.one_of(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=20), elements=FLOATS),
    hnp.arrays(np.float64, st.integers(0, 30), elements=st.floats(-1e3, 1e3)),
    hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(-5, 200)),
    ODD)
SPIKES = st.one_of(
    hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(0, 99.9)).map(np.sort),  # mostly valid
    hnp.arrays(np.float64, st.integers(0, 20), elements=FLOATS),
    ARRAYS)


def check_sweep(make) -> Sweep | None:
    """The property: a valid Sweep, or a RecordingError naming the source, sweep and field."""
    try:
        s = make()
    except RecordingError as err:
        msg = str(err)
        assert msg.startswith(SOURCE) and "sweep 's1'" in msg and "field '" in msg, msg
        return None
    assert isinstance(s, Sweep) and s.current.ndim == 1 and np.all(np.isfinite(s.current))
    sp = s.spike_times_ms
    assert sp.ndim == 1 and np.all(np.isfinite(sp)) and np.all(np.diff(sp) >= 0)
    assert sp.size == 0 or (sp[0] >= 0 and sp[-1] < s.duration_ms)
    return s


@FAST
@given(current=ARRAYS, dt=st.one_of(FLOATS, ODD), voltage=st.one_of(st.none(), ARRAYS), spikes=SPIKES)
def test_sweep_construction_is_valid_or_names_the_field(current, dt, voltage, spikes):
    check_sweep(lambda: Sweep(current=current, dt_ms=dt, voltage=voltage, spike_times_ms=spikes,
                              sweep_id="s1", source=SOURCE))


@FAST
@given(current=ARRAYS, voltage=st.one_of(st.none(), ARRAYS), spikes=st.one_of(st.none(), SPIKES),
       units=st.tuples(st.sampled_from(["pA", "nA", "A", "mV", "", "furlong", None, "1/0"]),
                       st.sampled_from(["mV", "V", "pA", None]),
                       st.sampled_from(["ms", "s", "us", "mV", "", None, "parsec"])),
       dt=st.one_of(st.floats(0.001, 1.0), FLOATS, ODD))
def test_from_arrays_is_valid_or_names_the_field(current, voltage, spikes, units, dt):
    check_sweep(lambda: Sweep.from_arrays(current, current_unit=units[0], voltage=voltage, voltage_unit=units[1],
                                          dt=dt, dt_unit="ms", spike_times=spikes, spike_time_unit=units[2],
                                          sweep_id="s1", source=SOURCE))


# ---------------------------------------------------------------------- spike metrics
DT, T, K = 0.1, 1000, 32  # fixed shapes: one compilation of the objective
ALL_SPIKE_METRICS = {"metrics": [{"name": n} for n in ("gamma", "van_rossum", "victor_purpura", "isi", "spike_count",
                                                       "firing_rate", "first_spike_latency")], "mode": "multi"}


@st.composite
def spike_trains(draw, n_steps: int) -> np.ndarray:
    edges = sorted({0, max(0, n_steps - 2), n_steps - 1})
    steps = draw(st.lists(st.sampled_from(edges) | st.integers(0, n_steps - 1), max_size=K))
    return np.sort(np.asarray(steps, np.float64)) * DT  # repeats allowed: spikes on one step merge


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_spike_metrics_are_finite_for_any_valid_trains(data):
    from spikefit.scoring.objective import Objective

    n_steps = [data.draw(st.sampled_from([1, 2, 50, T]), label="n_steps") for _ in range(2)]
    sweeps = [Sweep(current=np.zeros(n), dt_ms=DT, spike_times_ms=data.draw(spike_trains(n), label="data"),
                    sweep_id=str(i), source=SOURCE) for i, n in enumerate(n_steps)]
    batch = make_batch(sweeps, dt_ms=DT)
    d_steps = np.full((2, K), -1, np.int32)
    d_steps[:, : batch.spike_steps.shape[1]] = batch.spike_steps
    mask = np.zeros((2, T), bool)
    for i, n in enumerate(n_steps):
        mask[i, :n] = True
    model = np.full((2, 2, K), -1, np.int32)
    for b in range(2):
        for s in range(2):
            st_ = np.unique(np.rint(data.draw(spike_trains(n_steps[s]), label="model") / DT).astype(np.int32))
            model[b, s, : st_.size] = st_
    res = Objective.from_spec(ALL_SPIKE_METRICS).evaluate(model, d_steps, dt=DT, mask=mask)
    assert np.all(np.isfinite(res.loss)) and res.loss.shape == (2, 7)
    assert all(np.all(np.isfinite(v)) for v in res.per_sweep.values())


# ---------------------------------------------------------------------- regressions found by fuzzing
@pytest.mark.parametrize(("field", "kwargs"), [
    # strings where numbers belong: np.asarray(..., float64) raised a bare ValueError
    ("spike_times_ms", {"spike_times_ms": ["abc"]}),
    ("current", {"current": np.array(["1", "x"])}),
    ("dt_ms", {"dt_ms": "abc"}),
    # a dict or None as an array: TypeError from float() / np.asarray
    ("current", {"current": {"a": 1}}),
    ("dt_ms", {"dt_ms": None}),
    # a ragged list of lists
    ("spike_times_ms", {"spike_times_ms": [[1.0], [2.0, 3.0]]}),
    # complex samples: ComplexWarning, then the imaginary part silently dropped
    ("current", {"current": np.array([1 + 2j, 3])}),
])
def test_fuzz_regressions(field, kwargs):
    args = {"current": np.zeros(100), "dt_ms": 0.1, **kwargs}
    with pytest.raises(RecordingError, match=rf"^{SOURCE}, sweep 's1', field '{field}'"):
        Sweep(**args, sweep_id="s1", source=SOURCE)


@pytest.mark.parametrize(("field", "kwargs"), [
    # dt as text, as an array, as an object: float(to_ms(...)) raised a bare ValueError / TypeError
    ("dt", {"dt": "abc"}),
    ("dt", {"dt": np.zeros((2, 3))}),
    ("dt", {"dt": object()}),
    # a 2-D voltage: spike detection ran first and raised a bare ValueError
    ("voltage", {"voltage": np.zeros((2, 3)), "voltage_unit": "mV"}),
    # complex samples: the unit conversion dropped the imaginary part with a ComplexWarning
    ("current", {"current": np.array([1 + 2j, 3])}),
])
def test_from_arrays_fuzz_regressions(field, kwargs):
    args = {"current": np.zeros(6), "current_unit": "pA", "dt": 0.1, "dt_unit": "ms", **kwargs}
    with pytest.raises(RecordingError, match=rf"^{SOURCE}, sweep 's1', field '{field}'"):
        Sweep.from_arrays(args.pop("current"), **args, sweep_id="s1", source=SOURCE)
