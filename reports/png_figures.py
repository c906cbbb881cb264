"""The report's figures as PNG files for the Markdown report, drawn by matplotlib without a display.

matplotlib is in the `report` extra; it is imported only when a Markdown report is made,
so the HTML report (and the server that serves it) does not need it.
"""

from __future__ import annotations

import math
from functools import singledispatch
from pathlib import Path
from typing import Any

from aipep_core.verdict import VERDICT_ORDER
from reports.figures import MARKER_COLOUR, VERDICT_COLOURS, Bars, Distributions, Figure, Forest, Lines, Scatter

WIDTH_INCHES = 9.0
ROW_INCHES = 0.28
DPI = 100


class MatplotlibMissing(RuntimeError):
    """The Markdown report was asked for without matplotlib installed."""


def write_png(figure: Figure, path: Path) -> None:
    pyplot = _pyplot()
    drawn = pyplot.figure(figsize=(WIDTH_INCHES, _height(figure)), dpi=DPI)
    try:
        axes = drawn.add_subplot()
        _draw(figure, axes)
        axes.set_title(figure.title)
        drawn.tight_layout()
        drawn.savefig(path, format="png")
    finally:
        pyplot.close(drawn)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise MatplotlibMissing("a Markdown report needs matplotlib: pip install 'aipep[report]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _height(figure: Figure) -> float:
    if isinstance(figure, Forest):
        return 1.5 + ROW_INCHES * len(figure.rows)
    if isinstance(figure, Bars):
        return 1.5 + ROW_INCHES * len(figure.bars)
    return 4.0


@singledispatch
def _draw(figure: Any, axes: Any) -> None:
    raise TypeError(f"no PNG drawing for {type(figure).__name__}")


@_draw.register
def _forest(figure: Forest, axes: Any) -> None:
    positions = {row.label: index for index, row in enumerate(figure.rows)}
    for verdict in VERDICT_ORDER:
        rows = [row for row in figure.rows if row.verdict is verdict]
        if not rows:
            continue
        axes.errorbar(
            [row.estimate_pct for row in rows],
            [positions[row.label] for row in rows],
            xerr=[
                [row.estimate_pct - row.ci_low_pct for row in rows],
                [row.ci_high_pct - row.estimate_pct for row in rows],
            ],
            fmt="o",
            color=VERDICT_COLOURS[verdict],
            label=verdict.value,
            capsize=2,
        )
    axes.axvline(0.0, color="#444", linewidth=0.8)
    axes.set_yticks(range(len(figure.rows)), [row.label for row in figure.rows], fontsize=8)
    axes.set_ylim(len(figure.rows) - 0.5, -0.5)
    axes.set_xlabel("change (%)")
    axes.legend(loc="best", fontsize=8)


@_draw.register
def _lines(figure: Lines, axes: Any) -> None:
    for series in figure.series:
        line = axes.plot(series.x, series.y, marker="o", markersize=3, label=series.name)[0]
        if series.low is not None and series.high is not None:
            axes.fill_between(series.x, series.low, series.high, color=line.get_color(), alpha=0.2)
    for marker in figure.markers:
        axes.axvline(marker.x, color=MARKER_COLOUR, linestyle=":", linewidth=1)
        axes.annotate(marker.label, (marker.x, 1), xycoords=("data", "axes fraction"), rotation=90, va="top",
                      ha="right", fontsize=7, color=MARKER_COLOUR)  # fmt: skip
    if figure.x_ticks is not None:
        axes.set_xticks(range(len(figure.x_ticks)), figure.x_ticks, rotation=45, fontsize=7)
    axes.set_xlabel(figure.x_label)
    axes.set_ylabel(figure.y_label)
    if figure.series:
        axes.legend(loc="best", fontsize=7)


@_draw.register
def _distributions(figure: Distributions, axes: Any) -> None:
    """A value JSON or a failed run left infinite or NaN has no place on an axis (the HTML page drops it too)."""
    axes.boxplot([[v for v in values if math.isfinite(v)] for _, values in figure.groups], showmeans=True)
    axes.set_xticks(range(1, len(figure.groups) + 1), [name for name, _ in figure.groups])
    axes.set_ylabel(figure.y_label)


@_draw.register
def _bars(figure: Bars, axes: Any) -> None:
    axes.barh(range(len(figure.bars)), [value for _, value in figure.bars])
    axes.set_yticks(range(len(figure.bars)), [label for label, _ in figure.bars], fontsize=8)
    axes.set_ylim(len(figure.bars) - 0.5, -0.5)
    axes.set_xlabel(figure.x_label)


@_draw.register
def _scatter(figure: Scatter, axes: Any) -> None:
    axes.scatter([x for _, x, _ in figure.points], [y for _, _, y in figure.points])
    for label, x, y in figure.points:
        axes.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if figure.log_x:
        axes.set_xscale("log")
    axes.set_xlabel(figure.x_label)
    axes.set_ylabel(figure.y_label)
