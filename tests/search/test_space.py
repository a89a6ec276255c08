"""Tests for spikefit.search.space: parameter validation, array conversion, reflection into bounds."""

from __future__ import annotations

import numpy as np
import pytest
import saiunit
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefit.search.space import FreeParameter, SearchSpace, parse_unit


def make_space() -> SearchSpace:
    return SearchSpace([
        FreeParameter("tau", 1.0, 100.0, "ms", log=True),
        FreeParameter("V_T", -70.0, -40.0, "mV"),
        FreeParameter("a", 0.0, 10.0, "nS"),
    ])


@pytest.mark.parametrize("unit, expected", [
    ("mV", saiunit.mV), ("ms", saiunit.ms), ("pA", saiunit.pA), ("nS", saiunit.nS),
    ("pF", saiunit.pF), ("GOhm", saiunit.Gohm), ("MOhm", saiunit.Mohm),
    ("1/ms", 1 / saiunit.ms), ("1/mV", 1 / saiunit.mV), ("", saiunit.UNITLESS),
])
def test_documented_units_parse_to_the_right_dimension(unit, expected):
    got = parse_unit(unit)
    ratio = saiunit.Quantity(1.0, unit=got) / (1.0 * expected)
    assert float(saiunit.maybe_decimal(ratio)) == pytest.approx(1.0)


def test_unknown_unit_names_the_unit_and_examples():
    with pytest.raises(ValueError, match=r"unknown unit 'furlong'.*'mV'"):
        FreeParameter("tau", 1.0, 2.0, "furlong")


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(low=5.0, high=5.0), r"'g'.*low < high.*low=5.0, high=5.0"),
    (dict(low=6.0, high=5.0), r"low < high"),
    (dict(low=0.0, high=5.0, log=True), r"'g'.*log=True needs low > 0.*low=0.0"),
    (dict(low=float("nan"), high=5.0), r"'g'.*low must be finite"),
    (dict(low=1.0, high=float("inf")), r"high must be finite"),
])
def test_free_parameter_rejects_bad_bounds(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        FreeParameter("g", unit="nS", **kwargs)


def test_free_parameter_rejects_non_numbers_and_bad_names():
    with pytest.raises(TypeError, match="low must be a number"):
        FreeParameter("g", "1", 2.0)
    with pytest.raises(ValueError, match="identifier"):
        FreeParameter("not a name", 1.0, 2.0)


def test_space_properties_and_duplicates():
    space = make_space()
    assert space.names == ("tau", "V_T", "a")
    np.testing.assert_array_equal(space.bounds, [[1, 100], [-70, -40], [0, 10]])
    assert space.units == {"tau": "ms", "V_T": "mV", "a": "nS"}
    assert space["V_T"].unit == "mV"
    with pytest.raises(ValueError, match=r"duplicate parameter names \['a'\]"):
        SearchSpace([FreeParameter("a", 0, 1), FreeParameter("a", 0, 2)])
    with pytest.raises(ValueError, match="at least one"):
        SearchSpace([])


def test_to_array_and_from_array_round_trip():
    space = make_space()
    cands = [{"a": 1.0, "tau": 10.0, "V_T": -50.0}, {"tau": 2.0, "V_T": -60.0, "a": 3.5}]
    x = space.to_array(cands)
    assert x.shape == (2, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(x, [[10.0, -50.0, 1.0], [2.0, -60.0, 3.5]])
    assert space.from_array(x) == [dict(zip(space.names, row)) for row in x.tolist()]
    assert space.to_array([]).shape == (0, 3)


def test_to_array_errors_name_parameter_and_value():
    space = make_space()
    with pytest.raises(ValueError, match=r"candidate 0.*missing \['a'\].*unexpected \['b'\]"):
        space.to_array([{"tau": 1.0, "V_T": -50.0, "b": 1.0}])
    with pytest.raises(ValueError, match=r"candidate 1: parameter 'V_T' must be finite, got nan"):
        space.to_array([{"tau": 1.0, "V_T": -50.0, "a": 1.0},
                        {"tau": 1.0, "V_T": float("nan"), "a": 1.0}])
    with pytest.raises(ValueError, match=r"\[batch, 3\].*shape \(2, 2\)"):
        space.from_array(np.zeros((2, 2)))


def test_reflect_hand_computed_values():
    space = make_space()
    x = np.array([
        [0.5, -75.0, -1.0],     # below: tau mirrored in log space 1/0.5 -> 2; -70-5 -> -65; 0-1 -> 1
        [200.0, -30.0, 12.0],   # above: 100*100/200 = 50; -40+10 -> -50; 10+2 -> 8
        [10.0, -55.0, 5.0],     # inside: unchanged
        [1e6, -140.0, 25.0],    # beyond twice the width: fold repeatedly
    ])
    got = space.reflect(x)
    expected = np.array([
        [2.0, -65.0, 1.0],
        [50.0, -50.0, 8.0],
        [10.0, -55.0, 5.0],
        # log10(1e6)=6: 0..2 width 2, 6 -> t=6 mod 4 = 2 -> 2 -> 100; -140: t=70 mod 60=10 -> -60;
        # 25: t=25 mod 20 = 5 -> 5
        [100.0, -60.0, 5.0],
    ])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(space.reflect(x[0]), expected[0])  # 1-D keeps its shape


def test_reflect_errors_name_parameter_and_value():
    space = make_space()
    with pytest.raises(ValueError, match=r"'V_T' \(row 0\): value nan must be finite"):
        space.reflect([[10.0, np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"'tau' \(row 1\): value -3.0 is a log-scale.*\[1.0, 100.0\] ms"):
        space.reflect([[10.0, -50.0, 1.0], [-3.0, -50.0, 1.0]])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(v=finite, a=finite, b=st.floats(1e-3, 1e3))
def test_reflect_lands_inside_and_is_a_mirror(v, a, b):
    space = SearchSpace([FreeParameter("x", a, a + b)])
    y = float(space.reflect(np.array([[v]]))[0, 0])
    assert a <= y <= a + b
    if a <= v <= a + b:
        assert y == v
    else:
        # mirror: the distance to the nearest bound of v folds back as distance from it
        d = min(abs(v - a), abs(v - (a + b)))
        if d <= b:
            assert y == pytest.approx(a + d if v < a else a + b - d, abs=1e-9 * max(1.0, abs(v)))
    assert float(space.reflect(np.array([[y]]))[0, 0]) == y  # idempotent once inside
