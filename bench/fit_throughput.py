"""Fit throughput: trials per second and where the time goes, by batch size.

AdExIF on 6 sweeps x 34 s at 0.1 ms (the 2007 competition currents of stimuli 04, 05, 06, 08,
09 and 12, repeat 0, held from 1 kHz to 0.1 ms), on the embedded Ray cluster, for batch sizes
64 ... 4096. Each row runs ``--batches`` batches after a compile warm-up (not counted) and
splits the wall time into sampling (ask), telling, transport, simulation, scoring and writing.
Target: everything beyond simulation and scoring under 25% of the wall time at batch >= 1024.

    python bench/fit_throughput.py                     # 64,256,1024,4096
    python bench/fit_throughput.py --sizes 64,256 --batches 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("SPIKEFIT_SHARED_DATA", ROOT.parent / "shared" / "data")) / "qsnmc2007" / "challengeA_training"


def job(batch: int, batches: int, out: str, sampler: str) -> dict:
    return {
        "name": f"throughput-{batch}", "seed": 0, "output": out,
        "data": {"path": str(DATA), "format": "text", "options": {"preset": "qsnmc2007"},
                 "dt_ms": 0.1, "train": {"stimuli": ["04", "05", "06", "08", "09", "12"], "repeats": [0]}},
        "model": {"name": "AdExIF", "spk_reset": "hard", "fixed": {"V_rest": -70.0},
                  "derived": {"V_th": "V_T + 5 * delta_T"}},
        "params": {"R": {"low": "20 MOhm", "high": "300 MOhm", "log": True},
                   "tau": {"low": "5 ms", "high": "60 ms", "log": True},
                   "V_reset": {"low": "-75 mV", "high": "-40 mV"},
                   "V_T": {"low": "-60 mV", "high": "-35 mV"},
                   "delta_T": {"low": "0.5 mV", "high": "6 mV", "log": True},
                   "a": {"low": "0 nS", "high": "20 nS"}, "b": {"low": "0 pA", "high": "300 pA"},
                   "tau_w": {"low": "20 ms", "high": "1000 ms", "log": True}},
        "objective": {"metrics": [{"name": "gamma", "delta_ms": 2.0}, {"name": "spike_count", "relative": True}]},
        "search": {"sampler": sampler, "trials": batch * batches, "batch_size": batch},
        "resources": {"workers": 1, "cpus_per_worker": 2},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,256,1024,4096")
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--sampler", default="cmaes_batch")
    args = ap.parse_args()

    from spikefit.spec.jobspec import parse_job
    from spikefit.execution.driver import run_job
    from spikefit.execution.workers import stop_ray

    keys = ("ask", "tell", "transport", "simulate", "score", "write")
    print(f"{'batch':>6} {'trials':>7} {'wall_s':>8} {'trials/s':>9} {'neuron-steps/s':>15} "
          + " ".join(f"{k:>9}" for k in keys) + f" {'other':>7} {'beyond sim+score':>17}")
    steps_per_trial = 6 * 340_000
    try:
        for batch in [int(float(x)) for x in args.sizes.split(",")]:
            with tempfile.TemporaryDirectory() as out:
                spec = parse_job(job(batch, args.batches, out, args.sampler), source="bench")
                t0 = time.perf_counter()
                s = run_job(spec, progress=False, shutdown=False)
                t = s.timing
                loop = max(s.wall_s - t["compile"] - t["final"] - _startup(t, s), 1e-9)
            shares = {k: 100 * t[k] / loop for k in keys}
            other = max(100 - sum(shares.values()), 0.0)
            beyond = 100 - shares["simulate"] - shares["score"]
            print(f"{batch:>6} {s.n_trials:>7} {loop:>8.1f} {s.n_trials / loop:>9.1f} "
                  f"{s.n_trials * steps_per_trial / loop:>15.3e} "
                  + " ".join(f"{shares[k]:>8.1f}%" for k in keys) + f" {other:>6.1f}% {beyond:>16.1f}%",
                  flush=True)
    finally:
        stop_ray()


def _startup(t: dict, s) -> float:
    """Seconds before the first ask (data loading, Ray and worker start), from the manifest."""
    from spikefit.results.store import ResultStore

    return float(ResultStore(s.output).read_manifest().get("startup_s", 0.0))


if __name__ == "__main__":
    main()
