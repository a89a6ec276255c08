"""Unit conversion at the recording boundary: Quantities or explicit unit strings -> plain floats.

Inside spikefit, recordings use one unit system: current in pA, voltage in mV, time in ms.
"""

from __future__ import annotations

import numpy as np
import saiunit as u

__all__ = ["CURRENT_UNITS", "VOLTAGE_UNITS", "TIME_UNITS", "to_pA", "to_mV", "to_ms", "UnitError"]

# scale factors to the internal unit
CURRENT_UNITS = {"fA": 1e-3, "pA": 1.0, "nA": 1e3, "uA": 1e6, "µA": 1e6, "mA": 1e9, "A": 1e12}
VOLTAGE_UNITS = {"uV": 1e-3, "µV": 1e-3, "mV": 1.0, "V": 1e3}
TIME_UNITS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}

_TARGET = {"current": (u.pA, CURRENT_UNITS), "voltage": (u.mV, VOLTAGE_UNITS), "time": (u.ms, TIME_UNITS)}


class UnitError(ValueError):
    """A unit that is unknown, missing or of the wrong dimension."""


def _convert(values, unit, kind: str, where: str) -> np.ndarray:
    target, table = _TARGET[kind]
    if isinstance(values, u.Quantity):
        if unit is not None:
            raise UnitError(f"{where}: got a Quantity in {values.unit} and also unit={unit!r}; pass one")
        try:
            return np.asarray(values.to_decimal(target), dtype=np.float64)
        except Exception as err:  # saiunit raises UnitMismatchError
            raise UnitError(
                f"{where}: expected a {kind} quantity (convertible to {target}), got unit {values.unit}"
            ) from err
    if unit is None:
        raise UnitError(
            f"{where}: plain numbers need a unit; pass a saiunit Quantity or a unit string, one of "
            f"{sorted(table)}"
        )
    key = str(unit).strip()
    if key not in table:
        raise UnitError(f"{where}: unknown {kind} unit {unit!r}; expected one of {sorted(table)}")
    return np.asarray(values, dtype=np.float64) * table[key]


def to_pA(values, unit=None, *, where: str = "current") -> np.ndarray:
    """Current values (Quantity, or numbers in ``unit``) as float64 pA."""
    return _convert(values, unit, "current", where)


def to_mV(values, unit=None, *, where: str = "voltage") -> np.ndarray:
    """Voltage values (Quantity, or numbers in ``unit``) as float64 mV."""
    return _convert(values, unit, "voltage", where)


def to_ms(values, unit=None, *, where: str = "time") -> np.ndarray:
    """Time values (Quantity, or numbers in ``unit``) as float64 ms."""
    return _convert(values, unit, "time", where)
