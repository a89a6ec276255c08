"""The passive fit recovers a known membrane, agrees with the input resistance measured from
the real IV sweeps, and narrows bounds in each parameter's own unit."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit import models
from spikefit.data.readers import load
from spikefit.data.recording import Sweep
from spikefit.data.stimulus import choose_stimulus
from spikefit.data.sweeps import make_batch
from spikefit.search.passive import PassiveError, PassiveFit, fit_passive, narrow
from spikefit.search.space import FreeParameter, SearchSpace

DT = 0.25
TRUE = {"R": 0.085, "tau": 14.0, "V_rest": -72.0}  # GOhm, ms, mV


def _lif_sweeps(noise_mV=0.3, holding=-120.0, amplitudes=(-200.0, -100.0, 50.0, 120.0), seed=0):
    """LIF (spikefit's own simulator, threshold out of reach) under holding + steps, with
    recording noise on V."""
    n = int(1300 / DT)
    t = np.arange(n) * DT
    current = np.stack([holding + a * ((t >= 200) & (t < 1000)) for a in amplitudes]).astype(np.float32)
    params = {k: np.array([v], np.float32) for k, v in TRUE.items()}
    res = models.simulate("LIF", current, DT, params, fixed={"V_th": 50.0, "V_reset": -80.0}, record_v=True,
                          init={"V": TRUE["V_rest"] + TRUE["R"] * holding})
    rng = np.random.default_rng(seed)
    v = np.asarray(res.V)[0] + rng.normal(0, noise_mV, (len(amplitudes), n))
    return [Sweep(current=current[s].astype(np.float64), dt_ms=DT, voltage=v[s], spike_times_ms=np.array([]),
                  spikes_source="given", cell="lif", sweep_id=str(s), stimulus=str(s), repeat=0, protocol="IV",
                  source="synthetic") for s in range(len(amplitudes))]


def test_recovers_a_known_membrane():
    fit = fit_passive(make_batch(_lif_sweeps()))
    assert fit.R == pytest.approx(TRUE["R"], rel=0.02)
    assert fit.tau == pytest.approx(TRUE["tau"], rel=0.03)
    assert fit.V_rest == pytest.approx(TRUE["V_rest"], abs=0.3)
    assert fit.rmse_mV == pytest.approx(0.3, rel=0.1)  # the residual is the recording noise


def test_a_fixed_parameter_is_held():
    fit = fit_passive(make_batch(_lif_sweeps()), fixed={"V_rest": -70.0})
    assert fit.V_rest == -70.0
    free = fit_passive(make_batch(_lif_sweeps()))
    assert fit.rmse_mV > free.rmse_mV  # a wrong V_rest costs fit quality


def test_spiking_sweeps_contribute_only_before_their_first_spike():
    sweeps = _lif_sweeps()
    # the same sweeps, but with a (fake) spike at 600 ms: the samples after 570 ms must be ignored,
    # so corrupting them changes nothing
    marked = []
    for sw in sweeps:
        v = sw.voltage.copy()
        v[int(570 / DT):] += 30.0
        marked.append(Sweep(**{**sw.__dict__, "voltage": v, "spike_times_ms": np.array([600.0])}))
    a, b = fit_passive(make_batch(sweeps[:1] + marked[1:])), fit_passive(make_batch(sweeps))
    assert a.n_samples < b.n_samples
    assert a.R == pytest.approx(TRUE["R"], rel=0.05)


def test_too_little_subthreshold_data_is_one_clear_error():
    sweeps = _lif_sweeps()
    spiky = [Sweep(**{**sw.__dict__, "spike_times_ms": np.array([30.0])}) for sw in sweeps]
    with pytest.raises(PassiveError, match="sub-threshold samples"):
        fit_passive(make_batch(spiky))


def test_agrees_with_the_input_resistance_of_the_recorded_iv_sweeps(shared_data):
    """Independent check on real data: the slope of the steady-state voltage (last 100 ms of
    the step) against the step amplitude of the hyperpolarising IV sweeps."""
    rec = load(shared_data / "bbp_sscx_l5pc" / "C060109A2-SR-C1", format="ibw", protocols=["IV"])
    batch = make_batch(choose_stimulus(list(rec.sweeps), "idealised")[0], ljp_mV=14.0)
    fit = fit_passive(batch)
    recorded = make_batch(rec, ljp_mV=14.0)  # the input resistance as measured, on the recorded current
    pre, on, ss = slice(0, int(18 / DT)), slice(int(100 / DT), int(1000 / DT)), slice(int(920 / DT), int(1020 / DT))
    amp = np.median(recorded.current[:, on], 1) - np.median(recorded.current[:, pre], 1)
    dv = recorded.voltage[:, ss].mean(1) - recorded.voltage[:, pre].mean(1)
    steps = np.abs(amp) > 20
    r_in = np.polyfit(amp[steps], dv[steps], 1)[0]  # GOhm
    assert fit.R == pytest.approx(r_in, rel=0.1)  # R from the steady state: the IV slope
    noisy = fit_passive(recorded)  # the recorded current never settles: least squares on the whole trace
    assert noisy.R == pytest.approx(r_in, rel=0.3)
    assert 2.0 < fit.tau < 40.0
    base = np.median(batch.voltage[:, pre])
    holding = np.median(batch.current[:, pre])
    assert fit.V_rest + fit.R * holding == pytest.approx(base, abs=2.0)  # the fitted membrane sits at the baseline


def test_narrow_converts_units_and_clips_to_the_job_bounds():
    space = SearchSpace([FreeParameter("R", 20.0, 300.0, unit="MOhm", log=True),
                         FreeParameter("tau", 5.0, 60.0, unit="ms", log=True),
                         FreeParameter("V_rest", -80.0, -60.0, unit="mV"),
                         FreeParameter("a", 0.0, 20.0, unit="nS")])
    fit = PassiveFit(R=0.05, tau=58.0, V_rest=-79.0, rmse_mV=1.0, n_samples=1000, n_sweeps=3)
    out = narrow(space, fit, tolerance=0.1, v_tolerance_mV=2.0)
    assert out["R"].low == pytest.approx(50 / 1.1) and out["R"].high == pytest.approx(55.0)
    assert out["tau"].low == pytest.approx(58 / 1.1) and out["tau"].high == 60.0  # clipped at the job's bound
    assert out["V_rest"].low == -80.0 and out["V_rest"].high == pytest.approx(-77.0)
    assert out["a"] == space["a"]
    assert out.names == space.names and out["R"].log
    outside = narrow(space, PassiveFit(R=0.5, tau=10, V_rest=-70, rmse_mV=1, n_samples=1, n_sweeps=1),
                     tolerance=0.1, v_tolerance_mV=2.0)
    assert outside["R"].high == 300.0 and outside["R"].low > 290.0  # estimate beyond the bounds: the nearest edge
