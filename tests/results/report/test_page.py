"""The HTML pages: every sweep in the table, every figure linked, parameters with units."""

from __future__ import annotations

import html
import re

from spikefit.results.report import SWEEP_TABLE, cell_page, index_page


def _rows(text: str, table_after: str) -> list[list[str]]:
    part = text.split(table_after, 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", part)
            if "<td" in tr]


def test_cell_page_lists_every_sweep_and_the_parameters_with_units(quick_summary):
    r, summary = quick_summary
    best = r["best"].iloc[0]
    figures = [("fi.png", "f-I curve", "rates"), ("rasters.png", "Spike rasters", "spikes")]
    text = cell_page("quickstart", best, r["units"], summary, figures, notes=["a note <b>"])
    rows = _rows(text, 'id="sweeps"')
    assert [(row[0], row[1]) for row in rows] == list(zip(summary["set"], summary["sweep"]))
    headers = [html.unescape(h) for h in re.findall(r"<th(?: [^>]*)?>(.*?)</th>", text.split('id="sweeps"')[1])]
    assert headers == [h for h, _ in SWEEP_TABLE.values()]
    spikes = headers.index("spikes data")
    assert [int(row[spikes]) for row in rows] == summary["n_data"].tolist()
    params = {row[0]: row for row in _rows(text, "<h2>Best parameters</h2>")}
    assert params["tau"][2] == "ms" and params["R"][2] == "GOhm" and params["tau"][3] == "fitted"
    assert float(params["tau"][1]) == float(f"{best['tau']:.4g}")
    for file, title, _ in figures:
        assert f'<img src="{file}"' in text and f'href="#{file}"' in text and title in text
    assert "a note &lt;b&gt;" in text  # notes are escaped


def test_index_links_every_cell():
    cells = [{"cell": "A", "href": "A/report.html", "n_sweeps": 32, "train_loss": 0.5, "validation_loss": 0.6},
             {"cell": "B&C", "href": "B_C/report.html", "n_sweeps": 16, "train_loss": 0.7, "validation_loss": None}]
    text = index_page("job", {"status": "complete"}, cells)
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', text) == [("A/report.html", "A"),
                                                                  ("B_C/report.html", "B&amp;C")]
    assert "<td>32</td><td>0.5</td><td>0.6</td>" in text and "<td>&ndash;</td>" in text
