"""Typical parameters and default search bounds per model, in physical units a modeller knows.

The model classes keep the specification's defaults (``R = 1 ohm`` with inputs in mA, for
instance), which are meaningless for a real cell driven in pA. For simulating and fitting
recordings spikefit uses the unit system of :mod:`models.units` (mV, ms, pA, GOhm, nS, 1/ms),
and this module gives, per model:

* ``TYPICAL``: a cortical-pyramidal-like parameter set (membrane time constant 20 ms, input
  resistance 50 MOhm = 0.05 GOhm, i.e. C = tau / R = 400 pF and g_L = 20 nS, rest -70 mV,
  threshold around -50 mV) used by ``spikefit demo`` and as the centre of searches;
* ``BOUNDS``: default search bounds ``(low, high, log)`` for the parameters usually fitted.

Conversion from the membrane quantities people measure: ``tau = C / g_L`` (pF / nS = ms),
``R = 1 / g_L`` (1 / nS = GOhm), the AdEx sub-threshold adaptation ``a`` is a conductance in nS
and the spike-triggered adaptation ``b`` a current in pA, as in Brette & Gerstner 2005.
"""

from __future__ import annotations

__all__ = ["TYPICAL", "BOUNDS", "typical_params", "default_bounds", "spec_defaults"]

_MEMBRANE = {"R": 0.05, "tau": 20.0}
_LEAKY = {**_MEMBRANE, "V_rest": -70.0, "V_reset": -65.0, "V_th": -50.0}
_EXP = {**_MEMBRANE, "V_rest": -70.0, "V_reset": -58.0, "V_T": -50.0, "delta_T": 2.0, "V_th": -40.0}
_QUA = {**_MEMBRANE, "V_rest": -70.0, "V_reset": -58.0, "V_c": -50.0, "c": 0.05, "V_th": 0.0}
_ADAPT = {"a": 2.0, "b": 40.0, "tau_w": 150.0}
_GIF = {
    **_MEMBRANE, "V_rest": -70.0, "V_reset": -60.0, "V_th_inf": -50.0, "V_th_reset": -48.0,
    "a": 0.0, "b": 0.05, "k1": 0.2, "k2": 0.02, "R1": 0.0, "R2": 1.0, "A1": 0.0, "A2": -40.0,
}

TYPICAL: dict[str, dict[str, float]] = {
    "IF": {**_MEMBRANE, "V_th": 20.0},
    "LIF": dict(_LEAKY),
    "LIFRef": {**_LEAKY, "tau_ref": 2.0},
    "ALIF": {**_LEAKY, "tau_a": 200.0, "beta": 2.0},
    "ExpIF": dict(_EXP),
    "ExpIFRef": {**_EXP, "tau_ref": 2.0},
    "AdExIF": {**_EXP, **_ADAPT},
    "AdExIFRef": {**_EXP, **_ADAPT, "tau_ref": 2.0},
    "QuaIF": dict(_QUA),
    "AdQuaIF": {**_QUA, **_ADAPT},
    "AdQuaIFRef": {**_QUA, **_ADAPT, "tau_ref": 2.0},
    "Gif": dict(_GIF),
    "GifRef": {**_GIF, "tau_ref": 2.0},
}

_B_MEMBRANE = {"R": (0.01, 0.5, True), "tau": (3.0, 60.0, True)}
_B_EXP = {"V_rest": (-85.0, -55.0, False), "V_reset": (-75.0, -40.0, False),
          "V_T": (-65.0, -35.0, False), "delta_T": (0.5, 8.0, True)}
_B_ADAPT = {"a": (0.0, 20.0, False), "b": (0.0, 300.0, False), "tau_w": (10.0, 1000.0, True)}
_B_GIF = {"V_rest": (-85.0, -55.0, False), "V_reset": (-75.0, -40.0, False),
          "V_th_inf": (-65.0, -35.0, False), "V_th_reset": (-65.0, -30.0, False),
          "a": (0.0, 0.5, False), "b": (0.005, 0.5, True), "k2": (0.002, 0.2, True),
          "A2": (-300.0, 50.0, False)}

BOUNDS: dict[str, dict[str, tuple[float, float, bool]]] = {
    "AdExIF": {**_B_MEMBRANE, **_B_EXP, **_B_ADAPT},
    "AdExIFRef": {**_B_MEMBRANE, **_B_EXP, **_B_ADAPT, "tau_ref": (0.5, 5.0, False)},
    "Gif": {**_B_MEMBRANE, **_B_GIF},
    "GifRef": {**_B_MEMBRANE, **_B_GIF, "tau_ref": (0.5, 5.0, False)},
}


def typical_params(model: str) -> dict[str, float]:
    """A copy of :data:`TYPICAL` for ``model`` (error lists the known models)."""
    try:
        return dict(TYPICAL[model])
    except KeyError:
        raise ValueError(f"model: expected one of {', '.join(TYPICAL)}, got {model!r}") from None


def default_bounds(model: str) -> dict[str, tuple[float, float, bool]]:
    """Default search bounds ``name -> (low, high, log)`` for ``model``."""
    if model not in BOUNDS:
        raise ValueError(f"model: default bounds exist for {', '.join(BOUNDS)}, not {model!r}")
    return dict(BOUNDS[model])


def spec_defaults(model: str) -> dict[str, float]:
    """The specification's defaults of ``model`` in the simulator's unit system."""
    from spikefit import models
    return models.get_model(model).default_params()
