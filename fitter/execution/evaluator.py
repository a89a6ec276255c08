"""Evaluate a batch of candidate parameter sets on a cell's sweeps: simulate, then score.

:class:`Evaluator` is plain Python (no Ray): the Ray worker actors in :mod:`spikefit.execution.workers`
wrap it, and tests and reports use it directly. It compiles the simulation once: batches are
padded to a fixed size so every call reuses the same compiled code, and the free parameters are
traced arguments (new values never recompile and never reuse stale ones).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CellData", "Evaluator", "BatchResult", "use_compile_cache"]


def use_compile_cache() -> str | None:
    """Keep compiled simulations on disk between runs (JAX's persistent compilation cache).

    A resumed job, a rerun or a second job of the same shape then skips XLA compilation.
    Folder: ``$SPIKEFIT_COMPILE_CACHE`` (empty: off), default ``~/.cache/spikefit/xla``. Every
    compilation from 0.2 s on is kept: the validation report's and the held-out scoring's small
    ones add up to seconds.
    """
    import os

    folder = os.environ.get("SPIKEFIT_COMPILE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "spikefit", "xla"))
    if not folder:
        return None
    import jax

    if jax.config.jax_compilation_cache_dir is None:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:  # read-only home: compile every time
            return None
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return jax.config.jax_compilation_cache_dir


@dataclass(frozen=True)
class CellData:
    """One cell's sweeps as padded arrays (see :class:`spikefit.data.sweeps.SweepBatch`)."""

    current: np.ndarray  # [S, T] pA
    mask: np.ndarray  # [S, T] bool
    spike_steps: np.ndarray  # [S, K] int32, -1 padded
    n_spikes: np.ndarray  # [S]
    dt_ms: float
    sweep_ids: tuple[str, ...]
    V: np.ndarray | None = None  # [S, T] mV
    stim_window_ms: np.ndarray | None = None  # [S, 2] step onset / offset (ms); the whole sweep if flat

    @classmethod
    def from_batch(cls, batch) -> "CellData":
        return cls(
            stim_window_ms=_step_windows(batch),
            current=np.asarray(batch.current, np.float32),
            mask=np.asarray(batch.mask, bool),
            spike_steps=np.asarray(batch.spike_steps, np.int32),
            n_spikes=np.asarray(batch.n_spikes, np.int32),
            dt_ms=float(batch.dt_ms),
            sweep_ids=tuple(str(s) for s in batch.sweep_ids),
            V=None if getattr(batch, "voltage", None) is None else np.asarray(batch.voltage, np.float32),
        )

    @property
    def durations_ms(self) -> np.ndarray:
        """Real length of each sweep (ms), from the mask."""
        return self.mask.sum(axis=1).astype(np.float32) * self.dt_ms

    @property
    def duration_ms(self) -> float:
        return self.current.shape[1] * self.dt_ms


@dataclass
class BatchResult:
    """Scores of one batch: ``loss`` [B] or [B, M], per-sweep metrics [B, S], validity."""

    loss: np.ndarray
    per_sweep: dict[str, np.ndarray]
    valid: np.ndarray
    reasons: list[str | None]
    n_spikes: np.ndarray  # [B, S]
    sim_s: float = 0.0
    score_s: float = 0.0
    worker: str = ""
    extra: dict = field(default_factory=dict)


#: Bytes one compiled call may hold (:meth:`Evaluator.rows_per_call`); a larger generation is
#: evaluated in several calls.
CALL_BYTES = 2 << 30
#: Peak bytes of one call per spike-buffer slot (candidate x sweep x K): the simulator's buffer
#: and the scorer's intermediates. Measured as the peak RSS of one call on the challenge-A data
#: (AdExIFRef, 2 sweeps, K = 5200, Gamma + spike count): 159 / 134 / 126 B per slot at 512 /
#: 2048 / 8192 candidates.
SLOT_BYTES = 160


#: Fewest spike-buffer slots scored (:func:`score_slots`).
MIN_SCORE_SLOTS = 64


def score_slots(most: int, k: int) -> int:
    """Slots of a ``K = k`` spike buffer to score when no train of the call has more than
    ``most`` spikes: the next power of two (at least ``MIN_SCORE_SLOTS``), at most ``k``. The
    slots past it hold only padding, and the scorer's cost is set by the slots: a fit's buffer
    is sized for the rate cap (200 Hz: 5,200 slots for 26 s) while a batch's busiest train has
    a few hundred spikes. Powers of two: a handful of compiled scorers per data set."""
    return int(min(k, max(MIN_SCORE_SLOTS, 1 << max(int(most) - 1, 0).bit_length())))


def _max_spikes(data: CellData, max_rate_hz: float) -> int:
    """Spike buffer per sweep: the rate cap over the sweep, at least twice the data's count."""
    by_rate = int(np.ceil(max_rate_hz * data.duration_ms / 1000.0))
    return int(max(16, by_rate, 2 * int(data.n_spikes.max(initial=0)) + 8))


class Evaluator:
    """Simulates and scores batches of candidates for one model on one or more cells."""

    def __init__(self, model: str, free: tuple[str, ...], fixed: dict[str, float], *,
                 spk_reset: str = "hard", objective: dict | None = None, batch_size: int = 256,
                 max_rate_hz: float = 200.0, name: str = "local",
                 cells: dict[str, CellData] | None = None, derived: dict[str, str] | None = None,
                 init: dict[str, float] | None = None, engine: str = "auto"):
        from spikefit.scoring.objective import Objective

        use_compile_cache()
        self.model = model
        self.free = tuple(free)
        self.fixed = dict(fixed)
        self.spk_reset = spk_reset
        self.batch_size = int(batch_size)
        self.max_rate_hz = float(max_rate_hz)
        self.objective = Objective.from_spec(objective or {"metrics": [{"name": "gamma"}]})
        self.labels = self.objective.labels
        self.needs_voltage = self.objective.needs_voltage  # per term: a spike-only feature records no V
        self.name = name
        from spikefit.spec.derived import Derived

        self.derived = Derived(derived or {}, self.free, self.fixed)
        self.init = dict(init or {})
        self.engine = engine
        self._cells: dict[str, CellData] = dict(cells or {})
        self._sims: dict[tuple, object] = {}
        self._served: set[str] = set()  # cells evaluated at least once (their batch call is compiled)

    # -- data -------------------------------------------------------------------------------
    def add_cell(self, key: str, data: CellData) -> None:
        self._cells[key] = data

    def _simulator(self, data: CellData, record_v: bool):
        from spikefit import models
        k = _max_spikes(data, self.max_rate_hz)
        key = (data.dt_ms, k, record_v)
        if key not in self._sims:
            self._sims[key] = models.Simulator(
                self.model, free=self.free + self.derived.names, fixed=self.fixed, dt=data.dt_ms,
                spk_reset=self.spk_reset, max_spikes=k, record_v=record_v, init=self.init,
                engine=self.engine)
        return self._sims[key]

    # -- evaluation -------------------------------------------------------------------------
    def rows_per_call(self, key: str) -> int:
        """Candidates simulated and scored in one compiled call on cell ``key``: the batch size,
        or where one call of it would hold more than ``CALL_BYTES`` (spike buffers and the
        scorer's ``[rows, sweeps, K]`` intermediates, the voltage when recorded) the batch cut
        into equal calls under that bound. Fixed per cell, so one compile serves every batch."""
        data = self._cells[key]
        s, t = data.current.shape
        per_row = s * (_max_spikes(data, self.max_rate_hz) * SLOT_BYTES + (t * 4 if self.needs_voltage else 0))
        cap = max(1, CALL_BYTES // max(per_row, 1))
        calls = -(-self.batch_size // cap)
        return -(-self.batch_size // calls)

    def evaluate(self, key: str, params: np.ndarray) -> BatchResult:
        """Score ``params`` [B, n_free] (columns in ``free`` order, simulator units) on cell ``key``.

        Any ``B``: calls of :meth:`rows_per_call` rows each (the last one padded), so memory is
        bounded by one call however large the generation, and every call reuses one compiled
        simulation and scorer."""
        data = self._cells[key]
        params = np.asarray(params, np.float32)
        if params.ndim != 2 or params.shape[1] != len(self.free):
            raise ValueError(f"params: expected shape [batch, {len(self.free)}], got {params.shape}")
        if self.needs_voltage and data.V is None:
            raise ValueError(f"cell {key!r}: the objective needs the recorded voltage, but the sweeps have none")
        b, rows = params.shape[0], self.rows_per_call(key)
        self._served.add(key)
        started = time.time()
        parts = [self._call(data, params[i:i + rows], rows) for i in range(0, max(b, 1), rows)]
        return BatchResult(loss=np.concatenate([p.loss for p in parts]),
                           per_sweep={k: np.concatenate([p.per_sweep[k] for p in parts]) for k in parts[0].per_sweep},
                           valid=np.concatenate([p.valid for p in parts]),
                           reasons=[r for p in parts for r in p.reasons],
                           n_spikes=np.concatenate([p.n_spikes for p in parts]),
                           sim_s=sum(p.sim_s for p in parts), score_s=sum(p.score_s for p in parts),
                           worker=self.name,
                           extra={"sweep_ids": data.sweep_ids, "started": started, "ended": time.time()})

    def _call(self, data: CellData, params: np.ndarray, rows: int) -> BatchResult:
        """One compiled call: ``params`` (at most ``rows``) padded to ``rows``, simulated, scored."""
        b = params.shape[0]
        t0 = time.perf_counter()
        res = self._simulator(data, record_v=self.needs_voltage)(self._columns(_pad_rows(params, rows)), data.current)
        n_spikes = np.asarray(res.n_spikes)
        t1 = time.perf_counter()
        # scored as simulated, padding rows included (one compiled scorer for every batch, the
        # held-out and final batches of a few candidates too; no host copy of the spikes), on
        # the buffer's first score_slots(...) slots: every spike of the call, none of the padding
        k = score_slots(int(n_spikes.max(initial=0)), res.spike_steps.shape[-1])
        scored = self.objective.evaluate(
            {"spike_steps": res.spike_steps[..., :k], "diverged": res.diverged, "overflow": res.overflow},
            data.spike_steps, dt=data.dt_ms, duration=data.durations_ms,
            mask=data.mask if self.needs_voltage else None,
            model_V=res.V if self.needs_voltage else None, data_V=data.V if self.needs_voltage else None,
            stim_window_ms=data.stim_window_ms)
        t2 = time.perf_counter()
        return BatchResult(loss=np.asarray(scored.loss)[:b],
                           per_sweep={k: np.asarray(v)[:b] for k, v in scored.per_sweep.items()},
                           valid=np.asarray(scored.valid)[:b], reasons=list(scored.reason)[:b],
                           n_spikes=n_spikes[:b], sim_s=t1 - t0, score_s=t2 - t1)

    def traces(self, key: str, params: dict[str, float]):
        """Simulated V [S, T] (mV), spike times per sweep (ms) and divergence for one parameter set."""
        data = self._cells[key]
        row = np.array([[params[n] for n in self.free]], np.float32)
        res = self._simulator(data, record_v=True)(self._columns(row), data.current)
        steps = np.asarray(res.spike_steps)[0]
        times = [s[s >= 0].astype(np.float64) * data.dt_ms for s in steps]
        return np.asarray(res.V)[0], times, bool(np.asarray(res.diverged)[0])

    def spike_times(self, key: str, params: dict[str, float]) -> tuple[list[np.ndarray], bool]:
        """Spike times per sweep (ms) and divergence for one parameter set, no voltage kept."""
        data = self._cells[key]
        row = np.array([[params[n] for n in self.free]], np.float32)
        res = self._simulator(data, record_v=False)(self._columns(row), data.current)
        steps = np.asarray(res.spike_steps)[0]
        return [s[s >= 0].astype(np.float64) * data.dt_ms for s in steps], bool(np.asarray(res.diverged)[0])

    def _columns(self, x: np.ndarray) -> dict[str, np.ndarray]:
        cols = {n: x[:, i] for i, n in enumerate(self.free)}
        cols.update(self.derived(cols))
        return cols

    def warm(self, keys, row) -> threading.Thread:
        """Compile, in a background thread, what the end of a run needs on cells ``keys`` (their
        scoring, unless a batch was already evaluated there, and the traces' voltage-recording
        simulation), one candidate ``row`` each, while this evaluator serves batches: a fit
        simulates a few hundred neurons per step on one core, so the compiler takes a core that
        would wait. Errors are left to the real calls."""
        def run():
            for key in keys:
                try:
                    if key not in self._served:
                        self.evaluate(key, np.asarray(row, np.float32)[None, :])
                    self.traces(key, dict(zip(self.free, np.asarray(row, float).tolist())))
                except Exception:  # noqa: BLE001 - the same call raises again where it matters
                    pass
        thread = threading.Thread(target=run, name=f"{self.name}-warm", daemon=True)
        thread.start()
        return thread

    def ping(self) -> str:
        return self.name


def _step_windows(batch) -> np.ndarray:
    """[S, 2] onset / offset (ms) of each sweep's current step (spikefit.data.steps); a sweep
    without a step (noise, a flat segment) gets its whole length."""
    from spikefit.data.steps import describe_step

    out = np.zeros((batch.n_sweeps, 2))
    for s in range(batch.n_sweeps):
        n = int(batch.n_steps[s])
        d = describe_step(np.asarray(batch.current[s, :n], np.float64), float(batch.dt_ms))
        on, off = (d.onset_ms, d.offset_ms) if d.is_step and np.isfinite(d.onset_ms) else (0.0, n * batch.dt_ms)
        out[s] = (on, off if np.isfinite(off) and off > on else n * batch.dt_ms)
    return out


def _pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[0] == n:
        return x
    reps = np.repeat(x[-1:], n - x.shape[0], axis=0)
    return np.concatenate([x, reps], axis=0)
