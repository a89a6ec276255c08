"""``spikefit inspect`` on each shared dataset (in process) and once through the installed script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spikefit.cli.main import main

REQUIRED = {"sweep", "protocol", "stimulus", "repeat", "duration_s", "dt_ms", "current_mean_pA", "n_spikes"}


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_qsnmc2007(shared_data, capsys):
    rows = _json(capsys, ["inspect", str(shared_data / "qsnmc2007" / "challengeA_training"), "--preset", "qsnmc2007", "--json"])
    assert len(rows) == 32 and REQUIRED <= set(rows[0])
    r = next(r for r in rows if r["sweep"] == "11-2")
    assert (r["stimulus"], r["repeat"], r["n_spikes"], r["dt_ms"], r["duration_s"]) == ("11", 2, 218, 1.0, 34.0)
    assert r["current_mean_pA"] == pytest.approx(158.9, abs=1.0)


def test_inspect_gif_and_abf(shared_data, capsys):
    rows = _json(capsys, ["inspect", str(shared_data / "gif_pozzorini_cell3"), "--json"])
    assert [r["n_spikes"] for r in rows if r["protocol"] == "Ger1Test"] == [224, 220, 221, 226, 225, 231, 233, 234, 236]
    rows = _json(capsys, ["inspect", str(shared_data / "pyabf_current_clamp" / "171116sh_0019.abf"), "--json"])
    assert len(rows) == 22 and rows[0]["dt_ms"] == pytest.approx(0.05) and rows[5]["current_max_pA"] == pytest.approx(400)
    assert max(r["n_spikes"] for r in rows[17:]) < 10  # depolarisation block is not counted


def test_inspect_bbp_table(shared_data, capsys):
    assert main(["inspect", str(shared_data / "bbp_sscx_l5pc"), "--protocol", "IDrest"]) == 0
    out = capsys.readouterr().out
    assert "64 sweeps" in out and "C060109A1-SR-C1" in out and "IDrest:15" in out


def test_inspect_errors(shared_data, tmp_path, capsys):
    assert main(["inspect", str(shared_data / "qsnmc2007" / "challengeA_training")]) == 2
    assert "--preset qsnmc2007" in capsys.readouterr().err
    (tmp_path / "a.abf").write_bytes(b"")
    (tmp_path / "b.ibw").write_bytes(b"")
    assert main(["inspect", str(tmp_path)]) == 2
    assert "folder format is ambiguous" in capsys.readouterr().err


def test_inspect_script(example_data):
    script = Path(sys.executable).parent / "spikefit"
    proc = subprocess.run([str(script), "inspect", str(example_data), "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 32 and [r["n_spikes"] for r in rows][:4] == [0, 1, 3, 5]
    assert rows[16]["stimulus"] == rows[0]["stimulus"] and rows[16]["repeat"] == 1


def test_inspect_step_columns(shared_data, capsys):
    a2 = shared_data / "bbp_sscx_l5pc" / "C060109A2-SR-C1"
    rows = _json(capsys, ["inspect", str(a2), "--protocol", "IDrest", "--json"])
    r = next(r for r in rows if r["sweep"] == "330")
    assert r["holding_pA"] == pytest.approx(-202.5, abs=2) and r["amplitude_pA"] == pytest.approx(626, abs=3)
    assert r["onset_ms"] == pytest.approx(700, abs=1) and r["offset_ms"] == pytest.approx(2700, abs=1)
    assert r["is_step"] is True and r["current_max_pA"] - r["holding_pA"] > 1000  # artefacts, not the step
    rows = _json(capsys, ["inspect", str(shared_data / "gif_pozzorini_cell3"), "--json"])
    assert all(r["is_step"] is False and r["onset_ms"] is None for r in rows)  # noise: no step
    assert main(["inspect", str(a2), "--protocol", "IV"]) == 0
    out = capsys.readouterr().out
    for col in ("holding_pA", "amplitude_pA", "onset_ms", "offset_ms"):
        assert col in out
    assert "-374.7" in out  # the first IV step, pA


def test_inspect_series_length(shared_data, capsys):
    a2 = shared_data / "bbp_sscx_l5pc" / "C060109A2-SR-C1"
    rows = _json(capsys, ["inspect", str(a2), "--protocol", "IV", "--json"])
    assert [r["repeat"] for r in rows] == [r for r in range(3) for _ in range(10)]  # from the step pattern
    rows = _json(capsys, ["inspect", str(a2), "--protocol", "IV", "--series-length", "15", "--json"])
    assert [r["repeat"] for r in rows] == [0] * 15 + [1] * 15
