"""Tests for spikefit.search.study against real Optuna storages (journal file, sqlite, memory)."""

from __future__ import annotations

import importlib.util
import math

import pytest

from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.search.study import SAMPLERS, Best, Candidate, Study, TrialResult

SPACE = SearchSpace([
    FreeParameter("tau", 1.0, 100.0, "ms", log=True),
    FreeParameter("V_T", -70.0, -40.0, "mV"),
])


def loss(p: dict[str, float]) -> float:
    return (math.log(p["tau"]) - 2.0) ** 2 + ((p["V_T"] + 55.0) / 10.0) ** 2


def run_batches(study: Study, n_batches: int, size: int) -> list[Candidate]:
    asked = []
    for _ in range(n_batches):
        cands = study.ask_batch(size)
        study.tell_batch([(c.number, loss(c.params)) for c in cands])
        asked += cands
    return asked


@pytest.fixture(params=["journal", "sqlite"])
def storage_kwargs(request, tmp_path):
    if request.param == "journal":
        return {"output_dir": tmp_path / "out"}
    return {"storage": f"sqlite:///{tmp_path / 'study.db'}"}


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "random", "qmc", "nsga2"])
def test_fixed_seed_gives_same_candidates(sampler):
    runs = [run_batches(Study.create("s", SPACE, sampler=sampler, seed=7), 3, 8) for _ in range(2)]
    assert runs[0] == runs[1]
    assert [c.number for c in runs[0]] == list(range(24))
    for c in runs[0]:
        assert 1.0 <= c.params["tau"] <= 100.0 and -70.0 <= c.params["V_T"] <= -40.0
    assert len({tuple(c.params.values()) for c in runs[0]}) > 20  # not one point repeated


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "random"])
def test_another_seed_gives_other_candidates(sampler):
    a = run_batches(Study.create("s", SPACE, sampler=sampler, seed=1), 1, 8)
    b = run_batches(Study.create("s", SPACE, sampler=sampler, seed=2), 1, 8)
    assert [c.params for c in a] != [c.params for c in b]


def test_cmaes_improves_on_the_quadratic():
    study = Study.create("s", SPACE, sampler="cmaes", seed=0)
    run_batches(study, 20, 10)
    assert study.n_complete == 200
    assert study.best().values[0] < 1e-2


def test_fail_with_reason_and_study_goes_on(storage_kwargs):
    study = Study.create("s", SPACE, sampler="tpe", seed=0, **storage_kwargs)
    c = study.ask_batch(3)
    study.tell_batch([
        (c[0].number, None, "fail", "voltage ran away", {"worker": "w0"}),
        TrialResult(c[1].number, 0.5, user_attrs={"worker": "w1"}),
        (c[2].number, 0.25),
    ])
    assert (study.n_failed, study.n_complete) == (1, 2)
    frame = study.trials_frame().set_index("number")
    assert frame.loc[c[0].number, "state"] == "FAIL"
    assert frame.loc[c[0].number, "fail_reason"] == "voltage ran away"
    assert frame.loc[c[0].number, "worker"] == "w0"
    assert frame.loc[c[1].number, "loss"] == 0.5 and frame.loc[c[1].number, "worker"] == "w1"
    assert math.isnan(frame.loc[c[0].number, "loss"])
    nxt = study.ask_batch(2)
    assert [n.number for n in nxt] == [3, 4]
    assert study.best() == Best(c[2].number, c[2].params, (0.25,))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_become_fail_with_reason(bad):
    study = Study.create("s", SPACE, seed=0)
    (c,) = study.ask_batch(1)
    study.tell_batch([(c.number, bad)])
    assert (study.n_failed, study.n_complete) == (1, 0)
    reason = study.trials_frame().loc[0, "fail_reason"]
    assert reason.startswith("non-finite objective value(s)") and str(bad) in reason


def test_tell_errors_are_clear():
    study = Study.create("s", SPACE, seed=0)
    (c,) = study.ask_batch(1)
    with pytest.raises(ValueError, match="has no trial number 99"):
        study.tell_batch([(99, 1.0)])
    with pytest.raises(ValueError, match="state must be 'complete' or 'fail', got 'pruned'"):
        study.tell_batch([(c.number, 1.0, "pruned")])
    with pytest.raises(ValueError, match=r"expected 1 objective value\(s\).*got 2"):
        study.tell_batch([(c.number, [1.0, 2.0])])
    with pytest.raises(ValueError, match="needs values"):
        study.tell_batch([(c.number, None)])
    with pytest.raises(ValueError, match=r"numbers \[0\] appear more than once"):
        study.tell_batch([(c.number, 1.0), (c.number, 2.0)])
    study.tell_batch([(c.number, 1.0)])
    with pytest.raises(ValueError, match="trial 0 is already COMPLETE"):
        study.tell_batch([(c.number, 2.0)])
    assert study.n_complete == 1
    with pytest.raises(ValueError, match="positive int"):
        study.ask_batch(0)


def test_create_validates_sampler_and_directions():
    with pytest.raises(ValueError, match=r"unknown sampler 'bayes'.*'tpe', 'cmaes', 'nsga2', 'qmc'"):
        Study.create("s", SPACE, sampler="bayes")
    with pytest.raises(ValueError, match=r"sampler 'cmaes' handles one objective, got 2"):
        Study.create("s", SPACE, sampler="cmaes", directions=("minimize", "minimize"))
    with pytest.raises(ValueError, match=r"unknown options \['sigma'\].*sigma0"):
        Study.create("s", SPACE, sampler="cmaes", sampler_options={"sigma": 1.0})
    with pytest.raises(ValueError, match=r"pass the seed as Study.create\(seed=...\)"):
        Study.create("s", SPACE, sampler="tpe", sampler_options={"seed": 1})
    with pytest.raises(ValueError, match="expected 'minimize' or 'maximize', got 'min'"):
        Study.create("s", SPACE, directions="min")


def test_sampler_options_reach_optuna():
    study = Study.create("s", SPACE, sampler="tpe", seed=0, sampler_options={"n_startup_trials": 3})
    assert study._study.sampler._n_startup_trials == 3


def test_gp_without_torch_has_install_hint():
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed; the GP sampler is usable")
    with pytest.raises(ImportError, match="pip install torch"):
        Study.create("s", SPACE, sampler="gp")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="GPSampler needs torch")
def test_gp_sampler_runs():
    study = Study.create("s", SPACE, sampler="gp", seed=0)
    run_batches(study, 2, 6)
    assert study.n_complete == 12


def test_multi_objective_pareto_front():
    study = Study.create("m", SPACE, sampler="nsga2", directions=["minimize", "minimize"], seed=0)
    c = study.ask_batch(4)
    study.tell_batch([(c[0].number, [1.0, 4.0]), (c[1].number, [2.0, 2.0]),
                      (c[2].number, [3.0, 3.0]), (c[3].number, (4.0, 1.0))])
    front = study.best()
    assert isinstance(front, list)
    assert sorted(b.number for b in front) == [c[0].number, c[1].number, c[3].number]
    assert list(study.trials_frame().columns[:4]) == ["number", "state", "loss_0", "loss_1"]


def test_journal_resume_continues_numbering_and_sees_pending(tmp_path):
    out = tmp_path / "job"
    first = Study.create("cell1", SPACE, sampler="cmaes", seed=3, output_dir=out)
    assert (out / "study.journal").is_file()
    run_batches(first, 2, 5)
    crashed = first.ask_batch(4)  # the driver dies before telling these
    del first

    again = Study.create("cell1", SPACE, sampler="cmaes", seed=3, output_dir=out)
    assert again.n_complete == 10
    assert again.pending() == crashed
    # re-evaluate one pending trial under its own number, fail the rest
    again.tell_batch([(crashed[0].number, loss(crashed[0].params))])
    assert again.fail_pending("driver restarted") == [c.number for c in crashed[1:]]
    assert again.pending() == []
    assert (again.n_complete, again.n_failed) == (11, 3)
    assert [c.number for c in again.ask_batch(2)] == [14, 15]


def test_requeue_pending_reasks_same_params_under_new_numbers(storage_kwargs):
    first = Study.create("c", SPACE, sampler="tpe", seed=0, **storage_kwargs)
    run_batches(first, 1, 4)
    crashed = first.ask_batch(2)
    again = Study.create("c", SPACE, sampler="tpe", seed=0, **storage_kwargs)
    assert again.requeue_pending() == [4, 5]
    redo = again.ask_batch(3)
    assert [c.number for c in redo] == [6, 7, 8]
    assert [c.params for c in redo[:2]] == [c.params for c in crashed]
    frame = again.trials_frame().set_index("number")
    assert list(frame.loc[[6, 7], "retry_of"]) == [4, 5]
    assert set(frame.loc[[4, 5], "fail_reason"]) == {"requeued after restart"}


def test_resumed_seeded_study_does_not_replay_candidates(storage_kwargs):
    first = run_batches(Study.create("r", SPACE, sampler="random", seed=5, **storage_kwargs), 1, 6)
    second = run_batches(Study.create("r", SPACE, sampler="random", seed=5, **storage_kwargs), 1, 6)
    assert [c.number for c in second] == list(range(6, 12))
    assert not {tuple(c.params.values()) for c in first} & {tuple(c.params.values()) for c in second}


def test_resume_rejects_other_space_or_directions(tmp_path):
    Study.create("x", SPACE, output_dir=tmp_path)
    other = SearchSpace([FreeParameter("tau", 1.0, 50.0, "ms", log=True)])
    with pytest.raises(ValueError, match="exists with search space"):
        Study.create("x", other, output_dir=tmp_path)
    with pytest.raises(ValueError, match=r"exists with directions \['minimize'\]"):
        Study.create("x", SPACE, output_dir=tmp_path, directions="maximize")
    with pytest.raises(ValueError, match="already exists.*load_if_exists=True"):
        Study.create("x", SPACE, output_dir=tmp_path, load_if_exists=False)


def test_trials_frame_columns_and_empty_study():
    study = Study.create("s", SPACE, seed=0)
    empty = study.trials_frame()
    assert list(empty.columns)[:5] == ["number", "state", "loss", "tau", "V_T"] and len(empty) == 0
    run_batches(study, 1, 3)
    frame = study.trials_frame()
    assert list(frame["state"]) == ["COMPLETE"] * 3
    assert (frame["duration_s"] >= 0).all()
    assert frame["loss"].tolist() == pytest.approx([loss({"tau": t, "V_T": v})
                                                    for t, v in zip(frame["tau"], frame["V_T"])])
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        Study.create("e", SPACE).best()


def test_samplers_constant_lists_all():
    assert set(SAMPLERS) == {"cmaes_batch", "tpe", "cmaes", "nsga2", "qmc", "random", "gp"}


def test_cmaes_batch_is_seeded_and_improves(tmp_path):
    def run(seed, out):
        st = Study.create("b", SPACE, sampler="cmaes_batch", seed=seed, output_dir=out,
                          sampler_options={"popsize": 16})
        return st, run_batches(st, 12, 16)

    st, a = run(3, tmp_path / "a")
    _, b = run(3, tmp_path / "b")
    _, c = run(4, tmp_path / "c")
    assert a == b and a != c
    assert st.n_complete == 192 and st.best().values[0] < 1e-2
    for cand in a:
        assert 1.0 <= cand.params["tau"] <= 100.0 and -70.0 <= cand.params["V_T"] <= -40.0


def test_cmaes_batch_closes_a_generation_until_it_is_told():
    st = Study.create("b", SPACE, sampler="cmaes_batch", seed=0, sampler_options={"popsize": 8})
    first = st.ask_batch(5)
    assert st.can_ask and len(st.ask_batch(5)) == 3  # the generation has 8 members
    assert not st.can_ask and st.ask_batch(4) == []
    st.tell_batch([(c.number, None, "fail", "diverged") for c in first])
    assert not st.can_ask  # 3 still running
    st.tell_batch([TrialResult(n, 1.0) for n in (5, 6, 7)])
    assert st.can_ask and len(st.ask_batch(8)) == 8
    assert st.n_failed == 5


def test_cmaes_batch_options_are_checked():
    with pytest.raises(ValueError, match="popsize"):
        Study.create("b", SPACE, sampler="cmaes_batch", sampler_options={})
    with pytest.raises(ValueError, match=r"unknown options \['sigma'\]"):
        Study.create("b", SPACE, sampler="cmaes_batch", sampler_options={"popsize": 8, "sigma": 1})
    with pytest.raises(ValueError, match="several|one objective"):
        Study.create("b", SPACE, sampler="cmaes_batch", directions=("minimize", "minimize"),
                     sampler_options={"popsize": 8})
    st = Study.create("b", SPACE, sampler="cmaes_batch", seed=0,
                      sampler_options={"popsize": 64, "sigma0": 0.01, "x0": {"tau": 10.0, "V_T": -50.0}})
    tau = [c.params["tau"] for c in st.ask_batch(64)]
    assert 8.0 < min(tau) and max(tau) < 12.5  # sampled around x0 with a small step


def _array_batches(study: Study, n_batches: int, size: int, *, fail_every: int = 5):
    """ask_array / tell_array / record as the driver does; every ``fail_every``-th trial FAILs."""
    import numpy as np

    for _ in range(n_batches):
        numbers, x = study.ask_array(size)
        vals = np.array([loss(dict(zip(study.space.names, row))) for row in x])
        failed = numbers % fail_every == 0
        study.record(study.tell_array(numbers, x, vals, failed, ["diverged" if f else None for f in failed]))


def test_cmaes_batch_counts_and_best_are_optunas_without_reading_the_journal(tmp_path):
    """The driver reads a cmaes_batch study's counts and best trial from what it was told (no
    journal replay mid-run); they are what Optuna itself reads from the journal, and a reopened
    study (resume) starts from the stored ones."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    st = Study.create("b", SPACE, sampler="cmaes_batch", seed=1, output_dir=tmp_path,
                      sampler_options={"popsize": 32})
    _array_batches(st, 6, 32)
    theirs = optuna.load_study(study_name="b", storage=JournalStorage(JournalFileBackend(str(tmp_path / "study.journal"))))
    complete = theirs.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert (st.n_complete, st.n_failed, st.n_trials) == (len(complete), 192 - len(complete), 192)
    assert st.n_failed == len(range(0, 192, 5))
    best = st.best()
    assert (best.number, best.values[0], best.params) == (theirs.best_trial.number, theirs.best_value,
                                                          theirs.best_trial.params)
    again = Study.create("b", SPACE, sampler="cmaes_batch", seed=1, output_dir=tmp_path,
                         sampler_options={"popsize": 32})
    assert (again.n_complete, again.n_failed, again.best().number) == (st.n_complete, st.n_failed, best.number)
    _array_batches(again, 1, 32)
    assert again.n_trials == 224 and again.best().values[0] <= best.values[0]


def test_cmaes_batch_start_at_moves_the_search_with_the_same_seed(tmp_path):
    """A local stage's study is opened at the start of the run and started later at the best
    point: the same candidates as a study created there with that x0."""
    import numpy as np

    x0 = {"tau": 10.0, "V_T": -50.0}
    late = Study.create("l", SPACE, sampler="cmaes_batch", seed=7, output_dir=tmp_path / "a",
                        sampler_options={"popsize": 16, "x0": {"tau": 10.0, "V_T": -55.0}})
    late.start_at(x0, 0.02)
    direct = Study.create("l", SPACE, sampler="cmaes_batch", seed=7, output_dir=tmp_path / "b",
                          sampler_options={"popsize": 16, "x0": x0, "sigma0": 0.02})
    np.testing.assert_array_equal(late.ask_array(16)[1], direct.ask_array(16)[1])
    with pytest.raises(ValueError, match="cmaes_batch"):
        Study.create("t", SPACE, sampler="tpe", seed=0).start_at(x0, 0.1)
