"""The rows of one result's comparison page: every metric, the ones that need attention first.

Within a verdict the largest change leads, whichever its direction, and the whole
network comes before operators when changes tie, since NET is what the user asked about.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from aipep_core.names import NET
from aipep_core.verdict import VERDICT_ORDER
from server.schema import metrics
from server.series_query import with_verdict


def comparison_rows(engine: Engine, result_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(metrics).where(metrics.c.result_id == result_id))
        return sorted((with_verdict(row._mapping) for row in rows), key=_attention)


def _attention(row: dict[str, Any]) -> tuple:
    verdict = row["verdict"]
    rank = len(VERDICT_ORDER) if verdict is None else VERDICT_ORDER.index(verdict)
    change = abs(row["estimate_pct"]) if row["estimate_pct"] is not None else -1.0
    return rank, -change, row["type"] != NET, row["position"]
