"""The recording data model: a :class:`Sweep` and a cell's :class:`Recording`.

Unit system (fixed, checked at construction): current in **pA**, voltage in **mV**, time in
**ms**. Readers convert from the file's units at the boundary (:meth:`Sweep.from_arrays`
takes saiunit Quantities or explicit unit strings such as ``"nA"`` or ``"V"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import numpy as np

from spikefit.data.detection import SpikeDetector, detect_spikes
from spikefit.data.steps import StepDescription, describe_step
from spikefit.errors import RecordingError, RecordingUnitError, UnitError
from spikefit.units import to_mV, to_ms, to_pA

__all__ = ["RecordingError", "Sweep", "Recording"]  # RecordingError: re-exported from spikefit.errors

def _where(source: str, sweep_id: str, name: str) -> str:
    src = source or "<in memory>"
    return f"{src}, sweep {sweep_id!r}, field {name!r}"


@dataclass(frozen=True, eq=False)
class Sweep:
    """One current-clamp sweep.

    Fields (units fixed):
      current: injected current I(t), float64 [time], **pA**
      dt_ms: sampling interval, **ms** (> 0)
      voltage: recorded membrane voltage V(t), float64 [time], **mV**, or None
      spike_times_ms: spike times, float64 [n_spikes], **ms**, sorted, in [0, duration_ms)
      spikes_source: "given" (from the file), "detected" (from V) or "none"
      cell, sweep_id, stimulus, repeat, protocol, source: metadata. Sweeps sharing
        ``stimulus`` are repeats of the same injected current; ``repeat`` numbers them.
    """

    current: np.ndarray
    dt_ms: float
    voltage: np.ndarray | None = None
    spike_times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spikes_source: str = "none"
    cell: str = ""
    sweep_id: str = "0"
    stimulus: str = ""
    repeat: int = 0
    protocol: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        sid = str(self.sweep_id)
        object.__setattr__(self, "sweep_id", sid)
        object.__setattr__(self, "stimulus", str(self.stimulus) if self.stimulus != "" else sid)
        w = lambda name: _where(self.source, sid, name)  # noqa: E731
        try:
            dt = float(self.dt_ms)
        except (TypeError, ValueError, OverflowError):
            dt = float("nan")
        if not (np.isfinite(dt) and dt > 0):
            raise RecordingError(f"{w('dt_ms')}: expected a finite sampling interval > 0 ms, got {self.dt_ms!r}")
        object.__setattr__(self, "dt_ms", dt)
        current = _as_floats(self.current, w("current"))
        if current.ndim != 1:
            raise RecordingError(f"{w('current')}: expected a 1-D array [time], got shape {current.shape}")
        if current.size == 0:
            raise RecordingError(f"{w('current')}: expected at least 1 sample, got an empty sweep")
        _check_finite(current, w("current"))
        object.__setattr__(self, "current", current)
        if self.voltage is not None:
            voltage = _as_floats(self.voltage, w("voltage"))
            if voltage.shape != current.shape:
                raise RecordingError(
                    f"{w('voltage')}: expected {current.size} samples (the length of current), "
                    f"got shape {voltage.shape}"
                )
            _check_finite(voltage, w("voltage"))
            object.__setattr__(self, "voltage", voltage)
        spikes = _as_floats(self.spike_times_ms, w("spike_times_ms")).reshape(-1)
        _check_finite(spikes, w("spike_times_ms"))
        if spikes.size > 1 and np.any(np.diff(spikes) < 0):
            k = int(np.flatnonzero(np.diff(spikes) < 0)[0])
            raise RecordingError(
                f"{w('spike_times_ms')}: expected sorted spike times, got {spikes[k]} ms before "
                f"{spikes[k + 1]} ms (index {k})"
            )
        if spikes.size and (spikes[0] < 0 or spikes[-1] >= self.duration_ms):
            bad = spikes[0] if spikes[0] < 0 else spikes[-1]
            raise RecordingError(
                f"{w('spike_times_ms')}: expected times in [0, {self.duration_ms}) ms (the sweep "
                f"duration), got {bad} ms; are the times in the right unit?"
            )
        object.__setattr__(self, "spike_times_ms", spikes)
        if self.spikes_source not in ("given", "detected", "none"):
            raise RecordingError(
                f"{w('spikes_source')}: expected 'given', 'detected' or 'none', got {self.spikes_source!r}"
            )
        try:
            repeat = int(self.repeat)
            ok = not isinstance(self.repeat, bool) and (repeat == self.repeat or isinstance(self.repeat, str))
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise RecordingError(f"{w('repeat')}: expected an integer repeat index, got {self.repeat!r}")
        object.__setattr__(self, "repeat", repeat)

    @classmethod
    def from_arrays(
        cls,
        current,
        *,
        dt=None,
        current_unit: str | None = None,
        voltage=None,
        voltage_unit: str | None = None,
        spike_times=None,
        spike_time_unit: str | None = None,
        dt_unit: str | None = None,
        detector: SpikeDetector | None = None,
        detect: bool = True,
        **metadata,
    ) -> "Sweep":
        """Build a sweep from arrays in any units (Quantities or values + unit strings).

        ``dt`` is the sampling interval (a time Quantity, or a number with ``dt_unit``).
        Without ``spike_times`` and with a voltage, spikes are detected with ``detector``
        (default :class:`~spikefit.data.detection.SpikeDetector`) unless ``detect=False``.
        """
        source = str(metadata.get("source", ""))
        sid = str(metadata.get("sweep_id", "0"))
        def convert(fn, x, unit, name):
            where = _where(source, sid, name)
            if not hasattr(x, "unit"):  # plain numbers (not a Quantity): real numbers only
                x = _as_floats(x, where)
            try:
                return fn(x, unit, where=where)
            except UnitError as err:
                raise RecordingUnitError(str(err)) from err
            except (TypeError, ValueError, OverflowError) as err:
                if isinstance(err, RecordingError):
                    raise
                raise RecordingError(f"{where}: expected real numbers or a Quantity, got {type(x).__name__} "
                                     f"{str(x)[:40]!r}") from None

        if dt is None:
            raise RecordingError(
                f"{_where(source, sid, 'dt')}: the sampling interval is missing; pass dt "
                "(or the sampling rate to the reader)"
            )
        dt_ms = convert(lambda x, u, where: float(to_ms(x, u, where=where)), dt, dt_unit, "dt")
        cur = convert(to_pA, current, current_unit, "current")
        volt = None if voltage is None else convert(to_mV, voltage, voltage_unit, "voltage")
        spikes, how = np.zeros(0), "none"
        if spike_times is not None:
            spikes, how = convert(to_ms, spike_times, spike_time_unit, "spike_times"), "given"
        if (spike_times is None and volt is not None and detect and np.ndim(volt) == 1
                and np.shape(volt) == np.shape(cur) and np.all(np.isfinite(volt))
                and np.isfinite(dt_ms) and dt_ms > 0):  # else the sweep's checks say what is wrong
            spikes, how = detect_spikes(volt, dt_ms, detector=detector), "detected"
        return cls(current=cur, dt_ms=dt_ms, voltage=volt, spike_times_ms=spikes, spikes_source=how, **metadata)

    # --- derived -------------------------------------------------------------------------
    @property
    def I(self) -> np.ndarray:  # noqa: E743 - the physiologists' name
        """Alias of :attr:`current` (pA)."""
        return self.current

    @property
    def V(self) -> np.ndarray | None:
        """Alias of :attr:`voltage` (mV)."""
        return self.voltage

    @property
    def n_samples(self) -> int:
        return int(self.current.size)

    @property
    def duration_ms(self) -> float:
        return self.n_samples * self.dt_ms

    @property
    def time_ms(self) -> np.ndarray:
        return np.arange(self.n_samples) * self.dt_ms

    @property
    def n_spikes(self) -> int:
        return int(self.spike_times_ms.size)

    @property
    def rate_hz(self) -> float:
        return self.n_spikes / (self.duration_ms / 1000.0)

    def step(self) -> StepDescription:
        """The current described as one step (:func:`spikefit.data.steps.describe_step`)."""
        return describe_step(self.current, self.dt_ms)

    def with_spikes(self, spike_times_ms, source: str = "given") -> "Sweep":
        """A copy with other spike times (ms)."""
        return replace(self, spike_times_ms=spike_times_ms, spikes_source=source)

    def summary(self) -> dict:
        """One row describing the sweep (the fields of ``spikefit inspect --json``)."""
        c = self.current
        return {
            "cell": self.cell,
            "sweep": self.sweep_id,
            "protocol": self.protocol,
            "stimulus": self.stimulus,
            "repeat": self.repeat,
            "duration_s": self.duration_ms / 1000.0,
            "dt_ms": self.dt_ms,
            "current_mean_pA": float(c.mean()),
            "current_sd_pA": float(c.std()),
            "current_min_pA": float(c.min()),
            "current_max_pA": float(c.max()),
            **self.step().as_dict(),
            "n_spikes": self.n_spikes,
            "rate_hz": self.rate_hz,
            "spikes": self.spikes_source,
            "file": self.source,
        }

    def __repr__(self) -> str:
        return (
            f"Sweep(cell={self.cell!r}, sweep_id={self.sweep_id!r}, protocol={self.protocol!r}, "
            f"stimulus={self.stimulus!r}, repeat={self.repeat}, n_samples={self.n_samples}, "
            f"dt_ms={self.dt_ms}, n_spikes={self.n_spikes}, voltage={'yes' if self.voltage is not None else 'no'})"
        )


def _as_floats(x, where: str) -> np.ndarray:
    """``x`` as a float64 array; anything but real numbers is an error naming ``where``."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # ragged nested lists
        arr = None
    if arr is not None and arr.dtype.kind == "O" and all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in arr.ravel()):
        arr = arr.astype(np.float64)
    if arr is None or arr.dtype.kind not in "biuf":
        what = ("a ragged nested list" if arr is None else "complex numbers" if arr.dtype.kind == "c"
                else f"{type(x).__name__} {str(x)[:40]!r}" if arr.dtype.kind == "O" else f"{arr.dtype} values")
        raise RecordingError(f"{where}: expected an array of real numbers, got {what}")
    return arr.astype(np.float64)


def _check_finite(x: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise RecordingError(
            f"{where}: expected finite samples, got {idx.size} NaN/inf sample(s), first at index {int(idx[0])}"
        )


@dataclass(frozen=True, eq=False)
class Recording:
    """A cell's sweeps (non-empty, unique sweep ids), in file order."""

    sweeps: tuple[Sweep, ...]
    cell: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        sweeps = tuple(self.sweeps)
        if not sweeps:
            raise RecordingError(f"{self.source or '<in memory>'}: expected at least one sweep, got none")
        for s in sweeps:
            if not isinstance(s, Sweep):
                raise TypeError(f"Recording.sweeps: expected Sweep objects, got {type(s).__name__}")
        ids = [s.sweep_id for s in sweeps]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise RecordingError(f"{self.source or '<in memory>'}: expected unique sweep ids, got duplicates {dup}")
        object.__setattr__(self, "sweeps", sweeps)
        if not self.cell:
            object.__setattr__(self, "cell", sweeps[0].cell)

    def __len__(self) -> int:
        return len(self.sweeps)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(self.sweeps)

    def __getitem__(self, key: int | str) -> Sweep:
        if isinstance(key, str):
            for s in self.sweeps:
                if s.sweep_id == key:
                    return s
            raise KeyError(f"{self.cell}: no sweep {key!r}; sweeps are {[s.sweep_id for s in self.sweeps]}")
        return self.sweeps[key]

    @property
    def sweep_ids(self) -> list[str]:
        return [s.sweep_id for s in self.sweeps]

    @property
    def protocols(self) -> list[str]:
        return list(dict.fromkeys(s.protocol for s in self.sweeps))

    def by_stimulus(self) -> dict[str, list[Sweep]]:
        """Sweeps grouped by stimulus id (first-seen order), each group sorted by repeat."""
        out: dict[str, list[Sweep]] = {}
        for s in self.sweeps:
            out.setdefault(s.stimulus, []).append(s)
        return {k: sorted(v, key=lambda s: s.repeat) for k, v in out.items()}

    def subset(self, sweeps: Sequence[Sweep]) -> "Recording":
        return Recording(tuple(sweeps), cell=self.cell, source=self.source)

    def to_frame(self):
        """A pandas DataFrame, one row per sweep (see :meth:`Sweep.summary`)."""
        import pandas as pd

        return pd.DataFrame([s.summary() for s in self.sweeps])

    def __repr__(self) -> str:
        return f"Recording(cell={self.cell!r}, n_sweeps={len(self)}, protocols={self.protocols})"
