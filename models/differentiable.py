"""Differentiable simulation: the models' own ``step`` with a surrogate spike function.

The batched simulator (``models.simulator``) packs spikes into step indices, which has no
gradient. Here the same ``step`` function of each model (the one its object API and the
simulator use) runs in a plain ``lax.scan`` with ``spk`` a surrogate spike function
(``braintools.surrogate``, default ``ReluGrad()`` as in the specification): its forward value is
the Heaviside step (so spike trains equal the simulator's), its backward pass the surrogate
derivative, so spike trains and losses on them have a gradient with respect to every parameter.

* :func:`simulate_soft`: spike values and (optionally) ``V``, ``[P, S, T]``;
* :func:`van_rossum_soft`: the van Rossum distance to recorded spike trains and a sub-threshold
  voltage error, accumulated inside the scan (nothing of size ``[P, S, T]`` is kept).

Memory: the scan runs in chunks of ``chunk`` steps under ``jax.checkpoint``, so the backward pass
keeps one state per chunk and recomputes a chunk's steps when it needs them (about
``T / chunk + chunk`` states of ``P x S`` neurons instead of ``T``).

Hard reset: the specification resets with ``V - (stop_gradient(V) - V_reset) * spike``, whose
derivative with respect to the pre-reset ``V`` is 1; for the exponential models that ``V`` is the
(huge, up to ~1e20 mV) value of the step that crossed the cut-off, and a gradient through it
explodes. Since the hard-reset value ``V_reset`` does not depend on the pre-reset ``V``, the
``V`` of a neuron that fired enters the next step with its gradient stopped; everything else
(the surrogate derivative of the spike, ``w += b``, the threshold jumps of Gif) is untouched.
The refractory models' ``last_spike_time`` is gradient-free, as in the object API.

Units: ``UNIT_SYSTEM`` floats (ms, mV, pA, GOhm, nS ...), as the simulator.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple

import braintools
import jax
import jax.numpy as jnp
import numpy as np

from .registry import get_model

__all__ = ["SoftResult", "SoftLoss", "simulate_soft", "van_rossum_soft", "spike_raster"]


class SoftResult(NamedTuple):
    """Spike values ``[P, S, T]`` (forward 0/1, surrogate gradient) and ``V`` ``[P, S, T]`` (mV) or None."""

    spikes: jax.Array
    V: jax.Array | None


class SoftLoss(NamedTuple):
    """Per candidate and sweep ``[P, S]``: ``van_rossum2`` (the squared van Rossum distance, the
    normalisation of ``spikefit.scoring.metrics.van_rossum_distance`` / elephant),
    ``v_sse`` (sum over steps of ``v_weight * (V - data_v)^2``, mV^2, only where the model is
    below threshold) and ``n_model`` (model spike count, with a surrogate gradient)."""

    van_rossum2: jax.Array
    v_sse: jax.Array
    n_model: jax.Array


def spike_raster(spike_steps, n_steps: int) -> np.ndarray:
    """``[S, K]`` spike step indices (-1 padded) -> ``[S, n_steps]`` float32 spike counts per step."""
    steps = np.asarray(spike_steps)
    out = np.zeros((steps.shape[0], int(n_steps)), np.float32)
    for s, row in enumerate(steps):
        row = row[(row >= 0) & (row < n_steps)]
        np.add.at(out[s], row, 1.0)
    return out


def _setup(model, params: Mapping, fixed: Mapping | None, init: Mapping | None, dt, S: int, dtype):
    cls = get_model(model)
    units = cls.param_units
    unknown = [k for k in (*params, *(fixed or {})) if k not in units]
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown parameters {unknown}; expected some of {sorted(units)}")
    both = sorted(set(params) & set(fixed or {}))
    if both:
        raise ValueError(f"{cls.__name__}: parameters {both} are both free and fixed")
    with jax.ensure_compile_time_eval():  # the defaults are constants, also under jit
        vals, state0 = cls.default_params(), cls.default_initial_state()
    vals.update({k: float(v) for k, v in (fixed or {}).items()})
    p = {k: jnp.asarray(v, dtype) for k, v in vals.items() if k not in params}
    P = 1
    for k, v in params.items():
        v = jnp.asarray(v, dtype)
        if v.ndim != 1:
            raise ValueError(f"{cls.__name__}: free parameter {k!r} must have shape [P], got {tuple(v.shape)}")
        P = v.shape[0]
        p[k] = v[:, None]
    for k, v in params.items():
        if jnp.shape(v)[0] != P:
            raise ValueError(f"{cls.__name__}: free parameters must share one P, got {k!r} of shape {jnp.shape(v)}")
    c = cls.prepare(p, jnp.asarray(dt, dtype))
    for k, v in (init or {}).items():
        if k not in cls.state_units:
            raise ValueError(f"{cls.__name__}: unknown state {k!r} in init; expected one of {sorted(cls.state_units)}")
        state0[k] = float(v)
    state = {k: jnp.full((P, S), v, dtype) for k, v in state0.items()}
    return cls, c, state, P


def _scan(model, params, current, dt, fixed, init, spk_reset, surrogate, observe, obs0, xs, chunk):
    """Run the model over ``current`` [S, T]; per step ``observe(obs, spike, V, fired, x) -> (obs, y)``
    with ``x`` the step's slice of ``xs`` (arrays ``[T, ...]``). Returns (obs, ys [T, ...])."""
    if spk_reset not in ("hard", "soft"):
        raise ValueError(f"spk_reset must be 'hard' or 'soft', got {spk_reset!r}")
    current = jnp.asarray(current)
    if current.ndim != 2:
        raise ValueError(f"current must have shape [S, T] (sweep, time) in pA, got shape {current.shape}")
    dtype = current.dtype if jnp.issubdtype(current.dtype, jnp.floating) else jnp.float32
    S, T = current.shape
    cls, c, state, P = _setup(model, params, fixed, init, dt, S, dtype)
    spk = braintools.surrogate.ReluGrad() if surrogate is None else surrogate
    hard = spk_reset == "hard"
    refr = cls.has_refractory
    dt_ = jnp.asarray(dt, dtype)

    def one(carry, x):
        s, obs = carry
        i, I, xi = x
        if hard:  # a fired neuron resets to V_reset: no gradient through its pre-reset V
            s = dict(s, V=jnp.where(cls.scaled(s, c) >= 0, jax.lax.stop_gradient(s["V"]), s["V"]))
        t = i.astype(dtype) * dt_ if refr else None
        new, z, _ = cls.step(s, c, I[None, :], t, spk, hard)
        new = {k: new[k] for k in s}
        if refr:
            new["last_spike_time"] = jax.lax.stop_gradient(new["last_spike_time"])
        obs, y = observe(obs, spk(z), new["V"], z >= 0, xi)
        return (new, obs), y

    @jax.checkpoint
    def block(carry, xb):
        return jax.lax.scan(one, carry, xb)

    seq = (jnp.arange(T, dtype=jnp.int32), current.T, xs)
    L = max(1, min(int(chunk), T))
    n, rem = divmod(T, L)
    carry, parts = (state, obs0), []
    if n:
        head = jax.tree_util.tree_map(lambda a: a[: n * L].reshape(n, L, *a.shape[1:]), seq)
        carry, ys = jax.lax.scan(block, carry, head)
        parts.append(jax.tree_util.tree_map(lambda a: a.reshape(n * L, *a.shape[2:]), ys))
    if rem:
        carry, ys = block(carry, jax.tree_util.tree_map(lambda a: a[n * L:], seq))
        parts.append(ys)
    ys = parts[0] if len(parts) == 1 else jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *parts)
    return carry[1], ys, P


def simulate_soft(model, params: Mapping, current, dt: float, fixed: Mapping | None = None, *,
                  spk_reset: str = "hard", surrogate: Callable | None = None, init: Mapping | None = None,
                  record_v: bool = False, chunk: int = 128) -> SoftResult:
    """Simulate ``params`` (free name -> ``[P]``) on ``current`` ``[S, T]`` (pA), differentiably.

    ``fixed``: other parameters (plain floats; the rest take the specification defaults);
    ``init``: initial state values; ``surrogate``: the spike function (default ``ReluGrad()``).
    Step ``i`` consumes ``current[:, i]`` and its spike is ``spikes[..., i]``, as in
    ``models.simulator``. Jittable (wrap in ``jax.jit`` with ``model``, ``dt``, ``spk_reset``,
    ``record_v`` static).
    """
    def observe(obs, sp, V, fired, x):
        return obs, (sp, V if record_v else None)

    _, (sp, V), _ = _scan(model, params, current, dt, fixed, init, spk_reset, surrogate, observe, None, None, chunk)
    to_pst = lambda a: jnp.transpose(a, (1, 2, 0))  # noqa: E731
    return SoftResult(to_pst(sp), to_pst(V) if record_v else None)


def van_rossum_soft(model, params: Mapping, current, data_spikes, dt: float, fixed: Mapping | None = None, *,
                    tau_ms: float = 10.0, data_v=None, v_weight=None, mask=None, spk_reset: str = "hard",
                    surrogate: Callable | None = None, init: Mapping | None = None, chunk: int = 128) -> SoftLoss:
    """Spike-train and voltage losses of ``params`` on ``current`` ``[S, T]`` against recorded data.

    ``data_spikes`` ``[S, T]``: recorded spikes per step (:func:`spike_raster`). Both trains are
    filtered with ``exp(-t / tau_ms)`` inside the scan; ``van_rossum2`` is
    ``(1 - d^2) sum_t (f_t - g_t)^2`` plus the filtered difference's tail after the last step
    (``d = exp(-dt / tau_ms)``), which is exactly elephant's ``D^2 = sum_ij e^{-|x_i-x_j|/tau} +
    sum_ij e^{-|y_i-y_j|/tau} - 2 sum_ij e^{-|x_i-y_j|/tau}`` for spikes on the step grid.
    ``mask`` ``[S, T]`` (optional): steps outside a sweep (padding) do not count the model's spikes.
    ``data_v``, ``v_weight`` ``[S, T]`` (optional): the recorded voltage (mV) and a weight per
    step (e.g. 0 near recorded spikes); ``v_sse`` is the weighted squared error where the model
    does not fire.
    """
    current = jnp.asarray(current)
    dtype = current.dtype if jnp.issubdtype(current.dtype, jnp.floating) else jnp.float32
    S, T = current.shape
    data_spikes = jnp.asarray(data_spikes, dtype)
    if data_spikes.shape != (S, T):
        raise ValueError(f"data_spikes must have the current's shape {(S, T)}, got {data_spikes.shape}")
    if not tau_ms > 0:
        raise ValueError(f"tau_ms must be > 0 (ms), got {tau_ms!r}")
    d = float(math.exp(-float(dt) / float(tau_ms)))
    use_v = data_v is not None
    if use_v:
        data_v = jnp.asarray(data_v, dtype)
        v_weight = jnp.ones((S, T), dtype) if v_weight is None else jnp.asarray(v_weight, dtype)
        if data_v.shape != (S, T) or v_weight.shape != (S, T):
            raise ValueError(f"data_v and v_weight must have shape {(S, T)}, got {data_v.shape}, {v_weight.shape}")
    mask = jnp.ones((S, T), dtype) if mask is None else jnp.asarray(mask, dtype)
    xs = (data_spikes.T, mask.T, data_v.T if use_v else None, v_weight.T if use_v else None)

    def observe(obs, sp, V, fired, x):
        f, g, acc, sse, cnt = obs
        ds, m, dv, w = x
        sp = sp * m[None, :]
        f = f * d + sp
        g = g * d + ds
        acc = acc + (f - g[None, :]) ** 2
        if use_v:
            ok = (~fired) & (w[None, :] > 0)
            e = jnp.where(ok, V - dv[None, :], 0.0)
            sse = sse + w[None, :] * e * e
        return (f, g, acc, sse, cnt + sp), None

    P = len(next(iter(params.values()))) if params else 1
    z = jnp.zeros((P, S), dtype)
    obs0 = (z, jnp.zeros((S,), dtype), z, z, z)
    (f, g, acc, sse, cnt), _, _ = _scan(model, params, current, dt, fixed, init, spk_reset, surrogate,
                                        observe, obs0, xs, chunk)
    vr2 = (1.0 - d * d) * acc + d * d * (f - g[None, :]) ** 2
    return SoftLoss(vr2, sse, cnt)
