"""The root of spikefit's error hierarchy, here so that the models can raise it.

``spikefit.models`` imports nothing else of spikefit, yet its unit errors must be the one
:class:`UnitError` that the rest of spikefit raises; so the two classes live here (standard
library only) and :mod:`spikefit.errors` re-exports them beside the other error classes.
"""

from __future__ import annotations

__all__ = ["SpikefitError", "UnitError"]


class SpikefitError(ValueError):
    """Base of spikefit's input errors (a ``ValueError``, so generic handlers still catch it).

    The message names the file, key or argument, says what was expected and what was seen.
    """


class UnitError(SpikefitError, TypeError):
    """A value with a missing, unknown or incompatible unit (also a ``TypeError``)."""
