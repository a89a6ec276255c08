"""load_results: every table of a real results folder, with the parameters' units."""

from __future__ import annotations

from spikefit.results.report import load_results


def test_load_results_has_units_and_all_tables(quick_results):
    r = load_results(quick_results)
    assert r["units"]["tau"] == "ms" and r["units"]["R"] == "GOhm"
    assert len(r["trials"]) == 2 * 64 and len(r["best"]) == 1  # the quickstart's global and local stages
    assert set(r["traces"]["kind"]) == {"recorded", "simulated"}
    assert r["manifest"]["status"] == "complete"
    # the quickstart validates on repeat 1: one validation row per stimulus of the step series
    assert set(r["validation"]["stimulus"]) == set(r["traces"]["stimulus"])
    assert r["traces"].attrs["units"]["I"] == "pA"
