"""Gradient refinement vs CMA-ES alone on challenge A, at the same wall-clock budget.

(a) CMA-ES alone: the ``qsnmc2007_adex`` job's own plan (two global CMA-ES restarts and a local
    one, the fit chosen on the held-out end of the training sweeps) through ``spikefit.fit_job``
    (executor ``local``), with a trial budget per stage and seed measured to fill the budget.
(b) CMA-ES with ``--cma-share`` of (a)'s trials (the same plan), then the best
    ``--candidates`` distinct trials refined by Adam on the surrogate-gradient van Rossum loss
    (``spikefit.models.differentiable.van_rossum_soft``, ``spikefit.search.gradient.refine``) for
    the rest of (a)'s measured wall time, on the same training segment (the held-out end excluded); the fit is then chosen
    among the CMA-ES fit and the refined candidates by the job's objective on the held-out segment,
    the rule (a) uses.

Both fits are scored on the validation stimuli 00 and 11 (never seen before) as the run's
validation table does (``spikefit.scoring.validation.validation_rows``: Gamma with delta 2 ms
against every recorded repeat, / Gamma_int), at the fit's step (1 ms) and re-simulated at 0.1 ms
(``spikefit.execution.stepcheck.fine_step_scores``, the current held at the data's rate).
Compilation is warmed before either arm is timed (the JAX persistent cache serves both arms).

    python bench/gradient_vs_cmaes.py                 # 90 s budget per arm
    python bench/gradient_vs_cmaes.py --budget 120
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "qsnmc2007_adex.toml"
#: the job's derived spike cut-off, written for JAX (checked against the job file)
DERIVED = {"V_th": "V_T + 5 * delta_T"}


def _spec(out: Path, name: str, trials: int):
    from spikefit import load_job

    spec = load_job(JOB, output=str(out / name), trials=trials)
    assert dict(spec.model.derived) == DERIVED, spec.model.derived
    return spec


def _fit(out: Path, name: str, trials: int):
    from spikefit import fit_job

    spec = _spec(out, name, trials)
    t0 = time.perf_counter()
    res = fit_job(spec, executor="local", progress=False)
    return spec, res, time.perf_counter() - t0


def calibrate(out: Path) -> tuple[float, float, object]:
    """Fixed cost (s) and cost per trial per stage and seed (s) of a fit, from two short fits
    (after one that warms the compiled simulations); also the last fit's result."""
    _fit(out, "warm", 256)
    walls = {}
    for n in (512, 1536):
        _, res, walls[n] = _fit(out, f"cal{n}", n)
    per = (walls[1536] - walls[512]) / 1024
    return walls[512] - 512 * per, per, res


def trials_for(seconds: float, fixed: float, per: float) -> int:
    return max(128, int((seconds - fixed) / per) // 128 * 128)


def _training(spec):
    """The fitted training segment (held-out end cut off) and the held-out parts."""
    from spikefit.data.dataset import prepare_cells, split_holdout

    (cell, sets), = prepare_cells(spec).items()
    fit, hold = split_holdout(sets, spec.search.holdout_ms, dt_ms=spec.data.dt_ms, ljp_mV=spec.data.ljp_mV)
    return cell, sets, fit, hold


def make_loss(spec, fit_sets, tau_ms: float):
    """``loss_fn(params) -> [P]``: sum over training sweeps of the squared van Rossum distance,
    divided by the recorded spike count (about the fraction of unmatched spikes)."""
    from spikefit.execution.driver import evaluator_kwargs
    from spikefit.models.differentiable import spike_raster, van_rossum_soft

    kw = evaluator_kwargs(spec)
    b = fit_sets.train
    cur = np.asarray(b.current, np.float32)
    data = spike_raster(b.spike_steps, cur.shape[1])
    mask = np.asarray(b.mask, np.float32)
    n_data = float(data.sum())

    def loss_fn(p):
        p = dict(p, V_th=p["V_T"] + 5.0 * p["delta_T"])
        r = van_rossum_soft(kw["model"], p, cur, data, float(b.dt_ms), kw["fixed"], tau_ms=tau_ms,
                            mask=mask, spk_reset=kw["spk_reset"], init=kw["init"])
        return r.van_rossum2.sum(axis=1) / n_data

    return loss_fn


def top_trials(res, space, k: int) -> np.ndarray:
    t = res.trials
    t = t[(t["state"] == "COMPLETE") & np.isfinite(t["loss"])].sort_values("loss")
    x = t[list(space.names)].to_numpy(np.float64)
    _, first = np.unique(np.round(x, 6), axis=0, return_index=True)
    return x[np.sort(first)][:k]


def holdout_losses(spec, hold, x: np.ndarray) -> np.ndarray:
    from spikefit.execution.driver import evaluator_kwargs
    from spikefit.execution.evaluator import CellData, Evaluator

    ev = Evaluator(**{**evaluator_kwargs(spec), "batch_size": max(1, len(x))})
    ev.add_cell("hold", CellData.from_batch(hold))
    loss = np.asarray(ev.evaluate("hold", np.asarray(x, np.float32)).loss)
    return loss.reshape(len(x), -1).sum(axis=1)


def validate(spec, sets, params: dict) -> list[dict]:
    """Validation rows at the fit's step, with the 0.1 ms re-simulation's scores (``*_fine``)."""
    from spikefit.execution.driver import evaluator_kwargs
    from spikefit.execution.evaluator import CellData, Evaluator
    from spikefit.execution.stepcheck import fine_step_scores
    from spikefit.scoring.validation import validation_rows

    kw = evaluator_kwargs(spec)
    ev = Evaluator(**{**kw, "batch_size": 1})
    ev.add_cell("val", CellData.from_batch(sets.validation))
    times, _ = ev.spike_times("val", params)
    rows = validation_rows(sets, times, dt_ms=spec.data.dt_ms, ljp_mV=spec.data.ljp_mV, same_window=True)
    factor = int(round(float(sets.validation.dt_ms) / 0.1))
    fine_step_scores(kw, sets, params, rows, ljp_mV=spec.data.ljp_mV, same_window=True, factor=factor)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=90.0, help="wall-clock seconds per arm (default 90)")
    ap.add_argument("--cma-share", type=float, default=0.5, help="share of (b)'s budget for CMA-ES (default 0.5)")
    ap.add_argument("--candidates", type=int, default=16, help="CMA-ES trials refined at once (default 16)")
    ap.add_argument("--tau-ms", type=float, default=10.0, help="van Rossum kernel (ms, default 10)")
    ap.add_argument("--lr", type=float, default=0.03, help="Adam step in sigmoid coordinates (default 0.03)")
    args = ap.parse_args(argv)
    from spikefit.execution.driver import search_space
    from spikefit.search.gradient import refine

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        fixed_s, per_s, res_cal = calibrate(out)
        n_a = trials_for(args.budget, fixed_s, per_s)
        n_b = max(128, int(n_a * args.cma_share) // 128 * 128)
        print(f"calibration: {fixed_s:.1f} s fixed + {per_s * 1e3:.2f} ms per trial; (a) {n_a} trials per stage "
              f"and seed, (b) {n_b}", flush=True)
        spec_a = _spec(out, "a", n_a)
        cell, sets, fit_sets, hold = _training(spec_a)
        space = search_space(spec_a)
        loss_fn = make_loss(spec_a, fit_sets, args.tau_ms)
        # warm the gradient's compilation (the CMA-ES simulations were warmed by the calibration)
        refine(space, top_trials(res_cal, space, args.candidates), loss_fn, steps=1, learning_rate=args.lr)

        spec_a, res_a, wall_a = _fit(out, "a", n_a)
        best_a = res_a.best.iloc[0]
        params_a = {n: float(best_a[n]) for n in space.names}

        t0 = time.perf_counter()
        spec_b, res_b, _ = _fit(out, "b", n_b)
        best_b = res_b.best.iloc[0]
        x_cma = np.array([[float(best_b[n]) for n in space.names]])
        x0 = top_trials(res_b, space, args.candidates)
        # (b) gets the wall time (a) took (the calibration only aims (a) at the budget)
        left = wall_a - (time.perf_counter() - t0) - 3.0  # ~3 s for the held-out choice
        ref = refine(space, x0, loss_fn, steps=10_000, learning_rate=args.lr, max_time_s=max(left, 0.0))
        pool = np.concatenate([x_cma, ref.x])
        hl = holdout_losses(spec_b, hold, pool)
        pick = int(np.nanargmin(hl))
        wall_b = time.perf_counter() - t0
        params_b = dict(zip(space.names, map(float, pool[pick])))
        print(f"(b) refined {len(x0)} candidates for {ref.steps} Adam steps ({ref.seconds:.0f} s); soft loss "
              f"start median {np.nanmedian(ref.history[0]):.3f} -> best median {np.nanmedian(ref.loss):.3f}; "
              f"held-out loss CMA-ES fit {hl[0]:.4f}, best refined {np.nanmin(hl[1:]):.4f}; chosen: "
              f"{'CMA-ES fit' if pick == 0 else f'refined candidate {pick - 1}'}", flush=True)

        rows = []
        for label, spec, params, wall, trials, hloss in (
                ("(a) CMA-ES alone", spec_a, params_a, wall_a, len(res_a.trials), float(best_a.get("holdout_loss", np.nan))),
                (f"(b) CMA-ES {args.cma_share:.0%} + gradient", spec_b, params_b, wall_b, len(res_b.trials), float(hl[pick]))):
            for r in validate(spec, sets, params):
                rows.append((label, r, wall, trials, hloss))
    print()
    print("| arm | stimulus | Gamma (1 ms) | Gamma/Gamma_int (1 ms) | Gamma/Gamma_int (0.1 ms) | spikes model/data "
          "| held-out loss | wall s | CMA-ES trials |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, r, wall, trials, hloss in rows:
        print(f"| {label} | {r['stimulus']} | {r['gamma']:.3f} | {r['ratio']:.3f} | {r['ratio_fine']:.3f} | "
              f"{r['n_model']:.0f}/{r['n_data']:.0f} | {hloss:.4f} | {wall:.0f} | {trials} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
