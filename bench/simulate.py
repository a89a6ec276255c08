"""Throughput of models.Simulator vs brainpy.state (neuron-steps per second).

AdExIF and Gif, P parameter sets, 1 s of simulated time at dt = 0.1 ms, one sweep, on the
default JAX device.  Median of --repeats runs after a warm-up (compile) run; spikefit and
brainpy.state alternate within each repeat so machine noise hits both alike.

    python bench/simulate.py [--sizes 1e2,1e3,1e4,1e5] [--gpu-sizes 1e6] [--repeats 3] [--quick] [--unroll N]

On an accelerator (the default JAX device is a GPU/TPU) the ``--gpu-sizes`` are appended.
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

from spikefit import models
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


def _time(fns, repeats):
    """Median wall time of each function in ``fns``, run alternately ``repeats`` times."""
    for fn in fns:
        jax.block_until_ready(fn())  # warm-up / compile
    out = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, out):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in out]


def spikefit_fn(model, P, T, unroll=None):
    p = _params(model, P)
    free = {k: jnp.asarray(p[k]) for k in FREE[model]}
    fixed = {k: float(PARAMS[model][k]) for k in PARAMS[model] if k not in FREE[model]}
    sim = models.Simulator(model, free=FREE[model], fixed=fixed, dt=DT, spk_reset="hard", max_spikes=64,
                           unroll=unroll)
    current = jnp.full((1, T), 300.0, jnp.float32)
    return lambda: sim(free, current).n_spikes


def brainpy_fn(model, P, T):
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

    return run  # call inside brainstate.environ.context(dt=DT ms), entered once (see main)


def _sizes(text):
    out = []
    for tok in text.replace(" ", "").split(","):
        if tok:
            v = float(tok)
            if v < 1 or v != int(v):
                raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {tok!r}")
            out.append(int(v))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=_sizes, default="1e2,1e3,1e4,1e5", help="comma-separated P values (1e4 ok)")
    ap.add_argument("--gpu-sizes", type=_sizes, default="1e6",
                    help="P values appended when the default device is an accelerator ('' for none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="0.1 s of simulated time, P up to 1e4")
    ap.add_argument("--no-reference", action="store_true", help="skip brainpy.state")
    ap.add_argument("--models", default="AdExIF,Gif", help="comma-separated, from " + ",".join(PARAMS))
    ap.add_argument("--unroll", type=int, default=None,
                    help="inner-loop unroll of the simulator (default: models.simulator.default_unroll of the backend)")
    args = ap.parse_args(argv)
    dev = jax.devices()[0]
    accel = dev.platform != "cpu"
    sizes = list(dict.fromkeys(args.sizes + (args.gpu_sizes if accel else [])))
    T = int(round(1000.0 / DT))
    if args.quick:
        T //= 10
        sizes = [s for s in sizes if s <= 10_000] or sizes[:1]
    print(f"jax {jax.__version__}  backend: {jax.default_backend()}  devices: {jax.devices()}")
    unroll = "default (models.simulator.default_unroll)" if args.unroll is None else args.unroll
    print(f"device: {dev} ({getattr(dev, 'device_kind', dev.platform)})  T={T} steps (dt={DT} ms)  "
          f"repeats={args.repeats}  precision: {brainstate.environ.dftype()}  unroll: {unroll}", flush=True)
    print(f"{'model':8s} {'P':>9s} {'spikefit [n-steps/s]':>22s} {'brainpy.state':>16s} {'speedup':>8s}")
    ratio_line = None
    for model in args.models.split(","):
        for P in sizes:
            try:
                fns = [spikefit_fn(model, P, T, args.unroll)] + ([] if args.no_reference else [brainpy_fn(model, P, T)])
                with brainstate.environ.context(dt=DT * u.ms):
                    times = _time(fns, args.repeats)
            except Exception as e:  # e.g. out of memory at the largest P: report, go on
                print(f"{model:8s} {P:9d} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}", flush=True)
                continue
            ours = P * T / times[0]
            ref = P * T / times[1] if len(times) > 1 else None
            sp = "" if ref is None else f"{ours / ref:8.2f}"
            print(f"{model:8s} {P:9d} {ours:22.3e} {'' if ref is None else f'{ref:16.3e}':>16s} {sp}", flush=True)
            if model == "AdExIF" and P == 10_000 and ref is not None:
                ratio_line = f"AdExIF P=10000 speedup vs brainpy.state: {ours / ref:.2f}"
    print(ratio_line or "AdExIF P=10000 speedup vs brainpy.state: n/a (P=10000 not run or reference skipped)")


if __name__ == "__main__":
    main()
