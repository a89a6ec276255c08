"""Throughput of models.Simulator vs brainpy.state (neuron-steps per second).

AdExIF and Gif, P parameter sets, 1 s of simulated time at dt = 0.1 ms, one sweep, on the
default JAX device.  Median of --repeats runs after a warm-up (compile) run.

    python bench/simulate.py [--sizes 1e2,1e3,1e4,1e5] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

import models

DT = 0.1  # ms

PARAMS = {  # UNIT_SYSTEM floats; per-neuron values drawn around these
    "AdExIF": dict(R=0.15, tau=15.0, tau_w=100.0, V_th=-45.0, V_reset=-68.0, V_rest=-65.0, V_T=-58.0,
                   delta_T=2.5, a=2.0, b=30.0),
    "Gif": dict(R=0.1, tau=20.0, V_rest=-70.0, V_reset=-70.0, V_th_inf=-50.0, V_th_reset=-60.0, a=0.005,
                b=0.05, k1=0.2, k2=0.02, R1=0.0, R2=1.0, A1=-20.0, A2=-5.0),
}
FREE = {"AdExIF": ("tau", "a", "b", "V_T", "delta_T", "tau_w"), "Gif": ("tau", "a", "b", "A1", "A2", "V_th_inf")}


def _params(model, P, seed=0):
    rng = np.random.default_rng(seed)
    return {k: (v * rng.uniform(0.9, 1.1, P)).astype(np.float32) for k, v in PARAMS[model].items()}


def _time(fn, repeats):
    jax.block_until_ready(fn())  # warm-up / compile
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def bench_spikefit(model, P, T, repeats):
    p = _params(model, P)
    free = {k: jnp.asarray(p[k]) for k in FREE[model]}
    fixed = {k: float(PARAMS[model][k]) for k in PARAMS[model] if k not in FREE[model]}
    sim = models.Simulator(model, free=FREE[model], fixed=fixed, dt=DT, spk_reset="hard", max_spikes=64)
    current = jnp.full((1, T), 300.0, jnp.float32)
    return _time(lambda: sim(free, current).n_spikes, repeats)


def bench_brainpy(model, P, T, repeats):
    import brainpy  # reference implementation (test dependency)

    p = _params(model, P)
    units = models.parameter_units(model)
    q = {k: (jnp.asarray(v) if models.UNIT_SYSTEM[units[k]] is None else jnp.asarray(v) * models.UNIT_SYSTEM[units[k]])
         for k, v in p.items()}
    neuron = getattr(brainpy.state, model)(P, **q, spk_reset="hard")
    neuron.init_state()
    current = jnp.full((T,), 300.0, jnp.float32) * u.pA

    @brainstate.transform.jit
    def run():
        neuron.reset_state()

        def step(x):
            return neuron.update(x)

        spikes = brainstate.transform.for_loop(step, current)
        return spikes.sum()

    with brainstate.environ.context(dt=DT * u.ms):
        return _time(run, repeats)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e2,1e3,1e4,1e5", help="comma-separated P values")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="0.1 s of simulated time, P up to 1e4")
    ap.add_argument("--no-reference", action="store_true", help="skip brainpy.state")
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    T = int(round(1000.0 / DT))
    if args.quick:
        T //= 10
        sizes = [s for s in sizes if s <= 10_000] or sizes[:1]
    print(f"device: {jax.devices()[0]}  T={T} steps (dt={DT} ms)  repeats={args.repeats}")
    print(f"{'model':8s} {'P':>9s} {'spikefit [n-steps/s]':>22s} {'brainpy.state':>16s} {'speedup':>8s}")
    ratio_line = None
    for model in ("AdExIF", "Gif"):
        for P in sizes:
            ours = P * T / bench_spikefit(model, P, T, args.repeats)
            ref = None if args.no_reference else P * T / bench_brainpy(model, P, T, args.repeats)
            sp = "" if ref is None else f"{ours / ref:8.2f}"
            print(f"{model:8s} {P:9d} {ours:22.3e} {'' if ref is None else f'{ref:16.3e}':>16s} {sp}", flush=True)
            if model == "AdExIF" and P == 10_000 and ref is not None:
                ratio_line = f"AdExIF P=10000 speedup vs brainpy.state: {ours / ref:.2f}"
    print(ratio_line or "AdExIF P=10000 speedup vs brainpy.state: n/a (P=10000 not run or reference skipped)")


if __name__ == "__main__":
    main()
