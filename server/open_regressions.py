"""Which regressions are still open.

The rule: for each model, test, platform, device and metric key, take the newest result
(commit time, then arrival) whose metric carries a verdict; the regression is open while
that verdict is "regression". A later improvement, no-change or inconclusive verdict
closes it, and so does a verify run of the same commit that no longer finds it. Results
without a verdict (single runs, failures) say nothing about a regression and are passed
over rather than closing it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from aipep_core.verdict import Verdict
from server.result_order import newest_first
from server.schema import metrics, results
from server.series_query import COMPARISON_COLUMNS, with_verdict

GROUP = (results.c.model, results.c.identifier, results.c.platform, results.c.device, metrics.c.key)


def open_regressions(engine: Engine) -> list[dict[str, Any]]:
    """Open regressions, the largest estimated slowdown first."""
    newest = func.row_number().over(partition_by=GROUP, order_by=newest_first()).label("newest")
    ranked = (
        select(
            results.c.id.label("result_id"),
            results.c.model,
            results.c.identifier,
            results.c.platform,
            results.c.device,
            metrics.c.key,
            metrics.c.unit,
            results.c.commit_hash.label("commit"),
            results.c.commit_time,
            results.c.control_commit_hash.label("control_commit"),
            results.c.run_type,
            *COMPARISON_COLUMNS,
            newest,
        )
        .join(metrics, metrics.c.result_id == results.c.id)
        .where(metrics.c.verdict.is_not(None))
        .subquery()
    )
    statement = (
        select(*(column for column in ranked.c if column.name != "newest"))
        .where(ranked.c.newest == 1, ranked.c.verdict == Verdict.REGRESSION.value)
        .order_by(ranked.c.estimate_pct.desc().nulls_last(), ranked.c.result_id)
    )
    with engine.connect() as connection:
        return [with_verdict(row._mapping) for row in connection.execute(statement)]
