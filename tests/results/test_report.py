"""``spikefit report`` on a folder that holds no results: one line naming it, nothing written.

The command writing a real report is tested in tests/results/report/test_write.py."""

from __future__ import annotations

from spikefit.cli.main import main


def test_report_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"spikefit report: error: no best.parquet under {tmp_path}"]
    assert list(tmp_path.iterdir()) == []
