"""The comparison of several results (models, frameworks, devices, variants) side by side.

A table of what each result is and its NET latency, and a figure: latency against model
size where the results record a size (meta.model_size_bytes), else latency per result.
"""

from __future__ import annotations

from aipep_core import number_format
from aipep_core.names import NET
from aipep_core.result_record import MetricResult, RunResult
from reports.figures import Bars, Figure, Report, Scatter, Section, Table


def comparison_report(results: list[RunResult]) -> Report:
    rows = tuple(_row(result) for result in results)
    header = ("Result", "Model", "Test", "Framework", "Platform", "Device", "Commit", "NET p50", "NET p90", "Unit")
    figure = latency_figure(results)
    return Report(
        title=f"Comparison of {len(results)} results",
        sections=(Section("Results", tables=(Table(header, rows),), figures=(figure,) if figure else ()),),
    )


def latency_figure(results: list[RunResult]) -> Figure | None:
    labelled = [(_label(result), result, net) for result in results if (net := _net(result)) is not None]
    latencies = [(label, result, net.summary["p50"]) for label, result, net in labelled if net.summary.get("p50")]
    if not latencies:
        return None
    unit = _net(results[0]).unit if _net(results[0]) else ""
    sized = [(label, result.meta.get("model_size_bytes"), p50) for label, result, p50 in latencies]
    if all(isinstance(size, int | float) and size > 0 for _, size, _ in sized):
        points = tuple((label, float(size) / 1e6, p50) for label, size, p50 in sized)
        return Scatter("size", "NET p50 against model size", "model size (MB)", f"NET p50 ({unit})", points, True)
    return Bars(
        "latency", "NET p50 per result", f"NET p50 ({unit})", tuple((label, p50) for label, _, p50 in latencies)
    )


def _net(result: RunResult) -> MetricResult | None:
    return next((metric for metric in result.data.values() if metric.type == NET), None)


def _label(result: RunResult) -> str:
    meta = result.meta
    device = meta.get("device") if isinstance(meta.get("device"), dict) else {}
    parts = [meta.get("model"), meta.get("framework"), device.get("identifier"), result.id[:8]]
    return " · ".join(str(part) for part in parts if part)


def _row(result: RunResult) -> tuple[str, ...]:
    meta = result.meta
    device = meta.get("device") if isinstance(meta.get("device"), dict) else {}
    net = _net(result)
    summary = net.summary if net is not None else {}
    return (
        result.id,
        *(str(meta.get(name) or number_format.MISSING) for name in ("model", "identifier", "framework", "platform")),
        str(device.get("identifier") or number_format.MISSING),
        str(meta.get("commit") or number_format.MISSING),
        number_format.measurement(summary.get("p50")),
        number_format.measurement(summary.get("p90")),
        net.unit if net is not None else number_format.MISSING,
    )
