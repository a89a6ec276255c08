"""The passive stage of a search plan: leak resistance, membrane time constant and resting
potential fitted from the sub-threshold parts of the training sweeps, before any spiking stage.

The sub-threshold membrane of every integrate-and-fire model of spikefit is the leaky
integrator ``tau dV/dt = -(V - V_rest) + R I``. Simulated with the forward-Euler step the
models use, at the data's own step ``dt``, its voltage is ``V = V_rest + R u_tau`` where
``u_tau`` is the current passed through the first-order filter
``u[n+1] = u[n] + dt / tau (I[n] - u[n])`` (started at steady state, ``u[0] = I[0]``). For a
given ``tau`` the voltage is linear in ``(V_rest, R)``, so :func:`fit_passive` solves a linear
least-squares problem for every ``tau`` of a log-spaced grid, refines the best ``tau`` by a
golden-section search on ``log tau``, and keeps the ``(R, tau, V_rest)`` with the smallest
squared error. When the current is piecewise constant (step protocols, the idealised
stimulus) ``R`` and ``V_rest`` are then taken from the steady state alone, the last 20 % of each
constant segment (at least five time constants after its start): the slope and intercept of the cell's own
IV relation (its input resistance and resting potential), which a real cell's slow currents
(sag, rectification) would otherwise bias; ``tau`` is re-fitted to the transients with them held. The samples used are every sample of the sweeps without a recorded spike (the
IV protocol, hyperpolarising and sub-threshold steps) and, in sweeps with spikes, the samples
up to ``margin_ms`` before the first spike (the pre-step baseline and the early passive rise).
The first ``skip_ms`` of a sweep are left out.

:func:`narrow` turns the estimates into the bounds later stages search: ``R`` and ``tau``
within a factor ``1 +/- tolerance``, ``V_rest`` within ``v_tolerance_mV``, clipped to the
job's own bounds (a parameter the job fixes is held at its fixed value in the fit and left
alone). No Optuna here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from scipy.signal import lfilter

from spikefit.search.space import FreeParameter, SearchSpace
from spikefit.units import to_unit

__all__ = ["PASSIVE_PARAMS", "PassiveFit", "PassiveError", "fit_passive", "narrow"]

#: the parameters the passive stage estimates, with the unit of :class:`PassiveFit`'s fields
PASSIVE_PARAMS = {"R": "GOhm", "tau": "ms", "V_rest": "mV"}


class PassiveError(ValueError):
    """The training sweeps hold too little sub-threshold data for a passive fit."""


@dataclass(frozen=True)
class PassiveFit:
    """Result of :func:`fit_passive` (R in GOhm = mV/pA, tau in ms, V_rest and rmse in mV)."""

    R: float
    tau: float
    V_rest: float
    rmse_mV: float
    n_samples: int
    n_sweeps: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def summary(self) -> str:
        return (f"R = {self.R * 1e3:.1f} MOhm, tau = {self.tau:.2f} ms, V_rest = {self.V_rest:.2f} mV "
                f"(rms error {self.rmse_mV:.2f} mV over {self.n_samples} samples of {self.n_sweeps} sweeps)")


def _samples(batch, skip_ms: float, margin_ms: float) -> np.ndarray:
    """bool [S, T]: the sub-threshold samples used by the fit."""
    dt = float(batch.dt_ms)
    use = np.asarray(batch.mask, bool).copy()
    use[:, : int(round(skip_ms / dt))] = False
    for s in range(batch.n_sweeps):
        spikes = np.asarray(batch.spike_steps[s])
        spikes = spikes[spikes >= 0]
        if spikes.size:
            use[s, max(int(spikes.min()) - int(round(margin_ms / dt)), 0):] = False
    return use


def _filtered(current: np.ndarray, dt: float, tau: float) -> np.ndarray:
    """``u_tau`` [S, T] of the docstring: the Euler-discretised first-order filter of ``current``."""
    k = dt / tau
    zi = (1.0 - k) * current[:, :1]  # u[0] = I[0]: the filter starts at steady state
    u, _ = lfilter([0.0, k], [1.0, -(1.0 - k)], current, axis=-1, zi=zi)
    u[:, 0] = current[:, 0]
    return u


def _solve(current, voltage, use, dt, tau, fixed):
    """Least squares for (V_rest, R) at one tau; returns (sse, R, V_rest)."""
    u = _filtered(current, dt, tau)[use]
    v = voltage[use]
    if "V_rest" in fixed and "R" in fixed:
        r, v0 = fixed["R"], fixed["V_rest"]
    elif "V_rest" in fixed:
        v0 = fixed["V_rest"]
        r = float(np.dot(u, v - v0) / max(np.dot(u, u), 1e-30))
    elif "R" in fixed:
        r = fixed["R"]
        v0 = float(np.mean(v - r * u))
    else:
        a = np.stack([np.ones_like(u), u], -1)
        (v0, r), *_ = np.linalg.lstsq(a, v, rcond=None)
    resid = v - v0 - r * u
    return float(np.dot(resid, resid)), float(r), float(v0)


def _golden(sse, taus: np.ndarray) -> float:
    """The tau of the grid ``taus`` with the least ``sse(tau)``, refined by a golden-section
    search on log tau between its grid neighbours."""
    if taus.size == 1:
        return float(taus[0])
    i = int(np.argmin([sse(t) for t in taus]))
    lo, hi = np.log(taus[max(i - 1, 0)]), np.log(taus[min(i + 1, taus.size - 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if sse(np.exp(a)) < sse(np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def _settled(current: np.ndarray, use: np.ndarray, dt: float, tau: float, *, n_tau: float = 5.0,
             tail: float = 0.2, min_samples: int = 200, min_spread_pA: float = 5.0,
             max_segments: int = 1000) -> np.ndarray | None:
    """bool [S, T]: the steady state of a piecewise-constant current: the used samples in the
    last ``tail`` of each constant segment (as eFEL's steady_state_voltage_stimend: the end of
    the step, after slow currents such as the sag have settled), and at least ``n_tau`` time
    constants after its start. None when there are too few of them or they hold a single
    current level (a noise current never settles)."""
    n_s, n_t = current.shape
    change = np.ones(current.shape, bool)
    change[:, 1:] = np.abs(np.diff(current, axis=-1)) > 1e-3
    if change.sum(axis=1).max() > max_segments:  # a noise (or recorded) current: not piecewise constant
        return None
    settled = np.zeros(current.shape, bool)
    for s in range(n_s):
        starts = np.flatnonzero(change[s])
        ends = np.append(starts[1:], n_t)
        for a, b in zip(starts, ends):
            first = a + max(int(np.ceil(n_tau * tau / dt)), int((1 - tail) * (b - a)))
            if first < b:
                settled[s, first:b] = True
    settled &= use
    if settled.sum() < min_samples or np.std(current[settled]) < min_spread_pA:
        return None
    return settled


def fit_passive(batch, *, fixed: Mapping[str, float] | None = None, tau_range_ms: tuple[float, float] = (1.0, 300.0),
                skip_ms: float = 5.0, margin_ms: float = 30.0, min_samples: int = 200) -> PassiveFit:
    """Fit ``R`` (GOhm), ``tau`` (ms) and ``V_rest`` (mV) to the sub-threshold samples of a
    :class:`~spikefit.data.sweeps.SweepBatch` with recorded voltage. ``fixed`` holds the values
    (same units) of the three that the job fixes."""
    if batch.voltage is None:
        raise PassiveError("passive stage: the training sweeps have no recorded voltage; a passive fit "
                           "needs the membrane potential")
    fixed = dict(fixed or {})
    dt = float(batch.dt_ms)
    use = _samples(batch, skip_ms, margin_ms)
    n = int(use.sum())
    if n < min_samples:
        raise PassiveError(f"passive stage: only {n} sub-threshold samples in the training sweeps (need >= "
                           f"{min_samples}): add sweeps without spikes (IV, hyperpolarising steps) or a pre-step "
                           "baseline")
    current = np.asarray(batch.current, np.float64)
    voltage = np.asarray(batch.voltage, np.float64)
    if "tau" in fixed:
        taus = np.array([float(fixed["tau"])])
    else:
        taus = np.geomspace(max(tau_range_ms[0], 1.01 * dt), tau_range_ms[1], 48)
    tau = _golden(lambda t: _solve(current, voltage, use, dt, t, fixed)[0], taus)
    sse, r, v0 = _solve(current, voltage, use, dt, tau, fixed)
    settled = _settled(current, use, dt, tau)
    if settled is not None and not ("R" in fixed and "V_rest" in fixed):
        # R and V_rest from the steady state (the cell's IV: input resistance, baseline), which
        # the linear membrane must reproduce; tau then re-fitted to the transients with them held
        a = np.stack([np.ones(int(settled.sum())), current[settled]], -1)
        (v0_ss, r_ss), *_ = np.linalg.lstsq(a, voltage[settled], rcond=None)
        if "V_rest" in fixed:
            r_ss = float(np.dot(current[settled], voltage[settled] - fixed["V_rest"]) / np.dot(current[settled], current[settled]))
        held = {"R": fixed.get("R", float(r_ss)), "V_rest": fixed.get("V_rest", float(v0_ss))}
        if "R" in fixed:
            held["V_rest"] = fixed.get("V_rest", float(np.mean(voltage[settled] - fixed["R"] * current[settled])))
        if "tau" not in fixed:
            tau = _golden(lambda t: _solve(current, voltage, use, dt, t, {**fixed, **held})[0], taus)
        sse, r, v0 = _solve(current, voltage, use, dt, tau, {**fixed, **held})
    if not (np.isfinite(r) and r > 0):
        raise PassiveError(f"passive stage: the sub-threshold voltage does not follow the current (fitted R = "
                           f"{r * 1e3:.3g} MOhm); check the current's sign and unit")
    used_sweeps = int(use.any(axis=1).sum())
    return PassiveFit(R=r, tau=tau, V_rest=v0, rmse_mV=float(np.sqrt(sse / n)), n_samples=n, n_sweeps=used_sweeps)


def narrow(space: SearchSpace, fit: PassiveFit, *, tolerance: float, v_tolerance_mV: float) -> SearchSpace:
    """``space`` with the bounds of R, tau and V_rest moved around the passive estimates
    (converted to each parameter's unit), clipped to the original bounds; other parameters
    are unchanged. An estimate outside the job's bounds pins the range to the nearest bound."""
    values = fit.as_dict()
    out = []
    for p in space.params:
        if p.name not in PASSIVE_PARAMS:
            out.append(p)
            continue
        x = to_unit(f"{values[p.name]} {PASSIVE_PARAMS[p.name]}", p.unit or "1", key=p.name)
        if p.name == "V_rest":
            half = to_unit(f"{v_tolerance_mV} mV", p.unit or "1", key=p.name)
            lo, hi = x - half, x + half
        else:
            lo, hi = x / (1 + tolerance), x * (1 + tolerance)
        lo, hi = max(lo, p.low), min(hi, p.high)
        if not lo < hi:  # estimate outside the job's bounds: a sliver at the nearest bound
            width = (p.high - p.low) * 0.02
            lo, hi = (p.high - width, p.high) if x >= p.high else (p.low, p.low + width)
        out.append(FreeParameter(p.name, lo, hi, unit=p.unit, log=p.log))
    return SearchSpace(out)
