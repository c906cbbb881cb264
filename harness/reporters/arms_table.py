"""The table for a two-arm result that has no verdicts: treatment beside control, and their difference.

A FAI-PEP `generic` test runs both arms but judges nothing, so the A/B table (ordered by
verdict, its columns the comparison's figures) would be empty and the single-arm table
would hide the control. Here each metric shows both arms' medians, treatment minus control
and that difference relative to control, with the verdict column saying no judgement was made.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from aipep_core.number_format import measurement, percent
from aipep_core.result_record import MetricResult, RunResult
from aipep_core.verdict import NOT_JUDGED
from harness.reporters.name_columns import add_name_columns, name_cells
from harness.reporters.single_table import ordered_metrics

CAPTION = "difference = treatment p50 - control p50; change % = difference / control p50; no verdict is judged"


def has_two_arms(result: RunResult) -> bool:
    return any(metric.control_values for metric in result.data.values())


def arms_table(result: RunResult, title: str) -> Table:
    table = Table(title=Text(title), title_justify="left", caption=CAPTION, caption_justify="left")
    with_op = add_name_columns(table, result)
    for name in ("metric", "unit"):
        table.add_column(name, no_wrap=True)
    for name in ("treatment p50", "control p50", "difference", "change %"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for metric in ordered_metrics(result):
        table.add_row(*name_cells(metric, with_op), Text(metric.metric), Text(metric.unit), *_arm_cells(metric))
    return table


def _arm_cells(metric: MetricResult) -> list[str]:
    treatment = metric.summary.get("p50")
    control = (metric.control_summary or {}).get("p50")
    difference = (metric.diff_summary or {}).get("p50")
    change = 100.0 * difference / control if difference is not None and control else None
    return [measurement(treatment), measurement(control), measurement(difference), percent(change), NOT_JUDGED]
