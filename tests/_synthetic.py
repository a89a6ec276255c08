"""A synthetic recording made by spikefit's own simulator with known parameters (for tests)."""

from __future__ import annotations

import numpy as np

TRUE_ADEX = {"tau": 20.0, "tau_w": 150.0, "a": 4.0, "b": 60.0, "V_T": -50.0, "delta_T": 2.0}
FIXED_ADEX = {"R": 0.05, "V_rest": -70.0, "V_reset": -58.0}


def frozen_noise(n_sweeps: int, n_steps: int, dt_ms: float, *, mean_pA=500.0, sd_pA=300.0,
                 tau_ms=5.0, seed=0) -> np.ndarray:
    """Ornstein-Uhlenbeck currents [sweep, time] in pA (each sweep its own frozen noise)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_sweeps, n_steps))
    a = np.exp(-dt_ms / tau_ms)
    noise = rng.standard_normal((n_sweeps, n_steps)) * np.sqrt(1 - a * a)
    for i in range(1, n_steps):
        x[:, i] = a * x[:, i - 1] + noise[:, i]
    return (mean_pA + sd_pA * x).astype(np.float32)


def synthetic_adex_recording(n_sweeps=4, duration_ms=2000.0, dt_ms=0.1, seed=0):
    """A :class:`fitter.Recording` of AdExIF with ``TRUE_ADEX`` driven by frozen noise."""
    from spikefit import models
    from spikefit.data.recording import Recording, Sweep

    n = int(round(duration_ms / dt_ms))
    current = frozen_noise(n_sweeps, n, dt_ms, seed=seed)
    params = {k: np.array([v], np.float32) for k, v in TRUE_ADEX.items()}
    params["V_th"] = np.array([TRUE_ADEX["V_T"] + 5 * TRUE_ADEX["delta_T"]], np.float32)
    res = models.simulate("AdExIF", current, dt_ms, params, fixed=FIXED_ADEX, spk_reset="hard",
                          max_spikes=4096, record_v=True, init={"V": FIXED_ADEX["V_rest"]})
    assert not bool(np.asarray(res.diverged)[0])
    sweeps = []
    for s in range(n_sweeps):
        steps = np.asarray(res.spike_steps)[0, s]
        sweeps.append(Sweep(current=current[s].astype(np.float64), dt_ms=dt_ms,
                            voltage=np.asarray(res.V)[0, s].astype(np.float64),
                            spike_times_ms=steps[steps >= 0] * dt_ms, spikes_source="given",
                            cell="synthetic", sweep_id=str(s), stimulus=str(s), repeat=0,
                            protocol="noise", source="synthetic"))
    return Recording(tuple(sweeps), cell="synthetic", source="synthetic")


#: a small job (in-process executor) on a synthetic sweep table; see :func:`synthetic_job_file`
SYNTHETIC_JOB = """
name = "{name}"
seed = 4
output = "{out}"

[data]
path = "{table}"
format = "parquet"
train = {{ t_stop_ms = 1500.0 }}

[model]
name = "AdExIF"
fixed = {fixed}
derived = {{ V_th = "V_T + 5 * delta_T" }}

[params]
tau = {{ low = "8 ms", high = "40 ms", log = true }}
V_T = {{ low = "{vt_low} mV", high = "-44 mV" }}
delta_T = {{ low = "0.8 mV", high = "4 mV", log = true }}

[search]
trials = {trials}
batch_size = 32

[resources]
executor = "local"
"""


def synthetic_job_file(path, table, out, *, name="lockjob", trials=96, vt_low=-56) -> str:
    """A small job file (AdExIF, 3 free parameters, in-process) fitting the sweep table ``table``."""
    fixed = {**FIXED_ADEX, "tau_w": TRUE_ADEX["tau_w"], "a": TRUE_ADEX["a"], "b": TRUE_ADEX["b"]}
    path.write_text(SYNTHETIC_JOB.format(name=name, out=out, table=table, trials=trials, vt_low=vt_low,
                               fixed="{ " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + " }"))
    return str(path)
