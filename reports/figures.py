"""The figures of a report, said once without a plotting library, so HTML and Markdown show the same thing.

Each figure is a small dataclass of numbers and labels; `plotly_figures` draws it for the
HTML report and `png_figures` for the Markdown one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aipep_core.verdict import Verdict


@dataclass(frozen=True)
class ForestRow:
    """One metric's change in percent with its confidence interval."""

    label: str
    estimate_pct: float
    ci_low_pct: float
    ci_high_pct: float
    verdict: Verdict


@dataclass(frozen=True)
class Forest:
    """Every metric's change on one axis, read top to bottom in the order given."""

    name: str
    title: str
    rows: tuple[ForestRow, ...]


@dataclass(frozen=True)
class Series:
    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical line at `x` with a reason, such as a round that was re-run."""

    x: float
    label: str


@dataclass(frozen=True)
class Lines:
    """Series over a shared x axis (rounds, commits); `low`/`high` draw a band around a series."""

    name: str
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    markers: tuple[Marker, ...] = ()
    x_ticks: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Distributions:
    """Samples of groups side by side as boxes (an arm per group, or a metric per group)."""

    name: str
    title: str
    y_label: str
    groups: tuple[tuple[str, tuple[float, ...]], ...]


@dataclass(frozen=True)
class Bars:
    """Labelled values as horizontal bars, the first label on top."""

    name: str
    title: str
    x_label: str
    bars: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Scatter:
    """Labelled points, such as each result's latency against its model's size."""

    name: str
    title: str
    x_label: str
    y_label: str
    points: tuple[tuple[str, float, float], ...]
    log_x: bool = False


Figure = Forest | Lines | Distributions | Bars | Scatter


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """A heading with facts (name, value), paragraphs, tables and figures, shown in that order."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Report:
    title: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def figures(self) -> list[Figure]:
        return [figure for section in self.sections for figure in section.figures]


# One colour per verdict, in both renderers: red needs a person, green is good news, olive too small to matter.
VERDICT_COLOURS = {
    Verdict.REGRESSION: "#d62728",
    Verdict.INCONCLUSIVE: "#ff7f0e",
    Verdict.IMPROVEMENT: "#2ca02c",
    Verdict.BELOW_FLOOR: "#bcbd22",
    Verdict.NO_CHANGE: "#7f7f7f",
}
MARKER_COLOUR = "#9467bd"
