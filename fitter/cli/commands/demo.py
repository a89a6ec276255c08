"""``spikefit demo``: drive all 13 models with a real recorded stimulus and print their firing.

Uses the shipped example (BBP L5 pyramidal cell, IDrest step, ``spikefit.examples``) and the typical
parameters of :mod:`spikefit.spec.defaults`, so a new user sees the simulator work end to end in
seconds, before fitting anything.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spikefit.examples import example_path

__all__ = ["register", "run_demo", "EXAMPLE"]

EXAMPLE = example_path()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate the shipped example stimulus through all 13 models")
    p.add_argument("--data", type=Path, default=EXAMPLE, help="recording folder (default: shipped example)")
    p.add_argument("--sweep", default=None, help="sweep id to use (default: the 8th IDrest step)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_main)


def run_demo(data: Path = EXAMPLE, sweep: str | None = None) -> dict:
    """Simulate one recorded sweep through every model; returns rows and the recorded counts."""
    import numpy as np

    from spikefit import models
    from spikefit.spec.defaults import typical_params
    from spikefit.data.readers import load

    recording = load(data)
    if isinstance(recording, list):
        recording = recording[0]
    sweeps = list(recording.sweeps)
    chosen = sweeps[min(7, len(sweeps) - 1)] if sweep is None else _find(sweeps, sweep)
    current = np.asarray(chosen.current, dtype=np.float32)[None, :]
    duration_s = current.shape[1] * chosen.dt_ms / 1000.0
    rows = []
    for name in models.MODEL_NAMES:
        params = {k: np.array([v], dtype=np.float32) for k, v in typical_params(name).items()}
        t0 = time.perf_counter()
        res = models.simulate(name, current, chosen.dt_ms, params, spk_reset="hard")
        wall = time.perf_counter() - t0
        n = int(np.asarray(res.n_spikes)[0, 0])
        rows.append({"model": name, "spikes": n, "rate_hz": n / duration_s,
                     "diverged": bool(np.asarray(res.diverged)[0]), "wall_s": wall})
    n_rec = len(chosen.spike_times_ms) if chosen.spike_times_ms is not None else None
    return {"sweep": chosen.sweep_id, "duration_s": duration_s, "dt_ms": chosen.dt_ms,
            "current_max_pA": float(current.max()), "recorded_spikes": n_rec, "rows": rows}


def _find(sweeps, sweep_id):
    for s in sweeps:
        if str(s.sweep_id) == str(sweep_id):
            return s
    raise ValueError(f"--sweep: expected one of {[s.sweep_id for s in sweeps]}, got {sweep_id!r}")


def _main(args: argparse.Namespace) -> int:
    result = run_demo(args.data, args.sweep)
    if args.json:
        import json

        print(json.dumps(result, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=(f"sweep {result['sweep']}: {result['duration_s']:.2f} s at "
                         f"{result['dt_ms']:g} ms, step up to {result['current_max_pA']:.0f} pA; "
                         f"recorded cell: {result['recorded_spikes']} spikes"))
    for col, justify in (("model", "left"), ("spikes", "right"), ("rate (Hz)", "right"),
                         ("diverged", "center"), ("wall (s)", "right")):
        table.add_column(col, justify=justify)
    for r in result["rows"]:
        table.add_row(r["model"], str(r["spikes"]), f"{r['rate_hz']:.1f}",
                      "yes" if r["diverged"] else "", f"{r['wall_s']:.2f}")
    Console().print(table)
    return 0
