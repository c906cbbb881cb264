"""A write transaction that takes the write lock up front.

A deferred transaction that reads before it writes cannot wait for a busy writer:
SQLite refuses the lock upgrade at once instead of calling the busy handler. Taking
the lock with BEGIN IMMEDIATE makes concurrent writers queue behind busy_timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Commit everything done inside, or nothing; inside another transaction it nests as a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
