"""Sub-commands of the ``spikefit`` CLI, one module each (see :mod:`spikefit.cli.main`)."""

__all__: list[str] = []  # the sub-commands are found through spikefit.cli.main.COMMANDS
