"""Throughput of models.Simulator vs brainpy.state (neuron-steps per second).

Two tables, on the default JAX device; every timing is the median of --repeats samples after a
warm-up (compile) run, the functions of one row alternating within each repeat so that machine
noise hits them alike (a sample of a short run averages as many calls as fill 0.2 s).

1. Single sweep (``--tables single``): AdExIF and Gif, P parameter sets, 1 s at dt = 0.1 ms,
   constant 300 pA, one sweep.
2. Fit shapes (``--tables fit``): P candidates x S sweeps, as the fits simulate them, with the
   job's free parameters drawn uniformly (log-uniformly where the job says so) within its
   bounds, so the batch spans silent, regular, bursting and runaway candidates:

   * ``A 1ms``: challenge A of the 2007 competition (jobs/qsnmc2007_adex.toml), AdExIFRef,
     S = 8 sweeps of frozen noise (OU, 3 ms, mean 300-600 pA, SD 180 pA), 34 s at dt = 1 ms;
   * ``A 0.1ms``: the same at dt = 0.1 ms (340,000 steps a sweep; simulated over the first
     --a01-steps steps, the throughput is per step);
   * ``BBP``: the BBP L5PC steps (jobs/bbp_l5pc_adex.toml), AdExIF, S = 16 current steps
     (2 s of 100-800 pA in 3 s sweeps) at dt = 0.25 ms (12,000 steps);

   P = --fit-sizes; spike buffer K sized as the fit's evaluator does (200 Hz x the simulated
   sweep duration) and K = 64.  Each row times the fit shape [P, S], the same P*S neurons on
   one sweep (candidate p's parameters on every row p*S + s, sweep 0's current) and
   brainpy.state on the P*S neurons (state [S, P], each step's current broadcast from [S, 1]);
   ``fit/1sw`` is fit-shape / single-sweep throughput, ``vs bp`` is spikefit (fit shape) /
   brainpy.state.

    python bench/simulate.py [--quick] [--tables single,fit] [--repeats 3] [--sizes 1e2,1e3,1e4,1e5]
                             [--fit-sizes 128,1024,4096] [--configs A1,A01,BBP] [--no-reference]

``--quick`` (< 3 min on the 2-core development machine): single sweep at 0.1 s and P <= 1e4,
fit shapes with P = 128 and 1024 and a tenth of the steps.  On an accelerator the
``--gpu-sizes`` are appended to the single-sweep sizes, and the single-sweep table times each
of ``--engines`` (default there: the fused Pallas kernel and the scan loop, side by side with
brainpy.state; on CPU only the scan: the kernel runs there in interpret mode, for tests).
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
from spikefit.models.simulator import resolve_engine

DT = 0.1  # ms, single-sweep table

PARAMS = {  # UNIT_SYSTEM floats; per-neuron values drawn around these
    "AdExIF": dict(R=0.15, tau=15.0, tau_w=100.0, V_th=-45.0, V_reset=-68.0, V_rest=-65.0, V_T=-58.0,
                   delta_T=2.5, a=2.0, b=30.0),
    "Gif": dict(R=0.1, tau=20.0, V_rest=-70.0, V_reset=-70.0, V_th_inf=-50.0, V_th_reset=-60.0, a=0.005,
                b=0.05, k1=0.2, k2=0.02, R1=0.0, R2=1.0, A1=-20.0, A2=-5.0),
}
FREE = {"AdExIF": ("tau", "a", "b", "V_T", "delta_T", "tau_w"), "Gif": ("tau", "a", "b", "A1", "A2", "V_th_inf")}

# -- fit shapes: the jobs' models, bounds (UNIT_SYSTEM: GOhm, ms, mV, nS, pA; True = log) ------
_ADEX_A = dict(R=(0.02, 0.5, True), tau=(3.0, 60.0, True), V_reset=(-75.0, -40.0, False),
               V_T=(-65.0, -30.0, False), delta_T=(0.3, 8.0, True), a=(0.0, 2.0, False),
               b=(0.0, 300.0, False), tau_w=(10.0, 1000.0, True), tau_ref=(0.5, 10.0, False))
_ADEX_BBP = dict(R=(0.02, 0.3, True), tau=(5.0, 60.0, True), V_reset=(-75.0, -40.0, False),
                 V_T=(-60.0, -35.0, False), delta_T=(0.5, 6.0, True), a=(0.0, 20.0, False),
                 b=(0.0, 300.0, False), tau_w=(20.0, 1000.0, True))
#: name -> (model, bounds, sweeps S, dt ms, sweep steps T, stimulus)
FIT_CONFIGS = {
    "A1": ("AdExIFRef", _ADEX_A, 8, 1.0, 34_000, "noise"),
    "A01": ("AdExIFRef", _ADEX_A, 8, 0.1, 340_000, "noise"),
    "BBP": ("AdExIF", _ADEX_BBP, 16, 0.25, 12_000, "steps"),
}
FIT_LABEL = {"A1": "A 1ms", "A01": "A 0.1ms", "BBP": "BBP"}
MAX_RATE_HZ = 200.0  # the fit's spike-buffer sizing (spikefit.execution.evaluator)


def _params(model, P, seed=0):
    rng = np.random.default_rng(seed)
    return {k: (v * rng.uniform(0.9, 1.1, P)).astype(np.float32) for k, v in PARAMS[model].items()}


def fit_params(bounds, P, seed=0):
    """Candidates drawn within a job's bounds; ``V_th = V_T + 5 delta_T`` as the jobs derive it."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, (lo, hi, log) in bounds.items():
        x = rng.uniform(0.0, 1.0, P)
        out[k] = np.exp(np.log(lo) + x * np.log(hi / lo)) if log else lo + x * (hi - lo)
    out["V_th"] = out["V_T"] + 5.0 * out["delta_T"]
    return {k: v.astype(np.float32) for k, v in out.items()}


def fit_current(kind, S, T, dt, seed=1):
    """``[S, T]`` pA: frozen OU noise (challenge A) or 2 s steps in 3 s sweeps (BBP IDrest)."""
    rng = np.random.default_rng(seed)
    if kind == "steps":  # 0.7 s to 2.7 s of a 3 s sweep (scaled to shorter runs)
        x = np.arange(T) / T
        amp = np.linspace(100.0, 800.0, S)[:, None]
        return np.where((x >= 0.7 / 3.0) & (x < 2.7 / 3.0), amp, 0.0).astype(np.float32)
    a = np.exp(-dt / 3.0)
    z = rng.normal(0.0, 180.0 * np.sqrt(1.0 - a * a), (T, S))
    x = np.empty((T, S))
    acc = np.zeros(S)
    for i in range(T):  # OU recursion
        acc = a * acc + z[i]
        x[i] = acc
    return (rng.uniform(300.0, 600.0, S)[:, None] + x.T).astype(np.float32)


def _time(fns, repeats, min_sample_s=0.2):
    """Median wall time of one call of each function in ``fns``: ``repeats`` samples, taken
    alternately; a sample averages as many calls as fill ``min_sample_s`` (short runs)."""
    calls = []
    for fn in fns:
        for _ in range(getattr(fn, "warmups", 1)):
            jax.block_until_ready(fn())  # warm-up / compile
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        calls.append(max(1, int(min_sample_s / max(time.perf_counter() - t0, 1e-6))))
    out = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times, n in zip(fns, out, calls):
            t0 = time.perf_counter()
            for _ in range(n):
                jax.block_until_ready(fn())
            times.append((time.perf_counter() - t0) / n)
    return [statistics.median(t) for t in out]


def spikefit_fn(model, P, T, unroll=None, engine="auto"):
    p = _params(model, P)
    free = {k: jnp.asarray(p[k]) for k in FREE[model]}
    fixed = {k: float(PARAMS[model][k]) for k in PARAMS[model] if k not in FREE[model]}
    sim = models.Simulator(model, free=FREE[model], fixed=fixed, dt=DT, spk_reset="hard", max_spikes=64,
                           unroll=unroll, engine=engine)
    current = jnp.full((1, T), 300.0, jnp.float32)
    return lambda: sim(free, current).n_spikes


def _brainpy_neuron(model, shape, params):
    import brainpy  # reference implementation (test dependency)

    units = models.parameter_units(model)
    q = {k: (jnp.asarray(v) if models.UNIT_SYSTEM[units[k]] is None else jnp.asarray(v) * models.UNIT_SYSTEM[units[k]])
         for k, v in params.items()}
    neuron = getattr(brainpy.state, model)(shape, **q, spk_reset="hard")
    neuron.init_state()
    return neuron


def _brainpy_loop(neuron, current, dt, refractory):
    """jitted run over ``current`` [T, ...] (pA, broadcast against the neuron's shape); the spike
    count per step is its output.  Call inside ``brainstate.environ.context(dt=...)``."""
    current = current * u.pA

    @brainstate.transform.jit
    def run():
        neuron.reset_state()

        def step(i, x):
            if refractory:
                with brainstate.environ.context(t=i * (dt * u.ms)):
                    return neuron.update(x).sum()
            return neuron.update(x).sum()

        return brainstate.transform.for_loop(step, jnp.arange(current.shape[0]), current)

    def go():
        return run()

    go.warmups = 2  # brainstate compiles again on the second call
    return go


def brainpy_fn(model, P, T):
    neuron = _brainpy_neuron(model, P, _params(model, P))
    return _brainpy_loop(neuron, jnp.full((T,), 300.0, jnp.float32), DT, False)


def _sizes(text):
    out = []
    for tok in text.replace(" ", "").split(","):
        if tok:
            v = float(tok)
            if v < 1 or v != int(v):
                raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {tok!r}")
            out.append(int(v))
    return out


def single_table(args, sizes, engines):
    T = int(round(1000.0 / DT)) // (10 if args.quick else 1)
    print(f"\n== single sweep: 1 s (quick: 0.1 s) at dt={DT} ms, T={T} steps, K=64; engines: {', '.join(engines)}",
          flush=True)
    cols = "".join(f"{e + ' [n-steps/s]':>21s}" for e in engines)
    pair = sorted(engines) == ["kernel", "scan"]
    extra = f"{'kernel/scan':>12s}" if pair else ""
    print(f"{'model':8s} {'P':>9s}{cols} {'brainpy.state':>16s} {'speedup':>8s}{extra}")
    ratio_line, targets = None, []
    for model in args.models.split(","):
        for P in sizes:
            try:
                fns = [spikefit_fn(model, P, T, args.unroll, e) for e in engines]
                fns += [] if args.no_reference else [brainpy_fn(model, P, T)]
                with brainstate.environ.context(dt=DT * u.ms):
                    times = _time(fns, args.repeats)
            except Exception as e:  # e.g. out of memory at the largest P: report, go on
                print(f"{model:8s} {P:9d} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}", flush=True)
                continue
            rates = [P * T / t for t in times]
            ours, ref = rates[0], (rates[len(engines)] if len(rates) > len(engines) else None)
            sp = "" if ref is None else f"{ours / ref:8.2f}"
            ks = f"{rates[engines.index('kernel')] / rates[engines.index('scan')]:12.2f}" if pair else ""
            print(f"{model:8s} {P:9d}" + "".join(f"{r:21.3e}" for r in rates[:len(engines)])
                  + f" {'' if ref is None else f'{ref:16.3e}':>16s} {sp}{ks}", flush=True)
            if model == "AdExIF" and P == 10_000 and ref is not None:
                ratio_line = f"AdExIF P=10000 speedup vs brainpy.state ({engines[0]}): {ours / ref:.2f}"
            if model == "AdExIF" and engines[0] == "kernel" and P in (10_000, 1_000_000):
                goal = 3.5e10 if P == 10_000 else 2.8e11
                targets.append(f"P={P}: {ours:.2e} (target {goal:.1e}, {'met' if ours >= goal else 'not met'})")
    print(ratio_line or "AdExIF P=10000 speedup vs brainpy.state: n/a (P=10000 not run or reference skipped)")
    if targets:
        print("AdExIF fused kernel: " + "; ".join(targets))


def fit_row(name, P, T, repeats, reference):
    """Time one fit shape; returns the printed rows' numbers."""
    model, bounds, S, dt, T_full, stim = FIT_CONFIGS[name]
    p = fit_params(bounds, P)
    fixed = {"V_rest": -70.0}
    current = fit_current(stim, S, T, dt)
    K_fit = int(np.ceil(MAX_RATE_HZ * T * dt / 1000.0))
    free = tuple(p)
    fit_in = {k: jnp.asarray(v) for k, v in p.items()}
    one_in = {k: jnp.repeat(v, S) for k, v in fit_in.items()}  # row p*S + s: candidate p
    cur, cur1 = jnp.asarray(current), jnp.asarray(current[:1])
    fns, labels, stats = [], [], {}
    for K in dict.fromkeys((K_fit, 64)):
        sim = models.Simulator(model, free=free, fixed=fixed, dt=dt, spk_reset="hard", max_spikes=K)
        res = sim(fit_in, cur)
        n = np.asarray(res.n_spikes) / (T * dt / 1000.0)
        stats[K] = (float(n.mean()), float(np.asarray(res.overflow).mean()), float(np.asarray(res.diverged).mean()))
        fns += [lambda sim=sim: sim(fit_in, cur), lambda sim=sim: sim(one_in, cur1)]
        labels += [("fit", K), ("1sw", K)]
    if reference:
        neuron = _brainpy_neuron(model, (S, P), {**p, **fixed})
        fns.append(_brainpy_loop(neuron, cur.T[:, :, None], dt, model.endswith("Ref")))
        labels.append(("bp", None))
    with brainstate.environ.context(dt=dt * u.ms):
        times = _time(fns, repeats)
    rate = {lab: P * S * T / t for lab, t in zip(labels, times)}
    rows = []
    for K in stats:
        fit, one, bp = rate[("fit", K)], rate[("1sw", K)], rate.get(("bp", None))
        rows.append((name, P, S, T, dt, K, K == K_fit, fit, one, bp, stats[K]))
    return rows


def fit_table(args):
    names = [c for c in args.configs.split(",") if c]
    sizes = [s for s in args.fit_sizes if not args.quick or s <= 1024]
    print(f"\n== fit shapes: P candidates x S sweeps; K = {MAX_RATE_HZ:.0f} Hz x simulated sweep (K fit) and 64", flush=True)
    print(f"{'shape':8s} {'P':>5s} {'S':>3s} {'T':>7s} {'K':>6s} {'fit [n-steps/s]':>16s} {'1 sweep (P*S)':>14s} "
          f"{'fit/1sw':>7s} {'brainpy.state':>14s} {'vs bp':>6s}   rate Hz / overflow / diverged")
    worst = []
    for name in names:
        T_full, dt = FIT_CONFIGS[name][4], FIT_CONFIGS[name][3]
        T = T_full // 10 if args.quick else T_full
        if name == "A01":
            T = args.a01_steps // (10 if args.quick else 1)
        for P in sizes:
            try:
                rows = fit_row(name, P, T, args.repeats, not args.no_reference)
            except Exception as e:  # e.g. out of memory: report, go on
                print(f"{FIT_LABEL[name]:8s} {P:5d} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}", flush=True)
                continue
            for (_, P_, S, T_, dt_, K, is_fit, fit, one, bp, (hz, ovf, div)) in rows:
                vs = "" if bp is None else f"{fit / bp:6.2f}"
                print(f"{FIT_LABEL[name]:8s} {P_:5d} {S:3d} {T_:7d} {K:6d} {fit:16.3e} {one:14.3e} {fit / one:7.2f} "
                      f"{'' if bp is None else f'{bp:14.3e}':>14s} {vs:>6s}   {hz:6.1f} / {ovf:.2f} / {div:.2f}", flush=True)
                if is_fit:
                    worst.append((fit / one, None if bp is None else fit / bp, f"{FIT_LABEL[name]} P={P_}"))
    if worst:
        lo = min(worst, key=lambda w: w[0])
        print(f"lowest fit/1sw (K fit): {lo[0]:.2f} ({lo[2]}); target >= 0.80 (within 1.25x)")
        big = [w for w in worst if w[1] is not None]
        if big:
            lo = min(big, key=lambda w: w[1])
            print(f"lowest spikefit / brainpy.state (K fit): {lo[1]:.2f} ({lo[2]}); target >= 1.5 where P*S >= 1e3")
    if "A01" in names:
        print(f"A 0.1ms: {args.a01_steps // (10 if args.quick else 1)} of the sweep's 340,000 steps simulated "
              "(the full sweep is 10x (quick: 100x) longer); throughput is per neuron-step")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default="single,fit", help="comma-separated: single, fit")
    ap.add_argument("--sizes", type=_sizes, default="1e2,1e3,1e4,1e5", help="single sweep: comma-separated P values")
    ap.add_argument("--gpu-sizes", type=_sizes, default="1e6,4e6",
                    help="P values appended when the default device is an accelerator ('' for none)")
    ap.add_argument("--fit-sizes", type=_sizes, default="128,1024,4096", help="fit shapes: candidates P")
    ap.add_argument("--configs", default="A1,A01,BBP", help="fit shapes: comma-separated, from " + ",".join(FIT_CONFIGS))
    ap.add_argument("--a01-steps", type=int, default=34_000, help="steps simulated of the 0.1 ms sweeps")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="< 3 min: shorter runs, smaller sizes")
    ap.add_argument("--no-reference", action="store_true", help="skip brainpy.state")
    ap.add_argument("--models", default="AdExIF,Gif", help="single sweep: comma-separated, from " + ",".join(PARAMS))
    ap.add_argument("--engines", default=None,
                    help="single sweep: comma-separated from auto, kernel, scan (default: kernel,scan on an "
                         "accelerator, scan on CPU)")
    ap.add_argument("--unroll", type=int, default=None,
                    help="single sweep: inner-loop unroll (default: models.simulator.default_unroll of the backend)")
    args = ap.parse_args(argv)
    dev = jax.devices()[0]
    accel = dev.platform != "cpu"
    sizes = list(dict.fromkeys(args.sizes + (args.gpu_sizes if accel else [])))
    if args.quick:
        sizes = [s for s in sizes if s <= 10_000] or sizes[:1]
    print(f"jax {jax.__version__}  backend: {jax.default_backend()}  devices: {jax.devices()}")
    unroll = "default (models.simulator.default_unroll)" if args.unroll is None else args.unroll
    print(f"device: {dev} ({getattr(dev, 'device_kind', dev.platform)})  repeats={args.repeats} (medians, interleaved)  "
          f"precision: {brainstate.environ.dftype()}  unroll: {unroll}", flush=True)
    tables = [t for t in args.tables.split(",") if t]
    if "single" in tables:
        engines = [e for e in (args.engines or ("kernel,scan" if accel else "scan")).split(",") if e]
        for e in engines:
            resolve_engine(e, jax.default_backend())  # a wrong name fails before any timing
        single_table(args, sizes, engines)
    if "fit" in tables:
        fit_table(args)


if __name__ == "__main__":
    main()
