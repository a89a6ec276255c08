"""Fit throughput: where the wall time of a real fit goes, and what the driver costs per trial.

1. The real jobs as ``spikefit run`` runs them: the 2007 challenge-A job
   (``jobs/qsnmc2007_adex.toml``: AdExIFRef, 2 x 34 s training sweeps at 1 ms, batch 128, two
   global CMA-ES restarts and a local stage) and the quickstart; per phase: seconds and share
   of the wall time (compile, ask, tell, transport, simulate, score, write, final; "record" is
   the writer thread, which overlaps the simulation). Each run starts and stops its own
   embedded Ray cluster, as ``spikefit run`` does: Ray's start (about 4 s here) is in "other".
2. The driver's cost per trial (ask + tell + write + record) at batch 128, 1024 and 8192 on
   the challenge-A data (cmaes_batch, population = batch), a few generations each.

3. ``--parts large``: one or two generations of 16,384 and 65,536 candidates on the challenge-A
   data in this process (``executor = "local"``): wall time, trials/s end to end and as the
   simulation alone would give them (trials / simulate seconds; on a GPU the issue's target is
   end to end >= 50 % of that), and the peak resident memory, which stays bounded by one
   evaluator call (``spikefit.execution.evaluator.CALL_BYTES``) however large the generation.

Medians over ``--repeats`` runs (the machine is shared). The last line is
``challenge A job: simulate+score share <x>%``.

    python bench/fit_throughput.py                         # full jobs, 3 repeats (~30 min on 2 cores)
    python bench/fit_throughput.py --trials 1024 --repeats 1   # every stage 1024 trials per seed
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from spikefit import fit_job, load_job

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("compile", "ask", "tell", "transport", "simulate", "score", "write", "final")


def run(job: Path, out: Path, budget: int | None, *, own_cluster: bool = False, **search) -> dict:
    """One fit of ``job``. ``own_cluster``: start (and stop) its own embedded Ray cluster, as
    ``spikefit run`` does, so its wall time includes Ray's start; else reuse a running one."""
    spec = load_job(job, output=str(out), trials=budget)
    if search:
        spec = spec.model_copy(update={"search": spec.search.model_copy(update=search)})
    if own_cluster:
        from spikefit.execution.workers import stop_ray

        stop_ray()
    s = fit_job(spec, progress=False, shutdown=own_cluster).summary
    return {"wall": s.wall_s, "trials": s.n_trials, **s.timing}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def phase_table(name: str, m: dict) -> str:
    wall = m["wall"]
    lines = [f"{name}: {m['trials']:.0f} trials, wall {wall:.1f} s, {m['trials'] / wall:.1f} trials/s",
             f"  {'phase':<10} {'s':>8} {'share':>7}"]
    for k in PHASES:
        lines.append(f"  {k:<10} {m[k]:8.1f} {100 * m[k] / wall:6.1f}%")
    other = wall - sum(m[k] for k in PHASES)
    lines.append(f"  {'other':<10} {other:8.1f} {100 * other / wall:6.1f}%   (start-up, stage ends)")
    lines.append(f"  {'record':<10} {m['record']:8.1f}          (writer thread, overlaps simulation)")
    return "\n".join(lines)


def large(job: Path, tmp: Path, sizes: list[int]) -> None:
    """Generations of ``sizes`` candidates, evaluated in this process; peak memory after each."""
    import resource

    print("\nlarge generations, challenge-A data (2 x 26 s training sweeps at 1 ms), in this process")
    print(f"  {'batch':>7} {'trials':>7} {'wall s':>8} {'trials/s':>9} {'sim-only/s':>11} {'e2e/sim':>8} "
          f"{'peak RSS GB':>12}")
    for b in sizes:
        trials = 2 * b if b <= 16384 else b
        spec = load_job(job, output=str(tmp / f"large-{b}"), trials=None)
        spec = spec.model_copy(update={
            "search": spec.search.model_copy(update={"stages": None, "trials": trials, "batch_size": b}),
            "resources": spec.resources.model_copy(update={"executor": "local"})})
        s = fit_job(spec, progress=False, shutdown=False).summary
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        e2e, sim = s.n_trials / s.wall_s, s.n_trials / max(s.timing["simulate"], 1e-9)
        print(f"  {b:>7} {s.n_trials:>7} {s.wall_s:8.1f} {e2e:9.1f} {sim:11.1f} {e2e / sim:8.2f} {peak:12.2f}",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=None, help="trials per stage and seed (default: the job's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default="128,1024,8192", help="batch sizes for the driver cost")
    ap.add_argument("--generations", type=int, default=4, help="generations per batch size")
    ap.add_argument("--parts", default="jobs,driver",
                    help="jobs (the real jobs per phase), driver (cost per trial), large (generations of 1e4-1e5)")
    ap.add_argument("--large", default="16384,65536", help="generation sizes for --parts large")
    args = ap.parse_args(argv)
    from spikefit.execution.workers import stop_ray

    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            jobs = {"challenge A job": ROOT / "jobs/qsnmc2007_adex.toml", "quickstart": ROOT / "jobs/quickstart.toml"}
            med = {}
            parts = set(args.parts.split(","))
            for name, job in (jobs.items() if "jobs" in parts else ()):
                runs = [run(job, tmp / f"{job.stem}-{i}", args.trials, own_cluster=True) for i in range(args.repeats)]
                med[name] = median_of(runs)
                print(phase_table(name, med[name]), flush=True)
            if "large" in parts:
                large(jobs["challenge A job"], tmp, [int(x) for x in args.large.split(",")])
            if "driver" in parts:
                driver_costs(jobs["challenge A job"], tmp, args)
            if "challenge A job" in med:
                m = med["challenge A job"]
                print(f"challenge A job: simulate+score share {100 * (m['simulate'] + m['score']) / m['wall']:.1f}%")
    finally:
        stop_ray()
    return 0


def driver_costs(job: Path, tmp: Path, args) -> None:
    """The driver's cost per trial at each of ``args.batches`` (medians of ``args.repeats``)."""
    print(f"\ndriver cost per trial (ask + tell + write + record), challenge-A data, median of {args.repeats}")
    print(f"  {'batch':>6} {'trials':>7} {'ask us':>8} {'tell us':>8} {'write us':>9} {'record us':>10} "
          f"{'total us':>9} {'sim+score share':>16}")
    for b in [int(x) for x in args.batches.split(",")]:
        runs = [run(job, tmp / f"b{b}-{i}", None, stages=None, holdout_ms=None,
                    trials=b * args.generations, batch_size=b) for i in range(args.repeats)]
        m = median_of(runs)
        per = {k: 1e6 * m[k] / m["trials"] for k in ("ask", "tell", "write", "record")}
        loop = m["wall"] - m["compile"] - m["final"]
        print(f"  {b:>6} {m['trials']:>7.0f} {per['ask']:8.1f} {per['tell']:8.1f} {per['write']:9.1f} "
              f"{per['record']:10.1f} {sum(per.values()):9.1f} "
              f"{100 * (m['simulate'] + m['score']) / loop:15.1f}%", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
