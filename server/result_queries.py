"""Stored records as the API returns them: the documents themselves, filtered and newest first."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import Engine, select

from server.result_order import newest_first
from server.schema import results


@dataclass(frozen=True)
class ResultFilters:
    """Each field given must match exactly; None matches everything."""

    model: str | None = None
    identifier: str | None = None
    platform: str | None = None
    commit: str | None = None
    device: str | None = None


_COLUMNS = {
    "model": results.c.model,
    "identifier": results.c.identifier,
    "platform": results.c.platform,
    "commit": results.c.commit_hash,
    "device": results.c.device,
}


def find_documents(engine: Engine, filters: ResultFilters, limit: int) -> list[str]:
    """The matching records' JSON texts, so a listing is never decoded and encoded again."""
    query = select(results.c.document).order_by(*newest_first()).limit(limit)
    for field in fields(filters):
        value = getattr(filters, field.name)
        if value is not None:
            query = query.where(_COLUMNS[field.name] == value)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def find_document(engine: Engine, result_id: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(select(results.c.document).where(results.c.id == result_id)).scalar()
