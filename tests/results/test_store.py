"""Tests for spikefit.results.store: real Parquet files, units in field metadata, atomic writes."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spikefit.results.store as store_mod
from spikefit.errors import OutputError
from spikefit.results.store import ResultStore, column_units

UNITS = {"tau": "ms", "V_T": "mV", "a": "nS"}
T0 = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def trial_rows(start: int, n: int, *, cell: str = "c1", fail_at: int | None = None) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        failed = i == fail_at
        rows.append({
            "job": "j", "cell": cell, "model": "AdExIF", "trial": i, "batch": start,
            "worker": f"w{i % 2}", "tau": 10.0 + i, "V_T": -50.0 - i, "a": 0.5 * i,
            "loss": float("nan") if failed else 1.0 / (i + 1),
            "sweeps": ["s1", "s2"] if cell == "c1" else ["s7"],
            "per_sweep_gamma": [None, None] if failed else ([0.1 * i, 0.2 * i] if cell == "c1" else [0.3]),
            "state": "FAIL" if failed else "COMPLETE",
            "fail_reason": "voltage ran away" if failed else None,
            "duration_s": 0.01 * i, "datetime": T0 + dt.timedelta(seconds=i),
        })
    return rows


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.fixture(params=["path", "uri"])
def root(request, tmp_path):
    folder = tmp_path / "results"
    return str(folder) if request.param == "path" else folder.as_uri()


def test_trials_parts_round_trip_with_units(root, tmp_path):
    store = ResultStore(root)
    p1 = store.append_trials(trial_rows(0, 3), units=UNITS)
    p2 = store.append_trials(trial_rows(3, 2, cell="c2", fail_at=4), units=UNITS)
    assert p1.endswith("trials/part-000001.parquet") and p2.endswith("trials/part-000002.parquet")
    folder = tmp_path / "results" / "trials"
    assert listing(folder) == ["part-000001.parquet", "part-000002.parquet"]

    frame = store.read_trials()
    assert frame["trial"].tolist() == [0, 1, 2, 3, 4]
    assert frame["tau"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert frame["state"].tolist() == ["COMPLETE"] * 4 + ["FAIL"]
    assert frame["fail_reason"].iloc[4] == "voltage ran away" and pd.isna(frame["fail_reason"].iloc[0])
    assert list(frame["per_sweep_gamma"].iloc[1]) == pytest.approx([0.1, 0.2])
    assert list(frame["sweeps"].iloc[3]) == ["s7"]
    assert frame["datetime"].iloc[0] == pd.Timestamp(T0)
    assert frame.attrs["units"] == {**UNITS, "loss": "", "duration_s": "s"}

    # plain pandas on the folder reads every part
    plain = pd.read_parquet(folder)
    assert sorted(plain["trial"].tolist()) == [0, 1, 2, 3, 4]
    assert plain["cell"].tolist().count("c2") == 2
    # units from the folder, a part file, a URI and an Arrow table
    assert column_units(folder)["V_T"] == "mV"
    assert column_units(folder / "part-000002.parquet")["tau"] == "ms"
    assert column_units(folder.as_uri())["a"] == "nS"
    assert column_units(pq.read_table(folder / "part-000001.parquet"))["duration_s"] == "s"


def test_reopened_store_continues_part_numbers_and_keeps_schema(root):
    ResultStore(root).append_trials(trial_rows(0, 2), units=UNITS)
    again = ResultStore(root)
    # a batch without optional columns gets them as nulls of the first part's types
    minimal = [{"job": "j", "cell": "c1", "model": "AdExIF", "trial": 2, "state": "COMPLETE",
                "tau": 1.0, "V_T": -60.0, "a": 1.0, "loss": 0.3}]
    assert again.append_trials(minimal, units=UNITS).endswith("part-000002.parquet")
    frame = again.read_trials()
    assert len(frame) == 3 and frame["sweeps"].iloc[2] is None
    with pytest.raises(ValueError, match=r"columns \['loss_0'\] are not in the parts already written"):
        again.append_trials([{**minimal[0], "trial": 3, "loss_0": 1.0}], units=UNITS)
    with pytest.raises(ValueError, match=r"column 'tau' has unit 's', earlier parts have 'ms'"):
        again.append_trials([{**minimal[0], "trial": 3}], units={**UNITS, "tau": "s"})


def test_first_part_all_null_reason_then_strings_stays_readable(tmp_path):
    store = ResultStore(tmp_path)
    store.append_trials(trial_rows(0, 2), units=UNITS)  # fail_reason all null
    store.append_trials(trial_rows(2, 2, fail_at=3), units=UNITS)
    schema = [pq.read_schema(tmp_path / "trials" / f) for f in listing(tmp_path / "trials")]
    assert schema[0] == schema[1] and schema[0].field("fail_reason").type == pa.string()
    assert pd.read_parquet(tmp_path / "trials")["fail_reason"].tolist()[-1] == "voltage ran away"


def test_append_trials_rejects_bad_rows(tmp_path):
    store = ResultStore(tmp_path)
    row = trial_rows(0, 1)[0]
    with pytest.raises(ValueError, match=r"unknown column 'gamma'.*'per_sweep_<metric>'"):
        store.append_trials([{**row, "gamma": 0.3}], units=UNITS)
    with pytest.raises(ValueError, match=r"row 0: state must be one of \['COMPLETE', 'FAIL'\], got 'RUNNING'"):
        store.append_trials([{**row, "state": "RUNNING"}], units=UNITS)
    with pytest.raises(ValueError, match="row 0 has no 'cell'"):
        store.append_trials([{k: v for k, v in row.items() if k != "cell"}], units=UNITS)
    with pytest.raises(ValueError, match=r"column 'trial' must hold int64"):
        store.append_trials([{**row, "trial": "seven"}], units=UNITS)
    with pytest.raises(ValueError, match=r"units: column 'tau': unknown unit 'fortnight'"):
        store.append_trials([row], units={**UNITS, "tau": "fortnight"})
    with pytest.raises(ValueError, match=r"clash with reserved result columns"):
        store.append_trials([row], units={**UNITS, "loss": ""})
    assert not (tmp_path / "trials").exists() or listing(tmp_path / "trials") == []


def test_dataframe_input_is_accepted(tmp_path):
    store = ResultStore(tmp_path)
    frame = pd.DataFrame(trial_rows(0, 3, fail_at=1)).drop(columns=["sweeps", "per_sweep_gamma"])
    store.append_trials(frame, units=UNITS)
    back = store.read_trials()
    assert back["fail_reason"].tolist()[1] == "voltage ran away" and pd.isna(back["fail_reason"][0])
    assert np.isnan(back["loss"][1]) and back["loss"][2] == pytest.approx(1 / 3)


def _exploding_writer(real):
    def write_table(table, where, *args, **kwargs):
        real(table.slice(0, 1), where, *args, **kwargs)  # some bytes reach the file...
        raise OSError("disk went away")                  # ...then the writer dies
    return write_table


def test_failed_write_leaves_previous_files_and_no_partial_file(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.append_trials(trial_rows(0, 2), units=UNITS)
    store.write_best([{"cell": "c1", "model": "AdExIF", "tau": 10.0, "train_loss": 0.5}],
                     units={"tau": "ms"})
    before = listing(tmp_path / "trials")
    monkeypatch.setattr(store_mod.pq, "write_table", _exploding_writer(pq.write_table))
    with pytest.raises(OutputError, match=r"^disk went away: .*/trials/part-000002\.parquet$"):  # names the file
        store.append_trials(trial_rows(2, 5), units=UNITS)
    with pytest.raises(OutputError, match=r"^disk went away: .*/best\.parquet$"):
        store.write_best([{"cell": "c1", "model": "AdExIF", "tau": 99.0, "train_loss": 0.1}],
                         units={"tau": "ms"})
    monkeypatch.undo()
    assert listing(tmp_path / "trials") == before  # no part-000002, no temporary left over
    assert sorted(os.listdir(tmp_path)) == ["best.parquet", "trials"]
    assert pd.read_parquet(tmp_path / "trials")["trial"].tolist() == [0, 1]
    assert store.read_best()["tau"].tolist() == [10.0]
    # the next successful write takes the number the failed one would have had
    assert store.append_trials(trial_rows(2, 1), units=UNITS).endswith("part-000002.parquet")


def test_temporary_files_are_invisible_to_readers(tmp_path):
    store = ResultStore(tmp_path)
    store.append_trials(trial_rows(0, 2), units=UNITS)
    # a run killed mid-write leaves a hidden temporary: pandas and the store skip it
    (tmp_path / "trials" / ".part-000002.parquet.tmp-dead").write_bytes(b"PAR1 trunc")
    assert pd.read_parquet(tmp_path / "trials")["trial"].tolist() == [0, 1]
    assert ResultStore(tmp_path).read_trials()["trial"].tolist() == [0, 1]
    assert ResultStore(tmp_path).append_trials(trial_rows(2, 1), units=UNITS).endswith("part-000002.parquet")


def test_best_write_update_and_units(root):
    store = ResultStore(root)
    units = {"tau": "ms", "V_T": "mV", "C": "pF"}
    store.write_best([
        {"job": "j", "cell": "c1", "model": "AdExIF", "trial": 4, "tau": 10.0, "V_T": -50.0,
         "C": 200.0, "free_parameters": ["tau", "V_T"], "train_loss": 0.2, "validation_loss": 0.3,
         "train_gamma": 0.8},
        {"job": "j", "cell": "c2", "model": "AdExIF", "trial": 9, "tau": 20.0, "V_T": -55.0,
         "C": 200.0, "free_parameters": ["tau", "V_T"], "train_loss": 0.4, "validation_loss": 0.5},
    ], units=units)
    store.update_best([{"job": "j", "cell": "c2", "model": "AdExIF", "trial": 12, "tau": 25.0,
                        "V_T": -52.0, "C": 200.0, "free_parameters": ["tau", "V_T"],
                        "train_loss": 0.1, "validation_loss": 0.15}], units={})
    best = store.read_best().sort_values("cell")
    assert best["trial"].tolist() == [4, 12] and best["tau"].tolist() == [10.0, 25.0]
    assert list(best["free_parameters"].iloc[0]) == ["tau", "V_T"]
    assert np.isnan(best["train_gamma"].iloc[1])
    assert {k: best.attrs["units"][k] for k in units} == units
    with pytest.raises(ValueError, match=r"one row per \(cell, model\), got repeats"):
        store.write_best([{"cell": "c1", "model": "m", "tau": 1.0}] * 2, units={"tau": "ms"})
    with pytest.raises(ValueError, match="unknown column 'score'"):
        store.write_best([{"cell": "c1", "model": "m", "score": 1.0}], units={})


def test_traces_long_format(root):
    store = ResultStore(root)
    v = np.linspace(-70, 20, 1000).astype(np.float32)
    store.append_traces([
        {"job": "j", "cell": "c1", "model": "AdExIF", "sweep": "s1", "set": "train",
         "kind": "recorded", "dt_ms": 0.1, "V": v, "spike_times_ms": [12.5, 40.0]},
        {"job": "j", "cell": "c1", "model": "AdExIF", "trial": 12, "sweep": "s1", "set": "train",
         "kind": "simulated", "dt_ms": 0.1, "V": v + 1, "spike_times_ms": [12.0]},
        {"job": "j", "cell": "c1", "model": "AdExIF", "trial": 12, "sweep": "s9",
         "set": "validation", "kind": "simulated", "dt_ms": 0.1, "V": None, "spike_times_ms": []},
    ])
    traces = store.read_traces()
    assert traces["kind"].tolist() == ["recorded", "simulated", "simulated"]
    assert traces["V"].iloc[0].dtype == np.float32
    np.testing.assert_array_equal(traces["V"].iloc[1], v + 1)
    assert traces["V"].iloc[2] is None and list(traces["spike_times_ms"].iloc[2]) == []
    assert pd.isna(traces["trial"].iloc[0])
    assert traces.attrs["units"] == {"dt_ms": "ms", "V": "mV", "spike_times_ms": "ms", "I": "pA"}
    with pytest.raises(ValueError, match=r"kind must be one of \['recorded', 'simulated'\], got 'model'"):
        store.append_traces([{"cell": "c1", "sweep": "s1", "set": "train", "kind": "model",
                              "dt_ms": 0.1}])
    with pytest.raises(ValueError, match=r"set must be one of \['train', 'validation'\], got 'test'"):
        store.append_traces([{"cell": "c1", "sweep": "s1", "set": "test", "kind": "recorded",
                              "dt_ms": 0.1}])


def test_manifest_atomic_updates(root, tmp_path):
    store = ResultStore(root)
    with pytest.raises(FileNotFoundError, match="write_manifest first"):
        store.read_manifest()
    store.write_manifest({"job": "j", "status": "running", "started": T0, "seed": np.int64(3)})
    m = store.update_manifest(status="done", ended=T0 + dt.timedelta(hours=1))
    assert m["status"] == "done"
    assert ResultStore(root).read_manifest() == {
        "job": "j", "status": "done", "seed": 3, "started": "2025-01-02T03:04:05+00:00",
        "ended": "2025-01-02T04:04:05+00:00"}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        store.update_manifest(status=object())
    assert store.read_manifest()["status"] == "done"
    assert sorted(os.listdir(tmp_path / "results")) == ["manifest.json"]


def test_bad_uri_is_a_clear_error():
    with pytest.raises(ValueError, match="not a filesystem URI pyarrow knows"):
        ResultStore("nosuchscheme://bucket/x")


def test_object_store_path_single_put(monkeypatch):
    # pyarrow's in-memory mock filesystem stands in for S3/GCS: no rename, one buffered PUT.
    store = ResultStore("mock:///results")
    assert not store._atomic_rename
    store.append_trials(trial_rows(0, 2), units=UNITS)
    store.write_manifest({"status": "running"})
    monkeypatch.setattr(store_mod.pq, "write_table", _exploding_writer(pq.write_table))
    with pytest.raises(OSError, match="disk went away"):
        store.append_trials(trial_rows(2, 2), units=UNITS)
    monkeypatch.undo()
    assert [p.rsplit("/", 1)[1] for _, p in store._parts("trials")] == ["part-000001.parquet"]
    assert store.read_trials()["trial"].tolist() == [0, 1]
    assert store.read_trials().attrs["units"]["tau"] == "ms"
    assert store.read_manifest() == {"status": "running"}
