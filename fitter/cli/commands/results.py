"""``spikefit results DIR``: best parameters and scores per cell, read from the Parquet results.

Trial counts are the rows of the trials table (COMPLETE and FAIL); the studies' own count, which
also holds trials asked before a restart and asked again, is shown beside them.
"""

from __future__ import annotations

import argparse

__all__ = ["register", "print_summary", "summary_frame", "counts_line"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="summarise a results folder (best fit per cell)")
    p.add_argument("dir", help="results folder or pyarrow URI")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=_main)


def summary_frame(root: str):
    """The ``best`` table with trial counts per cell; ``attrs['units']`` holds the units."""
    from spikefit.results.store import ResultStore

    store = ResultStore(root)
    best = store.read_best()
    trials = store.read_trials()
    counts = trials.groupby("cell")["state"].value_counts().unstack(fill_value=0)
    best = best.merge(counts.rename(columns=lambda c: f"n_{c.lower()}"), left_on="cell",
                      right_index=True, how="left")
    best.attrs["units"] = store.read_best().attrs.get("units", {})
    return best, store.read_manifest()


def print_summary(root: str) -> None:
    from rich.console import Console
    from rich.table import Table

    best, manifest = summary_frame(root)
    units = best.attrs.get("units", {})
    console = Console()
    console.print(f"[bold]{manifest.get('job')}[/]  status {manifest.get('status')}  "
                  f"{manifest.get('start')} -> {manifest.get('end')}")
    console.print(counts_line(root, manifest), highlight=False)
    for _, row in best.iterrows():
        stage = f"  stage {row['stage']} seed {row['seed']}" if row.get("stage") else ""
        console.print(f"[bold]cell {row['cell']}  model {row['model']}  best trial {row['trial']}{stage}[/]")
        table = Table()
        table.add_column("parameter")
        table.add_column("value", justify="right")
        table.add_column("unit")
        table.add_column("fitted", justify="center")
        for name in row["free_parameters"]:
            table.add_row(name, f"{row[name]:.4g}", units.get(name, ""), "yes")
        scores = [c for c in best.columns if c.startswith(("train_", "validation_", "holdout_", "n_"))]
        for c in scores:
            v = row[c]
            table.add_row(c, f"{v:.4g}" if isinstance(v, float) else str(v), "", "")
        console.print(table)
        if row.get("chosen_by"):
            console.print(f"  chosen by {row['chosen_by']}")
        passive = (manifest.get("passive") or {}).get(row["cell"])
        if passive:
            console.print(f"  passive stage: R {passive['R_MOhm']:.1f} MOhm, tau {passive['tau_ms']:.2f} ms, V_rest "
                          f"{passive['V_rest_mV']:.2f} mV (rms error {passive['rmse_mV']:.2f} mV over "
                          f"{passive['n_samples']} sub-threshold samples); later stages searched within "
                          + ", ".join(f"{k} [{lo:.4g}, {hi:.4g}] {u}" for k, (lo, hi, u) in passive["bounds"].items()),
                          highlight=False)
        change = row.get("validation_step_change")
        if change is not None and change == change:
            flag = ("[bold red]STEP-SIZE DEPENDENT[/]: the scores change by more than 0.03 at dt / 4; fit at a finer "
                    "dt_ms before re-using these parameters" if row.get("validation_step_dependent") else
                    "converged: within 0.03 at dt / 4")
            console.print(f"  step-size check: largest score change {change:.3f} -> {flag}")
        if not _print_steps(console, root, row["cell"]):  # steps: judged by counts and rates, not Gamma
            _print_validation(console, root, row["cell"])


def step_scores(root: str, cell: str) -> dict | None:
    """The validation step-protocol measures of ``cell`` in the folder ``root``
    (:func:`spikefit.results.report.steps.step_scores`), None when its sweeps are not steps."""
    from spikefit.results.report.steps import step_scores as scores_of
    from spikefit.results.store import ResultStore

    try:
        traces = ResultStore(root).read_traces()
    except FileNotFoundError:  # a run that stopped before its final phase
        return None
    return scores_of(traces, cell)


def _print_steps(console, root: str, cell: str) -> bool:
    """Per validation step: amplitude, spikes and rates, model vs data; then the means."""
    from rich.table import Table

    scores = step_scores(root, cell)
    if not scores:
        return False
    table = Table(title=f"validation steps of {cell}")
    for c in ("sweep", "amplitude (pA)", "spikes model/data", "rate model/data (Hz)", "baseline model/data (mV)"):
        table.add_column(c, justify="right")
    for _, r in scores["rows"].iterrows():
        table.add_row(str(r["sweep"]), f"{r['amplitude_pA']:.0f}", f"{r['n_model']}/{r['n_data']}",
                      f"{r['rate_model_Hz']:.1f}/{r['rate_data_Hz']:.1f}",
                      f"{r['baseline_model_mV']:.1f}/{r['baseline_data_mV']:.1f}")
    console.print(table)
    if scores:
        console.print(f"  step protocol, validation ({scores['n_steps']} steps): spike-count error "
                      f"{100 * scores['count_error']:.1f}% (mean |model - data| / data), f-I error "
                      f"{scores['fi_error_Hz']:.2f} Hz (mean |rate model - rate data| in the step), baseline error "
                      f"{scores['baseline_error_mV']:.2f} mV (pre-step voltage)", highlight=False)
    if scores["repeat_count_error"] == scores["repeat_count_error"]:
        console.print(f"  the recording's training series predicts its validation series with a spike-count error of "
                      f"{100 * scores['repeat_count_error']:.1f}%: the cell's own repeat-to-repeat change", highlight=False)
    return True


def print_models(root: str) -> None:
    """The models of a model-choice job side by side, per cell, the chosen one marked."""
    from rich.console import Console
    from rich.table import Table

    from spikefit.results.choice import read_models
    from spikefit.results.store import ResultStore

    models = read_models(ResultStore(root))
    console = Console()
    cols = [c for c in ("holdout_loss", "train_loss", "validation_gamma_mean", "validation_ratio_mean",
                        "validation_ratio_fine_mean", "validation_count_error_mean", "validation_step_change")
            if c in models]
    for cell, rows in models.groupby("cell", sort=True):
        table = Table(title=f"model choice for {cell} (on the held-out end of the training sweeps)")
        for c in ("model", *cols, "chosen"):
            table.add_column(c, justify="left" if c == "model" else "right")
        for _, r in rows.iterrows():
            table.add_row(f"{r['label']} ({r['model']})", *(f"{r[c]:.4f}" for c in cols), "<-" if r["chosen"] else "")
        console.print(table)


def counts_line(root: str, manifest: dict) -> str:
    """``trials: N in the table (C complete, F failed); the studies hold S``."""
    from spikefit.results.store import ResultStore

    counts = ResultStore(root).trial_counts()
    n = counts["COMPLETE"] + counts["FAIL"]
    line = f"trials: {n} in the table ({counts['COMPLETE']} complete, {counts['FAIL']} failed)"
    if not manifest.get("n_trials"):  # a run that failed before its studies opened
        return line
    study = sum(manifest["n_trials"].values())
    extra = f" ({study - n} asked before a restart and asked again)" if study > n else ""
    return f"{line}; the studies hold {study}{extra}"


def _print_validation(console, root: str, cell: str) -> None:
    """Per validation stimulus: Gamma (model vs every repeat), Gamma_int, their ratio, spike counts."""
    from rich.table import Table

    from spikefit.results.store import ResultStore

    store = ResultStore(root)
    if not store.has("validation.parquet"):
        return
    v = store.read_validation()
    v = v[v["cell"] == cell]
    if v.empty:
        return
    console.print(f"validation of {cell} (Gamma with delta = {v['delta_ms'].iloc[0]:g} ms)")
    table = Table()
    for col in ("stimulus", "Gamma", "Gamma_int", "Gamma/Gamma_int", "spikes model/data"):
        table.add_column(col, justify="left" if col == "stimulus" else "right")
    for _, r in v.iterrows():
        table.add_row(str(r["stimulus"]), f"{r['gamma']:.3f}", f"{r['gamma_int']:.3f}", f"{r['ratio']:.3f}",
                      f"{r['n_model']:.0f}/{r['n_data']:.0f}")
    console.print(table)


def _main(args: argparse.Namespace) -> int:
    from spikefit.results.choice import MODELS_TABLE, read_models
    from spikefit.results.store import ResultStore

    store = ResultStore(args.dir)
    if store.has(MODELS_TABLE) and not store.has("best.parquet"):  # a model-choice job's folder
        models = read_models(store)
        if args.json:
            print(models.to_json(orient="records", indent=2, default_handler=str))
            return 0
        for out in dict.fromkeys(models["output"]):
            print_summary(out)
        print_models(args.dir)
        return 0
    if args.json:
        best, _ = summary_frame(args.dir)
        print(best.to_json(orient="records", indent=2, default_handler=str))
        return 0
    print_summary(args.dir)
    return 0
