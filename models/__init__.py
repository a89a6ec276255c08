"""The 13 integrate-and-fire neuron models and the batched functional simulator.

Object API (brainstate modules, same equations/parameters/units/defaults as brainpy.state):
``IF, LIF, LIFRef, ALIF, ExpIF, ExpIFRef, AdExIF, AdExIFRef, QuaIF, AdQuaIF, AdQuaIFRef,
Gif, GifRef``.  Functional path for fitting: ``Simulator`` / ``simulate`` -> ``SimResult``,
in the plain-float unit system ``UNIT_SYSTEM`` (see ``parameter_units``).
"""

from ._base import EXP_ARG_MAX, Neuron
from .exponential import AdExIF, AdExIFRef, ExpIF, ExpIFRef
from .gif import Gif, GifRef
from .integrate import ALIF, IF, LIF, LIFRef
from .quadratic import AdQuaIF, AdQuaIFRef, QuaIF
from .simulator import SimResult, Simulator, simulate
from .registry import MODEL_NAMES, MODELS, get_model, parameter_units
from .errors import UnitError
from .units import UNIT_SYSTEM

__all__ = [
    "IF", "LIF", "LIFRef", "ALIF", "ExpIF", "ExpIFRef", "AdExIF", "AdExIFRef",
    "QuaIF", "AdQuaIF", "AdQuaIFRef", "Gif", "GifRef",
    "Neuron", "EXP_ARG_MAX", "MODELS", "MODEL_NAMES", "get_model", "parameter_units",
    "UNIT_SYSTEM", "UnitError", "Simulator", "SimResult", "simulate",
]
