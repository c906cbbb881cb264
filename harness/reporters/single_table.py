"""The table for a single-arm result: the whole network first, then where the time went."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from aipep_core.names import NET
from aipep_core.number_format import MISSING, measurement, percent
from aipep_core.result_record import MetricResult, RunResult
from harness.reporters.name_columns import add_name_columns, name_cells

NET_LATENCY = "NET latency"


def single_table(result: RunResult, title: str) -> Table:
    net = result.data.get(NET_LATENCY)
    net_p50 = net.summary.get("p50") if net is not None else None
    with_share = bool(net_p50)
    table = Table(title=Text(title), title_justify="left")
    with_op = add_name_columns(table, result)
    for name in ("metric", "unit"):
        table.add_column(name, no_wrap=True)
    for name in ("p10", "p50", "p90"):
        table.add_column(name, justify="right", no_wrap=True)
    if with_share:
        table.add_column("share", justify="right", no_wrap=True)
    for metric in ordered_metrics(result):
        cells = [
            *name_cells(metric, with_op),
            Text(metric.metric),
            Text(metric.unit),
            *(measurement(metric.summary.get(name)) for name in ("p10", "p50", "p90")),
        ]
        if with_share:
            cells.append(_share(metric, net_p50))
        table.add_row(*cells)
    return table


def ordered_metrics(result: RunResult) -> list[MetricResult]:
    """NET rows (by key), then operators by p50, largest first: the costliest operator is the interesting one."""
    metrics = list(result.data.values())
    nets = sorted((m for m in metrics if m.type == NET), key=lambda m: m.key)
    operators = [m for m in metrics if m.type != NET]
    operators.sort(key=lambda m: m.key)
    operators.sort(key=lambda m: _p50_or_lowest(m), reverse=True)
    return nets + operators


def _p50_or_lowest(metric: MetricResult) -> float:
    p50 = metric.summary.get("p50")
    return p50 if isinstance(p50, int | float) and p50 == p50 else float("-inf")


def _share(metric: MetricResult, net_p50: float) -> str:
    p50 = metric.summary.get("p50")
    if metric.type == NET or metric.metric != "latency" or p50 is None:
        return MISSING if metric.type != NET else ""
    return f"{percent(100.0 * p50 / net_p50, signed=False)}%"
