"""Running a job's passive stage: one passive fit per cell (:mod:`spikefit.search.passive`),
its estimates recorded in the manifest and turned into each cell's bounds for the later stages."""

from __future__ import annotations

from spikefit.errors import SpikefitError
from spikefit.search.passive import PASSIVE_PARAMS, PassiveError, PassiveFit, fit_passive, narrow
from spikefit.search.space import SearchSpace

__all__ = ["check_passive", "passive_fits", "passive_stage"]


def _stage(stages):
    return next((s for s in stages if s.passive), None)


def passive_fits(spec, cells: dict) -> dict[str, PassiveFit]:
    """cell -> passive fit of its training sweeps, the job's fixed R / tau / V_rest held."""
    fixed = {k: v for k, v in spec.fixed_values().items() if k in PASSIVE_PARAMS}
    out = {}
    for cell, sets in cells.items():
        try:
            out[cell] = fit_passive(sets.train, fixed=fixed)
        except PassiveError as err:
            raise SpikefitError(f"{getattr(spec, 'source', spec.name)}: cell {cell!r}: {err}") from None
    return out


def check_passive(spec, stages, cells: dict) -> dict[str, PassiveFit]:
    """Pre-flight: a passive stage needs a free R, tau or V_rest and enough sub-threshold data;
    returns the fits (cell -> :class:`PassiveFit`) for :func:`passive_stage`, {} without one."""
    stage = _stage(stages)
    if stage is None:
        return {}
    free = [n for n in PASSIVE_PARAMS if n in spec.params]
    if not free:
        raise SpikefitError(f"{getattr(spec, 'source', spec.name)}: [search.stages] passive stage {stage.name!r}: "
                            f"none of {', '.join(PASSIVE_PARAMS)} is a free parameter of the job ([params] has "
                            f"{', '.join(spec.params)}); free one of them or remove the stage")
    return passive_fits(spec, cells)


def passive_stage(stage, fits: dict[str, PassiveFit], space: SearchSpace, store) -> dict[str, SearchSpace]:
    """Record every cell's passive fit (from :func:`check_passive`) in the manifest
    (``passive``: estimates in MOhm, ms, mV and the narrowed bounds) and return cell -> bounds
    for the later stages."""
    spaces, record = {}, {}
    for cell, fit in fits.items():
        own = narrow(space, fit, tolerance=stage.tolerance, v_tolerance_mV=stage.v_tolerance_mV)
        spaces[cell] = own
        record[cell] = {"R_MOhm": fit.R * 1e3, "tau_ms": fit.tau, "V_rest_mV": fit.V_rest, "rmse_mV": fit.rmse_mV,
                        "n_samples": fit.n_samples, "n_sweeps": fit.n_sweeps,
                        "bounds": {p.name: [p.low, p.high, p.unit] for p in own.params if p.name in PASSIVE_PARAMS}}
    store.update_manifest(passive=record)
    return spaces
