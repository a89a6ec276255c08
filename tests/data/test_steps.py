"""fitter/data/steps.py: a sweep's current as one step, on the real BBP recordings (SOURCE.md values)."""

import numpy as np
import pytest

from spikefit.data.readers import load
from spikefit.data.steps import describe_step

# SOURCE.md, C060109A2-SR-C1, IV: step (pA) per sweep, first series
A2_IV = [-375, -312, -250, -187, -125, -62, 1, 63, 125, 188]
# SOURCE.md, C060109A1-SR-C1 (the noisier current), IDrest, first series
A1_IDREST = [183, 223, 259, 293, 332, 366, 405, 440, 478, 515, 551, 589, 625, 662, 699, 737]


@pytest.fixture(scope="module")
def bbp(shared_data):
    root = shared_data / "bbp_sscx_l5pc"
    return {c: load(root / c, protocols=["IDrest", "IV", "sAHP", "APThreshold", "IDhyperpol"])
            for c in ("C060109A1-SR-C1", "C060109A2-SR-C1")}


def test_idrest_step_despite_spike_artefacts(example_data):
    s = load(example_data)["330"]  # 12 spikes, each with a spike-locked artefact in the current
    d = describe_step(s.current, s.dt_ms)
    assert d.is_step
    assert d.holding_pA == pytest.approx(-202.5, abs=2)  # the holding current, not 0
    assert d.amplitude_pA == pytest.approx(626, abs=3)  # SOURCE.md: 626 pA
    assert d.onset_ms == pytest.approx(700, abs=1) and d.offset_ms == pytest.approx(2700, abs=1)  # upstream config
    i0, i1 = int(d.onset_ms / s.dt_ms), int(d.offset_ms / s.dt_ms)
    plateau = s.current[i0:i1]
    assert np.max(np.abs(plateau - (d.holding_pA + d.amplitude_pA))) > 300  # the artefacts are there


def test_noisy_cell_idrest_amplitudes(bbp):
    idrest = [s for s in bbp["C060109A1-SR-C1"] if s.protocol == "IDrest"]
    d = [describe_step(s.current, s.dt_ms) for s in idrest]
    assert all(x.is_step for x in d)
    np.testing.assert_allclose([x.amplitude_pA for x in d[:16]], A1_IDREST, atol=6)


def test_iv_negative_steps_and_a_flat_sweep(bbp):
    iv = [s for s in bbp["C060109A2-SR-C1"] if s.protocol == "IV"][:10]
    d = [describe_step(s.current, s.dt_ms) for s in iv]
    assert all(x.is_step for x in d)
    np.testing.assert_allclose([x.amplitude_pA for x in d], [0 if abs(a) < 25 else a for a in A2_IV], atol=3)
    assert d[0].onset_ms == pytest.approx(20, abs=1) and d[0].offset_ms == pytest.approx(1020, abs=1.5)
    flat = d[6]  # a 1 pA "step" is no step: a flat holding current, which is one step of 0 pA
    assert flat.as_dict()["onset_ms"] is None and flat.amplitude_pA == 0.0
    np.testing.assert_array_equal(flat.current(), np.full(iv[6].n_samples, flat.holding_pA))


def test_ramps_steps_on_steps_and_noise_are_no_step(bbp, shared_data):
    for cell in bbp.values():
        for s in cell:
            if s.protocol in ("sAHP", "APThreshold", "IDhyperpol"):
                assert not describe_step(s.current, s.dt_ms).is_step, (s.protocol, s.sweep_id)
    gif = load(shared_data / "gif_pozzorini_cell3")["1009"]  # frozen noise
    d = describe_step(gif.current, gif.dt_ms)
    assert not d.is_step and d.error_pA > 100


def test_synthetic_step_exact_and_idealised_current():
    dt, n = 0.1, 20000
    t = np.arange(n) * dt
    rng = np.random.default_rng(0)
    ideal = np.where((t >= 500) & (t < 1500), -300.0 + 250.0, -300.0)
    c = ideal + rng.normal(0, 5, n)
    for spike in np.arange(520, 1500, 25.0):  # artefacts: +570 then -900 pA over 1.5 ms
        i = int(spike / dt)
        c[i:i + 7] += 570
        c[i + 7:i + 15] -= 900
    d = describe_step(c, dt)
    assert d.is_step and d.onset_ms == pytest.approx(500) and d.offset_ms == pytest.approx(1500)
    assert d.holding_pA == pytest.approx(-300, abs=1) and d.amplitude_pA == pytest.approx(250, abs=2)
    x = d.current()
    assert set(np.unique(x)) == {d.holding_pA, d.holding_pA + d.amplitude_pA}
    assert np.all(x[t < 500] == d.holding_pA) and np.all(x[(t >= 500) & (t < 1500)] == d.holding_pA + d.amplitude_pA)


def test_too_short_or_constant_is_flat():
    d = describe_step(np.full(10, 40.0), 0.25)
    assert d.is_step and d.holding_pA == 40.0 and d.amplitude_pA == 0.0 and np.isnan(d.onset_ms)
