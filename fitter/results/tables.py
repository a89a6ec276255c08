"""Arrow tables for the result store: rows -> typed, unit-annotated tables (no I/O).

Private to :mod:`spikefit.results.store`, which owns the column contracts and does all the writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from spikefit.units import parse_unit

Rows = Iterable[Mapping[str, Any]] | pd.DataFrame
Spec = tuple[pa.DataType, str | None]  # (Arrow type, unit or None)


def records(rows: Rows, where: str, *, empty_ok: bool = True) -> list[dict[str, Any]]:
    """Rows (dicts or a DataFrame) as a list of dicts of plain Python values."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise TypeError(f"{where}: row {i} must be a dict, got {type(r).__name__}")
        out.append({k: clean(v) for k, v in r.items()})
    if not out and not empty_ok:
        raise ValueError(f"{where}: got no rows; write at least one")
    return out


def column_specs(rows: list[dict[str, Any]], fixed: Mapping[str, Spec], units: Mapping[str, str],
                 where: str, patterns: Mapping[str, tuple], reserved: Iterable[str],
                 ) -> dict[str, Spec]:
    """Column -> (Arrow type, unit): fixed columns, parameters (float64 in their unit), then
    the other keys seen in ``rows`` that match one of ``patterns``."""
    specs = dict(fixed)
    specs.update({n: (pa.float64(), u) for n, u in check_units(units, reserved).items()})
    for key in sorted({k for r in rows for k in r} - set(specs)):
        spec = next((spec for match, spec in patterns.values() if match(key)), None)
        if spec is None:
            raise ValueError(f"{where}: unknown column {key!r}; expected one of {list(fixed)}, "
                             f"a parameter named in units {sorted(units)} or {list(patterns)}")
        specs[key] = spec
    return specs


def check_rows(rows: list[dict[str, Any]], where: str, required: tuple[str, ...],
               allowed: Mapping[str, tuple[str, ...]]) -> None:
    for i, r in enumerate(rows):
        for key in required:
            if r.get(key) is None:
                raise ValueError(f"{where}: row {i} has no {key!r}; every row needs it")
        for key, values in allowed.items():
            if r.get(key) not in values:
                raise ValueError(
                    f"{where}: row {i}: {key} must be one of {list(values)}, got {r.get(key)!r}"
                )


def clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return v  # NaN stays NaN in float columns (a FAIL trial's loss)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if v is pd.NaT:
        return None
    return v


def check_units(units: Mapping[str, str], reserved: Iterable[str]) -> dict[str, str]:
    if not isinstance(units, Mapping):
        raise TypeError(f"units must map column -> unit string, got {type(units).__name__}")
    clash = sorted(set(units) & set(reserved))
    if clash:
        raise ValueError(f"units: parameter names {clash} clash with reserved result columns")
    for name, unit in units.items():
        try:
            parse_unit(unit)
        except (TypeError, ValueError) as err:
            raise ValueError(f"units: column {name!r}: {err}") from None
    return dict(units)


def unit_field(name: str, dtype: pa.DataType, unit: str | None) -> pa.Field:
    return pa.field(name, dtype, metadata=None if unit is None else {"unit": unit})


def build_table(rows: list[dict[str, Any]], specs: Mapping[str, Spec], where: str) -> pa.Table:
    """A table with exactly the ``specs`` columns (missing values null), units in metadata."""
    schema = pa.schema([unit_field(n, t, u) for n, (t, u) in specs.items()])
    arrays = []
    for f in schema:
        values = [r.get(f.name) for r in rows]
        if pa.types.is_timestamp(f.type):
            values = [utc(v) for v in values]
        elif not pa.types.is_floating(f.type):  # pandas' NaN for a missing value -> null
            values = [None if isinstance(v, float) and v != v else v for v in values]
        try:
            arrays.append(pa.array(values, type=f.type, from_pandas=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as err:
            seen = next((v for v in values if v is not None), None)
            raise ValueError(f"{where}: column {f.name!r} must hold {f.type}, got values like "
                             f"{seen!r} ({err})") from None
    return pa.Table.from_arrays(arrays, schema=schema)


def utc(v: Any) -> Any:
    if v is None:
        return None
    ts = pd.Timestamp(v)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def _unit(f: pa.Field) -> str | None:
    meta = f.metadata or {}
    return meta[b"unit"].decode() if b"unit" in meta else None


def conform(table: pa.Table, reference: pa.Schema, folder: str) -> pa.Table:
    """``table`` in the column order and types of ``reference`` (missing columns null);
    extra columns, other types or other units are a ``ValueError``."""
    extra = sorted(set(table.schema.names) - set(reference.names))
    if extra:
        raise ValueError(
            f"{folder}: columns {extra} are not in the parts already written ({reference.names}); "
            "one job's parts share one schema"
        )
    arrays = []
    for f in reference:
        if f.name in table.schema.names:
            col = table.column(f.name)
            if col.type != f.type:
                raise ValueError(
                    f"{folder}: column {f.name!r} is {col.type}, earlier parts have {f.type}"
                )
            mine = _unit(table.schema.field(f.name))
            if mine != _unit(f):
                raise ValueError(
                    f"{folder}: column {f.name!r} has unit {mine!r}, "
                    f"earlier parts have {_unit(f)!r}"
                )
            arrays.append(col)
        else:
            arrays.append(pa.nulls(len(table), f.type))
    return pa.Table.from_arrays(arrays, schema=reference)


def build_columns(columns: Mapping[str, Any], specs: Mapping[str, Spec], n: int, where: str) -> pa.Table:
    """A table with exactly the ``specs`` columns from ``columns`` (name -> ``n`` values).

    A list column may be given as a 2-D array ``[n, k]`` (one row of ``k`` values per row); a
    column missing from ``columns`` is null. Built once per batch, without a Python dict per row.
    """
    schema = pa.schema([unit_field(name, typ, u) for name, (typ, u) in specs.items()])
    arrays = []
    for f in schema:
        values = columns.get(f.name)
        try:
            arrays.append(pa.nulls(n, f.type) if values is None else _column(values, f.type, n))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: column {f.name!r} must hold {n} values of {f.type} ({err})") from None
    return pa.Table.from_arrays(arrays, schema=schema)


def _column(values: Any, typ: pa.DataType, n: int) -> pa.Array:
    if pa.types.is_list(typ) and isinstance(values, np.ndarray) and values.ndim == 2:
        if values.shape[0] != n:
            raise ValueError(f"expected {n} rows, got {values.shape[0]}")
        flat = pa.array(values.reshape(-1), type=typ.value_type)
        offsets = pa.array(np.arange(0, values.size + 1, max(values.shape[1], 1) if values.size else 1,
                                     dtype=np.int32)[: n + 1], type=pa.int32())
        return pa.ListArray.from_arrays(offsets, flat, type=typ)
    arr = pa.array(values, type=typ, from_pandas=False)
    if len(arr) != n:
        raise ValueError(f"expected {n} rows, got {len(arr)}")
    return arr
