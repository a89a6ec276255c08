"""Lazy re-exports for package ``__init__`` modules (see :mod:`spikefit.models._lazy`)."""

from spikefit.models._lazy import lazy_exports

__all__ = ["lazy_exports"]
