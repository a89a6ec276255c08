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
