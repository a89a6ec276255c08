"""The 13 integrate-and-fire neuron models and the batched functional simulator."""

__all__: list[str] = []
