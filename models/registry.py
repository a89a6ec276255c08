"""Name -> model class registry of the 13 models."""

from __future__ import annotations

from ._base import Neuron
from .exponential import AdExIF, AdExIFRef, ExpIF, ExpIFRef
from .gif import Gif, GifRef
from .integrate import ALIF, IF, LIF, LIFRef
from .quadratic import AdQuaIF, AdQuaIFRef, QuaIF

__all__ = ["MODELS", "MODEL_NAMES", "get_model", "parameter_units"]

MODELS: dict[str, type[Neuron]] = {
    cls.__name__: cls
    for cls in (IF, LIF, LIFRef, ALIF, ExpIF, ExpIFRef, AdExIF, AdExIFRef, QuaIF, AdQuaIF, AdQuaIFRef, Gif, GifRef)
}

#: The 13 model names, in the specification's family order.
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def get_model(model) -> type[Neuron]:
    """The model class for a name (or a class, returned as is); ``ValueError`` names the choices."""
    if isinstance(model, type) and issubclass(model, Neuron):
        return model
    try:
        return MODELS[model]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}") from None


def parameter_units(model) -> dict[str, str]:
    """Each parameter of ``model`` -> its unit in ``UNIT_SYSTEM`` (e.g. ``{'tau': 'ms', 'R': 'GOhm'}``)."""
    return dict(get_model(model).param_units)
