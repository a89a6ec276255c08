"""Benchmark: scoring cost of each metric next to the cost of simulating the candidates.

Plain script (not a test). Random trains at 10-30 Hz for N candidates x 8 sweeps x 34 s at
dt = 0.1 ms; each metric is timed (median of --repeats, after a compile run) on a chunk of
candidates and scaled linearly to N (every metric is linear in the number of candidates).
The simulation is measured: ``models.Simulator("AdExIF", ...)`` on --sim-chunk candidates
(parameters around ``spikefit.spec.defaults.TYPICAL``, 600 +- 200 pA noisy current, ~15-30 Hz),
timed the same way and scaled linearly; the reference estimate at --sim-rate neuron-steps/s
(5e8) is printed next to it (--estimate-sim: skip the simulation and use the estimate).

    python bench/metrics.py [--candidates 10000] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from spikefit.scoring.metrics import (first_spike_latency_error, firing_rate_error, gamma_factor, isi_distance,
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


def measure_sim(chunk, sweeps, n_steps, k, repeats, current_pa=600.0, seed=0):
    """Time ``models.Simulator`` (AdExIF, hard reset, max_spikes=k) on ``chunk`` candidates.

    Parameters scattered around ``spikefit.spec.defaults.TYPICAL["AdExIF"]`` (V_T +- 1.5 mV, b and
    tau_w x [0.7, 1.4]); each sweep a ``current_pa`` step with 200 pA white noise per
    sample (600 pA: ~20 Hz, 5-95% of trains 15-29 Hz; 400 pA gives only ~2 Hz with the
    adaptation). Returns (seconds for the chunk, median over ``repeats`` after a compile run;
    mean rate in Hz; fraction of (candidate, sweep) trains that overflowed K).
    """
    from spikefit.spec.defaults import TYPICAL
    from spikefit.models import Simulator

    typ = TYPICAL["AdExIF"]
    free = ("V_T", "b", "tau_w")
    rng = np.random.default_rng(seed)
    params = {"V_T": (typ["V_T"] + rng.uniform(-1.5, 1.5, chunk)).astype(np.float32),
              "b": (typ["b"] * rng.uniform(0.7, 1.4, chunk)).astype(np.float32),
              "tau_w": (typ["tau_w"] * rng.uniform(0.7, 1.4, chunk)).astype(np.float32)}
    sim = Simulator("AdExIF", free=free, fixed={n: v for n, v in typ.items() if n not in free}, dt=DT,
                    spk_reset="hard", max_spikes=k)
    current = (current_pa + 200.0 * rng.standard_normal((sweeps, n_steps))).astype(np.float32)
    sec = time_call(lambda: sim(params, current).spike_steps, repeats)
    res = sim(params, current)
    rate = float(np.asarray(res.n_spikes).mean()) / (n_steps * DT / 1000.0)
    return sec, rate, float(np.asarray(res.overflow).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--sweeps", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=34.0)
    ap.add_argument("--chunk", type=int, default=200, help="candidates timed per call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sim-rate", type=float, default=5e8,
                    help="reference AdEx neuron-steps/s for the estimate printed next to the measurement")
    ap.add_argument("--sim-chunk", type=int, default=200, help="candidates simulated per timed call")
    ap.add_argument("--sim-current", type=float, default=600.0, help="mean current (pA), +- 200 pA noise")
    ap.add_argument("--estimate-sim", action="store_true",
                    help="do not run the simulator; compare with the --sim-rate estimate only")
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
    est_s = neuron_steps / args.sim_rate
    sim_chunk = min(args.sim_chunk, args.chunk) if args.quick else args.sim_chunk
    if args.estimate_sim:
        sim_s = est_s
    else:
        chunk_s, sim_hz, overflow = measure_sim(sim_chunk, args.sweeps, n_steps, k, args.repeats,
                                                 args.sim_current)
        sim_s = chunk_s * args.candidates / sim_chunk
    print(f"{args.candidates} candidates x {args.sweeps} sweeps x {args.seconds:g} s at {DT} ms "
          f"(~{(model >= 0).sum(-1).mean():.0f} spikes/sweep, K={k}); timed on {args.chunk} candidates, "
          f"median of {args.repeats}, scaled x{scale:g}; {jax.devices()[0].platform}")
    if not args.estimate_sim:
        print(f"simulation: {sim_s:9.2f} s  measured: models.Simulator AdExIF on {sim_chunk} candidates "
              f"(median of {args.repeats}, x{args.candidates / sim_chunk:g}), {neuron_steps / sim_s:.2e} "
              f"neuron-steps/s, mean rate {sim_hz:.1f} Hz, overflow {100 * overflow:.1f}%")
    print(f"{'(estimate' if not args.estimate_sim else 'simulation:'} {est_s:9.2f} s at the reference "
          f"{args.sim_rate:.2e} neuron-steps/s{')' if not args.estimate_sim else ' (estimated, not measured)'}")
    print(f"{'metric':28s} {'seconds':>10s} {'% of sim':>9s}")
    times = {}
    for name, fn in metrics.items():
        times[name] = time_call(fn, args.repeats) * scale
        print(f"{name:28s} {times[name]:10.3f} {100 * times[name] / sim_s:8.2f}%", flush=True)
    default = times["gamma (delta 2 ms)"] + times["spike_count"]
    print(f"{'default objective (gamma+count)':28s} {default:10.3f} {100 * default / sim_s:8.2f}%")
    total = sum(times.values())
    print(f"{'all metrics':28s} {total:10.3f} {100 * total / sim_s:8.2f}%")
    if not args.estimate_sim:
        print(f"(against the {est_s:.2f} s estimate: default objective {default / est_s:.4f}, "
              f"all metrics {total / est_s:.4f})")
    print(f"scoring/simulation: {default / sim_s:.4f} (default objective gamma+spike_count, "
          f"{'measured' if not args.estimate_sim else 'estimated'} simulation); all metrics: {total / sim_s:.4f}")


if __name__ == "__main__":
    main()
