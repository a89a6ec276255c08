"""Fit quality on real recordings: does the fitted model predict spikes it was not fitted to?

Each case is a job in ``jobs/`` plus a search plan (:mod:`spikefit.execution.stages`): global CMA-ES
restarts, a local CMA-ES around the best, and a choice among the candidates on a held-out
segment of the TRAINING sweeps. The chosen fit is then scored on the validation sweeps, never
seen before: per validation stimulus, Gamma (delta = 2 ms) between the model's response to each
repeat's current and every recorded repeat, averaged, and Gamma / Gamma_int (the data's
intrinsic reliability, mean Gamma between repeats).

    python bench/fit_quality.py                    # every case at its default budget
    python bench/fit_quality.py --cases qsnmc2007_adex --trials 4096
    python bench/fit_quality.py --quick            # small budgets, a smoke test

The last line is ``challenge A Gamma/Gamma_int: 00=<x> 11=<y>`` (the qsnmc2007_adex case, or
the first challenge-A case run).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spikefit.spec.jobspec import Selection, load_job  # noqa: E402
from spikefit.execution.stages import Stage, run_stages, validation_report  # noqa: E402

#: per case: the job file, the search plan (global trials per seed, seeds, local trials),
#: the held-out training segment (ms) used to choose the fit, and rate-only auxiliary sweeps.
CASES = {
    "qsnmc2007_adex": dict(job="jobs/qsnmc2007_adex.toml", global_trials=8192, seeds=(0, 1),
                           local_trials=4096, holdout_ms=8000.0, challenge=True),
    "qsnmc2007_gif": dict(job="jobs/qsnmc2007_gif.toml", global_trials=8192, seeds=(0, 1),
                          local_trials=4096, holdout_ms=8000.0, challenge=True),
    "gif_pozzorini_gif": dict(job="jobs/gif_pozzorini_gif.toml", global_trials=2048, seeds=(0,),
                              local_trials=1024, holdout_ms=2000.0),
    "bbp_l5pc_adex": dict(job="jobs/bbp_l5pc_adex.toml", global_trials=2048, seeds=(0,),
                          local_trials=1024, holdout_ms=None),
}


def plan(case: dict, trials: int | None, quick: bool) -> list[Stage]:
    g = trials or case["global_trials"]
    loc = max(256, (trials or case["global_trials"]) // 2) if trials else case["local_trials"]
    seeds = case["seeds"]
    if quick:
        g, loc, seeds = 512, 256, seeds[:1]
    return [Stage("global", g, seeds=tuple(seeds)),
            Stage("local", loc, seeds=(100,), local=True, sigma0=0.03)]


def cells_of(spec) -> list[str | None]:
    from spikefit.data.dataset import prepare_cells

    if len(spec.data.paths(Path(spec.base_dir))) > 1 or spec.data.cells:
        return list(prepare_cells(spec))
    return [None]


def run_case(name: str, case: dict, trials: int | None, quick: bool) -> list[dict]:
    spec = load_job(ROOT / case["job"])
    rows = []
    for cell in cells_of(spec):
        s = spec if cell is None else spec.model_copy(update={"data": spec.data.model_copy(update={"cells": [cell]})})
        if cell is not None and len(s.data.paths(Path(s.base_dir))) > 1:
            s = s.model_copy(update={"data": s.data.model_copy(update={
                "path": [str(p) for p in s.data.paths(Path(s.base_dir)) if Path(p).name == cell]})})
        t0 = time.perf_counter()
        res = run_stages(s, plan(case, trials, quick), holdout_ms=case.get("holdout_ms"),
                         log=lambda m: print(m, flush=True))
        report = validation_report(s, res)
        wall = time.perf_counter() - t0
        print(f"  {name} [{res.model}] chosen: {res.why}", flush=True)
        print(f"  {name} [{res.model}] parameters: "
              + ", ".join(f"{k}={v:.4g}" for k, v in res.best.params.items()), flush=True)
        if len(report) > 4:  # many step stimuli (BBP IDrest): one row, means over the steps
            import numpy as np

            report = [{"stimulus": f"mean of {len(report)}",
                       **{k: float(np.nanmean([r[k] for r in report]))
                          for k in ("gamma", "gamma_int", "n_model", "n_data", "count_error")}}]
            report[0]["ratio"] = report[0]["gamma"] / report[0]["gamma_int"]
        for r in report:
            rows.append({"case": name, "model": res.model, "cell": cell or next(iter(res.cells)), **r,
                         "wall_s": wall, "trials": res.trials, "challenge": case.get("challenge", False),
                         "holdout_loss": res.best.holdout_loss})
    return rows


def table(rows: list[dict]) -> str:
    head = f"{'case':<20} {'model':<9} {'cell':<16} {'stim':<10} {'Gamma':>6} {'G_int':>6} {'G/G_int':>7} " \
           f"{'n_mod/n_dat':>11} {'cnt err':>7} {'wall s':>7} {'trials':>7}"
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['case']:<20} {r['model']:<9} {str(r['cell'])[:16]:<16} {str(r['stimulus'])[:10]:<10} "
                   f"{r['gamma']:6.3f} {r['gamma_int']:6.3f} {r['ratio']:7.3f} "
                   f"{r['n_model']:5.0f}/{r['n_data']:<5.0f} {r['count_error']:7.3f} {r['wall_s']:7.0f} {r['trials']:7d}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--trials", type=int, default=None, help="global-stage trials per seed (local: half)")
    ap.add_argument("--quick", action="store_true", help="small budgets (a smoke test, not a result)")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    rows = []
    for name in names:
        print(f"== {name}", flush=True)
        rows.extend(run_case(name, CASES[name], args.trials, args.quick))
    print(table(rows))
    ch = [r for r in rows if r["challenge"]]
    held = {r["case"]: (r["model"], r["holdout_loss"]) for r in ch}
    if len(held) > 1:
        win = min(held, key=lambda c: held[c][1])
        print("challenge A model chosen on the held-out training segment (never the validation stimuli): "
              f"{held[win][0]} ({win}); held-out loss "
              + ", ".join(f"{m} {v:.4f}" for m, v in held.values()))
    if ch:
        first = ch[0]["case"]
        by = {r["stimulus"]: r["ratio"] for r in ch if r["case"] == first}
        print(f"challenge A Gamma/Gamma_int: 00={by.get('00', float('nan')):.3f} 11={by.get('11', float('nan')):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
