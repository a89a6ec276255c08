"""The ``spikefit`` command line.

Each sub-command lives in its own module under :mod:`spikefit.cli.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Add a command by listing its module in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = (
    "spikefit.cli.commands.demo",
    "spikefit.cli.commands.run",
    "spikefit.cli.commands.resume",
    "spikefit.cli.commands.results",
    "spikefit.cli.commands.report",
    "spikefit.cli.commands.cluster",
    "spikefit.cli.commands.inspect",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikefit",
        description="Fit spiking neuron models to current-clamp recordings.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def _spikefit_error() -> type[Exception]:
    """:class:`spikefit.errors.SpikefitError`, imported only once an error is being handled:
    ``spikefit.errors`` loads ``spikefit.models`` (JAX), too slow for ``spikefit --help``."""
    from spikefit.errors import SpikefitError

    return SpikefitError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (_spikefit_error(), ValueError, TypeError, FileNotFoundError) as err:
        # Input errors: one clear line, no traceback (set SPIKEFIT_DEBUG=1 for one).
        import os

        if os.environ.get("SPIKEFIT_DEBUG"):
            raise
        message = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"spikefit {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
