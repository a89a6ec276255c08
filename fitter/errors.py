"""spikefit's error hierarchy: every input error is a :class:`SpikefitError`.

* :class:`SpikefitError` (a ``ValueError``): the base;
* :class:`UnitError` (also a ``TypeError``): a missing, unknown or incompatible unit, raised
  alike by the models, :mod:`spikefit.units` and the recording readers;
* :class:`RecordingError`: a recording that cannot be read or is not valid;
  :class:`RecordingUnitError` is both, for a recording value in a wrong unit;
* :class:`spikefit.spec.jobspec.JobSpecError`: a job spec that cannot run;
* :class:`OutputError`: a results file that cannot be written (disk full, read-only folder,
  no permission); :func:`output_error` builds it from the ``OSError``.

Each message names the file, key or argument, says what was expected and what was seen, and
suggests the fix. The command line prints it as one line (exit status 2).
"""

from __future__ import annotations

# Defined with the models, which import nothing else of spikefit but raise the same classes.
from spikefit.models.errors import SpikefitError, UnitError

import errno as _errno
import os as _os

__all__ = ["SpikefitError", "UnitError", "RecordingError", "RecordingUnitError", "OutputError", "output_error"]


class RecordingError(SpikefitError):
    """Bad recording input: the message names the file, sweep and field, expected vs got."""


class RecordingUnitError(RecordingError, UnitError):
    """A recording value in a missing, unknown or wrong unit (caught as either base)."""


class OutputError(SpikefitError):
    """A results file (table part, manifest, study journal) that cannot be written."""


_MEANING = {_errno.ENOSPC: "no space left on device",
            _errno.EFBIG: "no space left on device (file size limit reached)",
            _errno.EDQUOT: "disk quota exceeded", _errno.EROFS: "read-only file system",
            _errno.EACCES: "permission denied", _errno.EPERM: "permission denied"}


def output_error(err: OSError, path) -> OutputError:
    """One line: what the OS said and the path, e.g. ``no space left on device: out/manifest.json``."""
    code = getattr(err, "errno", None)
    meaning = _MEANING.get(code) or (_os.strerror(code).lower() if code else str(err).splitlines()[0])
    return OutputError(f"{meaning}: {_os.fspath(path)}")
