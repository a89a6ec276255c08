"""Figures of a job's results: convergence, parameter spread, and the best fit against the data.

``spikefit report DIR`` writes them as PNG into ``DIR/figures``; the analysis notebook draws
the same figures from the same functions. Everything is read from the Parquet results with
pandas, so a report can be made on any machine that has the results folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_results", "plot_convergence", "plot_parameter_spread", "plot_fit", "write_report"]


def load_results(root: str | Path) -> dict:
    """``trials``, ``best``, ``traces`` frames, the ``manifest`` and the parameter ``units``."""
    from spikefit.results.store import ResultStore

    store = ResultStore(root)
    best = store.read_best()
    return {"trials": store.read_trials(), "best": best, "traces": store.read_traces(),
            "manifest": store.read_manifest(), "units": best.attrs.get("units", {})}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_convergence(trials: pd.DataFrame):
    """Loss against trial number per cell, with the running best and failed trials marked."""
    plt = _plt()
    ok = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    fig, ax = plt.subplots(figsize=(7, 4))
    for cell, group in ok.groupby("cell"):
        ax.scatter(group["trial"], group["loss"], s=6, alpha=0.35, label=f"{cell}: trials")
        ax.plot(group["trial"], group["loss"].cummin(), lw=2, label=f"{cell}: best so far")
    bad = trials[trials["state"] == "FAIL"]
    if len(bad) and len(ok):
        ax.scatter(bad["trial"], np.full(len(bad), ok["loss"].max()), marker="x", c="grey", s=10,
                   label="failed")
    if len(ok) and (ok["loss"] > 0).all() and ok["loss"].max() > 20 * ok["loss"].min():
        ax.set_yscale("log")  # penalties (e.g. silent candidates) would flatten the rest
    ax.set(xlabel="trial", ylabel="loss", title="convergence")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_parameter_spread(trials: pd.DataFrame, best: pd.DataFrame, units: dict, log: dict | None = None,
                          top_fraction: float = 0.05):
    """Each fitted parameter over all trials, the best ``top_fraction`` and the best fit."""
    plt = _plt()
    ok = trials[trials["state"] == "COMPLETE"]
    free = list(best["free_parameters"].iloc[0])
    n_top = max(1, int(np.ceil(top_fraction * len(ok))))
    top = ok.nsmallest(n_top, "loss")
    fig, axes = plt.subplots(1, len(free), figsize=(1.6 * len(free), 3.5), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, name in zip(axes[0], free):
        ax.scatter(rng.normal(0, 0.05, len(ok)), ok[name], s=4, c="lightgrey", label="all")
        ax.scatter(rng.normal(0, 0.05, len(top)), top[name], s=10, c="C0", label=f"top {top_fraction:.0%}")
        ax.scatter([0], [best[name].iloc[0]], marker="*", s=120, c="C3", label="best")
        if (log or {}).get(name):
            ax.set_yscale("log")
        ax.set_xticks([])
        ax.set_title(f"{name} ({units.get(name, '')})", fontsize=9)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"parameters of the best {n_top} of {len(ok)} trials")
    fig.tight_layout()
    return fig


def plot_fit(traces: pd.DataFrame, set_name: str | None = None, sweep: str | None = None):
    """Recorded vs simulated V and spike rasters on one sweep (default: validation, median firing)."""
    plt = _plt()
    sets = set(traces["set"])
    set_name = set_name or ("validation" if "validation" in sets else "train")
    rec = traces[(traces["set"] == set_name) & (traces["kind"] == "recorded")].copy()
    if sweep is None:
        rec["n"] = rec["spike_times_ms"].apply(len)
        sweep = rec.sort_values("n").iloc[len(rec) // 2]["sweep"]
    pair = traces[(traces["set"] == set_name) & (traces["sweep"] == sweep)].set_index("kind")
    recorded, simulated = pair.loc["recorded"], pair.loc["simulated"]
    dt = float(recorded["dt_ms"])
    fig, (ax_v, ax_r) = plt.subplots(2, 1, figsize=(9, 5), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
    for row, label, color in ((recorded, "recorded", "k"),
                              (simulated, f"simulated (trial {int(simulated['trial'])})", "C3")):
        if row["V"] is not None:
            v = np.asarray(row["V"])
            ax_v.plot(np.arange(v.size) * dt, v, lw=0.6, color=color, label=label)
    if recorded["V"] is not None:  # the model's spike step overshoots; show the recorded range
        v = np.asarray(recorded["V"])
        span = float(v.max() - v.min())
        ax_v.set_ylim(float(v.min()) - 0.2 * span, float(v.max()) + 0.2 * span)
    ax_v.set(ylabel="V (mV)", title=f"{set_name} sweep {sweep}")
    ax_v.legend(fontsize=8, loc="upper right")
    ax_r.eventplot([np.asarray(recorded["spike_times_ms"]), np.asarray(simulated["spike_times_ms"])],
                   colors=["k", "C3"], lineoffsets=[1, 0], linelengths=0.8)
    ax_r.set_yticks([1, 0], ["recorded", "simulated"])
    ax_r.set_xlabel("time (ms)")
    fig.tight_layout()
    return fig


def write_report(root: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write the three figures as PNG (default ``<root>/figures``); returns their paths."""
    r = load_results(root)
    out = Path(out) if out is not None else Path(root) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    log = {k: v.get("log", False) for k, v in r["manifest"]["spec"]["params"].items()}
    figures = {"convergence.png": plot_convergence(r["trials"]),
               "parameter_spread.png": plot_parameter_spread(r["trials"], r["best"], r["units"], log),
               "fit_validation.png": plot_fit(r["traces"])}
    paths = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        paths.append(out / name)
    return paths
