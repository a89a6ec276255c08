"""fitter/units.py: unit strings at the job-spec boundary."""

from __future__ import annotations

import pytest
import saiunit as u

from spikefit.units import UNITS, parse_quantity, parse_unit, to_unit


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("20 ms", "ms", 20.0),
        ("1.5 s", "ms", 1500.0),
        ("-50 mV", "mV", -50.0),
        ("0.07 V", "mV", 70.0),
        ("50 MOhm", "GOhm", 0.05),
        ("2 GOhm", "GOhm", 2.0),
        ("5 Hz", "1/ms", 0.005),
        ("2 kHz", "1/ms", 2.0),
        ("40 pA", "nA", 0.04),
        ("2 nS", "nS", 2.0),
        ("1e-3 s", "ms", 1.0),
        ("+.5 ms", "ms", 0.5),
    ],
)
def test_to_unit_converts_strings(value, unit, expected):
    assert to_unit(value, unit) == pytest.approx(expected, rel=1e-9)


def test_bare_number_is_taken_in_target_unit():
    assert to_unit(20, "ms") == 20.0
    assert to_unit(-0.5, "mV") == -0.5


def test_quantity_converts():
    assert to_unit(3 * u.second, "ms") == pytest.approx(3000.0)


def test_parse_quantity():
    q = parse_quantity("20 ms")
    assert float(u.get_magnitude(q / u.ms)) == pytest.approx(20.0)
    assert float(u.get_magnitude(parse_quantity("3"))) == 3.0


@pytest.mark.parametrize(("value", "unit"), [("5 mV", "ms"), ("50 MOhm", "mV"), ("5 Hz", "ms"), ("1 nA", "nS")])
def test_dimension_mismatch_names_key(value, unit):
    with pytest.raises(ValueError) as err:
        to_unit(value, unit, key="params.tau.low")
    msg = str(err.value)
    assert "params.tau.low" in msg
    assert unit in msg


def test_unknown_unit_names_key_and_allowed():
    with pytest.raises(ValueError) as err:
        to_unit("5 furlong", "ms", key="params.tau.high")
    msg = str(err.value)
    assert "params.tau.high" in msg and "'furlong'" in msg and "'ms'" in msg


def test_parse_unit_unknown():
    with pytest.raises(ValueError, match="unknown unit 'parsec'"):
        parse_unit("parsec", key="unit")
    assert parse_unit("mV") is UNITS["mV"]


@pytest.mark.parametrize("text", ["ms 20", "twenty ms", "20 m s", ""])
def test_malformed_quantity_names_key(text):
    with pytest.raises(ValueError, match="model.fixed.tau"):
        parse_quantity(text, key="model.fixed.tau")


@pytest.mark.parametrize("value", [True, None, [1.0]])
def test_non_number_rejected(value):
    with pytest.raises(TypeError, match="params.R.low"):
        to_unit(value, "GOhm", key="params.R.low")
