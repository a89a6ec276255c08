"""Ask+tell cost per trial of spikefit's Study: TPE vs CMA-ES, in memory vs journal file.

Plain script (not a test). Each configuration asks ``--n`` trials in batches of ``--batch``
on a 4-parameter space with a cheap quadratic objective, timing every ``ask_batch`` and
``tell_batch`` call, and prints medians in ms per trial: over all batches, and over the first
and last 10 % of batches (the sampler's cost grows with the history for TPE).

    python bench/study_overhead.py --n 3000 --batch 32
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.search.study import Study

SPACE = SearchSpace([
    FreeParameter("tau", 1.0, 100.0, "ms", log=True),
    FreeParameter("V_T", -70.0, -40.0, "mV"),
    FreeParameter("a", 0.1, 10.0, "nS", log=True),
    FreeParameter("b", 0.0, 200.0, "pA"),
])


def loss(p: dict[str, float]) -> float:
    return ((math.log(p["tau"]) - 2.5) ** 2 + ((p["V_T"] + 55.0) / 10.0) ** 2
            + math.log(p["a"]) ** 2 + ((p["b"] - 60.0) / 50.0) ** 2)


def run(sampler: str, storage: str, n: int, batch: int, workdir: Path) -> dict[str, float]:
    out = None if storage == "memory" else workdir / f"{sampler}-{storage}"
    study = Study.create(f"bench-{sampler}", SPACE, sampler=sampler, seed=0, output_dir=out)
    ask_ms, tell_ms = [], []
    start = time.perf_counter()
    for _ in range(n // batch):
        t0 = time.perf_counter()
        cands = study.ask_batch(batch)
        t1 = time.perf_counter()
        study.tell_batch([(c.number, loss(c.params)) for c in cands])
        t2 = time.perf_counter()
        ask_ms.append((t1 - t0) * 1e3 / batch)
        tell_ms.append((t2 - t1) * 1e3 / batch)
    total = time.perf_counter() - start
    k = max(1, len(ask_ms) // 10)
    both = [a + t for a, t in zip(ask_ms, tell_ms)]
    return {
        "ask": statistics.median(ask_ms), "tell": statistics.median(tell_ms),
        "first": statistics.median(both[:k]), "last": statistics.median(both[-k:]),
        "total_s": total, "best": study.best().values[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="trials per configuration")
    parser.add_argument("--batch", type=int, default=32, help="trials per ask_batch/tell_batch")
    parser.add_argument("--samplers", default="tpe,cmaes")
    parser.add_argument("--storages", default="memory,journal")
    args = parser.parse_args()
    header = (f"{'sampler':8} {'storage':8} {'n':>6} {'batch':>5} {'ask ms':>8} {'tell ms':>8} "
              f"{'first10%':>9} {'last10%':>8} {'total s':>8} {'best':>8}")
    print(f"medians in ms/trial (ask+tell for first/last 10% of batches)\n{header}")
    with tempfile.TemporaryDirectory() as tmp:
        for sampler in args.samplers.split(","):
            for storage in args.storages.split(","):
                r = run(sampler, storage, args.n, args.batch, Path(tmp))
                print(f"{sampler:8} {storage:8} {args.n:6d} {args.batch:5d} {r['ask']:8.2f} "
                      f"{r['tell']:8.2f} {r['first']:9.2f} {r['last']:8.2f} {r['total_s']:8.1f} "
                      f"{r['best']:8.3g}", flush=True)


if __name__ == "__main__":
    main()
