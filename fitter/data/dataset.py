"""From a job spec's ``[data]`` section to padded training and validation arrays per cell.

Runs before any compute is spent: a missing file, an unknown cell, an empty selection or a
validation set that overlaps the training set is an error here, not an hour into a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from spikefit.data.recording import Recording, RecordingError, Sweep
from spikefit.data.stimulus import choose_stimulus, summarise_kinds
from spikefit.data.sweeps import SweepBatch, make_batch

__all__ = ["CellSets", "prepare_cells", "select", "crop", "split_holdout"]


@dataclass(frozen=True)
class CellSets:
    """One cell's sweeps for a fit: training (always) and validation (when asked).

    ``stimulus``: which current drives the model on this cell's sweeps, ``"idealised"``,
    ``"recorded"`` or ``"mixed"`` (see :mod:`spikefit.data.stimulus`); ``stimulus_by_sweep``:
    sweep id -> ``"idealised"`` or ``"recorded"``, for every training and validation sweep.
    """

    cell: str
    train: SweepBatch
    validation: SweepBatch | None
    train_sweeps: tuple[Sweep, ...]
    validation_sweeps: tuple[Sweep, ...]
    stimulus: str = "recorded"
    stimulus_by_sweep: dict[str, str] = field(default_factory=dict)


def crop(sweep: Sweep, t_start_ms: float | None, t_stop_ms: float | None) -> Sweep:
    """The part of ``sweep`` in [t_start, t_stop) ms, spike times shifted to the new start."""
    if t_start_ms is None and t_stop_ms is None:
        return sweep
    start = 0.0 if t_start_ms is None else float(t_start_ms)
    stop = sweep.duration_ms if t_stop_ms is None else min(float(t_stop_ms), sweep.duration_ms)
    i0, i1 = int(round(start / sweep.dt_ms)), int(round(stop / sweep.dt_ms))
    if i1 <= i0:
        raise ValueError(
            f"{sweep.source}, sweep {sweep.sweep_id!r}: the window [{start}, {stop}) ms is empty "
            f"(the sweep lasts {sweep.duration_ms:g} ms)")
    t0 = i0 * sweep.dt_ms
    spikes = np.asarray(sweep.spike_times_ms)
    spikes = spikes[(spikes >= t0) & (spikes < i1 * sweep.dt_ms)] - t0
    return replace(sweep, current=sweep.current[i0:i1],
                   voltage=None if sweep.voltage is None else sweep.voltage[i0:i1],
                   spike_times_ms=spikes, sweep_id=sweep.sweep_id)


def select(sweeps, sel, *, where: str) -> list[Sweep]:
    """Sweeps matching a :class:`spikefit.spec.jobspec.Selection`, cropped to its time window."""
    out = []
    for s in sweeps:
        if sel.sweeps is not None and str(s.sweep_id) not in {str(x) for x in sel.sweeps}:
            continue
        if sel.stimuli is not None and str(s.stimulus) not in {str(x) for x in sel.stimuli}:
            continue
        if sel.repeats is not None and int(s.repeat) not in set(sel.repeats):
            continue
        if sel.protocols is not None and s.protocol not in set(sel.protocols):
            continue
        out.append(crop(s, sel.t_start_ms, sel.t_stop_ms))
    if not out:
        seen = sorted({(s.protocol, str(s.stimulus), int(s.repeat)) for s in sweeps})[:12]
        raise ValueError(
            f"[{where}] selects no sweep; the recording has (protocol, stimulus, repeat) "
            f"{seen}{' ...' if len(seen) == 12 else ''}")
    return out


def _check_disjoint(train, validation, sel_t, sel_v, cell: str) -> None:
    """A validation segment must not also be a training segment."""
    ids_t = {str(s.sweep_id) for s in train}
    both = ids_t & {str(s.sweep_id) for s in validation}
    if not both:
        return
    a0, a1 = sel_t.t_start_ms or 0.0, sel_t.t_stop_ms or np.inf
    b0, b1 = sel_v.t_start_ms or 0.0, sel_v.t_stop_ms or np.inf
    if a0 < b1 and b0 < a1:
        raise ValueError(
            f"[data.validation] cell {cell!r}: sweeps {sorted(both)[:8]} are in both training and "
            f"validation over overlapping times ([{a0}, {a1}) and [{b0}, {b1}) ms); split them by "
            "stimulus, repeat or time window")


def _recordings(spec) -> list[Recording]:
    from spikefit.data.readers import load

    recs: list[Recording] = []
    for path in spec.data.paths(Path(spec.base_dir)):
        if not path.exists():
            raise FileNotFoundError(f"[data.path] {path}: no such file or folder")
        got = load(path, format=spec.data.format, **spec.data.options)
        recs.extend(got if isinstance(got, list) else [got])
    return recs


def prepare_cells(spec, recordings: list[Recording] | None = None) -> dict[str, CellSets]:
    """Load, select, crop and pad every cell of the job (see :class:`spikefit.spec.jobspec.DataSpec`).

    ``recordings``: already loaded recordings to use instead of reading ``data.path``.
    """
    data = spec.data
    recs = list(recordings) if recordings is not None else _recordings(spec)
    by_cell = _by_cell(recs)
    if data.cells is not None:
        unknown = [c for c in data.cells if c not in by_cell]
        if unknown:
            raise ValueError(f"[data.cells] unknown cells {unknown}; the data has {sorted(by_cell)}")
        by_cell = {c: by_cell[c] for c in data.cells}
    out = {}
    for cell, sweeps in by_cell.items():
        sweeps, kinds = choose_stimulus(sweeps, getattr(data, "stimulus", "auto"))
        train = select(sweeps, data.train, where="data.train")
        validation = []
        if data.validation is not None:
            validation = select(sweeps, data.validation, where="data.validation")
            _check_disjoint(train, validation, data.train, data.validation, cell)
        used = {s.sweep_id: kinds[s.sweep_id] for s in (*train, *validation)}
        out[cell] = CellSets(
            cell=cell,
            train=make_batch(train, dt_ms=data.dt_ms, ljp_mV=data.ljp_mV),
            validation=make_batch(validation, dt_ms=data.dt_ms, ljp_mV=data.ljp_mV) if validation else None,
            train_sweeps=tuple(train), validation_sweeps=tuple(validation),
            stimulus=summarise_kinds(used.values()), stimulus_by_sweep=used)
    return out


def _by_cell(recs: list[Recording]) -> dict[str, list[Sweep]]:
    """Each cell's sweeps; two recordings of one cell that share a sweep id are an error."""
    by_cell: dict[str, list[Sweep]] = {}
    where: dict[tuple[str, str], str] = {}
    for rec in recs:
        cell = rec.cell or Path(rec.source).stem
        for s in rec.sweeps:
            seen = where.setdefault((cell, s.sweep_id), rec.source)
            if seen != rec.source:
                raise RecordingError(
                    f"[data.path] {seen} and {rec.source} both give cell {cell!r} a sweep {s.sweep_id!r}; "
                    "expected one recording per cell id, or recordings with distinct sweep ids; rename a "
                    "folder (the cell id of generic file prefixes such as X_ or exp_) or pass distinct files")
        by_cell.setdefault(cell, []).extend(rec.sweeps)
    return by_cell


def split_holdout(sets: CellSets, holdout_ms: float, *, dt_ms: float | None, ljp_mV: float) -> tuple[CellSets, SweepBatch]:
    """``sets`` with the last ``holdout_ms`` cut off every training sweep, and the cut-off parts.

    The held-out parts choose among a search's candidates; they are never fitted to.
    """
    fit, hold = [], []
    for s in sets.train_sweeps:
        cut = s.duration_ms - holdout_ms
        if cut <= 0:
            raise ValueError(f"[search.holdout_ms] expected less than the training sweeps' length, got "
                             f"{holdout_ms:g} ms; sweep {s.sweep_id!r} of cell {sets.cell!r} lasts "
                             f"{s.duration_ms:g} ms")
        fit.append(crop(s, None, cut))
        hold.append(crop(s, cut, None))
    return (replace(sets, train=make_batch(fit, dt_ms=dt_ms, ljp_mV=ljp_mV), train_sweeps=tuple(fit)),
            make_batch(hold, dt_ms=dt_ms, ljp_mV=ljp_mV))
