"""Lazy re-exports for package ``__init__`` modules.

A package lists its public names once, by the module that defines them; the names are
imported on first use. So ``import spikefit`` (and ``spikefit --help``, and parsing a job
spec) stays fast and loads neither JAX, Optuna, Ray nor pandas until they are needed. It lives
in ``spikefit.models`` (which imports nothing else of spikefit) so the models use it too;
``spikefit._lazy`` re-exports it.
"""

from __future__ import annotations

import importlib
from typing import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]
                 ) -> tuple[list[str], Callable[[str], object], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``.

    ``exports`` maps a module (absolute, or relative to ``package`` when it starts with a
    dot) to the public names it defines.
    """
    where = {}
    for module, names in exports.items():
        target = package + module if module.startswith(".") else module
        for name in names:
            where[name] = target
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return sorted(where), __getattr__, __dir__
