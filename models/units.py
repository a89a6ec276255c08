"""The plain-float unit system used inside the jitted simulator, and checked conversions.

Inside hot loops every quantity is a plain float in ``UNIT_SYSTEM``; at the boundary
(model constructors, ``Simulator`` parameters) values given as ``saiunit`` Quantities are
converted to it, and a value of the wrong dimension is a ``UnitError`` that names the
parameter, the expected unit and what was given.

The system is consistent, so equations need no conversion factors::

    GOhm * pA = mV        nS * mV = pA        (1/ms) * mV = mV/ms
"""

from __future__ import annotations

import numpy as np
import saiunit as u

from .errors import UnitError

__all__ = ["UNIT_SYSTEM", "UnitError", "describe", "to_plain", "unit_of"]

#: unit key -> saiunit unit.  Keys are the strings ``parameter_units`` returns.
UNIT_SYSTEM: dict[str, object] = {
    "ms": u.ms,          # time
    "mV": u.mV,          # voltage
    "pA": u.pA,          # current (input, w, b, A1, A2, I1, I2)
    "GOhm": u.Gohm,      # resistance R
    "nS": u.nS,          # conductance a (AdEx, AdQua)
    "1/ms": u.ms ** -1,  # rates (Gif a, b, k1, k2)
    "1/mV": u.mV ** -1,  # QuaIF c
    "1": None,           # dimensionless (ALIF a state, Gif R1, R2)
}


_HINT = {"ms": "10.0 * u.ms", "mV": "-65.0 * u.mV", "pA": "100.0 * u.pA", "GOhm": "0.1 * u.Gohm",
         "nS": "2.0 * u.nS", "1/ms": "0.1 / u.ms", "1/mV": "0.07 / u.mV"}


def unit_of(key: str):
    """The saiunit unit of a ``UNIT_SYSTEM`` key (``None`` for dimensionless)."""
    try:
        return UNIT_SYSTEM[key]
    except KeyError:
        raise UnitError(f"unknown unit key {key!r}; expected one of {sorted(UNIT_SYSTEM)}") from None


def describe(value) -> str:
    """``value`` as error messages show it: ``5. mV (dimension ...)``, ``a quantity in mV
    (dimension ...)`` for an array, ``a plain number [1.0]``, or its type and repr."""
    if isinstance(value, u.Quantity):
        shown = str(value) if np.ndim(value.mantissa) == 0 else f"a quantity in {value.unit}"
        return f"{shown} (dimension {value.dim})"
    if isinstance(value, (str, bytes)) or value is None or np.asarray(value).dtype.kind not in "biuf":
        return f"{type(value).__name__} {value!r}"
    return f"a plain number {np.asarray(value).ravel()[:3].tolist()}"


def to_plain(name: str, value, key: str, *, allow_plain: bool = False, where: str = ""):
    """Convert ``value`` to a plain array in unit ``key`` of ``UNIT_SYSTEM``.

    A Quantity must have the dimension of ``key``.  A plain number is accepted for a
    dimensionless key, or for any key when ``allow_plain`` (then it is taken to be in the
    unit system already).  Otherwise ``UnitError`` names ``name``, the expected unit and
    what was seen.
    """
    unit = unit_of(key)
    ctx = f" of {where}" if where else ""
    if isinstance(value, u.Quantity):
        if unit is None:
            if not value.is_unitless:
                raise UnitError(f"parameter {name!r}{ctx}: expected a dimensionless value, "
                                f"got {describe(value)}")
            return value.mantissa
        if value.dim != u.get_dim(unit):
            raise UnitError(f"parameter {name!r}{ctx}: expected a quantity in {key} "
                            f"(e.g. {_HINT[key]}), got {describe(value)}")
        return value.to_decimal(unit)
    if isinstance(value, (str, bytes)) or value is None:
        raise UnitError(f"parameter {name!r}{ctx}: expected a quantity in {key} (e.g. {_HINT.get(key, 1.0)}), "
                        f"got {describe(value)}")
    if unit is None or allow_plain:
        return value
    raise UnitError(f"parameter {name!r}{ctx}: expected a quantity in {key}, got {describe(value)}; "
                    f"attach a saiunit unit, e.g. {name}={_HINT[key]}")
