"""Step-protocol measures of each fitted sweep: the step, firing rates, baseline and steady state.

The step is read from the injected current stored beside the recorded voltage (traces column
``I``): a single pulse fitted to the current (two levels, two edges) by least squares, on 10 ms
block means first and then to the sample at each edge. This works on clean command currents and
on measured currents whose noise is as large as the smaller steps (the BBP cells). A sweep whose
current holds no clear pulse (a zero-amplitude sweep, noise) takes its cell's common window.

Every measure is computed the same way on the recording and on the model's response:

- ``rate_*_Hz``: spikes with ``onset_ms <= t < offset_ms``, divided by the window length;
- ``baseline_*_mV``: median V over the second half of the time before the step (the model's
  start from its initial condition is over by then);
- ``steady_*_mV``: median V over the last 20% of the step (at most 100 ms), the steady-state
  response; meaningful on sweeps without spikes in the window (``subthreshold``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["step_window", "sweep_summary", "step_scores", "input_resistance", "SUMMARY_COLUMNS"]

_BLOCK_MS = 10.0
_MAX_BLOCKS = 600  # the coarse search is quadratic in the number of blocks
_STEADY_MS = 100.0

#: The per-sweep summary's columns (units in the names; ``count_error`` is (model - data) / data).
SUMMARY_COLUMNS = (
    "cell", "set", "sweep", "stimulus", "amplitude_pA", "holding_pA", "onset_ms", "offset_ms",
    "window_from", "n_data", "n_model", "rate_data_Hz", "rate_model_Hz", "count_error",
    "baseline_data_mV", "baseline_model_mV", "steady_data_mV", "steady_model_mV", "subthreshold",
    "model_subthreshold", "gamma", "gamma_int", "ratio",
)


def step_window(current, dt_ms: float) -> dict | None:
    """The pulse in ``current`` (pA, step ``dt_ms``): ``onset_ms``, ``offset_ms``,
    ``amplitude_pA`` (step level minus holding) and ``holding_pA``; None when there is none.

    A pulse counts when its amplitude exceeds 1 pA and three times the scatter of the 10 ms
    block means around the fitted two-level shape.
    """
    i = np.asarray(current, np.float64)
    if i.size < 3 or not np.all(np.isfinite(i)):
        return None
    k = max(1, int(round(_BLOCK_MS / dt_ms)), int(np.ceil(i.size / _MAX_BLOCKS)))
    n = i.size // k
    if n < 3:
        return None
    blocks = i[: n * k].reshape(n, k).mean(axis=1)
    a, b = _best_pulse(blocks)
    inside = np.zeros(n, bool)
    inside[a:b] = True
    level, holding = blocks[inside].mean(), blocks[~inside].mean()
    scatter = np.concatenate([blocks[inside] - level, blocks[~inside] - holding]).std()
    if abs(level - holding) <= max(1.0, 3.0 * scatter):
        return None
    start = _refine_edge(i, a * k, k, holding, level)
    stop = _refine_edge(i, b * k, k, level, holding) if b < n else i.size
    return {"onset_ms": start * dt_ms, "offset_ms": stop * dt_ms,
            "amplitude_pA": float(i[start:stop].mean() - np.delete(i, np.s_[start:stop]).mean()),
            "holding_pA": float(np.delete(i, np.s_[start:stop]).mean())}


def _best_pulse(x: np.ndarray) -> tuple[int, int]:
    """Edges [a, b) of the one pulse that explains most of the variance of ``x``."""
    n = x.size
    c = np.concatenate([[0.0], np.cumsum(x)])
    a = np.arange(n + 1)[:, None]
    b = np.arange(n + 1)[None, :]
    n_in = (b - a).astype(np.float64)
    s_in = c[b] - c[a]
    valid = (n_in > 0) & (n_in < n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(valid, (s_in / n_in - (c[-1] - s_in) / (n - n_in)) ** 2 * n_in * (n - n_in), -1.0)
    ia, ib = np.unravel_index(int(np.argmax(gain)), gain.shape)
    return int(ia), int(ib)


def _refine_edge(i: np.ndarray, edge: int, k: int, before: float, after: float) -> int:
    """The sample within one block of ``edge`` where ``i`` best switches from ``before`` to ``after``."""
    lo, hi = max(0, edge - k), min(i.size, edge + k)
    seg = i[lo:hi]
    # cost of the switch at lo + s: sum over seg[:s] of (x-before)^2 + seg[s:] of (x-after)^2
    d = (seg - before) ** 2 - (seg - after) ** 2
    cost = np.concatenate([[0.0], np.cumsum(d)])  # relative to "all of seg after the switch"
    return lo + int(np.argmin(cost))


def _median(v: np.ndarray | None, dt: float, t0: float, t1: float) -> float:
    if v is None or not t1 > t0:
        return float("nan")
    part = v[int(round(t0 / dt)): int(round(t1 / dt))]
    return float(np.median(part)) if part.size else float("nan")


def _in_window(times, onset: float, offset: float) -> int:
    t = np.asarray(times, np.float64)
    return int(np.count_nonzero((t >= onset) & (t < offset)))


def sweep_summary(traces: pd.DataFrame, validation: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (cell, set, sweep) with the columns of :data:`SUMMARY_COLUMNS`, sorted by
    cell, set and amplitude. ``validation`` (the validation table) adds Gamma, Gamma_int and
    their ratio to the validation sweeps of its stimuli. Without an ``I`` column (results
    written before it existed) amplitudes are NaN and the window is the whole sweep."""
    # a resumed run writes its final traces again: the last copy is the current fit
    traces = traces.drop_duplicates(["cell", "set", "sweep", "kind"], keep="last")
    rec = traces[traces["kind"] == "recorded"].set_index(["cell", "set", "sweep"])
    sim = traces[traces["kind"] == "simulated"].set_index(["cell", "set", "sweep"])
    steps = {}
    for key, row in rec.iterrows():
        cur = row.get("I") if "I" in rec.columns else None
        steps[key] = None if cur is None else step_window(cur, float(row["dt_ms"]))
    rows = []
    for key, row in rec.iterrows():
        cell, set_name, sweep = key
        dt = float(row["dt_ms"])
        v_data = None if row["V"] is None else np.asarray(row["V"], np.float64)
        model = sim.loc[key] if key in sim.index else None
        v_model = None if model is None or model["V"] is None else np.asarray(model["V"], np.float64)
        n_time = len(row["I"]) if steps[key] is not None else (v_data.size if v_data is not None else 0)
        step, source = steps[key], "current"
        if step is None:
            step, source = _cell_window(steps, cell), "cell"
        if step is None:
            step, source = {"onset_ms": 0.0, "offset_ms": n_time * dt or np.nan, "amplitude_pA": np.nan,
                            "holding_pA": np.nan}, "sweep"
        on, off = step["onset_ms"], step["offset_ms"]
        window_s = (off - on) / 1000.0
        n_data = _in_window(row["spike_times_ms"], on, off)
        n_model = _in_window(model["spike_times_ms"], on, off) if model is not None else 0
        steady = (off - min(_STEADY_MS, 0.2 * (off - on)), off)
        rows.append({
            "cell": cell, "set": set_name, "sweep": sweep,
            "stimulus": row["stimulus"] if "stimulus" in rec.columns else None,
            "amplitude_pA": step["amplitude_pA"], "holding_pA": step["holding_pA"],
            "onset_ms": on, "offset_ms": off, "window_from": source,
            "n_data": n_data, "n_model": n_model,
            "rate_data_Hz": n_data / window_s, "rate_model_Hz": n_model / window_s,
            "count_error": (n_model - n_data) / n_data if n_data else np.nan,
            "baseline_data_mV": _median(v_data, dt, on / 2, on),
            "baseline_model_mV": _median(v_model, dt, on / 2, on),
            "steady_data_mV": _median(v_data, dt, *steady), "steady_model_mV": _median(v_model, dt, *steady),
            "subthreshold": n_data == 0, "model_subthreshold": n_model == 0,
        })
    out = pd.DataFrame(rows, columns=[c for c in SUMMARY_COLUMNS if c not in ("gamma", "gamma_int", "ratio")])
    out = _join_validation(out, validation)
    order = {"train": 0, "validation": 1}
    out = out.sort_values(["cell", "set", "amplitude_pA", "sweep"], key=lambda s: s.map(order) if s.name == "set" else s)
    return out.reset_index(drop=True)[list(SUMMARY_COLUMNS)]


def _cell_window(steps: dict, cell: str) -> dict | None:
    """The median window of the cell's sweeps that have a step, with zero amplitude."""
    found = [s for (c, _, _), s in steps.items() if c == cell and s is not None]
    if not found:
        return None
    return {"onset_ms": float(np.median([s["onset_ms"] for s in found])),
            "offset_ms": float(np.median([s["offset_ms"] for s in found])),
            "amplitude_pA": 0.0, "holding_pA": float(np.median([s["holding_pA"] for s in found]))}


def _join_validation(out: pd.DataFrame, validation: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["gamma", "gamma_int", "ratio"]
    if validation is None or out["stimulus"].isna().all():
        return out.assign(**{c: np.nan for c in cols})
    val = validation[["cell", "stimulus", *cols]].assign(set="validation")
    return out.merge(val, on=["cell", "set", "stimulus"], how="left")


def input_resistance(amplitude_pA, baseline_mV: float, steady_mV) -> float:
    """Slope (MOhm) of the least-squares line through (0 pA, baseline) and the sub-threshold
    steady states; NaN without a sub-threshold step."""
    amp, v = np.asarray(amplitude_pA, np.float64), np.asarray(steady_mV, np.float64)
    ok = np.isfinite(amp) & np.isfinite(v) & (amp != 0)
    if not ok.any() or not np.isfinite(baseline_mV):
        return float("nan")
    xs, ys = np.r_[0.0, amp[ok]], np.r_[baseline_mV, v[ok]]
    return float(np.polyfit(xs, ys, 1)[0] * 1000.0)  # mV/pA = GOhm


def step_scores(traces: pd.DataFrame, cell: str) -> dict | None:
    """The step-protocol measures of one fitted ``cell`` from its ``traces`` table, or None when
    its validation sweeps are not steps (:func:`spikefit.data.steps.describe_step`):

    ``count_error``: mean |n_model - n_data| / max(n_data, 1) over the validation steps (spikes in
    the step window); ``repeat_count_error``: the same error of the recording's training series
    as a prediction of its validation series (the cell's own repeat-to-repeat change);
    ``fi_error_Hz``: mean |rate_model - rate_data|; ``baseline_error_mV``: mean |baseline_model -
    baseline_data|; ``R_in_MOhm``: the recorded input resistance from the training IV steps
    (stimuli ``IV:*``; NaN without them); ``rows``: the validation rows of :func:`sweep_summary`.
    """
    from spikefit.data.steps import describe_step

    traces = traces[traces["cell"] == cell]
    if traces.empty or "I" not in traces:
        return None
    recorded = traces[(traces["set"] == "validation") & (traces["kind"] == "recorded")]
    if recorded.empty or not all(i is not None and describe_step(np.asarray(i, np.float64), float(dt)).is_step
                                 for i, dt in zip(recorded["I"], recorded["dt_ms"])):
        return None  # not a step protocol: the Gamma report applies
    every = sweep_summary(traces)
    every = every[every["window_from"] == "current"]
    rows = every[every["set"] == "validation"]
    if rows.empty:
        return None
    count = np.abs(rows["n_model"] - rows["n_data"]) / np.maximum(rows["n_data"], 1)
    train = every[every["set"] == "train"]
    by_stim = train.groupby("stimulus")["n_data"].mean()
    both = rows[rows["stimulus"].isin(by_stim.index)]
    floor = np.abs(by_stim[both["stimulus"]].to_numpy() - both["n_data"].to_numpy()) / np.maximum(both["n_data"].to_numpy(), 1)
    iv = train[train["stimulus"].astype(str).str.startswith("IV") & train["subthreshold"]]
    r_in = input_resistance(iv["amplitude_pA"], float(iv["baseline_data_mV"].mean()), iv["steady_data_mV"]) \
        if len(iv) else float("nan")
    return {"n_steps": len(rows), "rows": rows, "count_error": float(count.mean()),
            "repeat_count_error": float(floor.mean()) if floor.size else float("nan"),
            "fi_error_Hz": float(np.mean(np.abs(rows["rate_model_Hz"] - rows["rate_data_Hz"]))),
            "baseline_error_mV": float(np.nanmean(np.abs(rows["baseline_model_mV"] - rows["baseline_data_mV"]))),
            "R_in_MOhm": r_in}
