"""The report's HTML: one page per cell (figures, best parameters, per-sweep table) and an index.

Pages are plain HTML with an inline style sheet; figures are PNG files next to the page, so a
folder copied elsewhere stays complete.
"""

from __future__ import annotations

import html
import math

import pandas as pd

__all__ = ["cell_page", "index_page", "SWEEP_TABLE"]

#: Per-sweep table: summary column -> header (unit in brackets), number format.
SWEEP_TABLE = {
    "set": ("set", "{}"), "sweep": ("sweep", "{}"), "stimulus": ("stimulus", "{}"),
    "amplitude_pA": ("step (pA)", "{:.0f}"), "onset_ms": ("onset (ms)", "{:.1f}"),
    "offset_ms": ("offset (ms)", "{:.1f}"), "n_data": ("spikes data", "{:d}"),
    "n_model": ("spikes model", "{:d}"), "rate_data_Hz": ("rate data (Hz)", "{:.2f}"),
    "rate_model_Hz": ("rate model (Hz)", "{:.2f}"), "count_error": ("count error", "{:+.0%}"),
    "baseline_data_mV": ("baseline data (mV)", "{:.1f}"), "baseline_model_mV": ("baseline model (mV)", "{:.1f}"),
    "steady_data_mV": ("steady data (mV)", "{:.1f}"), "steady_model_mV": ("steady model (mV)", "{:.1f}"),
    "gamma": ("Gamma", "{:.3f}"), "gamma_int": ("Gamma_int", "{:.3f}"), "ratio": ("Gamma / Gamma_int", "{:.2f}"),
}

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}img{max-width:100%;border:1px solid #eee}
figure{margin:1em 0 2em}figcaption{font-size:13px;color:#555;max-width:900px}
.muted{color:#777;font-size:13px}"""


def _cell(value, fmt: str = "{}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    try:
        text = fmt.format(int(value) if fmt == "{:d}" else value)
    except (ValueError, TypeError):
        text = str(value)
    return html.escape(text)


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f'<th class="l">{h}</th>' if i < left else f"<th>{h}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _parameters(best: pd.Series, units: dict, bounds: dict) -> str:
    free = set(best.get("free_parameters") if best.get("free_parameters") is not None else [])
    rows = []
    for name, unit in units.items():
        if name not in best.index:
            continue
        low, high = bounds.get(name, (None, None))
        rows.append([html.escape(name), _cell(best[name], "{:.4g}"), html.escape(unit or "dimensionless"),
                     "fitted" if name in free else "fixed / derived",
                     _cell(low, "{:.4g}"), _cell(high, "{:.4g}")])
    return _table(["parameter", "value", "unit", "", "lower bound", "upper bound"], rows, left=1)


def _scores(best: pd.Series) -> str:
    rows = [[html.escape(k), _cell(best[k], "{:.4g}")] for k in best.index
            if k.startswith(("train_", "validation_", "holdout_"))]
    return _table(["score (dimensionless)", "value"], rows) if rows else ""


def cell_page(job: str, best: pd.Series, units: dict, summary: pd.DataFrame,
              figures: list[tuple[str, str, str]], *, bounds: dict | None = None, notes: list[str] = ()) -> str:
    """The HTML page of one cell. ``best``: its row of ``best``; ``summary``: its rows of
    :func:`~spikefit.results.report.steps.sweep_summary`; ``figures``: (file name next to the
    page, title, caption); ``bounds``: parameter -> (low, high) in its unit; ``notes``: lines
    shown at the top (what the report could not draw, and why)."""
    cell = str(best["cell"])
    parts = [f"<h1>{html.escape(job)}: {html.escape(cell)}</h1>",
             f'<p class="muted">model {html.escape(str(best["model"]))}, best trial {_cell(best.get("trial"), "{:d}")}'
             f' (stage {html.escape(str(best.get("stage")))}, seed {_cell(best.get("seed"), "{:d}")}), '
             f'{html.escape(str(best.get("chosen_by") or ""))}. '
             f'<a href="../index.html">all cells</a></p>']
    parts += [f'<p class="muted">{html.escape(n)}</p>' for n in notes]
    parts.append('<h2>Contents</h2><ul>' + "".join(f'<li><a href="#{html.escape(f)}">{html.escape(t)}</a></li>'
                                                   for f, t, _ in figures)
                 + '<li><a href="#sweeps">per-sweep table</a></li></ul>')
    parts += ["<h2>Best parameters</h2>", _parameters(best, units, bounds or {}), _scores(best)]
    for file, title, caption in figures:
        parts.append(f'<figure id="{html.escape(file)}"><h2>{html.escape(title)}</h2>'
                     f'<img src="{html.escape(file)}" alt="{html.escape(title)}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    cols = list(SWEEP_TABLE)
    rows = [[_cell(r[c], SWEEP_TABLE[c][1]) for c in cols] for _, r in summary.iterrows()]
    parts += ['<h2 id="sweeps">Per-sweep table</h2>',
              '<p class="muted">Spikes and rates count the step window (onset &le; t &lt; offset). Count error: '
              "(model &minus; data) / data. Baseline: median V over the second half of the time before the "
              "step; steady: median V over the last 20% (at most 100 ms) of the step, shown only where the "
              "sweep has no spike in the step. Gamma: the validation table (validation sweeps).</p>",
              _table([html.escape(SWEEP_TABLE[c][0]) for c in cols],
                     [_blank_steady(r, row) for (_, r), row in zip(summary.iterrows(), rows)], left=3)]
    return _document(f"{job}: {cell}", "\n".join(parts))


def _blank_steady(r: pd.Series, row: list[str]) -> list[str]:
    cols = list(SWEEP_TABLE)
    out = list(row)
    if not r["subthreshold"]:
        out[cols.index("steady_data_mV")] = "&ndash;"
    if not r["model_subthreshold"]:
        out[cols.index("steady_model_mV")] = "&ndash;"
    return out


def index_page(job: str, manifest: dict, cells: list[dict]) -> str:
    """The index: the job, and one row per cell (``cell``, ``href``, ``n_sweeps``,
    ``train_loss``, ``validation_loss``)."""
    rows = [[f'<a href="{html.escape(c["href"])}">{html.escape(c["cell"])}</a>', _cell(c.get("n_sweeps"), "{:d}"),
             _cell(c.get("train_loss"), "{:.4g}"), _cell(c.get("validation_loss"), "{:.4g}")] for c in cells]
    body = (f"<h1>{html.escape(job)}</h1>"
            f'<p class="muted">status {html.escape(str(manifest.get("status")))}, '
            f'{html.escape(str(manifest.get("start")))} &ndash; {html.escape(str(manifest.get("end")))}</p>'
            + _table(["cell", "sweeps", "training loss", "validation loss"], rows))
    return _document(job, body)
