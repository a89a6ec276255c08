"""spikefit's one unit vocabulary: unit names, and conversion to plain floats at each boundary.

One table, :data:`UNITS` (unit name -> saiunit unit), serves every boundary a person touches:

* **job specs, search spaces and result columns**: :func:`parse_unit` (a name in
  :data:`UNITS`), :func:`parse_quantity` (``"20 ms"`` -> ``20 * saiunit.ms``) and
  :func:`to_unit` (a number, ``"<number> <unit>"`` string or Quantity -> a float in a given
  unit; a bare number is taken to be in that unit already);
* **recordings**: :func:`to_pA`, :func:`to_mV`, :func:`to_ms` turn arrays, given as saiunit
  Quantities or as numbers plus a unit string (one of :data:`CURRENT_UNITS`,
  :data:`VOLTAGE_UNITS`, :data:`TIME_UNITS`, derived from :data:`UNITS`), into float64 arrays
  in the recordings' unit system (pA, mV, ms); plain numbers without a unit are an error;
* **metric arguments**: :func:`as_ms` and :func:`as_per_ms` take a number (in ms, per ms) or a
  saiunit Quantity; numbers and arrays, traced ones too, pass through unchanged.

Inside the models every value is a plain float in :data:`spikefit.models.units.UNIT_SYSTEM`,
whose unit names are part of :data:`UNITS`. Every error is a :class:`~spikefit.errors.UnitError`
(a ``ValueError`` and a ``TypeError``) that names the key or argument, what was expected and
what was seen.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import saiunit as u

from spikefit.errors import UnitError
from spikefit.models.units import UNIT_SYSTEM, describe

__all__ = ["UNITS", "CURRENT_UNITS", "VOLTAGE_UNITS", "TIME_UNITS", "parse_unit", "parse_quantity",
           "to_unit", "to_pA", "to_mV", "to_ms", "as_ms", "as_per_ms"]

#: Unit names accepted in job specs, result columns and recordings, mapped to saiunit units:
#: the models' unit system first, then the other common electrophysiology units.
#: ``"µ"`` may stand for the ``"u"`` of micro.
UNITS: dict[str, u.Unit] = {
    "": u.UNITLESS,
    **{name: u.UNITLESS if unit is None else unit for name, unit in UNIT_SYSTEM.items()},
    "s": u.second,
    "us": u.usecond,
    "V": u.volt,
    "uV": u.uvolt,
    "A": u.amp,
    "mA": u.mamp,
    "uA": u.uamp,
    "nA": u.nA,
    "fA": u.famp,
    "S": u.siemens,
    "uS": u.usiemens,
    "pS": u.psiemens,
    "F": u.farad,
    "nF": u.nfarad,
    "pF": u.pF,
    "Ohm": u.ohm,
    "kOhm": u.kohm,
    "MOhm": u.Mohm,
    "Hz": u.Hz,
    "kHz": u.kHz,
    "1/s": u.Hz,
    "1/V": u.volt ** -1,
}

_MICRO = str.maketrans({"\u00b5": "u", "\u03bc": "u"})  # micro sign, Greek mu
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def _scales(target: u.Unit) -> dict[str, float]:
    """The names in :data:`UNITS` of ``target``'s dimension -> their size in ``target``."""
    return {name: float((unit / target).magnitude) for name, unit in UNITS.items()
            if name and u.get_dim(unit) == u.get_dim(target)}


#: Recording units: name -> factor to pA, mV or ms (derived from :data:`UNITS`).
CURRENT_UNITS = _scales(u.pA)
VOLTAGE_UNITS = _scales(u.mV)
TIME_UNITS = _scales(u.ms)
_RECORDING = {"current": (u.pA, CURRENT_UNITS), "voltage": (u.mV, VOLTAGE_UNITS), "time": (u.ms, TIME_UNITS)}


def _decimal(value: u.Quantity, unit, where: str, expected: str) -> Any:
    """``value`` as plain number(s) in ``unit``; a ``UnitError`` on another dimension."""
    if u.get_dim(value) != u.get_dim(unit):
        raise UnitError(f"{where}: expected {expected}, got {describe(value)}")
    return value.to_decimal(unit)


# --- job specs and result columns -----------------------------------------------------------
def parse_unit(name: str, *, key: str | None = None) -> u.Unit:
    """The saiunit unit called ``name``, one of :data:`UNITS` (``""`` or ``"1"``: dimensionless).

    Errors start with ``key`` when given.
    """
    where = f"{key}: " if key else ""
    if not isinstance(name, str):
        raise UnitError(f"{where}expected a unit string such as 'mV', got {type(name).__name__} {name!r}")
    try:
        return UNITS[name.strip().translate(_MICRO)]
    except KeyError:
        allowed = ", ".join(repr(k) for k in UNITS if k)
        raise UnitError(f"{where}unknown unit {name!r}; expected one of {allowed} or '' for dimensionless") from None


def parse_quantity(text: str, *, key: str = "value") -> u.Quantity:
    """``"20 ms"`` -> ``20 * saiunit.ms``; a bare number string gives a unitless quantity."""
    match = _QUANTITY.match(str(text))
    if match is None:
        raise UnitError(f"{key}: expected '<number> <unit>' such as '20 ms', got {text!r}")
    number, unit = match.groups()
    return u.Quantity(float(number), unit=parse_unit(unit, key=key))


def to_unit(value, unit: str, *, key: str = "value") -> float:
    """``value`` (number, ``"<number> <unit>"`` string or quantity) as a float in ``unit``.

    A bare number is taken to be in ``unit`` already.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, u.Quantity)):
        raise UnitError(f"{key}: expected a number or '<number> <unit>', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = parse_quantity(value, key=key)
    expected = f"a quantity in {unit or 'dimensionless'} (or a compatible unit)"
    return float(_decimal(value, parse_unit(unit, key=key), key, expected))


# --- recordings ----------------------------------------------------------------------------
def _recording(values, unit: str | None, kind: str, where: str) -> np.ndarray:
    target, table = _RECORDING[kind]
    if isinstance(values, u.Quantity):
        if unit is not None:
            raise UnitError(f"{where}: got a Quantity in {values.unit} and also unit={unit!r}; pass one")
        return np.asarray(_decimal(values, target, where, f"a {kind} quantity (convertible to {target})"),
                          dtype=np.float64)
    if unit is None:
        raise UnitError(f"{where}: plain numbers need a unit; pass a saiunit Quantity or a unit string, "
                        f"one of {sorted(table)}")
    scale = table.get(str(unit).strip().translate(_MICRO))
    if scale is None:
        raise UnitError(f"{where}: unknown {kind} unit {unit!r}; expected one of {sorted(table)}")
    return np.asarray(values, dtype=np.float64) * scale


def to_pA(values, unit: str | None = None, *, where: str = "current") -> np.ndarray:
    """Current values (Quantity, or numbers in ``unit``) as float64 pA."""
    return _recording(values, unit, "current", where)


def to_mV(values, unit: str | None = None, *, where: str = "voltage") -> np.ndarray:
    """Voltage values (Quantity, or numbers in ``unit``) as float64 mV."""
    return _recording(values, unit, "voltage", where)


def to_ms(values, unit: str | None = None, *, where: str = "time") -> np.ndarray:
    """Time values (Quantity, or numbers in ``unit``) as float64 ms."""
    return _recording(values, unit, "time", where)


# --- metric arguments ----------------------------------------------------------------------
def _argument(value: Any, name: str, unit: str, what: str, example: str) -> Any:
    if isinstance(value, u.Quantity):
        return _decimal(value, UNITS[unit], name, f"{what} (e.g. {example})")
    if isinstance(value, (str, bytes)) or value is None:
        raise UnitError(f"{name}: expected {what} as a number or saiunit Quantity (e.g. {example}), "
                        f"got {value!r}")
    return value


def as_ms(value: Any, name: str) -> Any:
    """Argument ``name``, a time (a number or array in ms, or a saiunit time Quantity), in ms."""
    return _argument(value, name, "ms", "a time in ms", "2.0 * u.ms")


def as_per_ms(value: Any, name: str) -> Any:
    """Argument ``name``, a rate or cost per time (in 1/ms, or a saiunit 1/time Quantity), in 1/ms."""
    return _argument(value, name, "1/ms", "a rate or cost per time in 1/ms", "0.1 / u.ms")
