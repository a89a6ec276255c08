"""Step-protocol fit quality, measured the way an electrophysiologist would (issue 13's targets).

For each cell of a finished fit (a :class:`spikefit.FitResult`), from its own tables:

* ``count_err``: mean relative spike-count error over the validation steps, |n_model - n_data| /
  max(n_data, 1), from ``validation.parquet`` (target <= 10 %); ``floor``: the same error of the
  recording's training series as a prediction of its validation series (the cell's own
  repeat-to-repeat change: no model fitted to the first series can be expected to beat it);
* ``fi_err``: mean |rate_model - rate_data| / max(rate_data, 1 spike per window) in the step
  window, validation sweeps, from ``traces`` (spike times and the recorded current);
* ``base_err``: mean |model - data| of the pre-step baseline (mean V over the last 10 % before
  the step onset, eFEL's voltage_base), validation sweeps (target <= 2 mV);
* ``R / R_in``: the fitted leak resistance over the input resistance measured from the recorded
  IV sweeps of the training set (slope of the steady-state voltage, last 100 ms of the step,
  minus the baseline, against the step amplitude, every IV step of at least 20 pA; target
  within 30 %).

    python bench/fit_quality.py --cases bbp_l5pc_adex     # prints this table after the fit
"""

from __future__ import annotations

import numpy as np

from spikefit.data.steps import describe_step

__all__ = ["step_rows", "step_table"]

TARGETS = {"count_err": 0.10, "base_err_mV": 2.0, "R_ratio": 0.30}


def _windows(rec):
    d = describe_step(np.asarray(rec["I"], np.float64), float(rec["dt_ms"]))
    return d


def step_rows(res) -> list[dict]:
    rows = []
    tr = res.traces
    for _, best in res.best.iterrows():
        cell = best["cell"]
        val = res.validation[res.validation["cell"] == cell]
        mine = tr[tr["cell"] == cell]
        fi, base = [], []
        for (set_name, sweep), g in mine.groupby(["set", "sweep"]):
            if set_name != "validation":
                continue
            rec = g[g["kind"] == "recorded"].iloc[0]
            sim = g[g["kind"] == "simulated"].iloc[0]
            d = _windows(rec)
            if not d.is_step:
                continue
            on, off, dt = d.onset_ms, d.offset_ms, float(rec["dt_ms"])
            win = (off - on) / 1e3
            n_d = np.sum((rec["spike_times_ms"] >= on) & (rec["spike_times_ms"] <= off))
            n_m = np.sum((sim["spike_times_ms"] >= on) & (sim["spike_times_ms"] <= off))
            fi.append(abs(n_m - n_d) / win / max(n_d / win, 1.0 / win))
            i0, i1 = int(round(0.9 * on / dt)), int(round(on / dt))
            base.append(abs(float(np.mean(sim["V"][i0:i1])) - float(np.mean(rec["V"][i0:i1]))))
        # the recording's own repeatability: the training series as a "model" of the validation series
        counts = {}
        for (set_name, sweep), g in mine[mine["kind"] == "recorded"].groupby(["set", "sweep"]):
            rec = g.iloc[0]
            counts.setdefault(str(rec.get("stimulus")), {})[set_name] = len(rec["spike_times_ms"])
        floor = [abs(c["train"] - c["validation"]) / max(c["validation"], 1) for c in counts.values()
                 if "train" in c and "validation" in c]
        amps, dvs = [], []
        for sweep, g in mine[(mine["set"] == "train") & (mine["kind"] == "recorded")].groupby("sweep"):
            rec = g.iloc[0]
            if not str(rec.get("stimulus", "")).startswith("IV"):
                continue
            d = _windows(rec)
            if not d.is_step or abs(d.amplitude_pA) < 20:
                continue
            dt = float(rec["dt_ms"])
            v = np.asarray(rec["V"], np.float64)
            pre = v[: int(d.onset_ms / dt)].mean()
            ss = v[int((d.offset_ms - 100) / dt): int(d.offset_ms / dt)].mean()
            amps.append(d.amplitude_pA)
            dvs.append(ss - pre)
        r_in = float(np.polyfit(amps, dvs, 1)[0]) if len(amps) >= 2 else float("nan")  # GOhm
        rows.append({"cell": cell, "model": best["model"], "count_err": float(np.mean(val["count_error"])),
                     "fi_err": float(np.mean(fi)) if fi else float("nan"),
                     "base_err_mV": float(np.mean(base)) if base else float("nan"),
                     "R_MOhm": float(best["R"]) * 1e3 if "R" in best else float("nan"), "R_in_MOhm": r_in * 1e3,
                     "n_val_steps": len(val), "repeat_floor": float(np.mean(floor)) if floor else float("nan")})
    return rows


def step_table(rows: list[dict], wall_s: float | None = None) -> str:
    head = (f"{'cell':<18} {'model':<8} {'cnt err':>8} {'floor':>6} {'f-I err':>8} {'base err':>9} {'R MOhm':>7} "
            f"{'R_in MOhm':>9} {'R/R_in':>7}  targets: cnt <= 10 %, base <= 2 mV, R within 30 % of R_in")
    out = [head, "-" * len(head)]
    for r in rows:
        ratio = r["R_MOhm"] / r["R_in_MOhm"]
        ok = (r["count_err"] <= TARGETS["count_err"], r["base_err_mV"] <= TARGETS["base_err_mV"],
              abs(ratio - 1) <= TARGETS["R_ratio"])
        out.append(f"{str(r['cell'])[:18]:<18} {r['model']:<8} {100 * r['count_err']:7.1f}% "
                   f"{100 * r['repeat_floor']:5.1f}% {100 * r['fi_err']:7.1f}% "
                   f"{r['base_err_mV']:7.2f}mV {r['R_MOhm']:7.1f} {r['R_in_MOhm']:9.1f} {ratio:7.2f}  "
                   + " ".join("PASS" if o else "FAIL" for o in ok))
    return "\n".join(out)
