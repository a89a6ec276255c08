"""spikefit's error hierarchy: every input error is a :class:`SpikefitError`.

* :class:`SpikefitError` (a ``ValueError``): the base;
* :class:`UnitError` (also a ``TypeError``): a missing, unknown or incompatible unit, raised
  alike by the models, :mod:`spikefit.units` and the recording readers;
* :class:`RecordingError`: a recording that cannot be read or is not valid;
  :class:`RecordingUnitError` is both, for a recording value in a wrong unit;
* :class:`spikefit.spec.jobspec.JobSpecError`: a job spec that cannot run.

Each message names the file, key or argument, says what was expected and what was seen, and
suggests the fix. The command line prints it as one line (exit status 2).
"""

from __future__ import annotations

# Defined with the models, which import nothing else of spikefit but raise the same classes.
from spikefit.models.errors import SpikefitError, UnitError

__all__ = ["SpikefitError", "UnitError", "RecordingError", "RecordingUnitError"]


class RecordingError(SpikefitError):
    """Bad recording input: the message names the file, sweep and field, expected vs got."""


class RecordingUnitError(RecordingError, UnitError):
    """A recording value in a missing, unknown or wrong unit (caught as either base)."""
