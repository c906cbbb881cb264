"""The report of a plain run (no control): where it ran, NET's distribution, and where the time went.

Operators are ranked by their share of the network so the reader sees first what is
worth optimising; metrics that are neither NET nor an operator (resource use, errors)
are listed as they were recorded.
"""

from __future__ import annotations

from aipep_core import number_format
from aipep_core.names import NET
from aipep_core.result_record import MetricResult, RunResult
from reports.figures import Bars, Distributions, Report, Section, Table
from reports.result_facts import origin_facts


def run_report(result: RunResult) -> Report:
    sections = [Section("Run", facts=origin_facts(result))]
    nets = [metric for metric in result.data.values() if metric.type == NET and metric.values]
    if nets:
        sections.append(
            Section(
                "Whole network",
                tables=(_summary_table(nets),),
                figures=tuple(
                    Distributions(f"net-{m.metric}", f"{m.key} distribution", m.unit, (("samples", tuple(m.values)),))
                    for m in nets
                ),
            )
        )
    shares = operator_shares(result)
    if shares:
        sections.append(
            Section(
                "Operators",
                paragraphs=("Share of the whole network's median, largest first.",),
                figures=(Bars("operators", "Operators by share of the network (%)", "% of NET p50", tuple(shares)),),
            )
        )
    others = [m for m in result.data.values() if m.type != NET and not is_operator(result, m) and m.values]
    if others:
        sections.append(Section("Other metrics", tables=(_summary_table(others),)))
    title = f"Run {result.meta.get('model', '')} {result.meta.get('identifier', '')}".strip()
    return Report(title=title, sections=tuple(sections))


def operator_shares(result: RunResult) -> list[tuple[str, float]]:
    """Each operator's p50 as a percentage of NET's p50 in the same metric, largest first."""
    shares = []
    for metric in result.data.values():
        if not is_operator(result, metric):
            continue
        total = result.data[f"{NET} {metric.metric}"].summary.get("p50")
        part = metric.summary.get("p50")
        if total and part is not None:
            shares.append((metric.key, 100.0 * part / total))
    return sorted(shares, key=lambda share: -share[1])


def _summary_table(metrics: list[MetricResult]) -> Table:
    names = ("p10", "p50", "p90", "mean", "MAD")
    rows = tuple(
        (m.key, *(number_format.measurement(m.summary.get(name)) for name in names), str(m.num_runs), m.unit)
        for m in metrics
    )
    return Table(("Metric", *names, "Runs", "Unit"), rows)


def is_operator(result: RunResult, metric: MetricResult) -> bool:
    """A part of the network: not NET itself, measured in a metric NET is measured in too."""
    return metric.type != NET and f"{NET} {metric.metric}" in result.data
