"""Batched functional simulator: P parameter sets x S sweeps x T steps in one jitted call.

All values are plain floats in ``UNIT_SYSTEM`` (ms, mV, pA, GOhm, nS, 1/ms, ...); saiunit
Quantities given as parameters are converted (``UnitError`` on a wrong dimension).  The
time loop is a ``lax.scan`` over the model's own ``step`` function (the one its object API
uses), on the ``P * S`` neurons of a call as one vector (``_simloop``: layout, kernels;
``_compact``: spike buffer), so a call of P candidates x S sweeps runs about as fast as one
sweep of ``P * S`` candidates.  On GPU the default engine is instead one fused Pallas kernel
with the time loop inside (``_kernel``); ``engine='scan'`` or ``'kernel'`` forces either (the
kernel off GPU runs in Pallas interpret mode: exact, slow, for tests).

Time convention: step ``i`` (0-based) consumes ``current[:, i]`` at time ``t = i * dt`` and
produces the spike reported as step ``i`` (spike time ``i * dt``), exactly as calling
``update`` of the object API at ``t = i * dt``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Mapping, NamedTuple, Sequence

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from ._simloop import CHUNK, V_RUNAWAY, build_run  # noqa: F401 (V_RUNAWAY: re-exported)
from .registry import get_model
from .units import to_plain

__all__ = ["ENGINES", "Simulator", "SimResult", "resolve_engine", "simulate"]

#: Simulation engines: ``auto`` (the fused kernel on GPU, the scan elsewhere), ``kernel``, ``scan``.
ENGINES = ("auto", "kernel", "scan")


def resolve_engine(engine: str, backend: str) -> str:
    """The engine a call runs on ``backend``: ``auto`` is the kernel on GPU, the scan elsewhere."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine == "auto":
        return "kernel" if backend == "gpu" else "scan"
    return engine

class SimResult(NamedTuple):
    """Output of ``Simulator``: spike steps ``[P, S, K]`` (ascending, padded with -1),
    true counts ``[P, S]``, ``overflow`` (count > K) ``[P, S]``, ``diverged`` ``[P]``,
    and ``V`` ``[P, S, T]`` in mV when recorded (else ``None``)."""

    spike_steps: jax.Array
    n_spikes: jax.Array
    overflow: jax.Array
    diverged: jax.Array
    V: jax.Array | None


_TRACES: dict[tuple, int] = {}  # cache key -> number of times it was traced (tests count recompiles)


#: Per-executable XLA:CPU options of the simulator (only our compiled function; nothing
#: global).  512-bit vectors: the step is compute bound, AVX-512 machines run it ~10-25%
#: faster; on CPUs without AVX-512 LLVM caps the width at what the target has.
CPU_COMPILER_OPTIONS = {"xla_cpu_prefer_vector_width": 512}


def default_unroll(backend: str, model=None) -> int:
    """Inner-loop unroll for a backend.  CPU: 1 (each step is two to four kernels; unrolled,
    XLA merges consecutive steps into larger kernels, measured 1.2-2.5x slower for Gif with the
    current loop; the models' ``sim_cpu_unroll`` hints predate it and are not used).  GPU/TPU:
    the whole chunk (``CHUNK`` steps straight-line in one loop iteration), so XLA can fuse
    consecutive steps into few kernels: there the loop is kernel-launch bound, not compute bound."""
    return 1 if backend == "cpu" else CHUNK


@functools.lru_cache(maxsize=256)
def _compiled(model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name, backend,
              engine="scan"):
    """One jitted function per static configuration; JAX caches it per input shape."""
    key = (model_name, free, fixed_items, init_items, dt, hard, max_spikes, record_v, unroll, dtype_name, backend,
           engine)

    def traced():
        _TRACES[key] = _TRACES.get(key, 0) + 1

    cls, fixed, init = get_model(model_name), dict(fixed_items), dict(init_items)
    if engine == "kernel":
        from ._kernel import build_kernel_run

        run = build_kernel_run(cls, free, fixed, init, dt, hard, max_spikes, record_v, dtype_name,
                               interpret=backend != "gpu", on_trace=traced)
    else:
        run = build_run(cls, free, fixed, init, dt, hard, max_spikes, record_v, unroll, dtype_name, backend,
                        on_trace=traced)
    cpu = backend == "cpu"
    return jax.jit(lambda free_vals, current: SimResult(*run(free_vals, current)),
                   compiler_options=CPU_COMPILER_OPTIONS if cpu else None)


class Simulator:
    """Simulate P parameter sets of one model on S input sweeps, compiled once.

    Parameters
    ----------
    model : str or model class
        One of ``MODEL_NAMES``.
    free : sequence of str
        Parameters passed per call as arrays of shape ``[P]`` (traced; new values never
        recompile).
    fixed : mapping, optional
        Parameter values baked into the compiled function (floats in ``UNIT_SYSTEM`` or
        Quantities).  Parameters neither free nor fixed take the specification defaults.
    dt : float or Quantity
        Time step (ms).
    spk_reset : {'hard', 'soft'}
        Reset mode (``'hard'`` for fitting; exponential models can run away with soft reset).
    max_spikes : int
        K, the capacity of ``spike_steps`` per (parameter set, sweep).
    record_v : bool
        Also return ``V`` ``[P, S, T]`` (mV).
    init : mapping, optional
        Initial state values (e.g. ``{"V": -70.0}``); default: the specification's.
    unroll : int, optional
        Unroll factor of the inner (per-chunk) step loop; default ``default_unroll`` of the
        JAX backend at the time of the call (the model's ``sim_cpu_unroll`` on CPU, a whole
        chunk on GPU/TPU).
    engine : {'auto', 'kernel', 'scan'}
        ``auto`` (default): the fused Pallas kernel on GPU, the ``lax.scan`` loop elsewhere;
        ``kernel`` or ``scan`` forces either (the kernel off GPU runs in Pallas interpret mode).
    """

    def __init__(self, model, free: Sequence[str] = (), fixed: Mapping | None = None, *, dt,
                 spk_reset: str = "hard", max_spikes: int = 64, record_v: bool = False,
                 init: Mapping | None = None, unroll: int | None = None, engine: str = "auto"):
        cls = get_model(model)
        resolve_engine(engine, "cpu")  # validates the name now
        self.engine = engine
        self._kernel_failed = False  # "auto" falls back to the scan for good if the kernel fails to compile
        units = cls.param_units
        self.model = cls.__name__
        self.free = tuple(free)
        for name in self.free:
            if name not in units:
                raise ValueError(f"{self.model}: unknown free parameter {name!r}; expected one of {sorted(units)}")
        fixed = dict(fixed or {})
        for name in fixed:
            if name not in units:
                raise ValueError(f"{self.model}: unknown fixed parameter {name!r}; expected one of {sorted(units)}")
            if name in self.free:
                raise ValueError(f"{self.model}: parameter {name!r} is both free and fixed")
        if spk_reset not in ("soft", "hard"):
            raise ValueError(f"spk_reset must be 'soft' or 'hard', got {spk_reset!r}")
        if int(max_spikes) < 1:
            raise ValueError(f"max_spikes must be >= 1, got {max_spikes!r}")
        vals = cls.default_params()
        for name, v in fixed.items():
            vals[name] = float(to_plain(name, v, units[name], allow_plain=True, where=f"{self.model} fixed"))
        self.fixed = {k: v for k, v in vals.items() if k not in self.free}
        state0 = cls.default_initial_state()
        for name, v in dict(init or {}).items():
            if name not in cls.state_units:
                raise ValueError(f"{self.model}: unknown state {name!r} in init; expected one of {sorted(cls.state_units)}")
            state0[name] = float(to_plain(name, v, cls.state_units[name], allow_plain=True, where=f"{self.model} init"))
        self.init = state0
        self.dt = float(to_plain("dt", dt, "ms", allow_plain=True))
        self.spk_reset = spk_reset
        self.max_spikes = int(max_spikes)
        self.record_v = bool(record_v)
        if unroll is not None and int(unroll) < 1:
            raise ValueError(f"unroll must be >= 1, got {unroll!r}")
        self.unroll = None if unroll is None else int(unroll)

    def _key(self):
        dtype = jnp.dtype(brainstate.environ.dftype()).name
        backend = jax.default_backend()
        unroll = default_unroll(backend, self.model) if self.unroll is None else self.unroll
        return (self.model, self.free, tuple(sorted(self.fixed.items())), tuple(sorted(self.init.items())),
                self.dt, self.spk_reset == "hard", self.max_spikes, self.record_v, unroll, dtype, backend,
                "scan" if self._kernel_failed else resolve_engine(self.engine, backend))

    def _fn(self):
        key = self._key()
        return _compiled(*key), key[9]

    @property
    def n_traces(self) -> int:
        """How many times this configuration (at the current precision) was traced/compiled."""
        return _TRACES.get(self._key(), 0)

    def __call__(self, params: Mapping, current) -> SimResult:
        """``params``: free name -> ``[P]`` values (UNIT_SYSTEM floats or Quantities);
        ``current``: ``[S, T]`` in pA (or a current Quantity)."""
        missing = [k for k in self.free if k not in params]
        extra = [k for k in params if k not in self.free]
        if missing or extra:
            raise ValueError(f"{self.model}: params must hold exactly the free parameters {list(self.free)}; "
                             f"missing {missing}, unexpected {extra}")
        units = get_model(self.model).param_units
        vals, P = {}, None
        for k in self.free:
            v = np.asarray(to_plain(k, params[k], units[k], allow_plain=True, where=self.model)) \
                if not isinstance(params[k], jax.Array) else params[k]
            if v.ndim != 1 or (P is not None and v.shape[0] != P):
                raise ValueError(f"{self.model}: free parameter {k!r} must have shape [P] (same P for all), "
                                 f"got shape {tuple(v.shape)}")
            P = v.shape[0]
            vals[k] = v
        current = to_plain("current", current, "pA", allow_plain=True, where=self.model)
        if getattr(current, "ndim", 0) != 2:
            raise ValueError(f"current must have shape [S, T] (sweep, time) in pA, got shape {np.shape(current)}")
        try:
            return self._fn()[0](vals, current)
        except Exception as e:  # the kernel's compilation on this device (inputs are checked above)
            if self.engine != "auto" or self._key()[-1] != "kernel":
                raise
            warnings.warn(f"{self.model}: the fused simulation kernel failed on {jax.default_backend()} "
                          f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                          "simulating with the scan loop instead (engine='scan' to skip the kernel)",
                          RuntimeWarning, stacklevel=2)
            self._kernel_failed = True
            return self._fn()[0](vals, current)


def simulate(model, current, dt, params: Mapping, fixed: Mapping | None = None, **kwargs) -> SimResult:
    """One-shot convenience wrapper: ``Simulator(model, free=params, fixed=fixed, dt=dt, **kwargs)(params, current)``."""
    return Simulator(model, free=tuple(params), fixed=fixed, dt=dt, **kwargs)(params, current)
