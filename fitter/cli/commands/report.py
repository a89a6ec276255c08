"""``spikefit report DIR``: the report of a results folder, one HTML page per cell with its figures."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the report of a results folder: HTML pages and PNG figures")
    p.add_argument("dir", help="results folder")
    p.add_argument("--out", help="folder for the report (default: DIR/report)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from spikefit.results.report import write_report

    paths = write_report(args.dir, args.out)
    pages = [p for p in paths if p.suffix == ".html"]
    for path in pages:
        print(path)
    print(f"{len(paths) - len(pages)} figures beside the pages; open {pages[0]}")
    return 0
