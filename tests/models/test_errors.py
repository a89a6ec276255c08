"""models/errors.py: the root of spikefit's error hierarchy, defined with the models."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import saiunit as u

from spikefit import models
from spikefit.models.errors import SpikefitError, UnitError
from spikefit.models.units import to_plain

SOURCE = Path(__file__).resolve().parents[2] / "models" / "errors.py"


def test_unit_error_is_a_spikefit_error_a_value_error_and_a_type_error():
    assert issubclass(SpikefitError, ValueError)
    assert UnitError.__mro__[1:4] == (SpikefitError, ValueError, TypeError)
    assert models.UnitError is UnitError


def test_imports_only_the_standard_library():
    tree = ast.parse(SOURCE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


@pytest.mark.parametrize(("value", "needles"), [
    (10.0 * u.mV, ["'tau' of LIF", "expected a quantity in ms", "10. mV"]),
    ("10 ms", ["'tau' of LIF", "in ms", "str '10 ms'"]),
    (None, ["'tau' of LIF", "NoneType None"]),
])
def test_the_models_raise_it_naming_the_parameter(value, needles):
    with pytest.raises(UnitError) as err:
        to_plain("tau", value, "ms", allow_plain=True, where="LIF")
    for n in needles:
        assert n in str(err.value), str(err.value)
