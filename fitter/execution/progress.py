"""A progress bar for long work (trials done, best loss, trials/s), built on rich."""

from __future__ import annotations

import math
import sys

__all__ = ["Progress"]


class Progress:
    """``with Progress(total=n) as bar: bar.advance(k, best=loss)``; silent when disabled."""

    def __init__(self, total: int, *, enabled: bool = True, description: str = "trials"):
        self.total = int(total)
        self.enabled = enabled and sys.stderr is not None
        self.description = description
        self._bar = None
        self._task = None
        self._best = math.inf

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("trials  best loss {task.fields[best]}"),
                TextColumn("{task.fields[rate]} trials/s"), TimeElapsedColumn(),
                TimeRemainingColumn(), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total, best="-", rate="-")
        return self

    def advance(self, n: int, *, best: float | None = None) -> None:
        if self._bar is None:
            return
        fields = {}
        if best is not None and math.isfinite(best) and best < self._best:
            self._best = best
            fields["best"] = f"{best:.4g}"
        task = self._bar.tasks[0]
        if task.elapsed:
            fields["rate"] = f"{(task.completed + n) / task.elapsed:.0f}"
        self._bar.update(self._task, advance=n, **fields)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
