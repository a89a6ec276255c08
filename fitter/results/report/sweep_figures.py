"""Figures of every sweep of one cell: voltage small multiples and spike rasters, model vs recording.

Sweeps are ordered by step amplitude (the order of
:func:`~spikefit.results.report.steps.sweep_summary`); the step window is shaded.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spikefit.results.report._style import DATA, MODEL, pyplot

__all__ = ["plot_voltages", "plot_rasters", "sweep_label", "envelope"]

_NCOLS = 4


def sweep_label(row) -> str:
    """``"sweep 326, 183 pA"`` (the amplitude when known)."""
    amp = row["amplitude_pA"]
    return f"sweep {row['sweep']}, {amp:.0f} pA" if np.isfinite(amp) else f"sweep {row['sweep']}"


def _pairs(traces: pd.DataFrame, cell: str, set_name: str):
    part = traces[(traces["cell"] == cell) & (traces["set"] == set_name)]
    return {(sweep, kind): row for (sweep, kind), row in part.set_index(["sweep", "kind"]).iterrows()}


def envelope(v: np.ndarray, dt_ms: float, points: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Time (ms) and V of a trace drawn with at most ~2 * ``points`` vertices: the minimum and
    maximum of each block of samples, so that every spike peak and trough stays in the figure."""
    n = v.size
    m = n // points
    if m < 2:
        return np.arange(n) * dt_ms, v
    k = n // m
    blocks = v[: k * m].reshape(k, m)
    lo, hi = blocks.argmin(axis=1), blocks.argmax(axis=1)
    at = np.sort(np.stack([lo, hi], axis=1), axis=1) + (np.arange(k) * m)[:, None]  # in time order
    t = at.reshape(-1)
    t = np.r_[t, np.arange(k * m, n)] if k * m < n else t  # the tail that does not fill a block
    if t[-1] != n - 1:
        t = np.r_[t, n - 1]  # the line ends where the sweep ends
    y = v[t]
    return t * dt_ms, y


def _time_unit(duration_ms: float) -> tuple[float, str]:
    return (1000.0, "s") if duration_ms >= 2000.0 else (1.0, "ms")


def plot_voltages(traces: pd.DataFrame, summary: pd.DataFrame, set_name: str):
    """One panel per sweep of ``set_name`` (``summary``: one cell's rows): the recorded V and the
    model's V overlaid, shared axes, the amplitude in each panel's title."""
    plt = pyplot()
    rows = summary[summary["set"] == set_name]
    if rows.empty:
        raise ValueError(f"summary: no {set_name!r} sweeps; sets present: {sorted(set(summary['set']))}")
    cell = rows["cell"].iloc[0]
    pairs = _pairs(traces, cell, set_name)
    n = len(rows)
    ncols = min(_NCOLS, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.1 * nrows + 0.8), sharex=True,
                             sharey=True, squeeze=False)
    durations = [len(r["V"]) * float(r["dt_ms"]) for r in pairs.values() if r["V"] is not None]
    scale, unit = _time_unit(max(durations, default=0.0))
    lows, highs = [], []
    for ax, (_, row) in zip(axes.flat, rows.iterrows()):
        ax.axvspan(row["onset_ms"] / scale, row["offset_ms"] / scale, color="0.93", lw=0)
        for kind, color, lw, z in (("simulated", MODEL, 0.6, 2), ("recorded", DATA, 0.5, 3)):
            tr = pairs.get((row["sweep"], kind))
            if tr is None or tr["V"] is None:
                continue
            v = np.asarray(tr["V"], np.float64)
            t, y = envelope(v, float(tr["dt_ms"]))
            ax.plot(t / scale, y, color=color, lw=lw, zorder=z,
                    label="recording" if kind == "recorded" else "model")
            if kind == "recorded":
                lows.append(float(v.min()))
                highs.append(float(v.max()))
        ax.set_title(sweep_label(row), fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    if lows:  # the model's spikes are a step to the cut-off; show the recorded range
        lo, hi = min(lows), max(highs)
        pad = 0.08 * (hi - lo)
        axes[0, 0].set_ylim(lo - pad, hi + pad)
    for ax in axes[-1]:
        ax.set_xlabel(f"time ({unit})", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("V (mV)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="upper right", fontsize=8, ncol=2)
    fig.suptitle(f"{cell}: {set_name} sweeps, recording vs model (step shaded)", fontsize=10, x=0.02,
                 y=0.995, ha="left")
    width, height = fig.get_size_inches()  # fixed margins (inches): tight_layout is slow on many panels
    fig.subplots_adjust(left=0.65 / width, right=1 - 0.1 / width, bottom=0.5 / height, top=1 - 0.55 / height,
                        wspace=0.08, hspace=0.3)
    return fig


def plot_rasters(traces: pd.DataFrame, summary: pd.DataFrame):
    """Spike rasters of every sweep (``summary``: one cell's rows), one column per set, sweeps
    ordered by amplitude: the recording (black) above the model (red) on each row."""
    plt = pyplot()
    cell = summary["cell"].iloc[0]
    sets = list(dict.fromkeys(summary["set"]))
    n_max = max(int((summary["set"] == s).sum()) for s in sets)
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 0.32 * n_max + 1.6), squeeze=False,
                             sharex=True)
    end = float(np.nanmax(traces.loc[traces["cell"] == cell].apply(
        lambda r: len(r["V"]) * float(r["dt_ms"]) if r["V"] is not None else np.nan, axis=1)))
    scale, unit = _time_unit(end if np.isfinite(end) else 0.0)
    for ax, set_name in zip(axes[0], sets):
        rows = summary[summary["set"] == set_name].reset_index(drop=True)
        pairs = _pairs(traces, cell, set_name)
        ax.axvspan(rows["onset_ms"].median() / scale, rows["offset_ms"].median() / scale, color="0.93", lw=0)
        for k, row in rows.iterrows():
            for kind, color, dy in (("recorded", DATA, 0.2), ("simulated", MODEL, -0.2)):
                tr = pairs.get((row["sweep"], kind))
                if tr is None:
                    continue
                t = np.asarray(tr["spike_times_ms"], np.float64) / scale
                ax.vlines(t, k + dy - 0.17, k + dy + 0.17, color=color, lw=0.8)
        ax.set_yticks(range(len(rows)), [sweep_label(r) for _, r in rows.iterrows()], fontsize=7)
        ax.set_ylim(-0.6, max(n_max, 1) - 0.4)
        ax.set_xlim(0, end / scale if np.isfinite(end) else None)
        ax.set(xlabel=f"time ({unit})", ylabel="sweep, step amplitude (pA)",
               title=f"{set_name}: recording (black, upper) vs model (red, lower)")
        ax.title.set_fontsize(9)
    fig.suptitle(f"{cell}: spike rasters, sweeps by step amplitude", fontsize=10)
    fig.tight_layout()
    return fig
