"""spikefit's error hierarchy: every input error is a :class:`SpikefitError`.

Each message names the file, key or argument, says what was expected and what was seen, and
suggests the fix. The command line prints it as one line (exit status 2).
"""

from __future__ import annotations

__all__ = ["SpikefitError", "UnitError"]


class SpikefitError(ValueError):
    """Base of spikefit's input errors (a ``ValueError``, so generic handlers still catch it)."""


class UnitError(SpikefitError, TypeError):
    """A value with a missing, unknown or incompatible unit."""
