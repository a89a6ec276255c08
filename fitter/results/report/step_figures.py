"""Figures of a step protocol, from one cell's :func:`~spikefit.results.report.steps.sweep_summary`:
the f-I curve, the passive response (IV and pre-step baseline) and the per-sweep scores.

Recording black, model red; training sweeps filled circles, validation sweeps open squares.
Each curve is a line whose label names it (``"data, train"``, ``"model, validation"``), so its
points can be read back from the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spikefit.results.report._style import DATA, MODEL, marker, pyplot
from spikefit.results.report.steps import input_resistance

__all__ = ["plot_fi", "plot_passive", "plot_scores", "amplitude_axis"]

_SOURCES = (("data", DATA), ("model", MODEL))


def _one_cell(summary: pd.DataFrame) -> str:
    cells = list(dict.fromkeys(summary["cell"]))
    if len(cells) != 1:
        raise ValueError(f"summary: expected the sweeps of one cell, got cells {cells}; "
                         "filter it with summary[summary['cell'] == name]")
    return cells[0]


def amplitude_axis(summary: pd.DataFrame) -> tuple[np.ndarray, str]:
    """x values and label for per-sweep plots: the step amplitude (pA) when the traces held the
    current, else the sweep's position in the set."""
    amp = summary["amplitude_pA"].to_numpy(np.float64)
    if np.isfinite(amp).any():
        return amp, "step amplitude (pA)"
    return summary.groupby("set").cumcount().to_numpy(np.float64), "sweep (position in its set)"


def _window_text(summary: pd.DataFrame) -> str:
    on, off = summary["onset_ms"].median(), summary["offset_ms"].median()
    return f"step {on / 1000:.3g}-{off / 1000:.3g} s"


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="grey",
            wrap=True)


def plot_fi(summary: pd.DataFrame):
    """Mean firing rate in the step window (Hz) against the step amplitude (pA), recording and
    model, training and validation sweeps."""
    plt = pyplot()
    cell = _one_cell(summary)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    x, xlabel = amplitude_axis(summary)
    for set_name, part in summary.assign(_x=x).groupby("set", sort=False):
        part = part.sort_values("_x")
        for source, color in _SOURCES:
            ax.plot(part["_x"], part[f"rate_{source}_Hz"], lw=1, ms=6, label=f"{source}, {set_name}",
                    **marker(set_name, color))
    if not np.isfinite(summary["amplitude_pA"]).any():
        ax.set_title(f"f-I: {cell} (no current in the traces: sweeps in order)", fontsize=9)
        ax.set(xlabel=xlabel, ylabel="firing rate over the whole sweep (Hz)")
    else:
        ax.set_title(f"f-I: {cell}, {_window_text(summary)}", fontsize=10)
        ax.set(xlabel=xlabel, ylabel="firing rate in the step (Hz)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_passive(summary: pd.DataFrame):
    """Left: IV, the steady-state V at the end of each sub-threshold step (and the pre-step
    baseline at 0 pA) against the step amplitude, with the input resistance of each. Right: the
    pre-step baseline of every sweep, recording and model."""
    plt = pyplot()
    cell = _one_cell(summary)
    fig, (ax_iv, ax_b) = plt.subplots(1, 2, figsize=(10, 4))
    x, xlabel = amplitude_axis(summary)
    sub = summary[summary["subthreshold"] & np.isfinite(x)]
    r_in = {}
    for source, color in _SOURCES:
        base = float(summary[f"baseline_{source}_mV"].mean())
        keep = sub if source == "data" else sub[sub["model_subthreshold"]]
        r_in[source] = input_resistance(keep["amplitude_pA"], base, keep[f"steady_{source}_mV"])
        xs = np.r_[0.0, keep["amplitude_pA"].to_numpy(np.float64)]
        ys = np.r_[base, keep[f"steady_{source}_mV"].to_numpy(np.float64)]
        order = np.argsort(xs)
        ax_iv.plot(xs[order], ys[order], "o-", color=color, ms=6,
                   label=f"{source}: R_in {r_in[source]:.0f} MOhm" if np.isfinite(r_in[source])
                   else f"{source}: baseline only (no step without spikes)")
    fired = sub[~sub["model_subthreshold"]]
    if len(fired):
        ax_iv.plot(fired["amplitude_pA"], fired["steady_model_mV"], "x", color=MODEL, ms=8,
                   label="model fires here (not in R_in)")
    if sub.empty:
        _no_data(ax_iv, f"no sub-threshold step: all {len(summary)} sweeps fire\n(only the 0 pA baseline)")
    ax_iv.set(xlabel=xlabel if np.isfinite(summary["amplitude_pA"]).any() else "step amplitude (pA)",
              ylabel="steady-state V, end of step (mV)",
              title=f"IV (sub-threshold steps): {cell}")
    ax_iv.legend(fontsize=8)
    ax_iv.grid(alpha=0.3)
    offset = float((summary["baseline_model_mV"] - summary["baseline_data_mV"]).mean())
    for set_name, part in summary.assign(_x=x).groupby("set", sort=False):
        part = part.sort_values("_x")
        for source, color in _SOURCES:
            ax_b.plot(part["_x"], part[f"baseline_{source}_mV"], lw=0.8, ms=5,
                      label=f"{source}, {set_name}", **marker(set_name, color))
    ax_b.set(xlabel=xlabel, ylabel="pre-step baseline V (mV)",
             title=f"baseline: model - data = {offset:+.1f} mV (mean)")
    ax_b.legend(fontsize=8)
    ax_b.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_scores(summary: pd.DataFrame):
    """Per sweep: spike count in the step (recording and model), the model's relative count
    error (%), and on validation sweeps the model's Gamma and the recordings' Gamma_int."""
    plt = pyplot()
    cell = _one_cell(summary)
    fig, (ax_n, ax_e, ax_g) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    x, xlabel = amplitude_axis(summary)
    frame = summary.assign(_x=x)
    for set_name, part in frame.groupby("set", sort=False):
        part = part.sort_values("_x")
        for source, color in _SOURCES:
            ax_n.plot(part["_x"], part[f"n_{source}"], lw=0.8, ms=5, label=f"{source}, {set_name}",
                      **marker(set_name, color))
        ax_e.plot(part["_x"], 100.0 * part["count_error"], ls="none", ms=6, label=f"model, {set_name}",
                  **marker(set_name, MODEL))
    ax_n.set(ylabel="spikes in the step (count)", title=f"per-sweep scores: {cell}")
    ax_n.legend(fontsize=8)
    ax_e.axhline(0, color="grey", lw=0.8)
    ax_e.set(ylabel="(model - data) / data (%)")
    ax_e.legend(fontsize=8)
    val = frame[(frame["set"] == "validation") & np.isfinite(frame["gamma"])].sort_values("_x")
    if val.empty:
        _no_data(ax_g, "no validation metrics (no validation set, or no validation table)")
    else:
        ax_g.plot(val["_x"], val["gamma"], "s-", color=MODEL, ms=5, label="Gamma (model vs recordings)")
        ax_g.plot(val["_x"], val["gamma_int"], "s--", color=DATA, ms=5, mfc="white",
                  label="Gamma_int (recordings vs each other)")
        ax_g.axhline(0, color="grey", lw=0.8)
        ax_g.legend(fontsize=8)
    ax_g.set(xlabel=xlabel, ylabel="coincidence (dimensionless)")
    for ax in (ax_n, ax_e, ax_g):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
