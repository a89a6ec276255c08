"""Physical quantities at the boundary a person touches (job specs, results columns).

A value in a job spec is either a number in the parameter's documented unit or a string
``"<number> <unit>"`` such as ``"20 ms"`` or ``"-50 mV"``. :func:`parse_quantity` turns such a
string into a :mod:`saiunit` quantity; :func:`to_unit` converts a quantity (or a bare number,
taken to be in the target unit already) into a float in a given unit, with an error that names
the key when the dimensions do not match.
"""

from __future__ import annotations

import re

import saiunit as u

__all__ = ["UNITS", "parse_unit", "parse_quantity", "to_unit"]

#: Unit names accepted in job specs and recordings, mapped to saiunit units.
UNITS: dict[str, object] = {
    "": u.UNITLESS,
    "1": u.UNITLESS,
    "s": u.second,
    "ms": u.ms,
    "us": u.usecond,
    "V": u.volt,
    "mV": u.mV,
    "uV": u.uvolt,
    "A": u.amp,
    "nA": u.nA,
    "pA": u.pA,
    "mA": u.mA,
    "S": u.siemens,
    "uS": u.usiemens,
    "nS": u.nS,
    "pS": u.psiemens,
    "F": u.farad,
    "nF": u.nfarad,
    "pF": u.pF,
    "Ohm": u.ohm,
    "kOhm": u.kohm,
    "MOhm": u.Mohm,
    "GOhm": u.Gohm,
    "Hz": u.Hz,
    "kHz": u.kHz,
    "1/s": u.Hz,
    "1/ms": 1 / u.ms,
    "1/mV": 1 / u.mV,
    "1/V": 1 / u.volt,
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def parse_unit(name: str, *, key: str = "unit"):
    """The saiunit unit called ``name`` (one of :data:`UNITS`)."""
    try:
        return UNITS[name]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(k) for k in UNITS if k)
        raise ValueError(f"{key}: unknown unit {name!r}; expected one of {allowed}") from None


def parse_quantity(text: str, *, key: str = "value"):
    """``"20 ms"`` -> ``20 * saiunit.ms``; a bare number string gives a unitless quantity."""
    match = _QUANTITY.match(str(text))
    if match is None:
        raise ValueError(f"{key}: expected '<number> <unit>' such as '20 ms', got {text!r}")
    number, unit = match.groups()
    return float(number) * parse_unit(unit, key=key)


def to_unit(value, unit: str, *, key: str = "value") -> float:
    """``value`` (number, ``"<number> <unit>"`` string or quantity) as a float in ``unit``.

    A bare number is taken to be in ``unit`` already.
    """
    if isinstance(value, bool):
        raise TypeError(f"{key}: expected a number or '<number> <unit>', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = parse_quantity(value, key=key)
    target = parse_unit(unit, key=key)
    if isinstance(value, u.Quantity):
        ratio = value / (1.0 * target)
        if isinstance(ratio, u.Quantity) and not ratio.dim.is_dimensionless:
            _mismatch(key, value, unit)
        return float(u.get_magnitude(ratio))
    raise TypeError(f"{key}: expected a number or '<number> <unit>', got {value!r}")


def _mismatch(key, value, unit):
    raise ValueError(
        f"{key}: expected a quantity in {unit or 'dimensionless'} (or a compatible unit), got {value}"
    )
