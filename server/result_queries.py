"""Stored records as the API returns them: the documents themselves, filtered, newest first, in pages.

A page ends at `limit` records or at the byte budget, whichever comes first (always
holding at least one record), and the next page starts after the last record sent: the
cursor is that record's place in the newest-first order (commit time, arrival, id), so
pages neither skip nor repeat records when new ones arrive in between. Documents are
read one at a time as the page fills, so a listing never holds more than its budget
and one record in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, Engine, and_, or_, select

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


@dataclass(frozen=True)
class Page:
    documents: list[str]
    next_after: str | None  # the id to pass as `after` for the next page; None on the last page


class UnknownCursor(LookupError):
    """`after` names no stored result."""


_COLUMNS = {
    "model": results.c.model,
    "identifier": results.c.identifier,
    "platform": results.c.platform,
    "commit": results.c.commit_hash,
    "device": results.c.device,
}


def find_documents(
    engine: Engine, filters: ResultFilters, limit: int, budget_bytes: int, after: str | None = None
) -> Page:
    """The matching records' JSON texts, so a listing is never decoded and encoded again."""
    conditions = [
        _COLUMNS[field.name] == getattr(filters, field.name)
        for field in fields(filters)
        if getattr(filters, field.name) is not None
    ]
    with engine.connect() as connection:
        if after is not None:
            cursor = connection.execute(
                select(results.c.commit_time, results.c.received_at, results.c.id).where(results.c.id == after)
            ).first()
            if cursor is None:
                raise UnknownCursor(after)
            conditions.append(_after(*cursor))
        page_ids = select(results.c.id).where(*conditions).order_by(*newest_first()).limit(limit + 1)
        ids = list(connection.execute(page_ids).scalars())
        documents: list[str] = []
        size = 0
        for result_id in ids[:limit]:
            document = connection.execute(select(results.c.document).where(results.c.id == result_id)).scalar_one()
            if documents and size + len(document) + 2 > budget_bytes:
                break
            documents.append(document)
            size += len(document) + 1
    more = len(ids) > len(documents)
    return Page(documents, ids[len(documents) - 1] if more and documents else None)


def find_document(engine: Engine, result_id: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(select(results.c.document).where(results.c.id == result_id)).scalar()


def _after(commit_time: float | None, received_at: float, result_id: str) -> ColumnElement[bool]:
    """Records after this one in newest_first order, where a missing commit time ranks oldest."""
    earlier_arrival = or_(
        results.c.received_at < received_at,
        and_(results.c.received_at == received_at, results.c.id < result_id),
    )
    if commit_time is None:
        return and_(results.c.commit_time.is_(None), earlier_arrival)
    return or_(
        results.c.commit_time < commit_time,
        results.c.commit_time.is_(None),
        and_(results.c.commit_time == commit_time, earlier_arrival),
    )
