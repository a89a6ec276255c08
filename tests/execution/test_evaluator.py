"""fitter/execution/evaluator.py: simulate and score batches of candidates (plain Python, no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.data.dataset import prepare_cells
from spikefit.spec.defaults import typical_params
from spikefit.execution.evaluator import CellData, Evaluator
from spikefit.spec.jobspec import parse_job

OBJECTIVE = {"mode": "weighted", "metrics": [{"name": "gamma", "delta_ms": 4.0},
                                              {"name": "spike_count", "relative": True, "weight": 0.5}]}
FREE = ("R", "tau", "V_T", "delta_T", "V_th")
# rows in FREE order (GOhm, ms, mV, mV, mV)
TYPICAL = [0.05, 20.0, -50.0, 2.0, -40.0]
GOOD = np.array([TYPICAL, [0.1, 20.0, -50.0, 2.0, -40.0], [0.2, 10.0, -55.0, 1.0, -50.0]], np.float32)
# V_th far above V_T: the (clamped) exponential drives V past the runaway bound before any reset
DIVERGENT = np.array([0.05, 20.0, -50.0, 2.0, 1e5], np.float32)


@pytest.fixture(scope="module")
def data(example_data) -> CellData:
    spec = parse_job({"name": "t", "model": {"name": "AdExIF"}, "params": {"tau": {"low": 5, "high": 50}},
                      "data": {"path": str(example_data), "format": "ibw", "ljp_mV": 14.0,
                               "train": {"repeats": [0], "stimuli": ["IDrest:6", "IDrest:10", "IDrest:15"]}}})
    return CellData.from_batch(prepare_cells(spec)["bbp_l5pc_A2_IDrest"].train)


def _fixed(free):
    return {k: v for k, v in typical_params("AdExIF").items() if k not in free}


@pytest.fixture(scope="module")
def ev(data) -> Evaluator:
    return Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=8, objective=OBJECTIVE,
                     cells={"c": data}, init={"V": -70.0})


def test_cell_data_from_batch(data):
    assert data.current.shape == (3, 12000) and data.current.dtype == np.float32
    assert data.n_spikes.tolist() == [16, 32, 45]
    assert data.sweep_ids == ("331", "335", "340")
    assert data.V is not None and data.V.shape == data.current.shape
    np.testing.assert_allclose(data.durations_ms, [3000.0] * 3)


def test_scores_a_batch(ev, data):
    r = ev.evaluate("c", GOOD)
    assert r.loss.shape == (3,) and np.all(np.isfinite(r.loss))
    assert set(r.per_sweep) == {"gamma", "spike_count"}
    assert all(v.shape == (3, 3) for v in r.per_sweep.values())
    assert r.valid.tolist() == [True, True, True] and r.reasons == [None, None, None]
    assert r.n_spikes.shape == (3, 3) and np.all(r.n_spikes > 0)
    assert r.worker == "local" and r.sim_s > 0
    # more input resistance, more spikes: the candidates are really simulated with their own values
    assert np.all(r.n_spikes[1] > r.n_spikes[0])
    # relative spike-count error per sweep is |n_model - n_data| / n_data
    np.testing.assert_allclose(r.per_sweep["spike_count"],
                               np.abs(r.n_spikes - data.n_spikes) / data.n_spikes, rtol=1e-5)
    # the weighted loss ranks a closer spike count better
    assert r.loss[0] < r.loss[2]


def test_padding_does_not_change_results(ev):
    small = ev.evaluate("c", GOOD)
    others = np.array([[0.3, 40.0, -45.0, 3.0, -30.0], [0.02, 5.0, -60.0, 0.5, -55.0]], np.float32)
    big_rows = np.concatenate([others, GOOD[[2]], others[:1], GOOD[[0]], others[1:], GOOD[[1]], others[:1]])
    assert big_rows.shape == (8, 5)
    big = ev.evaluate("c", big_rows)
    idx = [4, 6, 2]  # where GOOD[0], GOOD[1], GOOD[2] sit in big_rows
    np.testing.assert_array_equal(big.n_spikes[idx], small.n_spikes)
    np.testing.assert_allclose(big.loss[idx], small.loss, rtol=1e-6)
    for k in small.per_sweep:
        np.testing.assert_allclose(big.per_sweep[k][idx], small.per_sweep[k], rtol=1e-6)


def test_divergent_candidate_is_invalid_others_valid(ev):
    rows = np.stack([GOOD[0], DIVERGENT, GOOD[1]])
    r = ev.evaluate("c", rows)
    assert r.valid.tolist() == [True, False, True]
    assert r.reasons[0] is None and r.reasons[2] is None
    assert r.reasons[1].startswith("diverged")
    assert np.all(np.isfinite(r.loss))  # a penalty, never NaN/inf
    assert r.loss[1] > max(r.loss[0], r.loss[2])
    # its neighbours score exactly as they do alone
    alone = ev.evaluate("c", GOOD[:2])
    np.testing.assert_allclose(r.loss[[0, 2]], alone.loss, rtol=1e-6)


def test_derived_threshold_follows_free_parameters(ev, data):
    free = ("R", "tau", "V_T", "delta_T")
    derived = Evaluator("AdExIF", free, _fixed(free + ("V_th",)), batch_size=8, objective=OBJECTIVE,
                        cells={"c": data}, init={"V": -70.0}, derived={"V_th": "V_T + 5 * delta_T"})
    rows = np.array([[0.05, 20.0, -50.0, 2.0], [0.05, 20.0, -38.0, 0.5], [0.1, 15.0, -55.0, 4.0]], np.float32)
    cols = derived._columns(rows)
    np.testing.assert_allclose(cols["V_th"], rows[:, 2] + 5 * rows[:, 3])
    r = derived.evaluate("c", rows)
    explicit = np.concatenate([rows, (rows[:, 2] + 5 * rows[:, 3])[:, None]], axis=1)
    ref = ev.evaluate("c", explicit)
    np.testing.assert_array_equal(r.n_spikes, ref.n_spikes)
    np.testing.assert_allclose(r.loss, ref.loss, rtol=1e-6)
    # the default V_th of -40 mV (below this V_T of -38 mV) would fire more on the second row
    fixed_th = ev.evaluate("c", np.concatenate([rows, np.full((3, 1), -40.0, np.float32)], axis=1))
    assert fixed_th.n_spikes[1].sum() > r.n_spikes[1].sum()


def test_traces_consistent_with_evaluate(ev, data):
    params = dict(zip(FREE, GOOD[1].tolist()))
    V, times, diverged = ev.traces("c", params)
    assert V.shape == data.current.shape
    assert not diverged and np.all(np.isfinite(V))
    counts = ev.evaluate("c", GOOD[1:2]).n_spikes[0]
    assert [len(t) for t in times] == counts.tolist()
    for t in times:
        assert np.all(np.diff(t) > 0) and t.min() >= 0 and t.max() < data.duration_ms
    # starts at the initial V; at each spike step V has crossed V_th, the next step is near V_reset
    np.testing.assert_allclose(V[:, 0], -70.0, atol=2.0)
    for s, t in enumerate(times):
        steps = np.round(t / data.dt_ms).astype(int)
        assert np.all(V[s, steps] >= -40.0)
        assert np.all(V[s, steps[steps + 1 < V.shape[1]] + 1] < -50.0)  # V_reset = -58 mV
    # before the step starts (the cell is at rest) there are no spikes
    onset = data.dt_ms * np.argmax(np.abs(data.current[0]) > 50.0)
    assert all(t.min() > onset for t in times)


def test_traces_report_divergence(ev):
    _, _, diverged = ev.traces("c", dict(zip(FREE, DIVERGENT.tolist())))
    assert diverged


def test_wrong_params_shape_names_argument(ev):
    with pytest.raises(ValueError, match=r"params: expected shape \[batch, 5\], got \(3, 4\)"):
        ev.evaluate("c", GOOD[:, :4])


def test_a_generation_larger_than_one_call_is_evaluated_in_calls_with_the_same_scores(data, monkeypatch):
    """A batch of any size (CMA-ES with a large population, restarts simulated together) is cut
    into calls of ``rows_per_call`` rows, so memory stays bounded by one call; the scores,
    counts, validity and reasons are those of one call over the whole batch."""
    from spikefit.execution import evaluator as mod

    rng = np.random.default_rng(5)
    x = np.repeat(GOOD, 7, axis=0)[:20] * rng.uniform(0.9, 1.1, (20, 1)).astype(np.float32)
    x[7] = DIVERGENT
    whole = Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=32, objective=OBJECTIVE, cells={"c": data},
                      init={"V": -70.0})
    assert whole.rows_per_call("c") == 32
    ref = whole.evaluate("c", x)
    small = Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=32, objective=OBJECTIVE, cells={"c": data},
                      init={"V": -70.0})
    per_row = 3 * mod._max_spikes(data, small.max_rate_hz) * mod.SLOT_BYTES
    monkeypatch.setattr(mod, "CALL_BYTES", 6 * per_row + 1)  # at most 6 rows: 32 = 6 calls of 6 (4 wasted)
    assert small.rows_per_call("c") == 6
    monkeypatch.setattr(mod, "CALL_BYTES", 9 * per_row)  # at most 9 rows: 4 calls of 8, none wasted
    assert small.rows_per_call("c") == 8
    got = small.evaluate("c", x)
    np.testing.assert_array_equal(got.loss, ref.loss)
    for k in ref.per_sweep:
        np.testing.assert_array_equal(got.per_sweep[k], ref.per_sweep[k])
    np.testing.assert_array_equal(got.n_spikes, ref.n_spikes)
    assert got.valid.tolist() == ref.valid.tolist() and got.reasons == ref.reasons
    assert not got.valid[7] and got.reasons[7].startswith("diverged")
    assert got.loss.shape == (20,)


def test_warm_compiles_the_end_of_run_calls_in_the_background_without_changing_them(data):
    """``warm`` (what the driver asks of each worker for the held-out and validation sets while
    the search runs) leaves both the batch scoring and the traces' simulation compiled: the
    later calls trace nothing new and give what an unwarmed evaluator gives."""
    fixed = {**_fixed(FREE), "b": 0.4321}  # a configuration no other test compiles
    kw = dict(batch_size=5, objective=OBJECTIVE, init={"V": -70.0})
    warmed = Evaluator("AdExIF", FREE, fixed, cells={"v": data}, **kw)
    thread = warmed.warm(["v"], GOOD[0])
    thread.join(timeout=300)
    assert not thread.is_alive()
    sims = {key: sim.n_traces for key, sim in warmed._sims.items()}
    assert sorted(k[2] for k in sims) == [False, True] and all(n == 1 for n in sims.values())
    got = warmed.evaluate("v", GOOD)
    V, times, diverged = warmed.traces("v", dict(zip(FREE, GOOD[1].tolist())))
    assert {key: sim.n_traces for key, sim in warmed._sims.items()} == sims  # nothing compiled again
    cold = Evaluator("AdExIF", FREE, fixed, cells={"v": data}, **kw)
    ref = cold.evaluate("v", GOOD)
    np.testing.assert_array_equal(got.loss, ref.loss)
    V0, times0, _ = cold.traces("v", dict(zip(FREE, GOOD[1].tolist())))
    np.testing.assert_array_equal(V, V0)
    assert [t.tolist() for t in times] == [t.tolist() for t in times0] and not diverged


def test_warm_on_a_served_cell_compiles_only_its_traces(data):
    """The driver warms the training cells too (for their traces): a cell that has already served
    a batch is not simulated again as a batch, only the voltage-recording call is compiled."""
    fixed = {**_fixed(FREE), "b": 0.5432}  # a configuration no other test compiles
    ev = Evaluator("AdExIF", FREE, fixed, cells={"t": data}, batch_size=5, objective=OBJECTIVE, init={"V": -70.0})
    ev.evaluate("t", GOOD)
    batch_sim = {k: s.n_traces for k, s in ev._sims.items()}
    calls = []
    original = ev.evaluate
    ev.evaluate = lambda *a, **k: calls.append(a) or original(*a, **k)
    thread = ev.warm(["t"], GOOD[0])
    thread.join(timeout=300)
    assert not thread.is_alive() and calls == []
    sims = {k: s.n_traces for k, s in ev._sims.items()}
    assert sorted(k[2] for k in sims) == [False, True] and all(sims[k] == n for k, n in batch_sim.items())
    ev.traces("t", dict(zip(FREE, GOOD[1].tolist())))
    assert {k: s.n_traces for k, s in ev._sims.items()} == sims  # the traces call was compiled by warm


def test_scoring_the_spiking_part_of_the_buffer_gives_the_full_buffers_scores(data, monkeypatch):
    """The scorer reads only the first score_slots(...) slots of the spike buffer (every spike of
    the call, the rest is padding): the same losses, per-sweep values and validity as scoring
    all K slots, for quiet, busy and divergent candidates."""
    from spikefit.execution import evaluator as mod

    assert [mod.score_slots(n, 5200) for n in (0, 1, 64, 65, 1000, 5200, 9000)] == [64, 64, 64, 128, 1024, 5200, 5200]
    x = np.vstack([GOOD, DIVERGENT[None, :], [[0.3, 20.0, -60.0, 2.0, -45.0]]]).astype(np.float32)  # the last fires hard
    trimmed = Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=8, objective=OBJECTIVE, cells={"c": data},
                        init={"V": -70.0}).evaluate("c", x)
    k = mod._max_spikes(data, 200.0)
    assert trimmed.n_spikes.max() > 0 and mod.score_slots(trimmed.n_spikes.max(), k) < k  # really cut
    monkeypatch.setattr(mod, "MIN_SCORE_SLOTS", 1 << 30)  # every slot scored
    full = Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=8, objective=OBJECTIVE, cells={"c": data},
                     init={"V": -70.0}).evaluate("c", x)
    np.testing.assert_array_equal(trimmed.loss, full.loss)
    for k in full.per_sweep:
        np.testing.assert_array_equal(trimmed.per_sweep[k], full.per_sweep[k])
    assert trimmed.valid.tolist() == full.valid.tolist() and trimmed.reasons == full.reasons


def test_the_fused_kernel_scores_as_the_scan(ev, data):
    """``resources.engine = "kernel"`` (the GPU default; here in Pallas interpret mode): same scores."""
    kern = Evaluator("AdExIF", FREE, _fixed(FREE), batch_size=8, objective=OBJECTIVE, cells={"c": data},
                     init={"V": -70.0}, engine="kernel")
    rows = np.vstack([GOOD, DIVERGENT])
    a, b = ev.evaluate("c", rows), kern.evaluate("c", rows)
    np.testing.assert_array_equal(b.n_spikes, a.n_spikes)
    np.testing.assert_array_equal(b.loss, a.loss)
    assert b.valid.tolist() == a.valid.tolist() == [True, True, True, False] and b.reasons == a.reasons
    for k in a.per_sweep:
        np.testing.assert_array_equal(b.per_sweep[k], a.per_sweep[k])


def test_engine_is_checked_by_the_job_spec(example_data):
    job = {"name": "t", "model": {"name": "AdExIF"}, "params": {"tau": {"low": 5, "high": 50}},
           "data": {"path": str(example_data), "format": "ibw"}, "resources": {"engine": "cuda"}}
    with pytest.raises(Exception, match=r"resources\.engine"):
        parse_job(job)
    job["resources"]["engine"] = "kernel"
    assert parse_job(job).resources.engine == "kernel"
