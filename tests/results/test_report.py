"""``spikefit report``: figures of a real results folder."""

from __future__ import annotations

from spikefit.cli.main import main
from spikefit.results.report import load_results


def test_report_writes_three_figures(quick_results, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["report", str(quick_results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    names = sorted(p.rsplit("/", 1)[-1] for p in printed)
    assert names == ["convergence.png", "fit_validation.png", "parameter_spread.png"]
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_load_results_has_units_and_all_tables(quick_results):
    r = load_results(quick_results)
    assert r["units"]["tau"] == "ms" and r["units"]["R"] == "GOhm"
    assert len(r["trials"]) == 64 and len(r["best"]) == 1
    assert set(r["traces"]["kind"]) == {"recorded", "simulated"}
    assert r["manifest"]["status"] == "complete"
