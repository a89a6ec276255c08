"""write_report, through ``spikefit report``, on a real two-cell results folder: an index, a page
per cell, every figure and every sweep."""

from __future__ import annotations

import contextlib
import io
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest

from spikefit.cli.main import main

FIGURES = ["fi.png", "voltages_train.png", "voltages_validation.png", "rasters.png", "scores.png",
           "passive.png", "convergence.png", "parameter_spread.png"]


@pytest.fixture(scope="module")
def report(two_cell_results, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["report", str(two_cell_results), "--out", str(out)]) == 0
    return out, printed.getvalue().splitlines()


def test_index_and_one_page_per_cell(two_cell_results, report):
    out, printed = report
    cells = pq.read_table(two_cell_results / "best.parquet").column("cell").to_pylist()
    assert len(cells) == 2
    index = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', index)
    assert [name for _, name in links] == cells
    assert printed == [str(out / "index.html"), *(str(out / href) for href, _ in links),
                       f"{2 * len(FIGURES)} figures beside the pages; open {out / 'index.html'}"]
    for href, cell in links:
        text = (out / href).read_text()
        assert cell in text.split("</h1>")[0]
        images = re.findall(r'<img src="([^"]+)"', text)
        assert images == FIGURES
        for name in images:
            data = (out / href).parent.joinpath(name).read_bytes()
            assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_every_sweep_of_each_cell_is_in_its_page_and_table(two_cell_results, report):
    out, _ = report
    traces = pq.read_table(two_cell_results / "traces", columns=["cell", "set", "sweep", "kind"]).to_pandas()
    for cell, part in traces[traces["kind"] == "recorded"].groupby("cell"):
        folder = out / re.sub(r"[^A-Za-z0-9._-]+", "_", cell).strip("._")
        table = pd.read_csv(folder / "sweeps.csv", dtype={"sweep": str})
        assert sorted(zip(table["set"], table["sweep"])) == sorted(zip(part["set"], part["sweep"]))
        body = (folder / "report.html").read_text().split('id="sweeps"')[1]
        listed = re.findall(r'<tr><td class="l">([a-z]+)</td><td class="l">([^<]+)</td>', body)
        assert sorted(listed) == sorted(zip(part["set"], part["sweep"]))
