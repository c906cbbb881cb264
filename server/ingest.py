"""Storing one record: all of it in one transaction, or nothing.

Idempotency rests on the results primary key alone. The insert of the results row
says "do nothing on conflict", so when two copies of a record race (a client retrying
while its first attempt is still being stored) the database lets exactly one insert
win and the other gets no row back from RETURNING and stores nothing; no read-then-write window
exists in which both could think they were first.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from aipep_core.result_record import RunResult
from server.record_rows import record_rows
from server.sample_insert import insert_samples
from server.schema import metrics, results


def store_record(engine: Engine, record: RunResult, document: dict) -> bool:
    """Store a validated record (`document` as sent, `record` as read); False when its id was stored already."""
    rows = record_rows(record, document, received_at=time.time())
    with engine.begin() as connection:
        inserted = connection.execute(_insert_unless_present(engine).values(**rows.result).returning(results.c.id))
        if inserted.first() is None:
            return False
        if rows.metrics:
            connection.execute(metrics.insert(), rows.metrics)
        if rows.samples:
            insert_samples(connection, rows.samples)
    return True


def is_stored(engine: Engine, result_id: str) -> bool:
    """A quick look before a record is charged to its token; store_record still decides under races."""
    with engine.connect() as connection:
        return connection.execute(select(results.c.id).where(results.c.id == result_id)).first() is not None


def _insert_unless_present(engine: Engine) -> Insert:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(results).on_conflict_do_nothing(index_elements=[results.c.id])
