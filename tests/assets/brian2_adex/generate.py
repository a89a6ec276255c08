"""Generate ``brian2_adex.npz``: an AdEx neuron with intrinsic noise simulated by Brian2 (another
simulator than spikefit's), for tests/test_brian2_recovery.py.

Brian2 does not install beside spikefit's stack on Python 3.11 (Brian2 2.9 needs NumPy < 2,
JAX needs NumPy 2), so the recording was generated once in a separate environment and ships
small (float16 voltage and current, 3 sweeps x 8 s at 0.2 ms):

    python3.11 -m venv /tmp/brianenv && /tmp/brianenv/bin/pip install "numpy<2" brian2==2.9.0
    /tmp/brianenv/bin/python tests/assets/brian2_adex/generate.py

Model (Brette & Gerstner 2005, Brian2's own equations, forward Euler at 0.025 ms, additive
membrane noise): C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T) / Delta_T) - w + I
+ noise; tau_w dw/dt = a (v - E_L) - w; at v > V_T + 5 Delta_T: v = V_r, w += b. The input
current is frozen Ornstein-Uhlenbeck noise (mean 250 pA, sd 180 pA, tau 5 ms) held over 0.2 ms
samples; voltage and spikes are recorded at 0.2 ms.
"""

from pathlib import Path

import numpy as np
from brian2 import (NeuronGroup, SpikeMonitor, StateMonitor, TimedArray, defaultclock, ms, mV, nS, pA, pF,
                    prefs, run, seed, start_scope)

TRUE = {"C_pF": 200.0, "g_L_nS": 10.0, "E_L_mV": -70.0, "V_T_mV": -50.0, "Delta_T_mV": 2.0, "a_nS": 2.0,
        "b_pA": 60.0, "tau_w_ms": 150.0, "V_r_mV": -58.0, "noise_mV": 1.0}
DT_REC, DT_SIM, DURATION_MS, SWEEPS = 0.2, 0.025, 8000.0, 3


def ou_current(n, dt, rng, mean=250.0, sd=180.0, tau=5.0):
    x = np.zeros(n)
    a = np.exp(-dt / tau)
    z = rng.standard_normal(n) * np.sqrt(1 - a * a)
    for i in range(1, n):
        x[i] = a * x[i - 1] + z[i]
    return mean + sd * x


def main():
    prefs.codegen.target = "numpy"
    rng = np.random.default_rng(2007)
    n = int(DURATION_MS / DT_REC)
    currents, volts, spikes, sweep_of = [], [], [], []
    p = TRUE
    for s in range(SWEEPS):
        start_scope()
        seed(100 + s)
        defaultclock.dt = DT_SIM * ms
        current = ou_current(n, DT_REC, rng)
        stim = TimedArray(current * pA, dt=DT_REC * ms)
        C, gL, EL, VT, DT = p["C_pF"] * pF, p["g_L_nS"] * nS, p["E_L_mV"] * mV, p["V_T_mV"] * mV, p["Delta_T_mV"] * mV
        a, b, tau_w, Vr, sigma = p["a_nS"] * nS, p["b_pA"] * pA, p["tau_w_ms"] * ms, p["V_r_mV"] * mV, p["noise_mV"] * mV
        tau_m = C / gL
        eqs = """
        dv/dt = (-gL*(v - EL) + gL*DT*exp((v - VT)/DT) - w + stim(t))/C + sigma*sqrt(2/tau_m)*xi : volt
        dw/dt = (a*(v - EL) - w)/tau_w : amp
        """
        g = NeuronGroup(1, eqs, threshold="v > VT + 5*DT", reset="v = Vr; w += b", method="euler")
        g.v = EL
        sm = SpikeMonitor(g)
        vm = StateMonitor(g, "v", record=0, dt=DT_REC * ms)
        run(DURATION_MS * ms)
        times = np.asarray(sm.t / ms)
        currents.append(current)
        volts.append(np.asarray(vm.v[0] / mV)[:n])
        spikes.append(times)
        sweep_of.append(np.full(times.size, s))
        print(f"sweep {s}: {times.size} spikes ({times.size / DURATION_MS * 1e3:.1f} Hz)")
    out = Path(__file__).with_name("brian2_adex.npz")
    np.savez_compressed(out, current=np.stack(currents).astype(np.float16), current_unit="pA", dt_ms=DT_REC,
                        voltage=np.stack(volts).astype(np.float16), voltage_unit="mV",
                        spike_times_ms=np.concatenate(spikes), spike_sweep=np.concatenate(sweep_of).astype(np.int64),
                        stimulus=np.array([f"ou{s}" for s in range(SWEEPS)]), cell="brian2_adex", protocol="noise",
                        **{f"true_{k}": v for k, v in TRUE.items()})
    print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
