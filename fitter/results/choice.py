"""``models.parquet``: the models of a model-choice job side by side, one row per cell and model,
and which one was chosen (:mod:`spikefit.execution.choice`)."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import pyarrow as pa

from spikefit.results.store import ResultStore

__all__ = ["MODELS_TABLE", "write_models", "read_models"]

MODELS_TABLE = "models.parquet"


def write_models(store: ResultStore, rows: Sequence[dict[str, Any]]) -> str:
    """Write the comparison rows (atomically: a reader sees the old table or the new one)."""
    table = pa.Table.from_pandas(pd.DataFrame(list(rows)), preserve_index=False)
    target = store.path(MODELS_TABLE)
    store._write_table(target, table)
    return target


def read_models(store: ResultStore) -> pd.DataFrame:
    return store._read_file(MODELS_TABLE)
