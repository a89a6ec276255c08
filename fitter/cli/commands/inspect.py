"""``spikefit inspect PATH``: list the sweeps of a recording file or folder (table or JSON).

Each sweep's current is also described as a step (``spikefit.data.steps``): holding current
(median before onset), step amplitude (plateau median minus holding), onset and offset; a
sweep that is no single step (noise, ramp) has ``is_step`` false."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "run", "FIELDS"]

FIELDS = (
    "cell", "sweep", "protocol", "stimulus", "repeat", "duration_s", "dt_ms", "current_mean_pA",
    "current_sd_pA", "current_min_pA", "current_max_pA", "holding_pA", "amplitude_pA", "onset_ms", "offset_ms",
    "step_error_pA", "is_step", "n_spikes", "rate_hz", "file",
)


def register(subparsers) -> argparse.ArgumentParser:
    from spikefit.data.readers import FORMATS
    from spikefit.data.readers.text import PRESETS

    p = subparsers.add_parser("inspect", help="list the sweeps of a recording file or folder",
                              description=__doc__)
    p.add_argument("path", help="a recording file or a folder of them")
    p.add_argument("--format", choices=sorted(FORMATS), help="file format (default: from the extension)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per sweep")
    p.add_argument("--preset", choices=sorted(PRESETS), help="text layout preset (e.g. qsnmc2007)")
    p.add_argument("--rate-hz", type=float, help="sampling rate for formats that do not store it (text, csv)")
    p.add_argument("--protocol", action="append", help="only these protocols (repeatable)")
    p.add_argument("--series-length", type=int, metavar="N",
                   help="ibw: cut each protocol's consecutive sweeps into series of N (default: from the step pattern)")
    p.set_defaults(func=run)
    return p


def _rows(args) -> list[dict]:
    from spikefit.data.readers import load

    options = {}
    if args.preset:
        options["preset"] = args.preset
        options.setdefault("format", "text")
    if args.rate_hz is not None:
        options["rate_hz"] = args.rate_hz
    if args.series_length is not None:
        options["series_length"] = args.series_length
    fmt = args.format or options.pop("format", None)
    options.pop("format", None)
    recs = load(args.path, format=fmt, **options)
    recs = recs if isinstance(recs, list) else [recs]
    rows = []
    for rec in recs:
        for s in rec:
            if args.protocol and s.protocol not in args.protocol:
                continue
            summary = s.summary()
            rows.append({k: summary[k] for k in FIELDS})
    return rows


def run(args) -> int:
    rows = _rows(args)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.path}: {len(rows)} sweeps")
    cols = [("cell", "cell", "{}"), ("sweep", "sweep", "{}"), ("protocol", "protocol", "{}"),
            ("stimulus", "stimulus", "{}"), ("repeat", "rep", "{}"), ("duration_s", "dur (s)", "{:.3f}"),
            ("dt_ms", "dt (ms)", "{:g}"), ("current_mean_pA", "I mean", "{:.1f}"), ("current_sd_pA", "I sd", "{:.1f}"),
            ("current_min_pA", "I min", "{:.1f}"), ("current_max_pA", "I max", "{:.1f}"),
            ("holding_pA", "holding_pA", "{:.1f}"), ("amplitude_pA", "amplitude_pA", "{:.1f}"),
            ("onset_ms", "onset_ms", "{:.2f}"), ("offset_ms", "offset_ms", "{:.2f}"),
            ("n_spikes", "spikes", "{}"), ("rate_hz", "rate (Hz)", "{:.2f}")]
    for _, title, _ in cols:
        table.add_column(title, justify="left" if title in ("cell", "protocol", "stimulus") else "right")
    for r in rows:
        table.add_row(*("-" if r[key] is None else fmt.format(r[key]) for key, _, fmt in cols))
    Console(width=240).print(table)
    return 0
