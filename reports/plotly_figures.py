"""The report's figures as plotly.js figures (data and layout as JSON values) for the HTML report."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from aipep_core.verdict import VERDICT_ORDER
from reports.figures import (
    MARKER_COLOUR,
    VERDICT_COLOURS,
    Bars,
    Distributions,
    Figure,
    Forest,
    Lines,
    Scatter,
)

ROW_HEIGHT = 20
MARGIN = {"l": 220, "r": 30, "t": 50, "b": 50}


def plotly_figure(figure: Figure) -> dict[str, Any]:
    """{"data": [...], "layout": {...}}, ready for Plotly.newPlot."""
    return _figure(figure)


@singledispatch
def _figure(figure: Any) -> dict[str, Any]:
    raise TypeError(f"no plotly drawing for {type(figure).__name__}")


@_figure.register
def _forest(figure: Forest) -> dict[str, Any]:
    data = []
    for verdict in VERDICT_ORDER:
        rows = [row for row in figure.rows if row.verdict is verdict]
        if not rows:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": verdict.value,
                "x": [row.estimate_pct for row in rows],
                "y": [row.label for row in rows],
                "marker": {"color": VERDICT_COLOURS[verdict], "size": 8},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [row.ci_high_pct - row.estimate_pct for row in rows],
                    "arrayminus": [row.estimate_pct - row.ci_low_pct for row in rows],
                    "color": VERDICT_COLOURS[verdict],
                },
            }
        )
    layout = _layout(figure.title, "change (%)", None, height=120 + ROW_HEIGHT * len(figure.rows))
    layout["yaxis"] = {
        "type": "category",
        "categoryorder": "array",
        "categoryarray": [row.label for row in figure.rows],
        "autorange": "reversed",
        "automargin": True,
    }
    layout["shapes"] = [_vertical(0.0, "#444", "solid")]
    return {"data": data, "layout": layout}


@_figure.register
def _lines(figure: Lines) -> dict[str, Any]:
    data = []
    for series in figure.series:
        if series.low is not None and series.high is not None:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [*series.x, *reversed(series.x)],
                    "y": [*series.high, *reversed(series.low)],
                    "fill": "toself",
                    "opacity": 0.2,
                    "line": {"width": 0},
                    "name": f"{series.name} band",
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
        data.append({"type": "scatter", "mode": "lines+markers", "name": series.name, "x": series.x, "y": series.y})
    layout = _layout(figure.title, figure.x_label, figure.y_label, height=420)
    if figure.x_ticks is not None:
        layout["xaxis"].update(tickmode="array", tickvals=list(range(len(figure.x_ticks))), ticktext=figure.x_ticks)
    layout["shapes"] = [_vertical(marker.x, MARKER_COLOUR, "dot") for marker in figure.markers]
    layout["annotations"] = [
        {"x": marker.x, "y": 1, "yref": "paper", "text": marker.label, "showarrow": False, "textangle": -90,
         "xanchor": "right", "yanchor": "top", "font": {"color": MARKER_COLOUR, "size": 10}}
        for marker in figure.markers
    ]  # fmt: skip
    return {"data": data, "layout": layout}


@_figure.register
def _distributions(figure: Distributions) -> dict[str, Any]:
    data = [
        {"type": "box", "name": name, "y": values, "boxpoints": "outliers", "boxmean": True}
        for name, values in figure.groups
    ]
    layout = _layout(figure.title, None, figure.y_label, height=360)
    layout["showlegend"] = False
    return {"data": data, "layout": layout}


@_figure.register
def _bars(figure: Bars) -> dict[str, Any]:
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [value for _, value in figure.bars],
            "y": [label for label, _ in figure.bars],
        }
    ]
    layout = _layout(figure.title, figure.x_label, None, height=120 + ROW_HEIGHT * len(figure.bars))
    layout["yaxis"] = {"type": "category", "autorange": "reversed", "automargin": True}
    return {"data": data, "layout": layout}


@_figure.register
def _scatter(figure: Scatter) -> dict[str, Any]:
    data = [
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": [x for _, x, _ in figure.points],
            "y": [y for _, _, y in figure.points],
            "text": [label for label, _, _ in figure.points],
            "textposition": "top center",
        }
    ]
    layout = _layout(figure.title, figure.x_label, figure.y_label, height=420)
    if figure.log_x:
        layout["xaxis"]["type"] = "log"
    return {"data": data, "layout": layout}


def _layout(title: str, x_label: str | None, y_label: str | None, height: int) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "height": height,
        "margin": MARGIN,
        "xaxis": {"title": {"text": x_label or ""}, "zeroline": False},
        "yaxis": {"title": {"text": y_label or ""}, "automargin": True},
        "legend": {"orientation": "h", "y": -0.15},
    }


def _vertical(x: float, colour: str, dash: str) -> dict[str, Any]:
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "yref": "paper", "line": {"color": colour,
            "dash": dash, "width": 1}}  # fmt: skip
