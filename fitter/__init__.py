"""spikefit's fitting service: recordings, metrics, objectives, studies, workers and results."""

__all__: list[str] = []
