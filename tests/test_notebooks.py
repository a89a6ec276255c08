"""notebooks/: the analysis notebook runs on the results of a tiny real fit and draws its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analysis.ipynb"
FIGURES = ("convergence.png", "parameter_spread.png", "fit_validation.png")


def _kernel_in_this_env() -> str:
    """Name of a python3 kernel that runs this interpreter; installs one into sys.prefix if needed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec("python3")
        # "python" in argv[0] is replaced by sys.executable when the kernel starts
        exe = spec.argv[0]
        if exe in ("python", "python3") or Path(exe).resolve() == Path(sys.executable).resolve():
            return "python3"
    except NoSuchKernel:
        pass
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
    return "python3"


def test_analysis_notebook(quick_results, monkeypatch):
    results = quick_results
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("SPIKEFIT_RESULTS", str(results))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=_kernel_in_this_env(), timeout=180,
                                     resources={"metadata": {"path": str(REPO)}})
    client.execute()

    for name in FIGURES:
        png = results / "figures" / name
        assert png.is_file(), f"{name} not written"
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, f"{name}: {len(data)} bytes"

    text = "\n".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                     if out.get("output_type") == "stream")
    best = pd.read_parquet(results / "best.parquet")
    trials = pd.read_parquet(results / "trials")
    assert f"best trial {int(best['trial'].iloc[0])}," in text
    assert f"trials: {len(trials)} (" in text
    assert "validation sweep" in text
    assert str(results) in text and os.environ["SPIKEFIT_RESULTS"] == str(results)
