"""Voltage small multiples and rasters: one panel per sweep, the recorded and simulated traces."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.results.report import envelope, plot_rasters, plot_voltages


def test_one_voltage_panel_per_sweep_with_both_traces(traces_table, quick_summary):
    r, summary = quick_summary
    fig = plot_voltages(r["traces"], summary, "validation")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    rows = summary[summary["set"] == "validation"]
    assert len(panels) == len(rows) == 16
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    table = traces_table[traces_table["set"] == "validation"].set_index(["sweep", "kind"])
    for ax, (_, row) in zip(panels, rows.iterrows()):
        assert ax.get_title() == f"sweep {row['sweep']}, {row['amplitude_pA']:.0f} pA"
        by_label = {line.get_label(): line for line in ax.get_lines()}
        for label, kind in (("recording", "recorded"), ("model", "simulated")):
            v, dt = np.asarray(table.loc[(row["sweep"], kind), "V"]), table.loc[(row["sweep"], kind), "dt_ms"]
            line = by_label[label]
            t_s, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
            assert y.max() == v.max() and y.min() == v.min()  # every spike peak is drawn
            np.testing.assert_allclose(y, v[np.rint(t_s * 1000.0 / dt).astype(int)], rtol=1e-6)
            assert t_s[-1] == pytest.approx((v.size - 1) * dt / 1000.0)
    assert {ax.get_xlabel() for ax in panels if ax.get_xlabel()} == {"time (s)"}
    assert {ax.get_ylabel() for ax in panels if ax.get_ylabel()} == {"V (mV)"}


def test_rasters_order_sweeps_by_amplitude_and_hold_every_spike(traces_table, quick_summary):
    r, summary = quick_summary
    fig = plot_rasters(r["traces"], summary)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["train", "validation"]
    for ax, set_name in zip(fig.axes, ("train", "validation")):
        rows = summary[summary["set"] == set_name]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == [f"sweep {s}, {a:.0f} pA" for s, a in zip(rows["sweep"], rows["amplitude_pA"])]
        amps = [float(label.split(", ")[1].split()[0]) for label in labels]
        assert amps == sorted(amps)
        n_ticks = sum(len(c.get_segments()) for c in ax.collections)
        part = traces_table[traces_table["set"] == set_name]
        assert n_ticks == sum(len(t) for t in part["spike_times_ms"])
        assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "sweep, step amplitude (pA)"


def test_envelope_keeps_each_blocks_extremes_in_time_order():
    rng = np.random.default_rng(0)
    v = rng.normal(-70.0, 1.0, 12_001)
    v[5003] = 30.0  # a one-sample spike
    t, y = envelope(v, 0.25, points=1000)
    assert len(y) <= 2 * 1000 + 12 and y.max() == 30.0 and np.all(np.diff(t) >= 0)
    np.testing.assert_array_equal(y, v[np.rint(t / 0.25).astype(int)])
    m = 12
    for k in (0, 417, 999):  # each block's min and max are among the drawn samples
        block = v[k * m:(k + 1) * m]
        assert {block.min(), block.max()} <= set(y[(t >= k * m * 0.25) & (t < (k + 1) * m * 0.25)])
