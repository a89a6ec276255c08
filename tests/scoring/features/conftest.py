"""Step sweeps for the feature tests, and eFEL run on them.

* ``bbp``: the shipped real recording (BBP L5PC C060109A2, IDrest, first series: 16 step
  amplitudes 313-1252 pA, 0 to 45 spikes, 4 kHz, step 700-2700 ms);
* ``adex``: spikefit's simulator, AdExIF driven by 5 current steps (-100 to 900 pA, 0 to 32
  spikes), V recorded; ``V_peaks`` is V with a +20 mV sample put at each spike step (the step
  at which V crossed V_th, before the reset) so that eFEL, at its -20 mV threshold, finds a
  peak exactly at every spike the simulator reports and at no other sample.

eFEL itself is run by ``tests/_efel_ref.py`` (``efel_values``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

ADEX_PARAMS = {"tau": 20.0, "tau_w": 150.0, "a": 4.0, "b": 60.0, "V_T": -50.0, "delta_T": 2.0, "V_th": -40.0}
ADEX_FIXED = {"R": 0.05, "V_rest": -70.0, "V_reset": -58.0}
ADEX_AMPS_PA = (-100.0, 300.0, 450.0, 600.0, 900.0)


@pytest.fixture(scope="session")
def bbp(example_data):
    from spikefit.data.readers import load

    rec = load(example_data)
    sweeps = [s for s in rec.sweeps if s.repeat == 0]
    assert len(sweeps) == 16
    V = np.stack([s.voltage for s in sweeps])
    n = len(sweeps)
    return SimpleNamespace(V=V, dt=sweeps[0].dt_ms, start=np.full(n, 700.0), end=np.full(n, 2700.0),
                           spike_steps=[np.rint(s.spike_times_ms / s.dt_ms).astype(int) for s in sweeps])


@pytest.fixture(scope="session")
def adex():
    from spikefit import models

    dt, on, off, n_t = 0.1, 200.0, 1000.0, 12000
    amps = np.array(ADEX_AMPS_PA)
    current = np.zeros((amps.size, n_t), np.float32)
    current[:, int(on / dt):int(off / dt)] = amps[:, None]
    res = models.simulate("AdExIF", current, dt, {k: np.array([v], np.float32) for k, v in ADEX_PARAMS.items()},
                          fixed=ADEX_FIXED, record_v=True, max_spikes=128, init={"V": ADEX_FIXED["V_rest"]})
    steps = np.asarray(res.spike_steps)[0]
    V = np.asarray(res.V)[0].astype(np.float64)
    V_peaks = V.copy()
    for s in range(amps.size):
        V_peaks[s, steps[s][steps[s] >= 0]] = 20.0
    n = amps.size
    return SimpleNamespace(spike_steps=steps, V=V, V_peaks=V_peaks, dt=dt, start=np.full(n, on), end=np.full(n, off),
                           n_spikes=np.asarray(res.n_spikes)[0], current=current)
