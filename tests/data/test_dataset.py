"""fitter/data/dataset.py: from a job's [data] section to train/validation arrays, errors up front."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.data.dataset import crop, prepare_cells, select
from spikefit.spec.jobspec import Selection, parse_job
from spikefit.data.readers import load
from spikefit.data.recording import RecordingError

# Spike counts of the shipped example (BBP L5PC, IDrest steps 0..15), per repeat.
TRAIN_COUNTS = [0, 1, 3, 5, 8, 12, 16, 20, 24, 28, 32, 35, 38, 41, 43, 45]
VALIDATION_COUNTS = [1, 2, 7, 11, 15, 18, 22, 25, 29, 33, 35, 38, 40, 42, 45, 47]


def _spec(path, train, validation=None, **data):
    section = {"path": str(path), "format": "ibw", "train": train, **data}
    if validation is not None:
        section["validation"] = validation
    return parse_job({"name": "t", "data": section, "model": {"name": "LIF"},
                      "params": {"tau": {"low": 5, "high": 50}}}, source="t.toml")


@pytest.fixture(scope="module")
def example_sweeps(example_data):
    return list(load(example_data, format="ibw").sweeps)


def test_quickstart_selection(example_data):
    cells = prepare_cells(_spec(example_data, {"repeats": [0]}, {"repeats": [1]}, ljp_mV=14.0))
    assert list(cells) == ["bbp_l5pc_A2_IDrest"]
    cs = cells["bbp_l5pc_A2_IDrest"]
    assert cs.train.n_sweeps == 16 and cs.validation.n_sweeps == 16
    assert cs.train.n_spikes.tolist() == TRAIN_COUNTS
    assert cs.validation.n_spikes.tolist() == VALIDATION_COUNTS
    assert set(cs.train.repeats.tolist()) == {0} and set(cs.validation.repeats.tolist()) == {1}
    assert cs.train.current.shape == (16, 12000) and cs.train.dt_ms == 0.25
    assert not set(cs.train.sweep_ids) & set(cs.validation.sweep_ids)
    # spike steps agree with the sweeps' spike times
    s = cs.train_sweeps[15]
    steps = cs.train.spike_steps[15, : cs.train.n_spikes[15]]
    np.testing.assert_allclose(steps * cs.train.dt_ms, s.spike_times_ms, atol=cs.train.dt_ms)
    # LJP correction shifts the recorded voltage down by 14 mV
    raw = np.asarray(s.voltage, np.float32)
    np.testing.assert_allclose(cs.train.voltage[15, : raw.size], raw - 14.0, atol=1e-3)


def test_select_by_stimulus_and_sweep(example_sweeps):
    got = select(example_sweeps, Selection(stimuli=["IDrest:15"]), where="data.train")
    assert [s.sweep_id for s in got] == ["340", "385"] and [s.n_spikes for s in got] == [45, 47]
    got = select(example_sweeps, Selection(sweeps=["332", "377"]), where="data.train")
    assert [s.sweep_id for s in got] == ["332", "377"]


def test_crop_shifts_spike_times(example_sweeps):
    s = example_sweeps[15]  # 45 spikes during the step
    t = np.asarray(s.spike_times_ms)
    t0, t1 = 1000.0, 2000.0
    c = crop(s, t0, t1)
    expected = t[(t >= t0) & (t < t1)] - t0
    assert 0 < expected.size < t.size
    np.testing.assert_allclose(c.spike_times_ms, expected)
    assert c.duration_ms == pytest.approx(t1 - t0)
    i0 = int(round(t0 / s.dt_ms))
    np.testing.assert_array_equal(c.current, s.current[i0: i0 + c.n_samples])
    np.testing.assert_array_equal(c.voltage, s.voltage[i0: i0 + c.n_samples])
    assert crop(s, None, None) is s


def test_crop_window_in_job(example_data):
    cells = prepare_cells(_spec(example_data, {"repeats": [0], "t_start_ms": 500.0, "t_stop_ms": 1500.0}))
    cs = cells["bbp_l5pc_A2_IDrest"]
    assert cs.validation is None and cs.train.current.shape == (16, 4000)
    assert all(np.all((s.spike_times_ms >= 0) & (s.spike_times_ms < 1000.0)) for s in cs.train_sweeps)
    full = [s.spike_times_ms for s in select(load(example_data).sweeps, Selection(repeats=[0]), where="x")]
    for f, s in zip(full, cs.train_sweeps):
        np.testing.assert_allclose(s.spike_times_ms, f[(f >= 500) & (f < 1500)] - 500)


def test_crop_empty_window_errors(example_sweeps):
    with pytest.raises(ValueError, match="empty") as err:
        crop(example_sweeps[0], 5000.0, None)
    assert "3000" in str(err.value)  # says how long the sweep is


def test_empty_selection_lists_what_exists(example_data):
    with pytest.raises(ValueError) as err:
        prepare_cells(_spec(example_data, {"repeats": [7]}))
    msg = str(err.value)
    assert "[data.train] selects no sweep" in msg
    assert "IDrest" in msg and "'IDrest:0'" in msg


def test_empty_validation_selection(example_data):
    with pytest.raises(ValueError, match=r"\[data.validation\] selects no sweep"):
        prepare_cells(_spec(example_data, {"repeats": [0]}, {"stimuli": ["noise"]}))


def test_overlapping_train_and_validation_errors(example_data):
    with pytest.raises(ValueError) as err:
        prepare_cells(_spec(example_data, {"repeats": [0]}, {"stimuli": ["IDrest:3"]}))
    msg = str(err.value)
    assert "[data.validation]" in msg and "'328'" in msg and "overlapping" in msg


def test_overlapping_time_windows_error(example_data):
    with pytest.raises(ValueError, match="overlapping"):
        prepare_cells(_spec(example_data, {"repeats": [0], "t_stop_ms": 2000.0},
                            {"repeats": [0], "t_start_ms": 1500.0}))


def test_same_sweep_disjoint_windows_ok(example_data):
    cells = prepare_cells(_spec(example_data, {"repeats": [0], "t_stop_ms": 1500.0},
                                {"repeats": [0], "t_start_ms": 1500.0}))
    cs = cells["bbp_l5pc_A2_IDrest"]
    total = cs.train.n_spikes + cs.validation.n_spikes
    assert total.tolist() == TRAIN_COUNTS


def test_missing_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\[data.path\].*nowhere"):
        prepare_cells(_spec(tmp_path / "nowhere", {}))


def test_unknown_cell_errors(example_data):
    spec = _spec(example_data, {"repeats": [0]}, cells=["cell42"])
    with pytest.raises(ValueError) as err:
        prepare_cells(spec)
    assert "cell42" in str(err.value) and "bbp_l5pc_A2_IDrest" in str(err.value)


def test_gif_split_by_time_window(shared_data):
    path = shared_data / "gif_pozzorini_cell3"
    spec = _spec(path, {"protocols": ["Ger1Test"], "t_stop_ms": 10000.0},
                 {"protocols": ["Ger1Test"], "t_start_ms": 10000.0})
    cs = prepare_cells(spec)["Cell3"]
    assert cs.train.n_sweeps == 9 and cs.validation.n_sweeps == 9
    assert cs.train.dt_ms == pytest.approx(0.1)
    assert cs.train.current.shape == (9, 100000) and cs.validation.current.shape == (9, 100000)
    # the two halves add up to the full 20 s sweeps' counts (224, 220, ... per SOURCE.md)
    total = cs.train.n_spikes + cs.validation.n_spikes
    assert total.tolist() == [224, 220, 221, 226, 225, 231, 233, 234, 236]
    assert all(s.spike_times_ms.max() < 10000.0 for s in cs.validation_sweeps)
    full = {s.sweep_id: s for s in load(path, format="ibw").sweeps}
    v = cs.validation_sweeps[0]
    np.testing.assert_allclose(v.spike_times_ms + 10000.0,
                               full[v.sweep_id].spike_times_ms[full[v.sweep_id].spike_times_ms >= 10000.0])
    # the frozen-noise current is the same in both sets' source, but the halves differ
    assert not np.allclose(cs.train.current[0], cs.validation.current[0])


def _copy_as(src, dest, prefix, protocol="IDrest", numbers=None):
    """Real .ibw files of ``src`` copied into ``dest`` with another file prefix (``exp_`` ...)."""
    import shutil

    dest.mkdir(parents=True)
    for f in sorted(src.glob(f"X_{protocol}_ch*_*.ibw")):
        if numbers is None or int(f.stem.rsplit("_", 1)[1]) in numbers:
            shutil.copy(f, dest / f.name.replace("X_", f"{prefix}_", 1))


def test_generic_prefix_cells_named_by_folder(shared_data, tmp_path):
    root = shared_data / "bbp_sscx_l5pc"
    for cell in ("C060109A1-SR-C1", "C060109A2-SR-C1"):
        _copy_as(root / cell, tmp_path / "cells" / f"{cell}-exp", "exp", numbers=range(325, 330))
    spec = _spec(tmp_path / "cells", {})
    cells = prepare_cells(spec)
    assert sorted(cells) == ["C060109A1-SR-C1-exp", "C060109A2-SR-C1-exp"]  # not one cell "exp"
    assert cells["C060109A1-SR-C1-exp"].train.n_sweeps == 4 and cells["C060109A2-SR-C1-exp"].train.n_sweeps == 5


def test_two_sources_merging_into_one_cell_error(shared_data, tmp_path):
    root = shared_data / "bbp_sscx_l5pc"
    a, b = tmp_path / "a" / "cell", tmp_path / "b" / "cell"  # same folder name: same cell id
    _copy_as(root / "C060109A1-SR-C1", a, "exp", numbers=range(326, 330))
    _copy_as(root / "C060109A2-SR-C1", b, "exp", numbers=range(325, 328))
    spec = _spec(a, {}).model_copy(update={"data": _spec(a, {}).data.model_copy(update={"path": [str(a), str(b)]})})
    with pytest.raises(RecordingError) as err:
        prepare_cells(spec)
    msg = str(err.value)
    assert str(a) in msg and str(b) in msg and "cell 'cell'" in msg and "'326'" in msg


def test_stimulus_choice_per_cell(example_data, shared_data):
    cs = prepare_cells(_spec(example_data, {"repeats": [0]}, {"repeats": [1]}))["bbp_l5pc_A2_IDrest"]
    assert cs.stimulus == "idealised" and set(cs.stimulus_by_sweep.values()) == {"idealised"}
    assert len(cs.stimulus_by_sweep) == 32
    s, rec = cs.train_sweeps[5], load(example_data)[cs.train_sweeps[5].sweep_id]
    d = rec.step()
    i0, i1 = int(round(d.onset_ms / s.dt_ms)), int(round(d.offset_ms / s.dt_ms))
    np.testing.assert_allclose(cs.train.current[5, i0:i1], d.holding_pA + d.amplitude_pA, rtol=1e-6)
    np.testing.assert_allclose(cs.train.current[5, :i0], d.holding_pA, rtol=1e-6)
    assert np.ptp(rec.current[i0:i1]) > 1000  # the recorded plateau with its spike artefacts
    raw = prepare_cells(_spec(example_data, {"repeats": [0]}, stimulus="recorded"))["bbp_l5pc_A2_IDrest"]
    assert raw.stimulus == "recorded"
    np.testing.assert_allclose(raw.train.current[5], rec.current.astype(np.float32))
    gif = prepare_cells(_spec(shared_data / "gif_pozzorini_cell3", {"protocols": ["Ger1Test"]}))["Cell3"]
    assert gif.stimulus == "recorded"  # frozen noise under "auto"
