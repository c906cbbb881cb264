"""The leading columns of both result tables: what was measured, and what kind of operator it is.

Node names after graph fusion (`Relu6_pointwise_13_out_nchwc`) rarely say what ran, so an
`op` column appears whenever the framework named operator kinds; long names fold onto a
second line so the numbers beside them never do.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from aipep_core.result_record import MetricResult, RunResult


def add_name_columns(table: Table, result: RunResult) -> bool:
    """Add `type` (and `op` when any metric has one); True when `op` was added."""
    with_op = any(metric.op_type for metric in result.data.values())
    table.add_column("type", overflow="fold")
    if with_op:
        table.add_column("op", overflow="fold")
    return with_op


def name_cells(metric: MetricResult, with_op: bool) -> list[Text]:
    return [Text(metric.type), *([Text(metric.op_type or "")] if with_op else [])]
