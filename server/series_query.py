"""The chart query: one metric of one test over commits, one point per stored result.

A commit measured twice (a benchmark and its verify run) has two points, each with
its own verdict: the chart shows what was measured, not a merge of it. Leaving out the
device draws every device's results together, each point naming its device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from aipep_core.verdict import Verdict
from server.result_order import oldest_first
from server.schema import metrics, results


@dataclass(frozen=True)
class SeriesQuery:
    model: str
    identifier: str
    platform: str
    key: str
    device: str | None = None


# What an A/B comparison says about one metric; the chart and the regressions list both show it.
COMPARISON_COLUMNS = (
    metrics.c.estimate_pct,
    metrics.c.ci_low_pct,
    metrics.c.ci_high_pct,
    metrics.c.p_value,
    metrics.c.q_value,
    metrics.c.rounds,
    metrics.c.verdict,
)

POINT_COLUMNS = (
    results.c.id.label("result_id"),
    results.c.commit_hash.label("commit"),
    results.c.commit_time,
    results.c.control_commit_hash.label("control_commit"),
    results.c.run_type,
    results.c.device,
    metrics.c.unit,
    metrics.c.p10,
    metrics.c.p50,
    metrics.c.p90,
    metrics.c.control_p50,
    *COMPARISON_COLUMNS,
)


def series_points(engine: Engine, query: SeriesQuery) -> list[dict[str, Any]]:
    """Points in commit order (oldest first), the order a chart draws them."""
    statement = (
        select(*POINT_COLUMNS)
        .join(metrics, (metrics.c.result_id == results.c.id) & (metrics.c.key == query.key))
        .where(
            results.c.model == query.model,
            results.c.identifier == query.identifier,
            results.c.platform == query.platform,
        )
        .order_by(*oldest_first())
    )
    if query.device is not None:
        statement = statement.where(results.c.device == query.device)
    with engine.connect() as connection:
        return [with_verdict(row._mapping) for row in connection.execute(statement)]


def with_verdict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its verdict column read as the Verdict it stores (None for a result without a comparison)."""
    verdict = row["verdict"]
    return {**row, "verdict": None if verdict is None else Verdict(verdict)}
