"""Example data shipped with spikefit (package data, found through ``importlib.resources``).

``example_path("bbp_l5pc_A2_IDrest")`` is the folder of the example recording: a rat L5
pyramidal cell, IDrest current steps, Blue Brain Project (CC BY 4.0; see its ``SOURCE.md``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["EXAMPLES", "example_path"]

#: name -> what it is
EXAMPLES = {"bbp_l5pc_A2_IDrest": "BBP L5PC (rat), IDrest steps, 2 series x 16 sweeps, Igor .ibw"}


def example_path(name: str = "bbp_l5pc_A2_IDrest") -> Path:
    """The folder of a shipped example recording (works from a checkout and from a wheel)."""
    if name not in EXAMPLES:
        raise ValueError(f"example: expected one of {', '.join(EXAMPLES)}, got {name!r}")
    return Path(str(files(__name__) / name))
