"""``spikefit results DIR``: best parameters and scores per cell, read from the Parquet results."""

from __future__ import annotations

import argparse

__all__ = ["register", "print_summary", "summary_frame"]


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
        _print_validation(console, root, row["cell"])


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
    if args.json:
        best, _ = summary_frame(args.dir)
        print(best.to_json(orient="records", indent=2, default_handler=str))
        return 0
    print_summary(args.dir)
    return 0
