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
