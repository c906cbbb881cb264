"""How one RunResult maps onto table rows and back.

The mapping must be exact both ways: a stored run reads back with the same to_json(),
which is what lets the results server and later analyses trust the database instead
of the files. Which optional series a metric had is kept as a count that is NULL when
the series was absent, so an empty list and a missing one stay different. Rows are read
back by assembling the record's JSON form and reading it with RunResult.from_json, the
one reader every part uses, so runs stored before records had versions read the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aipep_core.names import CONTROL, TREATMENT
from aipep_core.result_record import SCHEMA_VERSION, MetricComparison, RunResult
from platforms.bounded_output import bound_text

ITERATION = "iteration"
ROUND = "round"

# MetricResult field -> (arm, series) of its rows in `samples`.
SERIES = {
    "values": (TREATMENT, ITERATION),
    "control_values": (CONTROL, ITERATION),
    "round_values": (TREATMENT, ROUND),
    "control_round_values": (CONTROL, ROUND),
}

# Comparison fields copied into columns for SQL; the whole comparison stays in `document`.
COMPARISON_COLUMNS = ("estimate_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value", "rounds", "verdict")


def run_row(result: RunResult, device_id: int | None, saved_at: float) -> dict[str, Any]:
    meta = result.meta
    return {
        "id": result.id,
        "status": result.status,
        "failure": result.failure,
        "model": meta.get("model"),
        "identifier": meta.get("identifier"),
        "platform": meta.get("platform"),
        "device_id": device_id,
        "framework": meta.get("framework"),
        "commit_hash": meta.get("commit"),
        "control_commit_hash": meta.get("control_commit"),
        "run_type": meta.get("run_type"),
        "started": meta.get("start_time"),
        "ended": meta.get("end_time"),
        "saved_at": saved_at,
        "meta": json.dumps(meta),
    }


def metric_rows(result: RunResult) -> list[dict[str, Any]]:
    return [
        {
            "run": result.id,
            "key": key,
            "position": position,
            "type": metric.type,
            "metric": metric.metric,
            "unit": metric.unit,
            "num_runs": metric.num_runs,
            "from_tool_summary": int(bool(metric.from_tool_summary)),
            "op_type": metric.op_type,
            "summary": json.dumps(metric.summary),
            "control_summary": _json_or_none(metric.control_summary),
            "diff_summary": _json_or_none(metric.diff_summary),
            **{f"{name}_count": _length_or_none(getattr(metric, name)) for name in SERIES},
        }
        for position, (key, metric) in enumerate(result.data.items())
    ]


def sample_rows(result: RunResult) -> list[tuple[str, str, str, str, int, float]]:
    return [
        (result.id, key, arm, series, position, value)
        for key, metric in result.data.items()
        for name, (arm, series) in SERIES.items()
        for position, value in enumerate(getattr(metric, name) or ())
    ]


def comparison_rows(result: RunResult) -> list[dict[str, Any]]:
    return [
        {
            "run": result.id,
            "key": key,
            **_comparison_columns(metric.comparison),
            "document": json.dumps(metric.comparison.to_json()),
        }
        for key, metric in result.data.items()
        if metric.comparison is not None
    ]


def log_rows(result: RunResult) -> list[dict[str, Any]]:
    """Logs bounded like a program's output, so no log from any source can exceed SQLite's limit and lose the run."""
    return [{"run": result.id, "name": name, "text": bound_text(text)} for name, text in result.logs.items()]


def result_from_rows(
    run: dict[str, Any],
    metrics: list[dict[str, Any]],
    samples: list[tuple[str, str, str, float | None]],
    comparisons: dict[str, str],
    logs: dict[str, str],
) -> RunResult:
    """Rebuild a result; `samples` are (key, arm, series, value) ordered by position."""
    series: dict[tuple[str, str, str], list[float]] = {}
    for key, arm, kind, value in samples:
        series.setdefault((key, arm, kind), []).append(math.nan if value is None else value)
    data = {}
    for row in sorted(metrics, key=lambda row: row["position"]):
        key = row["key"]
        data[key] = {
            "type": row["type"],
            "metric": row["metric"],
            "unit": row["unit"],
            "summary": json.loads(row["summary"]),
            "num_runs": row["num_runs"],
            "from_tool_summary": bool(row["from_tool_summary"]),
            "op_type": row["op_type"],
            "control_summary": _loads_or_none(row["control_summary"]),
            "diff_summary": _loads_or_none(row["diff_summary"]),
            "comparison": _loads_or_none(comparisons.get(key)),
            **{
                name: series.get((key, arm, kind), []) if row[f"{name}_count"] is not None else None
                for name, (arm, kind) in SERIES.items()
            },
        }
    record = {
        "schema_version": SCHEMA_VERSION,
        "id": run["id"],
        "status": run["status"],
        "failure": run["failure"],
        "meta": json.loads(run["meta"]),
        "data": data,
    }
    return RunResult.from_json(record, logs)


def _comparison_columns(comparison: MetricComparison) -> dict[str, Any]:
    columns = {column: getattr(comparison, column) for column in COMPARISON_COLUMNS}
    return columns | {"verdict": comparison.verdict.value}


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _length_or_none(values: list[float] | None) -> int | None:
    return None if values is None else len(values)
