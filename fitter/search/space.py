"""The search space: free parameters with bounds, units and scale.

A :class:`FreeParameter` is one fitted model parameter (name exactly as in the model
specification, e.g. ``tau``, ``V_T``, ``a``), its bounds in ``unit`` and whether it is searched
on a log scale. A :class:`SearchSpace` is an ordered list of them; it converts between the
per-trial dicts the study hands out and the ``[batch, n_params]`` arrays the simulator takes
(columns in ``space.names`` order, values in each parameter's unit), and folds out-of-bounds
values back inside (:meth:`SearchSpace.reflect`).

Units are names in spikefit's unit vocabulary (:data:`spikefit.units.UNITS`): ``"mV"``,
``"pA"``, ``"GOhm"``, ``"1/ms"`` and so on, and ``""`` (or ``"1"``) for a dimensionless parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import saiunit

from spikefit.units import parse_unit

__all__ = ["FreeParameter", "SearchSpace", "parse_unit"]  # parse_unit: re-exported from spikefit.units


@dataclass(frozen=True)
class FreeParameter:
    """One fitted parameter: ``low < high`` in ``unit``; ``log=True`` needs ``low > 0``."""

    name: str
    low: float
    high: float
    unit: str = ""
    log: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"parameter name must be an identifier such as 'tau_w', got {self.name!r}"
            )
        for field in ("low", "high"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(
                    f"parameter {self.name!r}: {field} must be a number, got "
                    f"{type(value).__name__} {value!r}"
                )
            if not math.isfinite(value):
                raise ValueError(f"parameter {self.name!r}: {field} must be finite, got {value!r}")
            object.__setattr__(self, field, float(value))
        if not self.low < self.high:
            raise ValueError(
                f"parameter {self.name!r}: expected low < high, got low={self.low!r}, "
                f"high={self.high!r}"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"parameter {self.name!r}: log=True needs low > 0, got low={self.low!r}; "
                "use log=False or a positive lower bound"
            )
        parse_unit(self.unit, key=f"parameter {self.name!r}, field 'unit'")  # raises with the accepted units

    @property
    def quantity_unit(self) -> saiunit.Unit:
        """The saiunit ``Unit`` of this parameter."""
        return parse_unit(self.unit)

    def contains(self, value: float) -> bool:
        """True when ``low <= value <= high``."""
        return self.low <= value <= self.high


class SearchSpace:
    """An ordered set of :class:`FreeParameter`.

    Arrays are ``[batch, n_params]``, columns in ``names`` order, values in each unit.
    """

    def __init__(self, params: Sequence[FreeParameter]):
        params = list(params)
        if not params:
            raise ValueError("SearchSpace needs at least one FreeParameter, got none")
        for p in params:
            if not isinstance(p, FreeParameter):
                raise TypeError(
                    f"SearchSpace takes FreeParameter items, got {type(p).__name__} {p!r}"
                )
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"SearchSpace: duplicate parameter names {duplicates}; each name once")
        self.params: tuple[FreeParameter, ...] = tuple(params)
        self._log = np.array([p.log for p in params])

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):
        return iter(self.params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __getitem__(self, name: str) -> FreeParameter:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r} in the search space; parameters are {self.names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def units(self) -> dict[str, str]:
        """Parameter name -> unit string."""
        return {p.name: p.unit for p in self.params}

    @property
    def low(self) -> np.ndarray:
        return np.array([p.low for p in self.params], dtype=np.float64)

    @property
    def high(self) -> np.ndarray:
        return np.array([p.high for p in self.params], dtype=np.float64)

    @property
    def bounds(self) -> np.ndarray:
        """``[n_params, 2]`` array of (low, high)."""
        return np.stack([self.low, self.high], axis=1)

    def to_array(self, candidates: Iterable[Mapping[str, float]]) -> np.ndarray:
        """Stack per-trial dicts into a float64 ``[batch, n_params]`` array (``names`` order).

        Each dict must hold exactly the space's names; values must be finite.
        """
        rows = []
        for i, cand in enumerate(candidates):
            missing = [n for n in self.names if n not in cand]
            extra = sorted(set(cand) - set(self.names))
            if missing or extra:
                raise ValueError(
                    f"candidate {i}: expected parameters {list(self.names)}, missing {missing}, "
                    f"unexpected {extra}"
                )
            row = []
            for n in self.names:
                value = float(cand[n])
                if not math.isfinite(value):
                    raise ValueError(
                        f"candidate {i}: parameter {n!r} must be finite, got {value!r}"
                    )
                row.append(value)
            rows.append(row)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self))

    def from_array(self, x: np.ndarray) -> list[dict[str, float]]:
        """Inverse of :meth:`to_array`: ``[batch, n_params]`` -> list of dicts of Python floats."""
        x = self._check_array(x, "from_array")
        return [dict(zip(self.names, map(float, row))) for row in x]

    def reflect(self, x: np.ndarray) -> np.ndarray:
        """Fold values beyond a bound back inside by mirror reflection (repeatedly if needed).

        ``low - d`` maps to ``low + d`` and ``high + d`` to ``high - d``; values inside are
        unchanged; the result has the shape of ``x`` (``[n_params]`` or
        ``[batch, n_params]``). Log-scale parameters are reflected in log space (values must
        be > 0).
        Reflection keeps a CMA-ES step's direction information, unlike clipping (which piles
        samples on the bound) or resampling (which biases the distribution).
        """
        shape = np.shape(x)
        x = self._check_array(x, "reflect")
        bad = ~np.isfinite(x)
        if bad.any():
            self._raise_at(x, bad, "must be finite to reflect")
        nonpos = self._log[None, :] & (x <= 0)
        if nonpos.any():
            self._raise_at(x, nonpos, "is a log-scale parameter and needs a value > 0 to reflect")
        lo, hi = self.low, self.high
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(self._log, np.log(np.where(self._log, x, 1.0)), x)
        zlo = np.where(self._log, np.log(np.where(self._log, lo, 1.0)), lo)
        zhi = np.where(self._log, np.log(np.where(self._log, hi, 1.0)), hi)
        width = zhi - zlo
        t = np.mod(z - zlo, 2.0 * width)
        folded = zlo + np.where(t > width, 2.0 * width - t, t)
        inside = (z >= zlo) & (z <= zhi)
        folded = np.where(inside, z, folded)
        out = np.where(self._log, np.exp(np.where(self._log, folded, 0.0)), folded)
        # exp(log(.)) can step an ulp outside; keep the contract low <= out <= high exactly.
        return np.where(inside, x, np.clip(out, lo, hi)).reshape(shape)

    def _check_array(self, x: np.ndarray, where: str) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(self):
            raise ValueError(
                f"{where}: expected an array [batch, {len(self)}] with columns {list(self.names)}, "
                f"got shape {np.shape(x)}"
            )
        return x

    def _raise_at(self, x: np.ndarray, mask: np.ndarray, what: str) -> None:
        row, col = np.argwhere(mask)[0]
        p = self.params[col]
        raise ValueError(
            f"parameter {p.name!r} (row {row}): value {float(x[row, col])!r} {what}; allowed range "
            f"[{p.low}, {p.high}] {p.unit}".rstrip()
        )
