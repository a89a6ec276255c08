"""spikefit.execution.progress: the trial bar shows the count, the best loss so far and the rate."""

from __future__ import annotations

from spikefit.execution.progress import Progress


def test_bar_counts_trials_and_keeps_the_lowest_loss():
    with Progress(total=300, description="job") as bar:
        bar.advance(100, best=0.8)
        bar.advance(100, best=0.5)
        bar.advance(50, best=0.9)   # a worse batch does not hide the best so far
        bar.advance(50, best=float("nan"))
        task = bar._bar.tasks[0]
        assert (task.completed, task.total) == (300, 300)
        assert task.fields["best"] == "0.5"
        assert task.fields["rate"] != "-"


def test_disabled_bar_draws_nothing(capsys):
    with Progress(total=10, enabled=False) as bar:
        bar.advance(10, best=0.1)
    assert bar._bar is None
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_several_cells_get_a_line_each_beside_the_total():
    with Progress(total=300, description="job", cells={"a": 100, "b": 200}) as bar:
        bar.advance(50, best=0.7, cell="a")
        bar.advance(100, best=0.4, cell="b")
        bar.advance(50, best=0.6, cell="a")
        assert bar.done() == {"all": 200, "a": 100, "b": 100}
        tasks = {t.description.strip(): t for t in bar._bar.tasks}
        assert tasks["a"].fields["best"] == "0.6" and tasks["b"].fields["best"] == "0.4"
        assert tasks["job"].fields["best"] == "0.4" and tasks["a"].total == 100


def test_one_cell_has_only_the_total_line():
    with Progress(total=10, cells={"only": 10}) as bar:
        bar.advance(10, cell="only")
        assert len(bar._bar.tasks) == 1 and bar.done() == {"all": 10}
