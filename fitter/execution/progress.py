"""Progress bars for long work (trials done, best loss, trials/s), built on rich: one overall,
and one line per cell when a job fits several."""

from __future__ import annotations

import math
import sys

__all__ = ["Progress"]


class Progress:
    """``with Progress(total=n) as bar: bar.advance(k, best=loss)``; silent when disabled."""

    def __init__(self, total: int, *, enabled: bool = True, description: str = "trials",
                 cells: dict[str, int] | None = None):
        self.total = int(total)
        self.enabled = enabled and sys.stderr is not None
        self.description = description
        self.cells = dict(cells or {}) if len(cells or {}) > 1 else {}  # one line per cell: only for several
        self._bar = None
        self._task = None
        self._cell_tasks: dict[str, int] = {}
        self._best = math.inf
        self._cell_best: dict[str, float] = {}

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
            for cell, n in self.cells.items():
                self._cell_tasks[cell] = self._bar.add_task(f"  {cell}", total=n, best="-", rate="-")
        return self

    def advance(self, n: int, *, best: float | None = None, cell: str | None = None) -> None:
        """``n`` more trials done (of ``cell``, when given), ``best`` the batch's best loss."""
        if self._bar is None:
            return
        self._update(self._task, n, best, "")
        if cell in self._cell_tasks:
            self._update(self._cell_tasks[cell], n, best, cell)

    def _update(self, task_id: int, n: int, best: float | None, key: str) -> None:
        fields = {}
        old = self._best if not key else self._cell_best.get(key, math.inf)
        if best is not None and math.isfinite(best) and best < old:
            if key:
                self._cell_best[key] = best
            else:
                self._best = best
            fields["best"] = f"{best:.4g}"
        task = next(t for t in self._bar.tasks if t.id == task_id)
        if task.elapsed:
            fields["rate"] = f"{(task.completed + n) / task.elapsed:.0f}"
        self._bar.update(task_id, advance=n, **fields)

    def done(self) -> dict[str, int]:
        """Trials counted so far: ``"all"`` and one entry per cell line."""
        if self._bar is None:
            return {}
        by_id = {t.id: int(t.completed) for t in self._bar.tasks}
        return {"all": by_id[self._task], **{c: by_id[i] for c, i in self._cell_tasks.items()}}

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
