"""Reading a results folder for the report: every table as a DataFrame, with the units."""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_results"]


def load_results(root: str | Path) -> dict:
    """``trials``, ``best``, ``traces``, ``validation`` (None when the job had no validation
    set) frames, the ``manifest`` and the parameters' ``units``."""
    from spikefit.results.store import ResultStore

    store = ResultStore(root)
    best = store.read_best()
    validation = store.read_validation() if store.has("validation.parquet") else None
    return {"trials": store.read_trials(), "best": best, "traces": store.read_traces(),
            "validation": validation, "manifest": store.read_manifest(),
            "units": best.attrs.get("units", {})}
