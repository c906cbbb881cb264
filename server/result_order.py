"""The one order of results everything agrees on: by commit time, then by arrival.

A result without a commit time ranks as the oldest, on both databases (SQLite and
PostgreSQL disagree on where NULL sorts by default, so it is spelled out). The id
breaks the last ties, so a listing never changes between two identical requests.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from server.schema import results


def oldest_first() -> list[ColumnElement]:
    return [results.c.commit_time.asc().nulls_first(), results.c.received_at.asc(), results.c.id.asc()]


def newest_first() -> list[ColumnElement]:
    return [results.c.commit_time.desc().nulls_last(), results.c.received_at.desc(), results.c.id.desc()]
