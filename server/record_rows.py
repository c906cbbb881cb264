"""How one validated record maps onto the results, metrics and samples tables.

Column figures are copied from the record, as the one record model reads it, never
recomputed: the server shows what the harness decided, so a dashboard and a harness
table can never disagree. Infinite interval ends (few rounds) become NULL, as they do in
the stored document. The document itself is stored as it was sent (unknown keys and
all), so the API returns exactly what was posted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from aipep_core.result_record import MetricResult, RunResult
from aipep_core.strict_json import strict_json

# MetricResult list -> (arm, series) of its samples, as the harness's own store names them.
SAMPLE_SERIES = {
    "values": ("treatment", "iteration"),
    "control_values": ("control", "iteration"),
    "round_values": ("treatment", "round"),
    "control_round_values": ("control", "round"),
}


# Comparison figures copied into metrics columns.
COMPARISON_NUMBERS = ("estimate_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value")
COMPARISON_FIELDS = (*COMPARISON_NUMBERS, "verdict", "rounds")


@dataclass(frozen=True)
class RecordRows:
    result: dict[str, Any]
    metrics: list[dict[str, Any]]
    samples: list[tuple[str, str, str, str, int, float]]  # in sample_insert.COLUMNS order


def record_rows(record: RunResult, document: dict[str, Any], received_at: float) -> RecordRows:
    """Rows for a record that passed validate_record: `record` is `document` as the record model reads it."""
    result_id = record.id
    meta = record.meta
    device = meta.get("device") or {}
    data = record.data
    return RecordRows(
        result={
            "id": result_id,
            "model": meta["model"],
            "identifier": meta["identifier"],
            "platform": meta["platform"],
            "device": device.get("identifier"),
            "framework": meta.get("framework"),
            "commit_hash": meta.get("commit"),
            "commit_time": _finite(meta.get("commit_time")),
            "control_commit_hash": meta.get("control_commit"),
            "run_type": meta.get("run_type"),
            "status": record.status,
            "received_at": received_at,
            "document": _document_text(document),
        },
        metrics=[_metric_row(result_id, position, key, metric) for position, (key, metric) in enumerate(data.items())],
        samples=[
            (result_id, key, arm, series, position, float(value))
            for key, metric in data.items()
            for name, (arm, series) in SAMPLE_SERIES.items()
            for position, value in enumerate(getattr(metric, name) or ())
        ],
    )


def _metric_row(result_id: str, position: int, key: str, metric: MetricResult) -> dict[str, Any]:
    summary = metric.summary
    control = metric.control_summary or {}
    comparison = metric.comparison
    row = {
        "result_id": result_id,
        "key": key,
        "position": position,
        "type": metric.type,
        "metric": metric.metric,
        "unit": metric.unit,
        "p10": _finite(summary.get("p10")),
        "p50": _finite(summary.get("p50")),
        "p90": _finite(summary.get("p90")),
        "control_p50": _finite(control.get("p50")),
    }
    if comparison is None:
        return row | dict.fromkeys(COMPARISON_FIELDS)
    figures = {name: _finite(getattr(comparison, name)) for name in COMPARISON_NUMBERS}
    return row | figures | {"verdict": comparison.verdict.value, "rounds": comparison.rounds}


def _document_text(document: dict[str, Any]) -> str:
    """Most records hold only finite numbers; the plain encoder finds that out far faster than the strict one."""
    try:
        return json.dumps(document, allow_nan=False)
    except ValueError:
        return strict_json(document)


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
