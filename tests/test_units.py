"""fitter/units.py: spikefit's one unit vocabulary (job specs, recordings, metric arguments)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from spikefit.errors import UnitError
from spikefit.models.units import UNIT_SYSTEM
from spikefit.units import (CURRENT_UNITS, TIME_UNITS, UNITS, VOLTAGE_UNITS, as_ms, as_per_ms, parse_quantity,
                            parse_unit, to_mV, to_ms, to_pA, to_unit)


# --- the table ------------------------------------------------------------------------------
def test_table_holds_the_models_unit_system():
    for name, unit in UNIT_SYSTEM.items():
        assert parse_unit(name) is (u.UNITLESS if unit is None else unit)
    assert parse_unit("") is parse_unit("1") is u.UNITLESS


def test_every_unit_is_a_saiunit_unit():
    for name, unit in UNITS.items():
        assert isinstance(unit, u.Unit), name
        assert float(u.Quantity(1.0, unit=unit).to_decimal(unit)) == 1.0


@pytest.mark.parametrize(("table", "expected"), [
    (CURRENT_UNITS, {"fA": 1e-3, "pA": 1.0, "nA": 1e3, "uA": 1e6, "mA": 1e9, "A": 1e12}),
    (VOLTAGE_UNITS, {"uV": 1e-3, "mV": 1.0, "V": 1e3}),
    (TIME_UNITS, {"us": 1e-3, "ms": 1.0, "s": 1e3}),
])
def test_recording_tables_are_derived_exactly(table, expected):
    assert table == expected  # exact powers of ten, not 1000.0000000000001


# --- job specs, search spaces, result columns -------------------------------------------------
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
        ("3 µs", "ms", 0.003),
        ("0.4", "", 0.4),
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
    with pytest.raises(UnitError) as err:
        to_unit(value, unit, key="params.tau.low")
    msg = str(err.value)
    assert "params.tau.low" in msg
    assert unit in msg and value.split()[1].lower() in msg.lower()  # expected and seen (saiunit spells Mohm)


def test_unknown_unit_names_key_and_allowed():
    with pytest.raises(UnitError) as err:
        to_unit("5 furlong", "ms", key="params.tau.high")
    msg = str(err.value)
    assert "params.tau.high" in msg and "'furlong'" in msg and "'ms'" in msg


def test_parse_unit_unknown():
    with pytest.raises(ValueError, match="unknown unit 'parsec'"):
        parse_unit("parsec", key="unit")
    assert parse_unit("mV") is UNITS["mV"]
    assert parse_unit(" µA ") is UNITS["uA"]


def test_parse_unit_key_prefix_and_non_strings():
    with pytest.raises(UnitError, match=r"^unknown unit 'x'; expected one of 'ms'"):
        parse_unit("x")
    with pytest.raises(TypeError, match=r"units.tau: expected a unit string such as 'mV', got int 5"):
        parse_unit(5, key="units.tau")


@pytest.mark.parametrize("text", ["ms 20", "twenty ms", "20 m s", ""])
def test_malformed_quantity_names_key(text):
    with pytest.raises(ValueError, match="model.fixed.tau"):
        parse_quantity(text, key="model.fixed.tau")


@pytest.mark.parametrize("value", [True, None, [1.0]])
def test_non_number_rejected(value):
    with pytest.raises(TypeError, match="params.R.low"):
        to_unit(value, "GOhm", key="params.R.low")


# --- recordings -----------------------------------------------------------------------------
def test_recording_converters_take_quantities_or_unit_strings():
    np.testing.assert_array_equal(to_pA([0.5, 1.0], "nA"), [500.0, 1000.0])
    np.testing.assert_allclose(to_pA(np.ones(2) * u.nA), [1000.0, 1000.0], rtol=1e-12)
    np.testing.assert_array_equal(to_mV([0.07], "V"), [70.0])
    np.testing.assert_array_equal(to_ms([2.0], "µs"), [0.002])
    out = to_ms(0.1 * u.second)
    assert out.dtype == np.float64 and float(out) == pytest.approx(100.0)


@pytest.mark.parametrize(("call", "needles"), [
    (lambda: to_pA(np.ones(3), "furlong", where="f.abf, field 'current'"),
     ["f.abf, field 'current'", "unknown current unit 'furlong'", "'pA'"]),
    (lambda: to_pA(np.ones(3), where="f.abf, field 'current'"), ["f.abf, field 'current'", "need a unit", "'nA'"]),
    (lambda: to_pA(np.ones(3) * u.mV), ["current", "expected a current quantity", "mV"]),
    (lambda: to_mV(np.ones(3) * u.mV, "mV"), ["voltage", "also unit='mV'", "pass one"]),
    (lambda: to_ms([1.0], "Hz"), ["time", "unknown time unit 'Hz'", "'ms'"]),
])
def test_recording_unit_errors(call, needles):
    with pytest.raises(UnitError) as err:
        call()
    for n in needles:
        assert n in str(err.value), str(err.value)


# --- metric arguments -----------------------------------------------------------------------
def test_metric_arguments_convert_quantities_and_pass_numbers_through():
    assert as_ms(2.0, "dt") == 2.0
    assert float(as_ms(2.0 * u.second, "dt")) == pytest.approx(2000.0)
    assert float(as_per_ms(5.0 * u.Hz, "q")) == pytest.approx(0.005)
    assert float(as_per_ms(0.1 / u.ms, "q")) == pytest.approx(0.1)
    x = jnp.arange(3.0)
    assert as_ms(x, "duration") is x
    assert float(jax.jit(lambda t: as_ms(t * u.ms, "delta"))(jnp.float32(4.0))) == 4.0  # works traced


@pytest.mark.parametrize(("call", "needles"), [
    (lambda: as_ms(5.0 * u.mV, "tau"), ["tau", "a time in ms", "mV"]),
    (lambda: as_ms("2 ms", "delta"), ["delta", "a number or saiunit Quantity", "'2 ms'"]),
    (lambda: as_ms(None, "dt"), ["dt", "None"]),
    (lambda: as_per_ms(1.0 * u.ms, "q"), ["q", "1/ms", "ms"]),
])
def test_metric_argument_errors(call, needles):
    with pytest.raises(UnitError) as err:
        call()
    for n in needles:
        assert n in str(err.value), str(err.value)
