"""eFEL, the reference of spikefit.scoring.features, run on traces for the tests."""

from __future__ import annotations

import numpy as np


def efel_values(V, dt_ms, start_ms, end_ms, names, *, interp_step=None, raw=False):
    """eFEL's ``names`` on traces ``V`` [S, T] (mV, sampled every ``dt_ms``), windows per trace.

    Default settings, except ``interp_step`` when given. Returns per feature the per-trace
    mean of eFEL's values (NaN where eFEL gives none): the sweep value BluePyOpt scores; with
    ``raw``, eFEL's list of dicts as it is.
    """
    import efel

    efel.reset()
    if interp_step is not None:
        efel.set_setting("interp_step", float(interp_step))
    t = np.arange(np.shape(V)[-1]) * dt_ms
    traces = [{"T": t, "V": np.asarray(v, np.float64), "stim_start": [float(a)], "stim_end": [float(b)]}
              for v, a, b in zip(V, np.broadcast_to(start_ms, len(V)), np.broadcast_to(end_ms, len(V)))]
    got = efel.get_feature_values(traces, list(names), raise_warnings=False)
    efel.reset()
    if raw:
        return got
    return {n: np.array([np.nan if g[n] is None or len(g[n]) == 0 else float(np.mean(g[n])) for g in got])
            for n in names}
