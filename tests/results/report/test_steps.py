"""The per-sweep measures of a step protocol, checked against the Parquet tables read directly."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from spikefit.results.report import step_window, sweep_summary


def _jump_edges(current: np.ndarray) -> tuple[int, int]:
    """Onset/offset samples of a clean command step: the largest rise and fall of a 1 ms mean."""
    smooth = np.convolve(current, np.ones(8) / 8, mode="same")
    d = np.diff(smooth)
    return int(np.argmax(d)), int(np.argmin(d))


def test_the_step_is_read_from_the_recorded_current(traces_table):
    rec = traces_table[traces_table["kind"] == "recorded"]
    assert len(rec) == 32  # 16 training and 16 validation sweeps of the example cell
    for _, row in rec.iterrows():
        i, dt = np.asarray(row["I"], np.float64), float(row["dt_ms"])
        step = step_window(i, dt)
        rise, fall = _jump_edges(i)
        assert abs(step["onset_ms"] - rise * dt) <= 1.0 and abs(step["offset_ms"] - fall * dt) <= 1.0
        on, off = int(round(step["onset_ms"] / dt)), int(round(step["offset_ms"] / dt))
        inside, outside = i[on + 8:off - 8].mean(), np.r_[i[:on - 8], i[off + 8:]].mean()
        assert step["amplitude_pA"] == pytest.approx(inside - outside, abs=2.0)
        assert step["holding_pA"] == pytest.approx(outside, abs=2.0)


def test_a_step_as_small_as_the_noise_is_found_and_flat_noise_is_none():
    rng = np.random.default_rng(3)
    dt = 0.25
    i = rng.normal(-20.0, 80.0, 12000)  # 3 s, noise as large as the step (the BBP cells)
    i[2800:10800] += 80.0  # 700-2700 ms
    step = step_window(i, dt)
    assert step["onset_ms"] == pytest.approx(700.0, abs=5.0)
    assert step["offset_ms"] == pytest.approx(2700.0, abs=5.0)
    assert step["amplitude_pA"] == pytest.approx(80.0, rel=0.1)
    assert step_window(rng.normal(0.0, 80.0, 12000), dt) is None
    assert step_window(np.zeros(100), dt) is None


def test_summary_counts_spikes_in_the_step_window(quick_results, traces_table, quick_summary):
    _, summary = quick_summary
    assert len(summary) == 32 and list(summary["set"].unique()) == ["train", "validation"]
    for set_name, part in summary.groupby("set"):
        assert part["amplitude_pA"].is_monotonic_increasing
    table = traces_table.set_index(["set", "sweep", "kind"])
    for _, row in summary.iterrows():
        for kind, col in (("recorded", "n_data"), ("simulated", "n_model")):
            t = np.asarray(table.loc[(row["set"], row["sweep"], kind), "spike_times_ms"])
            n = int(((t >= row["onset_ms"]) & (t < row["offset_ms"])).sum())
            assert row[col] == n
            rate = n / ((row["offset_ms"] - row["onset_ms"]) / 1000.0)
            assert row[col.replace("n_", "rate_") + "_Hz"] == pytest.approx(rate)
        assert row["subthreshold"] == (row["n_data"] == 0)
    val = pq.read_table(quick_results / "validation.parquet").to_pandas().set_index("stimulus")
    for _, row in summary[summary["set"] == "validation"].iterrows():
        assert row["gamma"] == pytest.approx(val.loc[row["stimulus"], "gamma"], nan_ok=True)
    assert summary.loc[summary["set"] == "train", "gamma"].isna().all()


def test_baseline_and_steady_state_are_medians_of_the_recorded_voltage(traces_table, quick_summary):
    _, summary = quick_summary
    row = summary.iloc[0]
    rec = traces_table[(traces_table["kind"] == "recorded") & (traces_table["sweep"] == row["sweep"])
                       & (traces_table["set"] == row["set"])].iloc[0]
    v, dt = np.asarray(rec["V"], np.float64), float(rec["dt_ms"])
    on, off = row["onset_ms"], row["offset_ms"]
    assert row["baseline_data_mV"] == pytest.approx(np.median(v[int(round(on / 2 / dt)):int(round(on / dt))]))
    start = off - min(100.0, 0.2 * (off - on))
    assert row["steady_data_mV"] == pytest.approx(np.median(v[int(round(start / dt)):int(round(off / dt))]))
    assert -100.0 < row["baseline_data_mV"] < -50.0  # a resting cell, in mV after the LJP correction


def test_without_the_current_the_window_is_the_whole_sweep(traces_table):
    old = traces_table.drop(columns=["I", "stimulus"])  # a folder written before those columns
    summary = sweep_summary(old)
    assert summary["amplitude_pA"].isna().all() and (summary["window_from"] == "sweep").all()
    rec = old[old["kind"] == "recorded"].set_index(["set", "sweep"])
    for _, row in summary.iterrows():
        assert row["n_data"] == len(rec.loc[(row["set"], row["sweep"]), "spike_times_ms"])
    assert summary["gamma"].isna().all()


def test_a_sweep_without_a_step_takes_its_cells_window(traces_table):
    flat = traces_table.copy()
    first = flat.index[flat["kind"] == "recorded"][0]
    flat.at[first, "I"] = np.full(len(flat.at[first, "I"]), -200.0, np.float32)
    summary = sweep_summary(flat)
    row = summary[(summary["sweep"] == flat.at[first, "sweep"]) & (summary["set"] == flat.at[first, "set"])].iloc[0]
    others = summary[summary["window_from"] == "current"]
    assert row["window_from"] == "cell" and row["amplitude_pA"] == 0.0
    assert row["onset_ms"] == pytest.approx(others["onset_ms"].median())
