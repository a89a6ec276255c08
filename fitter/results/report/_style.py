"""What every report figure shares: the non-interactive backend and the colours and markers."""

from __future__ import annotations

DATA, MODEL = "k", "C3"  # recording black, model red, in every figure
SET_MARKER = {"train": "o", "validation": "s"}
SET_FILL = {"train": True, "validation": False}  # validation markers are open


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def marker(set_name: str, color: str) -> dict:
    """Scatter/plot keywords of one set in one colour: filled for train, open for validation."""
    face = color if SET_FILL.get(set_name, True) else "white"
    return {"marker": SET_MARKER.get(set_name, "o"), "markerfacecolor": face, "markeredgecolor": color,
            "color": color}
