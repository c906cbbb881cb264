"""A report as one HTML file that opens offline: plotly.js and every figure's data are inside it.

The page's Content-Security-Policy allows no network request at all (no default source,
inline script and style only), so a report cannot leak to or depend on anything outside
the file, and a browser says so if it ever tries.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from reports.figures import Report, Section, Table
from reports.plotly_figures import plotly_figure
from reports.plotly_source import plotly_js

CONTENT_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: .9em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; }
td.verdict-regression { color: #d62728; font-weight: 600; } td.verdict-improvement { color: #2ca02c; }
.figure { margin: 1em 0; }
"""
DRAW = """
for (const figure of JSON.parse(document.getElementById("figures").textContent)) {
  Plotly.newPlot(figure.id, figure.data, figure.layout, {displayModeBar: false, responsive: true});
}
"""


def render_html(report: Report) -> str:
    figures = []
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        body.append(_section(section, figures))
    figures_json = json.dumps(finite(figures), allow_nan=False).replace("<", "\\u003c")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">',
            f"<title>{html.escape(report.title)}</title>",
            f"<style>{STYLE}</style>",
            f"<script>{plotly_js()}</script>",
            "</head><body>",
            *body,
            f'<script type="application/json" id="figures">{figures_json}</script>',
            f"<script>{DRAW}</script>",
            "</body></html>",
        ]
    )


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity as null: JSON has no such numbers, and plotly leaves a gap for null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _section(section: Section, figures: list[dict]) -> str:
    parts = [f"<section><h2>{html.escape(section.title)}</h2>"]
    if section.facts:
        items = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>" for name, value in section.facts)
        parts.append(f'<dl class="facts">{items}</dl>')
    parts.extend(f"<p>{html.escape(paragraph)}</p>" for paragraph in section.paragraphs)
    parts.extend(_table(table) for table in section.tables)
    for figure in section.figures:
        element_id = f"figure-{len(figures)}"
        figures.append({"id": element_id, **plotly_figure(figure)})
        parts.append(f'<div class="figure" id="{element_id}" data-figure="{html.escape(figure.name)}"></div>')
    parts.append("</section>")
    return "\n".join(parts)


def _table(table: Table) -> str:
    header = "".join(f"<th>{html.escape(name)}</th>" for name in table.header)
    rows = []
    for row in table.rows:
        cells = "".join(
            f'<td class="verdict-{html.escape(cell.replace(" ", "_"))}">{html.escape(cell)}</td>'
            if name == "Verdict"
            else f"<td>{html.escape(cell)}</td>"
            for name, cell in zip(table.header, row, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
