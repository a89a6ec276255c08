"""fitter/spec/derived.py: derived parameters are arithmetic over free/fixed names, never code."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.spec.derived import Derived, parse_expression


def test_follows_free_parameters():
    d = Derived({"V_th": "V_T + 5 * delta_T"}, ("V_T", "delta_T", "tau"), {"V_rest": -70.0})
    assert d.names == ("V_th",)
    out = d({"V_T": np.array([-50.0, -40.0], np.float32), "delta_T": np.array([2.0, 1.0], np.float32),
             "tau": np.array([10.0, 20.0], np.float32)})
    np.testing.assert_allclose(out["V_th"], [-40.0, -35.0])
    assert out["V_th"].dtype == np.float32 and out["V_th"].shape == (2,)


def test_fixed_only_expression_broadcasts_to_batch():
    d = Derived({"V_reset": "V_rest + 10"}, ("tau",), {"V_rest": -70.0})
    out = d({"tau": np.ones(4, np.float32)})
    np.testing.assert_allclose(out["V_reset"], [-60.0] * 4)
    out["V_reset"][0] = 0.0  # a writable copy, not a broadcast view
    assert out["V_reset"][0] == 0.0


def test_precedence_parentheses_unary_division():
    d = Derived({"x": "-(a - b) / 2 + +c * 3"}, ("a", "b", "c"), {})
    out = d({"a": np.array([4.0]), "b": np.array([2.0]), "c": np.array([1.0])})
    np.testing.assert_allclose(out["x"], [2.0])


def test_several_expressions():
    d = Derived({"V_th": "V_T + 5 * delta_T", "V_reset": "V_T - 10"}, ("V_T", "delta_T"), {})
    out = d({"V_T": np.array([-50.0]), "delta_T": np.array([1.0])})
    assert out["V_th"][0] == -45.0 and out["V_reset"][0] == -60.0


def test_unknown_name_names_key_and_known_names():
    with pytest.raises(ValueError) as err:
        Derived({"V_th": "V_T + 5 * dT"}, ("V_T", "delta_T"), {})
    msg = str(err.value)
    assert "model.derived.V_th" in msg and "'dT'" in msg and "delta_T" in msg


@pytest.mark.parametrize("text", [
    "__import__('os').system('echo pwned')",
    "abs(V_T)",
    "V_T ** 2",
    "V_T % 2",
    "V_T.real",
    "[V_T][0]",
    "V_T if V_T else 0",
    "lambda: 0",
    "'text'",
    "True + V_T",
    "V_T < 0",
])
def test_anything_but_arithmetic_rejected(text):
    with pytest.raises(ValueError) as err:
        parse_expression(text, {"V_T"}, key="model.derived.V_th")
    assert "model.derived.V_th" in str(err.value)


def test_import_never_evaluated(tmp_path, monkeypatch):
    flag = tmp_path / "flag"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        Derived({"V_th": f"__import__('pathlib').Path('{flag.name}').touch()"}, ("V_T",), {})
    assert not flag.exists()


def test_syntax_error_names_key():
    with pytest.raises(ValueError, match=r"\[model.derived.V_th\] not an arithmetic expression"):
        parse_expression("V_T +", {"V_T"}, key="model.derived.V_th")


# ---------------------------------------------------------------------- issue 15: checked once at validation
from spikefit.spec.derived import ALL_CORNERS_UP_TO, MAX_DEPTH, MAX_TOKENS, check_values, probe_points  # noqa: E402


def test_probe_points_all_corners_up_to_six_parameters():
    bounds = {f"p{i}": (1.0, 4.0, i == 0) for i in range(ALL_CORNERS_UP_TO)}
    columns, labels = probe_points(bounds)
    assert len(labels) == 1 + 2 ** ALL_CORNERS_UP_TO and labels[0] == "centre"
    assert columns["p0"][0] == pytest.approx(2.0)  # log scale: the geometric mean
    assert columns["p1"][0] == pytest.approx(2.5)
    corners = {tuple(columns[n][i] for n in bounds) for i in range(1, len(labels))}
    assert len(corners) == 2 ** ALL_CORNERS_UP_TO


def test_probe_points_for_many_parameters_stay_few():
    bounds = {f"p{i}": (0.0, 1.0, False) for i in range(9)}
    columns, labels = probe_points(bounds)
    assert len(labels) == 1 + 2 + 2 * 9  # centre, all low, all high, each alone at each bound
    assert "all low" in labels and "p3 high, others at the centre" in labels
    i = labels.index("p3 high, others at the centre")
    assert columns["p3"][i] == 1.0 and columns["p4"][i] == 0.5


@pytest.mark.parametrize(("expr", "match"), [
    ("1/0", r"\[model.derived.V_th\] expected a finite value.*got a division by zero for '1/0' at the centre"),
    ("V_T / (delta_T - 1)", r"division by zero .* at the corner V_T low, delta_T low point"),
    ("1e308*1e308", r"got inf"),
    ("1e36 * V_T * V_T", r"got 2\.5e\+39 for .* at the centre"),  # finite in float64, inf in the simulator's float32
    ("0/0 + V_T", r"division by zero"),
])
def test_non_finite_values_on_the_bounds_are_errors(expr, match):
    bounds = {"V_T": (-60.0, -40.0, False), "delta_T": (1.0, 4.0, False)}
    with pytest.raises(ValueError, match=match):
        check_values({"V_th": expr}, bounds, {"V_rest": -70.0})


def test_finite_values_pass_and_interior_zeros_do_not_raise_at_run_time():
    bounds = {"V_T": (-60.0, -40.0, False), "delta_T": (1.0, 4.0, False)}
    check_values({"V_th": "V_T + 5 * delta_T", "V_reset": "V_rest + 1 / (V_T + 55)"}, bounds, {"V_rest": -70.0})
    # V_T = -55 is inside the bounds, not a probed point: evaluated per candidate, inf, no exception
    d = Derived({"V_reset": "V_rest + 1 / (V_T + 55)", "k": "1/0"}, ("V_T",), {"V_rest": -70.0})
    out = d({"V_T": np.array([-55.0, -50.0], np.float32)})
    assert np.isinf(out["V_reset"][0]) and out["V_reset"][1] == pytest.approx(-69.8)
    assert np.all(np.isinf(out["k"]))


def test_size_limits():
    names = {"V_T"}
    parse_expression(" + ".join(["V_T"] * (MAX_TOKENS // 2)), names, key="k")  # 199 tokens
    with pytest.raises(ValueError, match=rf"\[k\] expected an expression of at most {MAX_TOKENS} tokens, got 201"):
        parse_expression(" + ".join(["V_T"] * (MAX_TOKENS // 2 + 1)), names, key="k")
    with pytest.raises(ValueError, match=r"\[k\] expected an expression of at most 1000 characters, got 119997"):
        parse_expression(" + ".join(["V_T"] * 20000), names, key="k")  # RecursionError before
    parse_expression("(" * MAX_DEPTH + "V_T" + ")" * MAX_DEPTH, names, key="k")
    with pytest.raises(ValueError, match=rf"expected at most {MAX_DEPTH} nested parentheses, got {MAX_DEPTH + 1}"):
        parse_expression("(" * (MAX_DEPTH + 1) + "V_T" + ")" * (MAX_DEPTH + 1), names, key="k")


def test_huge_integer_literal_is_an_error_not_an_overflow():
    with pytest.raises(ValueError, match=r"\[k\] expected numbers below 1e308, got a 400-digit integer"):
        parse_expression("9" * 400, {"V_T"}, key="k")
