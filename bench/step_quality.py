"""Step-protocol fit quality, measured the way an electrophysiologist would (issue 13's targets).

For each cell of a finished fit (a :class:`spikefit.FitResult`), from its traces table, with the
measures ``spikefit results`` prints (:func:`spikefit.results.report.steps.step_scores`):

* ``count_err``: mean |n_model - n_data| / max(n_data, 1) over the validation steps, spikes in
  the step window (target <= 10 %); ``floor``: the same error of the recording's training series
  as a prediction of its validation series (the cell's own repeat-to-repeat change: no model
  fitted to the first series can be expected to beat it);
* ``f-I err``: mean |rate_model - rate_data| in the step window (Hz);
* ``base err``: mean |model - data| of the pre-step baseline (median V over the second half of
  the time before the step), validation sweeps (target <= 2 mV);
* ``R / R_in``: the fitted leak resistance over the input resistance of the recorded IV steps of
  the training set (slope through the baseline and the steady states at the end of the
  sub-threshold steps; target within 30 %).

    python bench/fit_quality.py --cases bbp_l5pc_adex     # prints this table after the fit
"""

from __future__ import annotations

from spikefit.results.report.steps import step_scores

__all__ = ["step_rows", "step_table"]

TARGETS = {"count_err": 0.10, "base_err_mV": 2.0, "R_ratio": 0.30}


def step_rows(res) -> list[dict]:
    """One row per cell of a finished fit: the measures of
    :func:`spikefit.results.report.steps.step_scores` (what ``spikefit results`` prints)."""
    rows = []
    for _, best in res.best.iterrows():
        sc = step_scores(res.traces, best["cell"])
        if sc is None:
            continue
        rows.append({"cell": best["cell"], "model": best["model"], "count_err": sc["count_error"],
                     "repeat_floor": sc["repeat_count_error"], "fi_err_Hz": sc["fi_error_Hz"],
                     "base_err_mV": sc["baseline_error_mV"], "R_in_MOhm": sc["R_in_MOhm"],
                     "R_MOhm": float(best["R"]) * 1e3 if "R" in best else float("nan"), "n_val_steps": sc["n_steps"]})
    return rows


def step_table(rows: list[dict], wall_s: float | None = None) -> str:
    head = (f"{'cell':<18} {'model':<8} {'cnt err':>8} {'floor':>6} {'f-I err':>9} {'base err':>9} {'R MOhm':>7} "
            f"{'R_in MOhm':>9} {'R/R_in':>7}  targets: cnt <= 10 %, base <= 2 mV, R within 30 % of R_in")
    out = [head, "-" * len(head)]
    for r in rows:
        ratio = r["R_MOhm"] / r["R_in_MOhm"]
        ok = (r["count_err"] <= TARGETS["count_err"], r["base_err_mV"] <= TARGETS["base_err_mV"],
              abs(ratio - 1) <= TARGETS["R_ratio"])
        out.append(f"{str(r['cell'])[:18]:<18} {r['model']:<8} {100 * r['count_err']:7.1f}% "
                   f"{100 * r['repeat_floor']:5.1f}% {r['fi_err_Hz']:6.2f} Hz "
                   f"{r['base_err_mV']:7.2f}mV {r['R_MOhm']:7.1f} {r['R_in_MOhm']:9.1f} {ratio:7.2f}  "
                   + " ".join("PASS" if o else "FAIL" for o in ok))
    return "\n".join(out)
