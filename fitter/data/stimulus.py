"""Which current drives the model: the recorded one, or the idealised step behind it.

The recorded current of a step protocol carries recording noise and spike-locked artefacts
(hundreds of pA for ~1.5 ms at every spike); fed to a model, they inject current where the
amplifier injected none. The idealised current is the step the protocol asked for: holding
current outside [onset, offset), holding + amplitude inside
(:func:`spikefit.data.steps.describe_step`).

Modes (``[data] stimulus``):

- ``"recorded"``: every sweep keeps its recorded current;
- ``"idealised"``: every sweep is replaced by its step; a sweep whose current is not one step
  is an error;
- ``"auto"`` (default): the sweeps of a *step protocol* (every sweep of the protocol in the
  cell is one step, or flat) are idealised, the others keep their recorded current (noise
  stimuli, ramps, steps on steps).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from spikefit.data.recording import RecordingError, Sweep
from spikefit.data.steps import REL_TOL, TOL_PA

__all__ = ["STIMULUS_MODES", "choose_stimulus", "idealise", "summarise_kinds"]

STIMULUS_MODES = ("auto", "idealised", "recorded")


def idealise(sweep: Sweep) -> Sweep:
    """``sweep`` with its current replaced by the idealised step (an error when it is no step)."""
    step = sweep.step()
    if not step.is_step:
        raise RecordingError(
            f"{sweep.source or '<in memory>'}, sweep {sweep.sweep_id!r} ({sweep.protocol or 'no protocol'}): "
            f"stimulus = 'idealised' expects a one-step current, but it deviates from the best step by "
            f"{step.error_pA:.0f} pA (tolerance {max(REL_TOL * abs(step.amplitude_pA), TOL_PA):.0f} pA); "
            "use stimulus = 'auto' or 'recorded' for this recording")
    return replace(sweep, current=step.current())


def choose_stimulus(sweeps: Sequence[Sweep], mode: str = "auto") -> tuple[list[Sweep], dict[str, str]]:
    """(sweeps with the current that drives the model, sweep id -> ``"idealised"`` or ``"recorded"``).

    ``sweeps``: all sweeps of one cell (``auto`` judges each protocol on all of its sweeps).
    """
    if mode not in STIMULUS_MODES:
        raise RecordingError(f"[data] stimulus: expected one of {list(STIMULUS_MODES)}, got {mode!r}")
    sweeps = list(sweeps)
    if mode == "recorded":
        return sweeps, {s.sweep_id: "recorded" for s in sweeps}
    if mode == "idealised":
        return [idealise(s) for s in sweeps], {s.sweep_id: "idealised" for s in sweeps}
    steps = {id(s): s.step() for s in sweeps}
    step_protocols = {p for p in {s.protocol for s in sweeps}
                      if all(steps[id(s)].is_step for s in sweeps if s.protocol == p)}
    out, kinds = [], {}
    for s in sweeps:
        if s.protocol in step_protocols:
            out.append(replace(s, current=steps[id(s)].current()))
            kinds[s.sweep_id] = "idealised"
        else:
            out.append(s)
            kinds[s.sweep_id] = "recorded"
    return out, kinds


def summarise_kinds(kinds) -> str:
    """``"idealised"``, ``"recorded"`` or ``"mixed"`` for the kinds of a cell's sweeps."""
    found = set(kinds)
    return found.pop() if len(found) == 1 else ("mixed" if found else "recorded")
