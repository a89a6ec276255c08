"""The ``spikefit`` command line (one module per sub-command under ``commands``)."""

from spikefit._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    '.main': ('main', 'build_parser'),
})
