"""The table for an A/B result: what got slower comes first, in red."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from aipep_core.names import NET
from aipep_core.number_format import MISSING, interval, microseconds_change, percent, probability
from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.verdict import VERDICT_ORDER, Verdict
from harness.reporters.name_columns import add_name_columns, name_cells

VERDICT_STYLE = {Verdict.REGRESSION: "red", Verdict.IMPROVEMENT: "green", Verdict.BELOW_FLOOR: "yellow"}
NOT_COMPARED = "not compared"


CAPTION = "change = Hodges-Lehmann estimate of treatment vs control; p for NET, BH q for operators"
# The quality pass's accuracy is not a ratio of rounds: its change is in points, its p McNemar's.
ACCURACY_CAPTION = "; accuracy: change in points, McNemar p"


def ab_table(result: RunResult, title: str) -> Table:
    accuracy = any(metric.metric == "accuracy" and metric.comparison for metric in result.data.values())
    table = Table(
        title=Text(title),
        title_justify="left",
        caption=CAPTION + (ACCURACY_CAPTION if accuracy else ""),
        caption_justify="left",
    )
    with_op = add_name_columns(table, result)
    table.add_column("metric", no_wrap=True)
    for name in ("change %", "95% CI %", "p / q", "rounds"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for metric in ordered_comparisons(result):
        comparison = metric.comparison
        cells = _comparison_cells(metric, comparison) if comparison else [MISSING] * 4 + [NOT_COMPARED]
        table.add_row(
            *name_cells(metric, with_op),
            Text(metric.metric),
            *cells[:4],
            Text(cells[4]),
            style=VERDICT_STYLE.get(comparison.verdict) if comparison else None,
        )
    return table


def ordered_comparisons(result: RunResult) -> list[MetricResult]:
    """Regressions, inconclusive, improvements, no change, then anything not compared.

    Within a group the largest change comes first, so the top row of the table is the
    worst news.
    """

    def rank(metric: MetricResult) -> tuple[int, float, str]:
        comparison = metric.comparison
        if comparison is None:
            return len(VERDICT_ORDER), 1.0, metric.key
        estimate = comparison.estimate_pct
        size = abs(estimate) if estimate is not None and estimate == estimate else -1.0
        return VERDICT_ORDER.index(comparison.verdict), -size, metric.key

    return sorted(result.data.values(), key=rank)


def _comparison_cells(metric: MetricResult, comparison: MetricComparison) -> list[str]:
    return [
        percent(comparison.estimate_pct),
        interval(comparison.ci_low_pct, comparison.ci_high_pct),
        probability(_p_or_q(metric, comparison)),
        str(comparison.rounds) if comparison.rounds is not None else MISSING,
        _verdict_cell(comparison),
    ]


def _verdict_cell(comparison: MetricComparison) -> str:
    """The verdict; a change below the floor also says what it cost, since the percent alone looks alarming."""
    if comparison.verdict is Verdict.BELOW_FLOOR:
        return f"{comparison.verdict.value} ({microseconds_change(comparison.abs_change_us)})"
    return comparison.verdict.value


def _p_or_q(metric: MetricResult, comparison: MetricComparison) -> float | None:
    if metric.type != NET and comparison.q_value is not None:
        return comparison.q_value
    return comparison.p_value
