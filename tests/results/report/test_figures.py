"""Search figures of a real fit: convergence and parameter spread, with units on the axes."""

from __future__ import annotations

import numpy as np
import pytest

from spikefit.results.report import plot_convergence, plot_fit, plot_parameter_spread
from spikefit.results.report.write import parameter_bounds


def test_convergence_draws_every_trial_and_the_running_best(quick_summary):
    r, _ = quick_summary
    fig = plot_convergence(r["trials"])
    ax = fig.axes[0]
    ok = r["trials"][r["trials"]["state"] == "COMPLETE"]
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    np.testing.assert_allclose(best.get_ydata(), np.minimum.accumulate(ok["loss"].to_numpy()))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("trials evaluated (count)", "loss (dimensionless)")


def test_parameter_spread_has_a_panel_per_fitted_parameter_in_its_unit(quick_summary):
    r, _ = quick_summary
    bounds = parameter_bounds(r["manifest"], r["units"])
    assert bounds["R"] == pytest.approx((0.02, 0.3))  # 20-300 MOhm in the result unit GOhm
    fig = plot_parameter_spread(r["trials"], r["best"], r["units"], bounds=bounds)
    free = list(r["best"]["free_parameters"].iloc[0])
    assert [ax.get_ylabel() for ax in fig.axes] == [f"{n} ({r['units'][n]})" for n in free]
    for ax, name in zip(fig.axes, free):
        dashed = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
        assert dashed == pytest.approx(list(bounds[name]))


def test_plot_fit_shows_one_sweep_in_ms_and_mV(quick_summary):
    r, _ = quick_summary
    fig = plot_fit(r["traces"], "train", r["traces"]["sweep"].iloc[0])
    assert fig.axes[0].get_ylabel() == "V (mV)" and fig.axes[1].get_xlabel() == "time (ms)"
