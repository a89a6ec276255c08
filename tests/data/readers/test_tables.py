"""npz, CSV and the Parquet sweep table; format dispatch and its errors."""

import numpy as np
import pandas as pd
import pytest

from spikefit.data.readers import detect_format, load
from spikefit.results.sweep_table import write_sweep_table
from spikefit.data.recording import RecordingError


def test_parquet_round_trip_of_real_recording(example_data, tmp_path):
    rec = load(example_data)
    out = write_sweep_table(rec, tmp_path / "a2.parquet")
    df = pd.read_parquet(out)
    assert len(df) == 32 and list(df.columns)[:6] == ["cell", "sweep", "protocol", "stimulus", "repeat", "dt_ms"]
    back = load(out)
    assert back.sweep_ids == rec.sweep_ids
    for a, b in zip(rec, back):
        np.testing.assert_array_equal(a.current, b.current)
        np.testing.assert_array_equal(a.voltage, b.voltage)
        np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
        assert (a.stimulus, a.repeat, a.dt_ms, a.protocol) == (b.stimulus, b.repeat, b.dt_ms, b.protocol)


def test_parquet_missing_column(tmp_path):
    pd.DataFrame({"sweep": ["1"], "current_pA": [[1.0, 2.0]]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(RecordingError, match=r"x.parquet: missing column\(s\) \['dt_ms'\]"):
        load(tmp_path / "x.parquet")


def test_npz(tmp_path):
    p = tmp_path / "c.npz"
    np.savez(p, current=np.ones((2, 100)), current_unit="nA", dt_ms=0.5, voltage=np.full((2, 100), -70.0),
             voltage_unit="mV", spike_times_ms=np.array([1.0, 2.0, 3.0]), spike_sweep=np.array([0, 0, 1]),
             stimulus=np.array(["s", "s"]), repeat=np.array([0, 1]), cell="c7")
    rec = load(p)
    assert rec.cell == "c7" and rec[0].current[0] == 1000.0 and [s.n_spikes for s in rec] == [2, 1]
    assert [s.repeat for s in rec] == [0, 1] and rec[1].dt_ms == 0.5
    np.savez(tmp_path / "obj.npz", current=np.array([{"a": 1}], dtype=object), current_unit="pA", dt_ms=1.0)
    with pytest.raises(RecordingError, match="object \\(pickled\\) arrays, which spikefit never loads"):
        load(tmp_path / "obj.npz")
    np.savez(tmp_path / "norate.npz", current=np.ones(5), current_unit="pA")
    with pytest.raises(RecordingError, match="missing key 'dt_ms' or 'rate_hz'"):
        load(tmp_path / "norate.npz")
    np.savez(tmp_path / "len.npz", current=np.ones((1, 5)), current_unit="pA", dt_ms=1.0, voltage=np.ones((1, 4)), voltage_unit="mV")
    with pytest.raises(RecordingError, match=r"key 'voltage': expected shape \(1, 5\) \(as 'current'\), got \(1, 4\)"):
        load(tmp_path / "len.npz")


def test_csv(tmp_path):
    t = np.arange(200) * 0.1
    v = np.full(200, -70.0)
    v[150] = 20
    df = pd.DataFrame({"sweep": ["a"] * 100 + ["b"] * 100, "time_ms": np.r_[t[:100], t[:100]],
                       "current_nA": 0.05, "voltage_mV": v})
    df.to_csv(tmp_path / "x.csv", index=False)
    rec = load(tmp_path / "x.csv")
    assert rec.sweep_ids == ["a", "b"] and rec[0].current[0] == pytest.approx(50.0)
    assert rec[0].dt_ms == pytest.approx(0.1) and [s.n_spikes for s in rec] == [0, 1]
    df.drop(columns=["time_ms"]).to_csv(tmp_path / "y.csv", index=False)
    with pytest.raises(RecordingError, match="no time_<unit> column and no rate_hz given"):
        load(tmp_path / "y.csv")
    assert load(tmp_path / "y.csv", rate_hz=20000)[0].dt_ms == pytest.approx(0.05)
    df.rename(columns={"current_nA": "current_bogus"}).to_csv(tmp_path / "z.csv", index=False)
    with pytest.raises(RecordingError, match="unknown current unit 'bogus'"):
        load(tmp_path / "z.csv")
    df.drop(columns=["current_nA"]).to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(RecordingError, match=r"missing column 'current_<unit>'"):
        load(tmp_path / "w.csv")


def test_dispatch_errors(tmp_path, shared_data):
    (tmp_path / "a.xyz").write_text("1")
    with pytest.raises(RecordingError, match=r"a.xyz: unknown format \(extension '.xyz'\); known formats ibw .*abf"):
        load(tmp_path / "a.xyz")
    with pytest.raises(RecordingError, match=r"unknown format 'matlab'; known formats"):
        load(tmp_path, format="matlab")
    (tmp_path / "b.abf").write_bytes(b"")
    (tmp_path / "c.npz").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"folder format is ambiguous, it holds abf \(b.abf\), npz \(c.npz\)"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing: no such file"):
        load(tmp_path / "missing")
    assert detect_format(shared_data / "gif_pozzorini_cell3") == "ibw"
    assert detect_format(shared_data / "pyabf_current_clamp") == "abf"
