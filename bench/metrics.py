"""Benchmark: scoring cost of each metric next to the cost of simulating the candidates.

Plain script (not a test). Random trains at 10-30 Hz for N candidates x 8 sweeps x 34 s at
dt = 0.1 ms; each metric is timed (median of --repeats, after a compile run) on a chunk of
candidates and scaled linearly to N (every metric is linear in the number of candidates).
The simulation time is estimated from AdEx at --sim-rate neuron-steps/s (5e8 on this CPU)
unless --measure-sim times ``models.simulate`` on a small run and scales it.

    python bench/metrics.py [--candidates 10000] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from fitter.metrics import (first_spike_latency_error, firing_rate_error, gamma_factor, isi_distance,
                            spike_count_error, van_rossum_distance, victor_purpura_distance)

DT = 0.1  # ms


def random_trains(rng, lead, n_steps, k):
    """Spike steps ``[*lead, k]`` at 10-30 Hz (sorted, padded with -1)."""
    rates = rng.uniform(10.0, 30.0, lead)
    counts = np.minimum(rng.poisson(rates * n_steps * DT / 1000.0), k)
    draws = rng.integers(0, n_steps, (*lead, k))
    draws = np.sort(np.where(np.arange(k) < counts[..., None], draws, n_steps + 1), axis=-1)
    out = np.where(draws <= n_steps, draws, -1)
    return out.astype(np.int32)


def time_call(fn, repeats):
    jax.block_until_ready(fn())  # compile
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def measure_sim(n_steps_total_est, sim_rate):
    """Time models.simulate (AdExIF) on a small run; return neuron-steps/s, or None."""
    try:
        from models import simulate  # noqa: F401
        import models.simulator as ms
        p, t = 256, 20_000
        current = np.full((1, t), 0.5, np.float32)
        params = {"V_th": np.full(p, -50.0, np.float32)}
        run = lambda: ms.simulate("AdExIF", current, DT, params)  # noqa: E731
        sec = time_call(lambda: run().spike_steps, 2)
        return p * t / sec
    except Exception as err:  # the simulator's API may differ; fall back to the estimate
        print(f"(models.simulate not measured: {type(err).__name__}: {err}; using {sim_rate:.1e}/s)")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--sweeps", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=34.0)
    ap.add_argument("--chunk", type=int, default=200, help="candidates timed per call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sim-rate", type=float, default=5e8, help="AdEx neuron-steps/s on this machine")
    ap.add_argument("--measure-sim", action="store_true")
    ap.add_argument("--skip-vp", action="store_true", help="leave out Victor-Purpura (quadratic, slow)")
    ap.add_argument("--quick", action="store_true", help="small chunk, one repeat")
    args = ap.parse_args()
    if args.quick:
        args.chunk, args.repeats = 20, 1
    n_steps = int(round(args.seconds * 1000 / DT))
    k = int(args.seconds * 30 * 1.25) + 16
    rng = np.random.default_rng(0)
    model = random_trains(rng, (args.chunk, args.sweeps), n_steps, k)
    data = random_trains(rng, (args.sweeps,), n_steps, k)
    dur = n_steps * DT
    scale = args.candidates / args.chunk
    metrics = {
        "gamma (delta 2 ms)": lambda: gamma_factor(model, data, DT, 2.0, duration=dur),
        "spike_count": lambda: spike_count_error(model, data, DT, duration=dur),
        "firing_rate": lambda: firing_rate_error(model, data, DT, duration=dur),
        "first_spike_latency": lambda: first_spike_latency_error(model, data, DT, duration=dur),
        "van_rossum (tau 10 ms)": lambda: van_rossum_distance(model, data, DT, 10.0, duration=dur),
        "isi_distance": lambda: isi_distance(model, data, DT, duration=dur),
        "victor_purpura (q 0.1/ms)": lambda: victor_purpura_distance(model, data, DT, 0.1, duration=dur),
    }
    if args.skip_vp:
        metrics.pop("victor_purpura (q 0.1/ms)")
    neuron_steps = args.candidates * args.sweeps * n_steps
    rate = measure_sim(neuron_steps, args.sim_rate) if args.measure_sim else None
    sim_s = neuron_steps / (rate or args.sim_rate)
    print(f"{args.candidates} candidates x {args.sweeps} sweeps x {args.seconds:g} s at {DT} ms "
          f"(~{(model >= 0).sum(-1).mean():.0f} spikes/sweep, K={k}); timed on {args.chunk} candidates, "
          f"median of {args.repeats}, scaled x{scale:g}; {jax.devices()[0].platform}")
    print(f"simulation: {sim_s:9.2f} s  ({'measured' if rate else 'estimated'} at {(rate or args.sim_rate):.2e} "
          "neuron-steps/s)")
    print(f"{'metric':28s} {'seconds':>10s} {'% of sim':>9s}")
    times = {}
    for name, fn in metrics.items():
        times[name] = time_call(fn, args.repeats) * scale
        print(f"{name:28s} {times[name]:10.3f} {100 * times[name] / sim_s:8.2f}%", flush=True)
    default = times["gamma (delta 2 ms)"] + times["spike_count"]
    print(f"{'default objective (gamma+count)':28s} {default:10.3f} {100 * default / sim_s:8.2f}%")
    total = sum(times.values())
    print(f"{'all metrics':28s} {total:10.3f} {100 * total / sim_s:8.2f}%")
    print(f"scoring/simulation: {default / sim_s:.4f} (default objective); all metrics: {total / sim_s:.4f}")


if __name__ == "__main__":
    main()
