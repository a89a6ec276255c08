"""``write_report``: every figure of a results folder as PNG and one HTML page per cell."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from spikefit.results.report import figures, page, step_figures, sweep_figures
from spikefit.results.report.load import load_results
from spikefit.results.report.steps import sweep_summary

__all__ = ["write_report", "parameter_bounds"]

_CAPTIONS = {
    "fi": ("f-I curve", "Mean firing rate in the step window against the step amplitude read from the "
           "injected current; recording black, model red; training filled circles, validation open squares."),
    "voltages_train": ("Voltage, training sweeps", "Every training sweep: recorded V (black) over the model's V "
                       "(red), shared axes, the step shaded. The model's spikes are a jump to its cut-off."),
    "voltages_validation": ("Voltage, validation sweeps", "As above, on the sweeps the fit never saw."),
    "rasters": ("Spike rasters", "Every sweep ordered by step amplitude: recorded spikes (black, upper tick) "
                "and the model's (red, lower tick)."),
    "scores": ("Per-sweep scores", "Spike counts in the step, the model's relative count error, and on "
               "validation sweeps the model's Gamma against the recordings beside the recordings' own "
               "reliability Gamma_int (from the validation table)."),
    "passive": ("Passive response", "IV: the steady-state V at the end of sub-threshold steps and the pre-step "
                "baseline (0 pA), with the input resistance of each line. Right: the baseline of every sweep."),
    "convergence": ("Convergence", "Loss of every trial of this cell in the order evaluated, the running best "
                    "and failed trials; dotted lines separate search stages."),
    "parameter_spread": ("Parameter spread", "Every fitted parameter over all trials, the best 5% and the "
                         "chosen fit, in the parameter's unit."),
}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "cell"


def parameter_bounds(manifest: dict, units: dict) -> dict:
    """Fitted parameter -> (low, high) in its result unit, from the job spec in the manifest."""
    from spikefit.units import to_unit

    out = {}
    for name, p in (manifest.get("spec", {}).get("params") or {}).items():
        if name in units and "low" in p and "high" in p:
            out[name] = tuple(to_unit(p[k], units[name], key=f"params.{name}.{k}") for k in ("low", "high"))
    return out


def write_report(root: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write the report of the results folder ``root`` into ``out`` (default ``<root>/report``):
    ``index.html`` and per cell ``<cell>/report.html`` with its PNG figures and ``sweeps.csv``.
    Returns the written paths, pages first."""
    r = load_results(root)
    out = Path(out) if out is not None else Path(root) / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary = sweep_summary(r["traces"], r["validation"])
    log = {k: v.get("log", False) for k, v in r["manifest"]["spec"]["params"].items()}
    bounds = parameter_bounds(r["manifest"], r["units"])
    job = str(r["manifest"].get("job") or r["best"]["job"].iloc[0])
    pages, pngs, index = [], [], []
    for _, best in r["best"].iterrows():
        cell = str(best["cell"])
        folder = out / _safe(cell)
        folder.mkdir(exist_ok=True)
        rows = summary[summary["cell"] == cell]
        notes = []
        if not np.isfinite(rows["amplitude_pA"]).any():
            notes.append("The traces hold no injected current (results written before the I column): "
                         "amplitudes are unknown, spikes are counted over the whole sweep and the passive "
                         "response (IV, baseline) is not drawn. Run the job again to get them.")
        drawn = _figures(r, rows, cell, best, log, bounds)
        for name, fig in drawn.items():
            path = folder / f"{name}.png"
            fig.savefig(path, dpi=100)
            figures.pyplot().close(fig)
            pngs.append(path)
        rows.to_csv(folder / "sweeps.csv", index=False)
        listed = [(f"{n}.png", *_CAPTIONS[n]) for n in drawn]
        html = page.cell_page(job, best, r["units"], rows, listed, bounds=bounds, notes=notes)
        (folder / "report.html").write_text(html, encoding="utf-8")
        pages.append(folder / "report.html")
        index.append({"cell": cell, "href": f"{folder.name}/report.html", "n_sweeps": len(rows),
                      "train_loss": best.get("train_loss"), "validation_loss": best.get("validation_loss")})
    (out / "index.html").write_text(page.index_page(job, r["manifest"], index), encoding="utf-8")
    return [out / "index.html", *pages, *pngs]


def _figures(r: dict, rows, cell: str, best, log: dict, bounds: dict) -> dict:
    trials = r["trials"][r["trials"]["cell"] == cell]
    drawn = {"fi": step_figures.plot_fi(rows)}
    for set_name in ("train", "validation"):
        if (rows["set"] == set_name).any():
            drawn[f"voltages_{set_name}"] = sweep_figures.plot_voltages(r["traces"], rows, set_name)
    drawn["rasters"] = sweep_figures.plot_rasters(r["traces"], rows)
    drawn["scores"] = step_figures.plot_scores(rows)
    if np.isfinite(rows["amplitude_pA"]).any():  # without the current there is no step to read
        drawn["passive"] = step_figures.plot_passive(rows)
    drawn["convergence"] = figures.plot_convergence(trials)
    drawn["parameter_spread"] = figures.plot_parameter_spread(trials, best.to_frame().T, r["units"], log,
                                                              bounds=bounds)
    return drawn
