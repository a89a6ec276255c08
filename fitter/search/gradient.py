"""Gradient refinement: many candidates improved at once by Adam on a differentiable loss.

:func:`refine` takes the best candidates of a search (``[P, n]`` in the space's units) and a
loss ``loss_fn(params) -> [P]`` that JAX can differentiate (for spike trains:
:func:`spikefit.models.differentiable.van_rossum_soft`, surrogate spike gradients through the
simulator). Each candidate moves in unconstrained coordinates ``u``: the parameter is
``low + sigmoid(u) (high - low)`` (``log=True``: the same on ``log(value)``), so every iterate
stays inside the bounds whatever the step. The loss of candidate ``p`` must depend on row ``p``
alone: the gradient of the summed loss is then every candidate's own gradient, one backward
pass for all.

Surrogate gradients through hundreds of threshold crossings are noisy and can be huge (the
exponential models' dynamics near threshold amplify them step after step), so each candidate's
gradient is scaled to unit norm before Adam (a step then moves about ``learning_rate`` in ``u``
per coordinate, whatever the gradient's size); a candidate whose loss or gradient is not finite
does not move that step. The result keeps, per candidate, the best point seen (the loss is not
monotone along the iterates).
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np

from spikefit.search.space import SearchSpace

__all__ = ["Refined", "refine", "to_unit", "from_unit"]

#: scaled coordinates of the start are clipped to [EDGE, 1 - EDGE] (sigmoid's inverse is infinite at 0 and 1)
EDGE = 1e-3


class Refined(NamedTuple):
    """Outcome of :func:`refine`: ``x`` ``[P, n]`` the best point seen per candidate (space units),
    ``loss`` ``[P]`` its loss, ``history`` ``[steps + 1, P]`` the loss of each iterate (nan where
    not finite), ``x_last`` ``[P, n]`` the last iterate, ``steps`` taken and wall ``seconds``."""

    x: np.ndarray
    loss: np.ndarray
    history: np.ndarray
    x_last: np.ndarray
    steps: int
    seconds: float


def _ends(space: SearchSpace):
    log = np.array([p.log for p in space.params])
    lo = np.where(log, np.log(np.where(log, space.low, 1.0)), space.low)
    hi = np.where(log, np.log(np.where(log, space.high, 1.0)), space.high)
    return log, lo, hi


def to_unit(space: SearchSpace, x) -> np.ndarray:
    """``[P, n]`` values in the space's units -> their position in ``[0, 1]`` (log-scaled where ``log``)."""
    x = np.asarray(x, np.float64)
    log, lo, hi = _ends(space)
    z = np.where(log, np.log(np.where(log, np.maximum(x, 1e-300), 1.0)), x)
    return (z - lo) / (hi - lo)


def from_unit(space: SearchSpace, y, xp=np):
    """Inverse of :func:`to_unit` (``xp``: ``numpy`` or ``jax.numpy``)."""
    log, lo, hi = _ends(space)
    z = lo + y * (hi - lo)
    return xp.where(log, xp.exp(xp.where(log, z, 0.0)), z)


def refine(space: SearchSpace, x0, loss_fn: Callable, *, steps: int = 50, learning_rate: float = 0.03,
           max_time_s: float | None = None) -> Refined:
    """Refine candidates ``x0`` ``[P, n]`` (columns in ``space.names`` order, the space's units).

    ``loss_fn(params)``: ``params`` maps each name to a ``[P]`` float32 JAX array (the space's
    units); returns the ``[P]`` losses, differentiable (it is jitted here). ``steps``: Adam steps
    at most; ``max_time_s``: stop starting new steps after this many seconds (compilation
    included). Returns :class:`Refined`.
    """
    import jax
    import jax.numpy as jnp
    import optax

    x0 = np.asarray(x0, np.float64)
    if x0.ndim != 2 or x0.shape[1] != len(space) or x0.shape[0] < 1:
        raise ValueError(f"x0: expected shape [P, {len(space)}] (P >= 1, columns {list(space.names)}), got {x0.shape}")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0: every start value must be finite")
    if int(steps) < 0 or not learning_rate > 0:
        raise ValueError(f"refine: expected steps >= 0 and learning_rate > 0, got steps={steps!r}, "
                         f"learning_rate={learning_rate!r}")
    started = time.perf_counter()
    names = space.names
    y0 = np.clip(to_unit(space, np.clip(x0, space.low, space.high)), EDGE, 1.0 - EDGE)
    u = jnp.asarray(np.log(y0) - np.log1p(-y0), jnp.float32)

    def params_of(u):
        x = from_unit(space, jax.nn.sigmoid(u), jnp)
        return {n: x[:, i].astype(jnp.float32) for i, n in enumerate(names)}

    def total(u):
        loss = jnp.asarray(loss_fn(params_of(u)))
        ok = jnp.isfinite(loss)
        return jnp.sum(jnp.where(ok, loss, 0.0)), jnp.where(ok, loss, jnp.nan)

    # the step shrinks along a cosine to 0 at the last step: constant steps of normalised
    # gradients keep circling the minimum (measured: candidates reach it, then wander off)
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(int(steps), 1)))

    @jax.jit
    def step(u, state):
        (_, loss), g = jax.value_and_grad(total, has_aux=True)(u)
        good = jnp.isfinite(loss) & jnp.all(jnp.isfinite(g), axis=1)
        norm = jnp.sqrt(jnp.sum(jnp.where(good[:, None], g, 0.0) ** 2, axis=1, keepdims=True))
        g = jnp.where(good[:, None] & (norm > 0), g / jnp.where(norm > 0, norm, 1.0), 0.0)
        upd, state = opt.update(g, state, u)
        return u + jnp.where(good[:, None], upd, 0.0), state, loss

    last = jax.jit(lambda u: total(u)[1])
    state = opt.init(u)
    history, best_x, best = [], None, None
    taken = 0

    def record(u_at, loss):
        nonlocal best_x, best
        x = from_unit(space, 1.0 / (1.0 + np.exp(-np.asarray(u_at, np.float64))))
        loss = np.asarray(loss, np.float64)
        history.append(loss)
        if best is None:
            best, best_x = np.where(np.isfinite(loss), loss, np.inf), x
            return x
        better = np.isfinite(loss) & (loss < best)
        best = np.where(better, loss, best)
        best_x = np.where(better[:, None], x, best_x)
        return x

    for _ in range(int(steps)):
        if max_time_s is not None and time.perf_counter() - started > max_time_s:
            break
        u_new, state, loss = step(u, state)
        record(u, loss)
        u, taken = u_new, taken + 1
    x_last = record(u, last(u))
    return Refined(x=best_x, loss=best, history=np.stack(history), x_last=x_last, steps=taken,
                   seconds=time.perf_counter() - started)
