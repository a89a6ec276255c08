"""The fused simulation kernel of ``models.simulator``: the whole time loop in one Pallas call.

One program per sweep and block of ``BLOCK`` candidates (grid ``[S, ceil(P / BLOCK)]``): the
block's state and step constants stay in registers for all ``T`` steps, the sweep's current is
read once per step (one scalar for the whole block), and each spike is written straight into
the spike buffer at the neuron's next free slot (a masked store; a full buffer only counts).
The voltage, when asked, is written one row per step; nothing else of size ``T`` is written.

The step is the model's own ``sim_step`` / ``fires`` (the functions the scan path runs), so
every model has a kernel and the two paths compute the same equations in the same order: the
spikes are equal and ``V`` agrees to rounding (tests/models/test_kernel.py, run on CPU in
Pallas interpret mode).  The runaway test is the scan path's: ``|V|`` after the reset of every
step (``sim_step``'s second output is exactly that), then a final check that the state is finite.

On GPU this lowers to Triton (``jax.experimental.pallas.triton``); elsewhere it runs in
interpret mode (each kernel operation as an XLA operation: correct, slow, for tests).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from ._base import record_spike_time
from ._simloop import V_RUNAWAY

__all__ = ["BLOCK", "build_kernel_run"]

#: Candidates per program (a power of two, as Triton's blocks must be): 128 lanes is 4 warps.
BLOCK = 128


def _block(P: int) -> int:
    return min(BLOCK, int(pl.next_power_of_2(max(P, 1))))


def _split_consts(c, dtype):
    """The step constants: per-candidate arrays (kernel inputs) and trace-time constants."""
    arrays, consts = {}, {}
    for k, v in c.items():
        if isinstance(v, jax.Array):  # traced: derived from the free parameters
            arrays[k] = v
        elif isinstance(v, (bool, np.bool_)) or (isinstance(v, np.ndarray) and v.dtype == bool):
            consts[k] = v if isinstance(v, bool) else np.asarray(v)
        else:
            consts[k] = np.asarray(v, dtype)
    return arrays, consts


def build_kernel_run(cls, free, fixed, init, dt, hard, K, record_v, dtype, interpret, on_trace=None):
    """The (unjitted) function ``run(free_vals, current)`` of ``_simloop.build_run``'s contract,
    as one fused kernel."""
    dtype = jnp.dtype(dtype)
    refr = cls.has_refractory
    th_state = "V_th" in cls.state_units
    names = tuple(k for k in cls.state_units if k in init)
    one, zero = np.asarray(1, dtype), np.asarray(0, dtype)
    dt_ = np.asarray(dt, dtype)
    params = {"num_warps": 4, "num_stages": 1}

    def run(free_vals, current):
        if on_trace is not None:
            on_trace()
        P = free_vals[free[0]].shape[0] if free else 1
        S, T = current.shape
        if T == 0:  # no step: nothing to launch (a zero-length block is not a kernel)
            bad = any(not np.isfinite(v) for v in init.values())
            return (jnp.full((P, S, K), -1, jnp.int32), jnp.zeros((P, S), jnp.int32), jnp.zeros((P, S), bool),
                    jnp.full((P,), bad), jnp.zeros((P, S, 0), dtype) if record_v else None)
        B = _block(P)
        nb = -(-P // B)
        Pp = nb * B
        p = {k: np.asarray(v, dtype) for k, v in fixed.items()}
        for k in free:  # padded with the last candidate (finite, discarded afterwards)
            x = jnp.asarray(free_vals[k], dtype)
            p[k] = jnp.concatenate([x, jnp.broadcast_to(x[-1:], (Pp - P,))]) if Pp > P else x
        arrays, consts = _split_consts(cls.sim_prepare(p, dt_), dtype)
        keys = tuple(arrays)
        # bool constants travel as int32 (Triton has no bool memory type)
        ins = [jnp.broadcast_to(arrays[k].astype(jnp.int32 if arrays[k].dtype == bool else dtype), (Pp,))
               for k in keys]
        cur = jnp.asarray(current, dtype)

        def kernel(*refs):
            c_refs, (cur_ref, buf_in, n_ref, bad_ref, buf_ref) = refs[:len(keys)], refs[len(keys):len(keys) + 5]
            v_ref = refs[-1] if record_v else None
            del buf_in  # aliased to buf_ref: filled with -1 outside the kernel
            sw = pl.program_id(0)
            lanes = jnp.arange(B, dtype=jnp.int32)
            c = dict(consts)
            for k, r in zip(keys, c_refs):
                x = r[...]
                c[k] = x != 0 if arrays[k].dtype == bool else x
            s = {k: jnp.full((B,), np.asarray(init[k], dtype)) for k in names}
            if refr:
                s["last_spike_time"] = jnp.full((B,), np.asarray(init["last_spike_time"], dtype))
            fired = jnp.broadcast_to(cls.fires(s, c), (B,))

            def body(i, carry):
                s, fired, n, bad = carry
                t = i.astype(dtype) * dt_ if refr else None
                new, v_post = cls.sim_step(s, c, cur_ref[sw, i], t, jnp.where(fired, one, zero), hard)
                bad = bad | ~(jnp.abs(v_post) <= V_RUNAWAY)
                s2 = {k: new[k] for k in names}
                if refr:
                    s2["last_spike_time"] = record_spike_time(s2["V"], s2["V_th"] if th_state else c["V_th"], t,
                                                              s["last_spike_time"])
                fired = jnp.broadcast_to(cls.fires(s2, c), (B,))
                plt.store(buf_ref.at[jnp.minimum(n, K - 1), lanes], jnp.full((B,), i, jnp.int32),
                          mask=fired & (n < K))
                if record_v:
                    v_ref[i, :] = s2["V"]
                return s2, fired, n + fired.astype(jnp.int32), bad

            s, fired, n, bad = jax.lax.fori_loop(0, T, body, (s, fired, jnp.zeros((B,), jnp.int32),
                                                               jnp.zeros((B,), bool)))
            for x in s.values():
                bad = bad | ~jnp.isfinite(x)
            n_ref[...] = n
            bad_ref[...] = bad.astype(jnp.int32)

        lane = pl.BlockSpec((B,), lambda sw, b: (b,))
        per_sweep = pl.BlockSpec((None, B), lambda sw, b: (sw, b))
        buf_spec = pl.BlockSpec((None, K, B), lambda sw, b: (sw, 0, b))
        out_shape = [jax.ShapeDtypeStruct((S, Pp), jnp.int32), jax.ShapeDtypeStruct((S, Pp), jnp.int32),
                     jax.ShapeDtypeStruct((S, K, Pp), jnp.int32)]
        out_specs = [per_sweep, per_sweep, buf_spec]
        if record_v:
            out_shape.append(jax.ShapeDtypeStruct((S, T, Pp), dtype))
            out_specs.append(pl.BlockSpec((None, T, B), lambda sw, b: (sw, 0, b)))
        outs = pl.pallas_call(
            kernel, grid=(S, nb),
            in_specs=[lane] * len(keys) + [pl.BlockSpec((S, T), lambda sw, b: (0, 0)), buf_spec],
            out_specs=out_specs, out_shape=out_shape,
            input_output_aliases={len(keys) + 1: 2},
            interpret=interpret, compiler_params=None if interpret else plt.CompilerParams(**params),
            name=f"spikefit_{cls.__name__}",
        )(*ins, cur, jnp.full((S, K, Pp), -1, jnp.int32))
        n, bad, buf = outs[:3]
        n = n[:, :P].T
        spikes = jnp.transpose(buf[:, :, :P], (2, 0, 1))
        V = jnp.transpose(outs[3][:, :, :P], (2, 0, 1)) if record_v else None
        return spikes, n, n > K, (bad[:, :P] != 0).any(axis=0), V

    return run
