"""Generation-synchronous CMA-ES for batched evaluation (the ``cmaes_batch`` sampler).

Optuna's CmaEsSampler asks one trial at a time and restores the optimiser from storage on
every ask (~10 ms per trial here), and trials asked beyond a generation's population are
wasted. Fitting evaluates whole populations at once, so spikefit drives the ``cmaes``
library (the same one Optuna uses) one generation per batch: :meth:`ask` returns the whole
population, :meth:`tell` updates the distribution when all of it is back. The study still
records every candidate as an Optuna trial (see :mod:`spikefit.search.study`).

Search runs in the unit cube: each parameter is scaled to [0, 1] between its bounds (in log
space for log parameters); samples outside the cube are folded back by mirroring, which
beat clip-and-resample on these fits. Failed candidates get the generation's worst value
(plus one) so CMA-ES moves away from them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BatchCMA"]


class BatchCMA:
    """CMA-ES over ``n`` parameters in [0, 1]^n with a population of ``popsize``."""

    def __init__(self, n: int, popsize: int, *, seed: int | None = None, sigma0: float = 0.25,
                 mean: np.ndarray | None = None):
        from cmaes import CMA

        if popsize < 2:
            raise ValueError(f"popsize: expected >= 2, got {popsize}")
        mean = np.full(n, 0.5) if mean is None else np.clip(np.asarray(mean, float), 0.0, 1.0)
        self._cma = CMA(mean=mean, sigma=float(sigma0), bounds=None, seed=seed,
                        population_size=int(popsize))
        self.popsize = int(popsize)
        self._pending: dict[int, np.ndarray] = {}  # trial number -> unit-cube point
        self._told: list[tuple[np.ndarray, float | None]] = []
        self._n_asked = 0  # members of the current generation handed out so far
        self.generation = 0

    @property
    def open(self) -> bool:
        """True while the current generation has candidates not yet asked."""
        return self._n_asked < self.popsize

    def ask(self, n: int) -> list[np.ndarray]:
        """Up to ``n`` unit-cube points of the current generation (fewer when it runs out)."""
        return list(self.ask_array(n))

    def ask_array(self, n: int) -> np.ndarray:
        """Up to ``n`` points of the current generation as one array ``[k, n_params]``.

        The same points as ``k`` calls of ``cmaes.CMA.ask`` (unbounded, so no resampling): one
        ``randn(k, n)`` draw is the ``k`` consecutive ``randn(n)`` draws of the same stream,
        mapped through the distribution's ``B D`` at once (equal to rounding)."""
        k = max(min(n, self.popsize - self._n_asked), 0)
        self._n_asked += k
        cma = self._cma
        if not k:
            return np.zeros((0, cma.dim))
        B, D = cma._eigen_decomposition()
        z = cma._rng.randn(k, cma.dim)  # ~ N(0, I), row i = the i-th ask's draw
        return _mirror(cma._mean + cma._sigma * (z @ (B * D).T))  # B diag(D) z_i per row

    def register_many(self, numbers, z: np.ndarray) -> None:
        self._pending.update(zip(np.asarray(numbers).tolist(), np.asarray(z, float)))

    def tell_many(self, numbers, values) -> None:
        """:meth:`tell` for a batch (``nan`` = failed), one generation update when it completes."""
        pop = self._pending.pop
        for number, v in zip(np.asarray(numbers).tolist(), np.asarray(values, float).tolist()):
            z = pop(number, None)
            if z is not None:  # else a trial from before a resume: not part of this generation
                self._told.append((z, v if math.isfinite(v) else None))
                if len(self._told) == self.popsize:
                    self._update()

    def register(self, number: int, z: np.ndarray) -> None:
        self._pending[number] = np.asarray(z, float)

    def tell(self, number: int, value: float | None) -> None:
        """Record a trial's value (``None`` = failed); updates once the generation is complete."""
        self.tell_many([number], [np.nan if value is None else value])

    def _update(self) -> None:
        finite = [v for _, v in self._told if v is not None]
        worst = (max(finite) + 1.0) if finite else 1.0
        self._cma.tell([(z, worst if v is None else v) for z, v in self._told])
        self._told = []
        self._n_asked = len(self._pending)  # members asked early for the next generation: none
        self.generation += 1


def _mirror(z: np.ndarray) -> np.ndarray:
    """Fold a point back into [0, 1] by reflection at the faces (period 2)."""
    z = np.mod(z, 2.0)
    return np.where(z > 1.0, 2.0 - z, z)
