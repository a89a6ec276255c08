"""The 13 integrate-and-fire neuron models and the batched functional simulator.

Object API (brainstate modules, same equations/parameters/units/defaults as brainpy.state):
``IF, LIF, LIFRef, ALIF, ExpIF, ExpIFRef, AdExIF, AdExIFRef, QuaIF, AdQuaIF, AdQuaIFRef,
Gif, GifRef``.  Functional path for fitting: ``Simulator`` / ``simulate`` -> ``SimResult``,
in the plain-float unit system ``UNIT_SYSTEM`` (see ``parameter_units``).
"""

from ._lazy import lazy_exports

# imported on first use: ``spikefit.models.errors`` (and so every spikefit error) loads
# without JAX and brainstate
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "._base": ("EXP_ARG_MAX", "Neuron"),
    ".exponential": ("AdExIF", "AdExIFRef", "ExpIF", "ExpIFRef"),
    ".gif": ("Gif", "GifRef"),
    ".integrate": ("ALIF", "IF", "LIF", "LIFRef"),
    ".quadratic": ("AdQuaIF", "AdQuaIFRef", "QuaIF"),
    ".simulator": ("SimResult", "Simulator", "simulate"),
    ".differentiable": ("SoftLoss", "SoftResult", "simulate_soft", "spike_raster", "van_rossum_soft"),
    ".registry": ("MODEL_NAMES", "MODELS", "get_model", "parameter_units"),
    ".errors": ("SpikefitError", "UnitError"),
    ".units": ("UNIT_SYSTEM",),
})
