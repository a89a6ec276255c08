"""The f-I, passive and score figures: their points are the numbers a user reads off the tables."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.results.report import input_resistance, plot_fi, plot_passive, plot_scores


def _lines(fig) -> dict:
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def _labels(fig) -> list[str]:
    return [t for ax in fig.axes if ax.get_visible() for t in (ax.get_xlabel(), ax.get_ylabel()) if t]


def test_fi_points_are_spike_counts_in_the_step_over_its_length(traces_table, quick_summary):
    _, summary = quick_summary
    fig = plot_fi(summary)
    lines = _lines(fig)
    assert set(lines) == {"data, train", "model, train", "data, validation", "model, validation"}
    table = traces_table.set_index(["set", "kind"]).sort_index()
    for set_name in ("train", "validation"):
        rows = summary[summary["set"] == set_name].sort_values("amplitude_pA")
        for source, kind in (("data", "recorded"), ("model", "simulated")):
            line = lines[f"{source}, {set_name}"]
            np.testing.assert_allclose(line.get_xdata(), rows["amplitude_pA"])
            by_sweep = table.loc[(set_name, kind)].set_index("sweep")["spike_times_ms"]
            expected = []
            for _, r in rows.iterrows():  # independent of the summary's counting
                t = np.asarray(by_sweep[r["sweep"]])
                expected.append(((t >= r["onset_ms"]) & (t < r["offset_ms"])).sum()
                                / ((r["offset_ms"] - r["onset_ms"]) / 1000.0))
            np.testing.assert_allclose(line.get_ydata(), expected)
    assert _labels(fig) == ["step amplitude (pA)", "firing rate in the step (Hz)"]


def test_fi_refuses_a_summary_of_several_cells(quick_summary):
    _, summary = quick_summary
    with pytest.raises(ValueError, match=r"expected the sweeps of one cell, got cells \['.*', 'other'\]"):
        plot_fi(summary.assign(cell=np.where(summary.index % 2 == 0, summary["cell"], "other")))


def test_input_resistance_is_the_iv_slope_in_megaohm():
    # 100 MOhm: 50 pA -> 5 mV
    assert input_resistance([50.0, 100.0], -70.0, [-65.0, -60.0]) == pytest.approx(100.0)
    assert np.isnan(input_resistance([], -70.0, []))


def test_passive_figure_shows_baselines_and_sub_threshold_steps(quick_summary):
    _, summary = quick_summary
    fig = plot_passive(summary)
    lines = _lines(fig)
    base = lines["data, train"]  # right panel: one baseline per training sweep
    train = summary[summary["set"] == "train"].sort_values("amplitude_pA")
    np.testing.assert_allclose(base.get_ydata(), train["baseline_data_mV"])
    iv = next(line for label, line in lines.items() if label.startswith("data:"))
    sub = summary[summary["subthreshold"]]
    assert len(iv.get_xdata()) == 1 + len(sub)  # the 0 pA baseline and each sub-threshold step
    assert iv.get_ydata()[0] == pytest.approx(summary["baseline_data_mV"].mean())
    labels = _labels(fig)
    assert all(label.endswith(("(pA)", "(mV)")) for label in labels) and len(labels) == 4
    offset = (summary["baseline_model_mV"] - summary["baseline_data_mV"]).mean()
    assert f"{offset:+.1f} mV" in fig.axes[1].get_title()


def test_score_figure_plots_count_errors_and_validation_gamma(quick_summary):
    _, summary = quick_summary
    fig = plot_scores(summary)
    lines = _lines(fig)
    val = summary[summary["set"] == "validation"].sort_values("amplitude_pA")
    err = 100.0 * (val["n_model"] - val["n_data"]) / val["n_data"].where(val["n_data"] > 0)
    middle = {line.get_label(): line for line in fig.axes[1].get_lines()}
    np.testing.assert_allclose(middle["model, validation"].get_ydata(), err)  # NaN where the data has no spike
    gamma = val[np.isfinite(val["gamma"])]
    np.testing.assert_allclose(lines["Gamma (model vs recordings)"].get_ydata(), gamma["gamma"])
    assert _labels(fig) == ["spikes in the step (count)", "(model - data) / data (%)",
                            "step amplitude (pA)", "coincidence (dimensionless)"]
