"""Objective: metrics over the training sweeps combined into a loss per candidate.

Spec (a dict, as read from the ``[objective]`` table of a TOML job spec)::

    {"metrics": [{"name": "gamma", "delta_ms": 2.0, "weight": 1.0},
                 {"name": "spike_count", "relative": true, "weight": 0.1}],
     "mode": "weighted",          # or "multi": one loss column per metric, weights unused
     "penalty": 100.0,            # loss of an invalid candidate (every column in "multi")
     "silent_min_data_spikes": 5} # a silent model where the data has >= this many is invalid

Metric names and parameters: :data:`~spikefit.scoring.registry.METRICS`; the eFEL feature
terms (``{"name": "feature", "feature": "mean_frequency"}``, ``{"name": "fi_curve"}``) are in
:mod:`spikefit.scoring.feature_terms` and take the step window per sweep from
``evaluate(..., stim_window_ms=)``.

Every metric becomes a loss to minimise (``1 - Gamma``, the distances and errors as they are),
reduced over sweeps with optional sweep weights. A candidate that diverged, overflowed its
spike buffer, stayed silent where the data fires, or got a non-finite loss is invalid: its
loss is ``penalty`` and ``reason`` says why. No NaN or inf ever leaves :meth:`evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from spikefit.errors import SpikefitError
from spikefit.scoring.metrics.spikes import prepare_spikes
from spikefit.scoring.registry import METRICS, MetricInputs, MetricTerm, did_you_mean, parse_term, positive
from spikefit.units import as_ms as to_ms

__all__ = ["METRICS", "MetricTerm", "Objective", "ObjectiveResult"]


class ObjectiveResult(NamedTuple):
    """Scores of a batch of B candidates (numpy arrays, all finite)."""

    loss: np.ndarray  # [B] ("weighted") or [B, M] ("multi")
    per_sweep: dict[str, np.ndarray]  # label -> raw metric value [B, S] (non-finite -> penalty)
    valid: np.ndarray  # [B] bool
    reason: list[str | None]  # why a candidate is invalid, None when valid


_TOP_KEYS = {"metrics": None, "mode": "weighted", "penalty": 100.0, "silent_min_data_spikes": 5}
_MODES = ("weighted", "multi")
_CORE_CACHE: dict[tuple[str, float], Callable] = {}  # one compiled scorer per (terms, dt)


def _stim_window(stim_window_ms: Any, duration: jax.Array) -> jax.Array:
    """``[S, 2]`` float32 onset/offset per sweep (ms); the whole sweep when None."""
    n_s = duration.shape[0]
    if stim_window_ms is None:
        return jnp.stack([jnp.zeros_like(duration), duration], -1)
    w = np.asarray(to_ms(stim_window_ms, "stim_window_ms"), np.float64)
    if w.shape != (n_s, 2) or not np.all(np.isfinite(w)) or np.any(w[:, 0] < 0) or np.any(w[:, 1] <= w[:, 0]):
        raise ValueError(f"stim_window_ms: expected [{n_s}, 2] finite (onset_ms, offset_ms) per sweep with "
                         f"0 <= onset < offset, got {np.array2string(w, threshold=8)} (shape {w.shape})")
    return jnp.asarray(w, jnp.float32)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


@dataclass(frozen=True)
class Objective:
    """Metrics combined into a loss; build with :meth:`from_spec`, score with :meth:`evaluate`."""

    terms: tuple[MetricTerm, ...]
    mode: str = "weighted"
    penalty: float = 100.0
    silent_min_data_spikes: int = 5

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, source: str | None = None) -> "Objective":
        """Validate a spec dict (the ``[objective]`` table); a :class:`~spikefit.errors.SpikefitError`
        names the key (``[objective.metrics[0].name]``), the value seen and the allowed values,
        prefixed with ``source`` (e.g. the job file) when given."""
        try:
            return cls._from_spec(spec)
        except SpikefitError as err:
            if source:
                raise SpikefitError(f"{source}: {err}") from None
            raise

    @classmethod
    def _from_spec(cls, spec: Mapping[str, Any]) -> "Objective":
        if not isinstance(spec, Mapping):
            raise SpikefitError(f"[objective] expected a table with 'metrics', got {spec!r}")
        for key in spec:
            if key not in _TOP_KEYS:
                raise SpikefitError(f"[objective] unknown key {key!r} (value {spec[key]!r}); allowed: "
                                    f"{', '.join(sorted(_TOP_KEYS))}{did_you_mean(key, _TOP_KEYS)}")
        entries = spec.get("metrics")
        if not isinstance(entries, (list, tuple)) or not entries:
            raise SpikefitError(f"[objective.metrics] expected a non-empty list of metric tables, got {entries!r}; "
                                f"allowed names: {', '.join(sorted(METRICS))}")
        terms = tuple(parse_term(i, e) for i, e in enumerate(entries))
        labels = [t.label for t in terms]
        for lab in labels:
            if labels.count(lab) > 1:
                raise SpikefitError(f"[objective.metrics] label {lab!r} used twice; give repeated metrics a 'label'")
        mode = spec.get("mode", "weighted")
        if not isinstance(mode, str) or mode not in _MODES:
            raise SpikefitError(f"[objective.mode] expected one of {', '.join(map(repr, _MODES))}, got {mode!r}"
                                f"{did_you_mean(mode, _MODES)}")
        penalty = positive("objective.penalty", spec.get("penalty", 100.0))
        silent = spec.get("silent_min_data_spikes", 5)
        if isinstance(silent, bool) or not isinstance(silent, int) or silent < 1:
            raise SpikefitError(f"[objective.silent_min_data_spikes] expected an integer >= 1, got {silent!r}")
        if mode == "weighted" and sum(t.weight for t in terms) <= 0:
            raise SpikefitError("[objective.metrics] all weights are 0; give at least one metric a positive weight")
        return cls(terms, mode, penalty, silent)

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.terms]

    @property
    def needs_voltage(self) -> bool:
        """Whether :meth:`evaluate` needs ``model_V`` and ``data_V`` (some term uses V)."""
        return any(t.needs_voltage for t in self.terms)

    @property
    def needs_stim_window(self) -> bool:
        """Whether :meth:`evaluate` needs ``stim_window_ms`` (a term measures before the step onset)."""
        return any(t.needs_window for t in self.terms)

    def _core(self, dt: float) -> Callable:
        def core(model, data, duration, model_V, data_V, mask, stim):
            x = MetricInputs(model, data, dt, duration, model_V, data_V, mask, stim[:, 0], stim[:, 1])
            out = {t.label: METRICS[t.name].compute(x, **t.params) for t in self.terms}
            sp = prepare_spikes(model, data, dt, duration=duration)  # counts, for the validity rules
            return out, sp.n_model, sp.n_data
        key = (repr(self.terms), dt)
        if key not in _CORE_CACHE:
            _CORE_CACHE[key] = jax.jit(core)
        return _CORE_CACHE[key]

    def evaluate(self, model: Any, data: Any, *, dt: Any, duration: Any = None, mask: Any = None,
                 sweep_weights: Any = None, model_V: Any = None, data_V: Any = None,
                 diverged: Any = None, overflow: Any = None, stim_window_ms: Any = None) -> ObjectiveResult:
        """Score B candidates on S sweeps.

        ``model``: the simulator output (object or dict with ``spike_steps`` [B, S, K] and
        optionally ``overflow`` [B, S], ``diverged`` [B], ``V`` [B, S, T]) or a spike_steps /
        raster array; ``data``: spike_steps [S, Kd] / raster, or an object or dict with
        ``spike_steps`` (and ``mask``, ``V``). ``duration`` (ms) or ``mask`` [S, T] give the
        sweep lengths; ``sweep_weights`` [S] weights (or selects) the training sweeps.

        ``stim_window_ms`` [S, 2] (ms from the sweep start): onset and offset of each sweep's
        step, the ``stim_start``/``stim_end`` of the feature terms (``feature``, ``fi_curve``);
        None: the whole sweep, ``[0, duration]`` (then a feature measured before the onset,
        such as voltage_base, is refused: see :attr:`needs_stim_window`).
        """
        dt_ms = float(to_ms(dt, "dt"))
        model_V = model_V if model_V is not None else _field(model, "V")
        data_V = data_V if data_V is not None else _field(data, "V")
        mask = mask if mask is not None else _field(data, "mask")
        diverged = diverged if diverged is not None else _field(model, "diverged")
        overflow = overflow if overflow is not None else _field(model, "overflow")
        m_spikes = _field(model, "spike_steps") if _field(model, "spike_steps") is not None else model
        d_spikes = _field(data, "spike_steps") if _field(data, "spike_steps") is not None else data
        m_spikes, d_spikes = jnp.asarray(m_spikes), jnp.asarray(d_spikes)
        for t in self.terms:
            if t.needs_voltage and (model_V is None or data_V is None):
                raise ValueError(f"objective metric {t.label!r}: needs model_V [B, S, T] and data_V [S, T] (mV)")
            if t.needs_window and stim_window_ms is None:
                raise ValueError(f"objective metric {t.label!r}: needs stim_window_ms [S, 2] (step onset and "
                                 f"offset per sweep, ms): it measures the baseline before the onset")
        if duration is None and mask is not None:
            duration = np.asarray(mask, bool).sum(-1) * dt_ms
        elif duration is None and m_spikes.dtype == jnp.bool_:
            duration = m_spikes.shape[-1] * dt_ms
        elif duration is None:
            raise ValueError("duration: required with spike_steps; pass duration= (ms) or mask= [S, T]")
        duration = jnp.broadcast_to(jnp.asarray(to_ms(duration, "duration"), jnp.float32), (d_spikes.shape[0],))
        stim = _stim_window(stim_window_ms, duration)
        per, n_model, n_data = self._core(dt_ms)(m_spikes, d_spikes, duration,
                                                 None if model_V is None else jnp.asarray(model_V),
                                                 None if data_V is None else jnp.asarray(data_V),
                                                 None if mask is None else jnp.asarray(mask, bool), stim)
        per = {k: np.asarray(v, np.float64) for k, v in per.items()}
        n_model, n_data = np.asarray(n_model), np.asarray(n_data)
        n_b, n_s = n_model.shape
        w = np.ones(n_s) if sweep_weights is None else np.asarray(sweep_weights, np.float64)
        if w.shape != (n_s,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"sweep_weights: expected {n_s} non-negative finite weights, not all 0, got {w}")
        used = w > 0
        columns = []
        for t in self.terms:
            loss = np.asarray(METRICS[t.name].to_loss(per[t.label], t.params), np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                columns.append((loss * w).sum(-1) / w.sum())
        cols = np.stack(columns, -1)  # [B, M]
        reason: list[str | None] = [None] * n_b
        div = np.zeros(n_b, bool) if diverged is None else np.broadcast_to(np.asarray(diverged, bool), (n_b,))
        ovf = np.zeros((n_b, n_s), bool) if overflow is None else np.broadcast_to(np.asarray(overflow, bool), (n_b, n_s))
        silent = (n_model == 0) & (n_data >= self.silent_min_data_spikes)[None] & used[None]
        finite = np.isfinite(cols)
        for b in range(n_b):
            if div[b]:
                reason[b] = "diverged: the simulation state became non-finite or ran away"
            elif (ovf[b] & used).any():
                reason[b] = f"spike buffer overflow in sweep(s) {np.flatnonzero(ovf[b] & used).tolist()}"
            elif silent[b].any():
                reason[b] = (f"silent: no spikes in sweep(s) {np.flatnonzero(silent[b]).tolist()} where the data "
                             f"has >= {self.silent_min_data_spikes}")
            elif not finite[b].all():
                reason[b] = f"non-finite loss from metric(s) {[self.labels[i] for i in np.flatnonzero(~finite[b])]}"
        valid = np.array([r is None for r in reason])
        if self.mode == "weighted":
            weights = np.array([t.weight for t in self.terms])
            loss = np.where(valid, np.nan_to_num(cols) @ weights, self.penalty)
        else:
            loss = np.where(valid[:, None], np.nan_to_num(cols), self.penalty)
        per = {k: np.where(np.isfinite(v), v, self.penalty) for k, v in per.items()}
        return ObjectiveResult(loss, per, valid, reason)

    __call__ = evaluate
