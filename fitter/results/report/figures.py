"""Figures of the search: convergence, parameter spread, and the best fit on one sweep."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spikefit.results.report._style import DATA, MODEL, pyplot

__all__ = ["plot_convergence", "plot_parameter_spread", "plot_fit"]


def plot_convergence(trials: pd.DataFrame):
    """Loss per evaluated trial of each cell (in the order they were written, across stages and
    seeds), with the running best and the failed trials marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    ok_all = trials[trials["state"] == "COMPLETE"]
    top = ok_all["loss"].max() if len(ok_all) else 1.0
    several = trials["cell"].nunique() > 1
    for cell, group in trials.groupby("cell", sort=False):
        who = f"{cell}: " if several else ""
        n = np.arange(1, len(group) + 1)
        ok = (group["state"] == "COMPLETE").to_numpy()
        loss = group["loss"].to_numpy(np.float64)
        ax.scatter(n[ok], loss[ok], s=6, alpha=0.35, label=f"{who}trials")
        ax.plot(n[ok], np.minimum.accumulate(loss[ok]), lw=2, label=f"{who}best so far")
        if (~ok).any():
            ax.scatter(n[~ok], np.full(int((~ok).sum()), top), marker="x", c="grey", s=10,
                       label=f"{who}failed (drawn at the top)")
        if "stage" in group and group["stage"].nunique() > 1:
            stages = group["stage"].to_numpy()
            for start in np.r_[0, np.flatnonzero(stages[1:] != stages[:-1]) + 1]:
                ax.axvline(start + 0.5, color="grey", lw=0.6, ls=":")
                ax.text(start + 0.5, 1.0, f" {group['stage'].iloc[start]}", transform=ax.get_xaxis_transform(),
                        va="top", fontsize=7, color="grey")
    if len(ok_all) and (ok_all["loss"] > 0).all() and top > 20 * ok_all["loss"].min():
        ax.set_yscale("log")  # penalties (e.g. silent candidates) would flatten the rest
    ax.set(xlabel="trials evaluated (count)", ylabel="loss (dimensionless)", title="convergence")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_parameter_spread(trials: pd.DataFrame, best: pd.DataFrame, units: dict, log: dict | None = None,
                          top_fraction: float = 0.05, bounds: dict | None = None):
    """Each fitted parameter over all trials, the best ``top_fraction`` and the best fit;
    ``bounds`` (name -> (low, high) in the parameter's unit) are drawn as dashed lines."""
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    # minor ticks of a log axis: label 2 and 5 of each decade only
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if v > 0 and f"{v:.0e}"[0] in "25" else "")
    ok = trials[trials["state"] == "COMPLETE"]
    free = list(best["free_parameters"].iloc[0])
    n_top = max(1, int(np.ceil(top_fraction * len(ok))))
    top = ok.nsmallest(n_top, "loss")
    fig, axes = plt.subplots(1, len(free), figsize=(1.7 * len(free), 3.6), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, name in zip(axes[0], free):
        unit = units.get(name) or "dimensionless"
        ax.scatter(rng.normal(0, 0.05, len(ok)), ok[name], s=4, c="lightgrey", label="all")
        ax.scatter(rng.normal(0, 0.05, len(top)), top[name], s=10, c="C0", label=f"top {top_fraction:.0%}")
        ax.scatter([0], [best[name].iloc[0]], marker="*", s=120, c=MODEL, label="best")
        for bound in (bounds or {}).get(name, ()):
            ax.axhline(bound, color="grey", lw=0.8, ls="--")
        if (log or {}).get(name):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(sparse)
        ax.set_xticks([])
        ax.set_xlim(-0.3, 0.3)
        ax.set_ylabel(f"{name} ({unit})", fontsize=9, labelpad=1)
        ax.tick_params(which="both", labelsize=7)
    axes[0][0].legend(fontsize=6, loc="best")
    fig.suptitle(f"parameters of the best {n_top} of {len(ok)} trials"
                 + (" (dashed: search bounds)" if bounds else ""), fontsize=10)
    fig.tight_layout()
    return fig


def plot_fit(traces: pd.DataFrame, set_name: str | None = None, sweep: str | None = None):
    """Recorded vs simulated V and spike rasters on one sweep (default: validation, median firing)."""
    plt = pyplot()
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
    for row, label, color in ((recorded, "recorded", DATA),
                              (simulated, f"model (trial {int(simulated['trial'])})", MODEL)):
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
                   colors=[DATA, MODEL], lineoffsets=[1, 0], linelengths=0.8)
    ax_r.set_yticks([1, 0], ["recorded", "model"])
    ax_r.set_xlabel("time (ms)")
    fig.tight_layout()
    return fig
