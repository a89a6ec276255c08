"""Sub-commands of the ``spikefit`` CLI, one module each (see :mod:`spikefit.cli.main`)."""
