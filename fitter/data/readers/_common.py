"""Helpers shared by the table-like readers (npz, csv, parquet)."""

from __future__ import annotations

import numpy as np

from spikefit.data.recording import Recording, RecordingError

__all__ = ["group_cells", "require"]


def require(mapping, key: str, path, what: str):
    if key not in mapping:
        raise RecordingError(f"{path}: missing {what} {key!r}; found {sorted(mapping)}")
    return mapping[key]


def group_cells(sweeps, path) -> Recording | list[Recording]:
    """One Recording per cell id (in first-seen order); a single cell returns the Recording."""
    cells: dict[str, list] = {}
    for s in sweeps:
        cells.setdefault(s.cell, []).append(s)
    if not cells:
        raise RecordingError(f"{path}: expected at least one sweep, got none")
    recs = [Recording(tuple(v), cell=k, source=str(path)) for k, v in cells.items()]
    return recs[0] if len(recs) == 1 else recs


def scalar_str(x) -> str:
    return str(np.asarray(x).reshape(-1)[0]) if np.asarray(x).size else ""
