"""Preparing sweeps for a fit: select, split by stimulus, resample, pad into a :class:`SweepBatch`.

Spike-step convention (shared with the simulator and the metrics): ``spike_steps[s, k] = i``
means the k-th spike of sweep s is at time ``i * dt_ms`` (``i = round(t / dt_ms)``);
unused slots are ``-1``.

Resampling rule (:func:`resample`): the simulation step must divide the sampling interval
or be a multiple of it (relative tolerance 1e-6). Finer steps hold each sample
(``r = dt_rec / dt_sim`` copies); coarser steps average blocks of ``r = dt_sim / dt_rec``
samples (a trailing partial block is dropped). Anything else is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from spikefit.data.recording import Recording, RecordingError, Sweep

__all__ = [
    "SweepBatch",
    "select_sweeps",
    "split_by_stimulus",
    "group_repeats",
    "step_amplitude",
    "resample",
    "make_batch",
]

_RTOL = 1e-6


@dataclass(frozen=True, eq=False)
class SweepBatch:
    """Sweeps padded to arrays for a batched simulation.

    current: float32 [sweep, time], pA (0 in padding)
    mask: bool [sweep, time], True on real samples
    dt_ms: float, the simulation step, ms
    spike_steps: int32 [sweep, max_spikes], step i = spike at i*dt_ms, -1 padded
    n_spikes: int32 [sweep]
    n_steps: int32 [sweep], real length of each sweep in steps
    voltage: float32 [sweep, time], mV (LJP-corrected, 0 in padding), or None when any sweep
      has no recorded voltage
    stimulus_ids, sweep_ids, cells: tuple[str, ...] [sweep]; repeats: int32 [sweep]
    """

    current: np.ndarray
    mask: np.ndarray
    dt_ms: float
    spike_steps: np.ndarray
    n_spikes: np.ndarray
    n_steps: np.ndarray
    voltage: np.ndarray | None
    stimulus_ids: tuple[str, ...]
    sweep_ids: tuple[str, ...]
    cells: tuple[str, ...]
    repeats: np.ndarray

    @property
    def n_sweeps(self) -> int:
        return int(self.current.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.current.shape[1])

    def spike_train(self) -> np.ndarray:
        """bool [sweep, time]: True at the steps that hold a spike."""
        out = np.zeros(self.current.shape, dtype=bool)
        s, k = np.nonzero(self.spike_steps >= 0)
        out[s, self.spike_steps[s, k]] = True
        return out


def step_amplitude(sweep: Sweep) -> float:
    """The sweep's step amplitude, pA: plateau median minus holding current (:meth:`Sweep.step`)."""
    return sweep.step().amplitude_pA


def _as_list(sweeps: Recording | Iterable[Sweep]) -> list[Sweep]:
    return list(sweeps.sweeps if isinstance(sweeps, Recording) else sweeps)


def select_sweeps(
    sweeps: Recording | Iterable[Sweep],
    *,
    protocol: str | Sequence[str] | None = None,
    sweep_ids: Sequence[str] | None = None,
    stimuli: Sequence[str] | None = None,
    amplitude_pA: tuple[float, float] | None = None,
    min_spikes: int | None = None,
) -> list[Sweep]:
    """Sweeps matching every given criterion (``amplitude_pA`` = [lo, hi] on :func:`step_amplitude`)."""
    out = _as_list(sweeps)
    if protocol is not None:
        wanted = {protocol} if isinstance(protocol, str) else set(protocol)
        out = [s for s in out if s.protocol in wanted]
    if sweep_ids is not None:
        wanted_ids = {str(x) for x in sweep_ids}
        known = {s.sweep_id for s in _as_list(sweeps)}
        missing = sorted(wanted_ids - known)
        if missing:
            raise RecordingError(f"select_sweeps: sweep ids {missing} not found; known ids {sorted(known)}")
        out = [s for s in out if s.sweep_id in wanted_ids]
    if stimuli is not None:
        wanted_st = {str(x) for x in stimuli}
        out = [s for s in out if s.stimulus in wanted_st]
    if amplitude_pA is not None:
        lo, hi = amplitude_pA
        out = [s for s in out if lo <= step_amplitude(s) <= hi]
    if min_spikes is not None:
        out = [s for s in out if s.n_spikes >= min_spikes]
    return out


def group_repeats(sweeps: Recording | Iterable[Sweep]) -> dict[str, list[Sweep]]:
    """stimulus id -> its sweeps sorted by repeat (first-seen stimulus order)."""
    out: dict[str, list[Sweep]] = {}
    for s in _as_list(sweeps):
        out.setdefault(s.stimulus, []).append(s)
    return {k: sorted(v, key=lambda s: s.repeat) for k, v in out.items()}


def split_by_stimulus(
    sweeps: Recording | Iterable[Sweep],
    *,
    validation: Sequence[str] | float,
    seed: int = 0,
) -> tuple[list[Sweep], list[Sweep]]:
    """(training, validation) sweeps; every repeat of a validation stimulus is in validation.

    ``validation`` is a list of stimulus ids, or a fraction in (0, 1) of the stimuli drawn
    with ``seed`` (at least one stimulus on each side when there are two or more).
    """
    groups = group_repeats(sweeps)
    stimuli = list(groups)
    if isinstance(validation, (int, float)) and not isinstance(validation, bool):
        frac = float(validation)
        if not 0.0 < frac < 1.0:
            raise ValueError(f"split_by_stimulus: validation fraction must be in (0, 1), got {frac}")
        if len(stimuli) < 2:
            raise ValueError(
                f"split_by_stimulus: need >= 2 distinct stimuli to split by stimulus, got {len(stimuli)} ({stimuli}); "
                "repeats of one stimulus cannot be split without leaking it"
            )
        n_val = min(len(stimuli) - 1, max(1, int(round(frac * len(stimuli)))))
        rng = np.random.default_rng(seed)
        val_set = {stimuli[i] for i in rng.choice(len(stimuli), size=n_val, replace=False)}
    else:
        val_set = {str(v) for v in validation}
        unknown = sorted(val_set - set(stimuli))
        if unknown:
            raise ValueError(f"split_by_stimulus: validation stimuli {unknown} not found; known stimuli {stimuli}")
    train = [s for k in stimuli if k not in val_set for s in groups[k]]
    val = [s for k in stimuli if k in val_set for s in groups[k]]
    return train, val


def _ratio(dt_rec: float, dt_sim: float) -> tuple[str, int]:
    if dt_sim <= 0:
        raise ValueError(f"resample: dt_ms must be > 0, got {dt_sim}")
    for kind, r in (("hold", dt_rec / dt_sim), ("mean", dt_sim / dt_rec)):
        n = int(round(r))
        if n >= 1 and abs(r - n) <= _RTOL * r:
            return kind, n
    raise ValueError(
        f"resample: simulation dt {dt_sim} ms must divide the sampling interval {dt_rec} ms or be an "
        f"integer multiple of it; e.g. use dt_ms={dt_rec} or {dt_rec / 2}"
    )


def resample(values: np.ndarray, dt_rec: float, dt_sim: float) -> np.ndarray:
    """Resample a trace from ``dt_rec`` to ``dt_sim`` (hold or block mean; see the module doc)."""
    kind, r = _ratio(dt_rec, dt_sim)
    values = np.asarray(values)
    if r == 1:
        return values.copy()
    if kind == "hold":
        return np.repeat(values, r)
    n = values.size // r
    if n == 0:
        raise ValueError(f"resample: a trace of {values.size} samples is shorter than one step of {dt_sim} ms")
    return values[: n * r].reshape(n, r).mean(axis=1)


def make_batch(sweeps: Recording | Iterable[Sweep], *, dt_ms: float | None = None, ljp_mV: float = 0.0) -> SweepBatch:
    """Pad sweeps into a :class:`SweepBatch` at step ``dt_ms`` (default: the sweeps' common dt).

    ``ljp_mV`` is subtracted from the voltage (liquid-junction potential correction,
    e.g. 14 for the BBP recordings). Spikes that land on the same step after downsampling
    are merged (one spike per step); spikes beyond a truncated trailing block are dropped.
    """
    items = _as_list(sweeps)
    if not items:
        raise ValueError("make_batch: expected at least one sweep, got none")
    if dt_ms is None:
        dts = sorted({s.dt_ms for s in items})
        if len(dts) > 1:
            raise ValueError(f"make_batch: sweeps have different dt {dts} ms; pass dt_ms= a common simulation step")
        dt_ms = dts[0]
    dt_ms = float(dt_ms)
    currents, volts, steps = [], [], []
    for s in items:
        currents.append(resample(s.current, s.dt_ms, dt_ms))
        volts.append(None if s.voltage is None else resample(s.voltage, s.dt_ms, dt_ms) - ljp_mV)
        n = currents[-1].size
        st = np.unique(np.rint(s.spike_times_ms / dt_ms).astype(np.int64))
        steps.append(st[(st >= 0) & (st < n)])
    S, T = len(items), max(c.size for c in currents)
    K = max(1, max(st.size for st in steps))
    current = np.zeros((S, T), np.float32)
    mask = np.zeros((S, T), bool)
    spike_steps = np.full((S, K), -1, np.int32)
    have_v = all(v is not None for v in volts)
    voltage = np.zeros((S, T), np.float32) if have_v else None
    for i, (c, v, st) in enumerate(zip(currents, volts, steps)):
        current[i, : c.size] = c
        mask[i, : c.size] = True
        spike_steps[i, : st.size] = st
        if voltage is not None:
            voltage[i, : v.size] = v
    return SweepBatch(
        current=current,
        mask=mask,
        dt_ms=dt_ms,
        spike_steps=spike_steps,
        n_spikes=np.array([st.size for st in steps], np.int32),
        n_steps=np.array([c.size for c in currents], np.int32),
        voltage=voltage,
        stimulus_ids=tuple(s.stimulus for s in items),
        sweep_ids=tuple(s.sweep_id for s in items),
        cells=tuple(s.cell for s in items),
        repeats=np.array([s.repeat for s in items], np.int32),
    )
