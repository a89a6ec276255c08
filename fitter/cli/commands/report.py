"""``spikefit report DIR``: figures of a job's results (convergence, parameter spread, best fit)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write figures of a results folder as PNG")
    p.add_argument("dir", help="results folder")
    p.add_argument("--out", help="folder for the figures (default: DIR/figures)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from spikefit.results.report import write_report

    for path in write_report(args.dir, args.out):
        print(path)
    return 0
