"""The table for an A/B result: what got slower comes first, in red."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from aipep_core.names import NET
from aipep_core.verdict import VERDICT_ORDER
from harness.reporters.name_columns import add_name_columns, name_cells
from harness.reporters.number_format import MISSING, interval, percent, probability
from harness.result import MetricResult, RunResult

VERDICT_STYLE = {"regression": "red", "improvement": "green"}
NOT_COMPARED = "not compared"


def ab_table(result: RunResult, title: str) -> Table:
    table = Table(
        title=Text(title),
        title_justify="left",
        caption="change = Hodges-Lehmann estimate of treatment vs control; p for NET, BH q for operators",
        caption_justify="left",
    )
    with_op = add_name_columns(table, result)
    table.add_column("metric", no_wrap=True)
    for name in ("change %", "95% CI %", "p / q", "rounds"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for metric in ordered_comparisons(result):
        comparison = metric.comparison or {}
        verdict = comparison.get("verdict", NOT_COMPARED)
        rounds = comparison.get("rounds")
        table.add_row(
            *name_cells(metric, with_op),
            Text(metric.metric),
            percent(comparison.get("estimate_pct")),
            interval(comparison.get("ci_low_pct"), comparison.get("ci_high_pct")),
            probability(_p_or_q(metric, comparison)),
            str(rounds) if rounds is not None else MISSING,
            Text(verdict),
            style=VERDICT_STYLE.get(verdict),
        )
    return table


def ordered_comparisons(result: RunResult) -> list[MetricResult]:
    """Regressions, inconclusive, improvements, no change, then anything not compared.

    Within a group the largest change comes first, so the top row of the table is the
    worst news.
    """

    def rank(metric: MetricResult) -> tuple[int, float, str]:
        comparison = metric.comparison or {}
        verdict = comparison.get("verdict")
        group = VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else len(VERDICT_ORDER)
        estimate = comparison.get("estimate_pct")
        size = abs(estimate) if isinstance(estimate, int | float) and estimate == estimate else -1.0
        return group, -size, metric.key

    return sorted(result.data.values(), key=rank)


def _p_or_q(metric: MetricResult, comparison: dict) -> float | None:
    if metric.type != NET and comparison.get("q_value") is not None:
        return comparison["q_value"]
    return comparison.get("p_value")
