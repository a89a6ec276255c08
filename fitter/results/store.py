"""The result store: spikefit's only Parquet writer.

One job's results folder, on a local path or any pyarrow filesystem URI (``file://``,
``s3://``, ``gs://``, ...)::

    <root>/manifest.json                 job spec, versions, seeds, start/end, status (JSON)
    <root>/trials/part-000001.parquet    one row per trial, appended a batch per part
    <root>/best.parquet                  one row per (cell, model): the best fit
    <root>/traces/part-000001.parquet    recorded and simulated traces of the best fits
    <root>/validation.parquet            per validation stimulus: Gamma, Gamma_int, their ratio

Every write is atomic: on a local filesystem the file is written under a hidden temporary
name (``.<name>.tmp-<uuid>``) in the same folder and renamed; on object stores the file is
buffered and sent as one PUT. A run stopped at any moment leaves every file already written
readable and no partial file under a final name; a write that fails (disk full, read-only
folder) is an :class:`~spikefit.errors.OutputError` naming the file, with its temporary file
removed. ``pandas.read_parquet("<root>/trials")``
reads all parts (hidden temporary names are skipped); all parts of a table share one schema,
fixed by the first part written.

Units live in the Arrow schema: each field that has one carries ``{"unit": "<unit>"}`` field
metadata (parameters in their model unit, ``duration_s`` in ``s``, ...); read them back with
:func:`column_units`. ``read_*`` frames also carry them in ``DataFrame.attrs["units"]``.

**trials** columns (one row per trial):

- ``job``, ``cell``, ``model``, ``stage`` (string: the search stage, ``main`` for a
  one-stage job), ``seed`` (int64, the stage's study seed), ``trial`` (int64, the Optuna
  trial number within its study: the cell, stage and seed), ``batch`` (int64), ``worker``
  (string)
- one float64 column per fitted parameter, named as in the model (``tau``, ``V_T``, ``a``),
  with its unit in the field metadata
- ``loss`` (float64); with several objectives also ``loss_0`` .. ``loss_{m-1}`` (float64)
- ``sweeps`` (list<string>): the sweep ids scored, in order; per-sweep metrics as list
  columns aligned with it, named ``per_sweep_<metric>`` (list<float64>, e.g.
  ``per_sweep_gamma``) so cells with different sweep counts share one schema
- ``state`` (string: ``"COMPLETE"`` or ``"FAIL"``), ``fail_reason`` (string, null unless FAIL)
- ``duration_s`` (float64, unit ``s``), ``datetime`` (timestamp[us, UTC], when told)

**best** columns (one row per (cell, model), rewritten whole on each update):
``job``, ``cell``, ``model``, ``trial`` (int64), ``stage``, ``seed`` (the study the fit
came from) and ``chosen_by`` (why this candidate: held-out or training loss), every model
parameter, fitted and fixed (float64, unit in metadata), ``free_parameters`` (list<string>:
which were fitted), ``holdout_loss`` when a held-out segment chose the fit,
``train_loss``, ``validation_loss`` and any other ``train_<metric>`` / ``validation_<metric>``
score (float64).

**traces** columns (long format, one row per (cell, sweep, kind)):
``job``, ``cell``, ``model`` (string), ``trial`` (int64, null for recorded rows), ``sweep``
(string), ``stimulus`` (string, as in ``validation``), ``set`` (``"train"`` /
``"validation"``), ``kind`` (``"recorded"`` / ``"simulated"``), ``dt_ms`` (float64, unit
``ms``), ``V`` (list<float32>, unit ``mV``, null when no voltage), ``spike_times_ms``
(list<float64>, unit ``ms``), ``I`` (list<float32>, unit ``pA``: the injected current on the
time grid of ``V``; recorded rows, null on simulated ones).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spikefit.errors import output_error
from spikefit.results import tables as _tables
from spikefit.results._atomic import write_file
from spikefit.results._location import open_root

__all__ = ["TRIAL_COLUMNS", "TRACE_COLUMNS", "VALIDATION_COLUMNS", "ResultStore", "column_units"]

_STR, _F64, _I64 = pa.string(), pa.float64(), pa.int64()
_TS = pa.timestamp("us", tz="UTC")

#: Fixed trials columns (parameter, ``loss_<i>`` and ``per_sweep_<metric>`` columns are added).
TRIAL_COLUMNS: dict[str, tuple[pa.DataType, str | None]] = {
    "job": (_STR, None), "cell": (_STR, None), "model": (_STR, None), "trial": (_I64, None),
    "stage": (_STR, None), "seed": (_I64, None), "batch": (_I64, None), "worker": (_STR, None), "loss": (_F64, ""),
    "sweeps": (pa.list_(_STR), None), "state": (_STR, None), "fail_reason": (_STR, None),
    "duration_s": (_F64, "s"), "datetime": (_TS, None),
}
#: Traces columns, in order.
TRACE_COLUMNS: dict[str, tuple[pa.DataType, str | None]] = {
    "job": (_STR, None), "cell": (_STR, None), "model": (_STR, None), "trial": (_I64, None),
    "sweep": (_STR, None), "stimulus": (_STR, None), "set": (_STR, None), "kind": (_STR, None),
    "dt_ms": (_F64, "ms"), "V": (pa.list_(pa.float32()), "mV"), "spike_times_ms": (pa.list_(_F64), "ms"),
    "I": (pa.list_(pa.float32()), "pA"),
}
#: Validation report columns, in order (one row per cell and validation stimulus).
VALIDATION_COLUMNS: dict[str, tuple[pa.DataType, str | None]] = {
    "job": (_STR, None), "cell": (_STR, None), "model": (_STR, None), "stimulus": (_STR, None),
    "delta_ms": (_F64, "ms"), "gamma": (_F64, ""), "gamma_int": (_F64, ""), "ratio": (_F64, ""),
    "n_model": (_F64, ""), "n_data": (_F64, ""), "count_error": (_F64, ""),
    # the same fit re-simulated at a finer step (spikefit.execution.stepcheck)
    "fine_dt_ms": (_F64, "ms"), "gamma_fine": (_F64, ""), "ratio_fine": (_F64, ""), "n_model_fine": (_F64, ""),
    "count_error_fine": (_F64, ""),
}
_BEST_FIXED = {"job": (_STR, None), "cell": (_STR, None), "model": (_STR, None),
               "trial": (_I64, None), "stage": (_STR, None), "seed": (_I64, None),
               "chosen_by": (_STR, None), "free_parameters": (pa.list_(_STR), None)}
_RESERVED = {*TRIAL_COLUMNS, *TRACE_COLUMNS, *_BEST_FIXED, *VALIDATION_COLUMNS}
_PART = re.compile(r"^part-(\d{6,})\.parquet$")


class ResultStore:
    """One job's results folder: ``root`` is a local path or a pyarrow filesystem URI."""

    def __init__(self, root: str | os.PathLike):
        text = os.fspath(root)
        self.fs, self.root = open_root(text)  # the location checked before the folder is created
        self.uri = text
        self._atomic_rename = self.fs.type_name == "local"
        self._next_part: dict[str, int] = {}
        self._schemas: dict[str, pa.Schema] = {}

    def __repr__(self) -> str:
        return f"ResultStore({self.uri!r})"

    def path(self, *parts: str) -> str:
        """Filesystem path (for ``self.fs``) of a file under the root."""
        return "/".join([self.root.rstrip("/"), *parts])

    # ------------------------------------------------------------------ trials
    def append_trials(self, rows: _tables.Rows, *, units: Mapping[str, str]) -> str:
        """Write one batch of trial rows as the next ``trials/part-NNNNNN.parquet``.

        ``units`` maps every parameter column to its unit (e.g. ``space.units``); the other
        columns are those in the module docstring. Returns the part's path.
        """
        rows = _tables.records(rows, "append_trials", empty_ok=False)
        fields = _tables.column_specs(rows, TRIAL_COLUMNS, units, "append_trials", {
            "loss_<i>": (lambda k: re.fullmatch(r"loss_\d+", k), (_F64, "")),
            "per_sweep_<metric>": (lambda k: k.startswith("per_sweep_"), (pa.list_(_F64), None)),
        }, _RESERVED)
        _tables.check_rows(rows, "append_trials", ("job", "cell", "model", "trial", "state"),
                    {"state": ("COMPLETE", "FAIL")})
        return self._append_part("trials", _tables.build_table(rows, fields, "append_trials"))

    def append_trial_columns(self, columns: Mapping[str, Any], *, units: Mapping[str, str]) -> str:
        """:meth:`append_trials` from columns (name -> one value per trial), built once per batch.

        Same columns as :meth:`append_trials`; ``per_sweep_<metric>`` may be a 2-D array
        ``[trials, sweeps]`` and ``datetime`` one timestamp for the whole batch.
        """
        n = len(columns["trial"])
        if n == 0:
            raise ValueError("append_trial_columns: got no trials; write at least one")
        cols = dict(columns)
        if "datetime" in cols and not isinstance(cols["datetime"], (list, tuple, np.ndarray)):
            cols["datetime"] = [_tables.utc(cols["datetime"])] * n
        fields = _tables.column_specs([dict.fromkeys(cols)], TRIAL_COLUMNS, units, "append_trial_columns", {
            "loss_<i>": (lambda k: re.fullmatch(r"loss_\d+", k), (_F64, "")),
            "per_sweep_<metric>": (lambda k: k.startswith("per_sweep_"), (pa.list_(_F64), None)),
        }, _RESERVED)
        states = set(np.asarray(cols.get("state", ()), dtype=object).tolist())
        if not states <= {"COMPLETE", "FAIL"}:
            raise ValueError(f"append_trial_columns: state must be COMPLETE or FAIL, got {sorted(map(str, states))}")
        return self._append_part("trials", _tables.build_columns(cols, fields, n, "append_trial_columns"))

    def has_trials(self) -> bool:
        """Whether any trials part has been written."""
        return bool(self._parts("trials"))

    def read_trials(self) -> pd.DataFrame:
        """All trial parts as one DataFrame (``attrs["units"]``: column -> unit)."""
        return self._read_dir("trials")

    def trial_counts(self) -> dict[str, int]:
        """Rows of the trials table by state (``{"COMPLETE": n, "FAIL": m}``), reading only
        the ``state`` column; zeros when no part is written."""
        counts = {"COMPLETE": 0, "FAIL": 0}
        for _, path in self._parts("trials"):
            with self.fs.open_input_file(path) as f:
                states = pq.read_table(f, columns=["state"]).column("state").value_counts()
            for item in states.to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
        return counts

    # ------------------------------------------------------------------ best
    def write_best(self, rows: _tables.Rows, *, units: Mapping[str, str]) -> str:
        """Replace ``best.parquet`` with ``rows`` (one per (cell, model)).

        ``units`` maps every model parameter (fitted and fixed) to its unit.
        """
        rows = _tables.records(rows, "write_best")
        fields = _tables.column_specs(rows, _BEST_FIXED, units, "write_best", {
            "train_<score>": (lambda k: k.startswith("train_"), (_F64, "")),
            "validation_<score>": (lambda k: k.startswith("validation_"), (_F64, "")),
            "holdout_<score>": (lambda k: k.startswith("holdout_"), (_F64, "")),
        }, _RESERVED)
        _tables.check_rows(rows, "write_best", ("cell", "model"), {})
        keys = [(r["cell"], r["model"]) for r in rows]
        if len(set(keys)) != len(keys):
            raise ValueError("write_best: expected one row per (cell, model), got repeats")
        target = self.path("best.parquet")
        self._write_table(target, _tables.build_table(rows, fields, "write_best"))
        return target

    def update_best(self, rows: _tables.Rows, *, units: Mapping[str, str]) -> str:
        """Insert or replace the rows of these (cell, model) pairs, keeping the others.

        Parameter units already in ``best.parquet`` are kept; ``units`` adds or overrides.
        """
        new = _tables.records(rows, "update_best")
        replaced = {(r.get("cell"), r.get("model")) for r in new}
        old = []
        if self._exists(self.path("best.parquet")):
            frame = self.read_best()
            units = {**{k: v for k, v in frame.attrs["units"].items()
                        if not k.startswith(("train_", "validation_", "holdout_"))}, **units}
            old = [r for r in _tables.records(frame, "update_best")
                   if (r["cell"], r["model"]) not in replaced]
        return self.write_best(old + new, units=units)

    def read_best(self) -> pd.DataFrame:
        return self._read_file("best.parquet")

    # ------------------------------------------------------------------ traces
    def append_traces(self, rows: _tables.Rows) -> str:
        """Write trace rows (columns in :data:`TRACE_COLUMNS`) as the next ``traces/`` part."""
        rows = _tables.records(rows, "append_traces", empty_ok=False)
        fields = _tables.column_specs(rows, TRACE_COLUMNS, {}, "append_traces", {}, _RESERVED)
        _tables.check_rows(rows, "append_traces", ("cell", "sweep", "set", "kind", "dt_ms"),
                    {"kind": ("recorded", "simulated"), "set": ("train", "validation")})
        return self._append_part("traces", _tables.build_table(rows, fields, "append_traces"))

    def read_traces(self) -> pd.DataFrame:
        return self._read_dir("traces")

    # ------------------------------------------------------------------ validation
    def write_validation(self, rows: _tables.Rows) -> str:
        """Replace ``validation.parquet``: one row per (cell, validation stimulus) with the
        model's Gamma against every recorded repeat, the data's Gamma_int, their ratio and the
        spike counts (columns in :data:`VALIDATION_COLUMNS`)."""
        rows = _tables.records(rows, "write_validation")
        fields = _tables.column_specs(rows, VALIDATION_COLUMNS, {}, "write_validation", {}, _RESERVED)
        _tables.check_rows(rows, "write_validation", ("cell", "model", "stimulus"), {})
        target = self.path("validation.parquet")
        self._write_table(target, _tables.build_table(rows, fields, "write_validation"))
        return target

    def read_validation(self) -> pd.DataFrame:
        return self._read_file("validation.parquet")

    # ------------------------------------------------------------------ manifest
    def write_manifest(self, manifest: Mapping[str, Any]) -> str:
        """Replace ``manifest.json`` atomically (datetimes and paths become strings)."""
        if not isinstance(manifest, Mapping):
            raise TypeError(f"write_manifest: expected a dict, got {type(manifest).__name__}")
        data = json.dumps(manifest, indent=2, sort_keys=True, default=_json_default).encode()
        target = self.path("manifest.json")
        self._write_bytes(target, lambda sink: sink.write(data))
        return target

    def update_manifest(self, **changes: Any) -> dict[str, Any]:
        """Read the manifest (empty if none), apply ``changes``, write it back; return it."""
        manifest = self.read_manifest() if self.has("manifest.json") else {}
        manifest.update(changes)
        self.write_manifest(manifest)
        return manifest

    def read_manifest(self) -> dict[str, Any]:
        target = self.path("manifest.json")
        if not self._exists(target):
            raise FileNotFoundError(
                f"no manifest at {self.uri}/manifest.json; write_manifest first"
            )
        with self.fs.open_input_stream(target) as f:
            return json.loads(f.read().decode())

    # ------------------------------------------------------------------ internals
    def clear(self) -> None:
        """Delete every result of the folder (tables, manifest, the default study journal);
        the lock stays. For ``--overwrite``: the folder then holds the new job only."""
        for folder in ("trials", "traces"):
            info = self.fs.get_file_info(self.path(folder))
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(self.path(folder))
        for name in ("best.parquet", "validation.parquet", "manifest.json", "study.journal",
                     "study.journal.lock"):
            if self._exists(self.path(name)):
                self.fs.delete_file(self.path(name))
        self._next_part.clear()
        self._schemas.clear()

    def has(self, name: str) -> bool:
        """Whether the file ``name`` (e.g. ``"validation.parquet"``) has been written."""
        return self._exists(self.path(name))

    def _exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.File

    def _parts(self, folder: str) -> list[tuple[int, str]]:
        info = self.fs.get_file_info(pafs.FileSelector(self.path(folder), allow_not_found=True))
        parts = []
        for i in info:
            m = _PART.match(i.base_name)
            if m and i.type == pafs.FileType.File:
                parts.append((int(m.group(1)), i.path))
        return sorted(parts)

    def _append_part(self, folder: str, table: pa.Table) -> str:
        if folder not in self._next_part:
            parts = self._parts(folder)
            self._next_part[folder] = parts[-1][0] + 1 if parts else 1
            if parts:
                with self.fs.open_input_file(parts[0][1]) as f:
                    self._schemas[folder] = pq.read_schema(f)
        reference = self._schemas.get(folder)
        if reference is not None:
            table = _tables.conform(table, reference, folder)
        target = self.path(folder, f"part-{self._next_part[folder]:06d}.parquet")
        try:
            self.fs.create_dir(self.path(folder), recursive=True)
        except OSError as err:
            raise output_error(err, target) from err
        self._write_table(target, table)
        self._next_part[folder] += 1
        self._schemas.setdefault(folder, table.schema)
        return target

    def _write_table(self, target: str, table: pa.Table) -> None:
        self._write_bytes(target, lambda sink: pq.write_table(table, sink))

    def _write_bytes(self, target: str, write) -> None:
        write_file(self.fs, target, write, rename=self._atomic_rename)

    def _read_dir(self, folder: str) -> pd.DataFrame:
        parts = self._parts(folder)
        if not parts:
            raise FileNotFoundError(f"no {folder} parts under {self.uri}/{folder}")
        tables = []
        for _, path in parts:
            with self.fs.open_input_file(path) as f:
                tables.append(pq.read_table(f))
        table = pa.concat_tables(tables, promote_options="default")
        return _to_frame(table)

    def _read_file(self, name: str) -> pd.DataFrame:
        target = self.path(name)
        if not self._exists(target):
            raise FileNotFoundError(f"no {name} under {self.uri}")
        with self.fs.open_input_file(target) as f:
            return _to_frame(pq.read_table(f))


def column_units(source: pa.Table | pa.Schema | str | os.PathLike) -> dict[str, str]:
    """Column -> unit from the Arrow field metadata of a table, schema, Parquet file or parts
    folder (local path or filesystem URI). Columns without a unit are left out."""
    if isinstance(source, pa.Table):
        schema = source.schema
    elif isinstance(source, pa.Schema):
        schema = source
    else:
        text = os.fspath(source)
        fs, path = (pafs.FileSystem.from_uri(text) if "://" in text
                    else (pafs.LocalFileSystem(), str(Path(text).resolve())))
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            files = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(path))
                           if _PART.match(i.base_name))
            if not files:
                raise FileNotFoundError(f"column_units: no part-*.parquet files in {text}")
            path = files[0]
        elif info.type != pafs.FileType.File:
            raise FileNotFoundError(f"column_units: {text} does not exist")
        with fs.open_input_file(path) as f:
            schema = pq.read_schema(f)
    return {f.name: f.metadata[b"unit"].decode() for f in schema
            if f.metadata and b"unit" in f.metadata}


# ---------------------------------------------------------------------- helpers
def _to_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame.attrs["units"] = column_units(table)
    return frame


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(
        f"manifest: value {obj!r} of type {type(obj).__name__} is not JSON-serialisable"
    )
