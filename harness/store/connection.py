"""Opening the database file: one place decides the pragmas every connection needs.

The harness, the repo driver and the results server may hold the same file open at
once, so every connection uses WAL (readers never block the writer) and waits for a
busy writer instead of failing at once.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlite_utils

from harness.errors import UserError

BUSY_TIMEOUT_SECONDS = 60.0


def open_database(path: Path) -> sqlite_utils.Database:
    """Connect and check that the file is an SQLite database at all.

    sqlite3 opens any file lazily, so a text file or a truncated database only fails on
    the first statement; that statement runs here, where the error can name the file.
    """
    if path.is_dir():
        raise UserError(f"{path}: expected an SQLite database file, got a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise UserError(f"{path}: expected an SQLite database file, could not open it: {error}") from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _use_wal(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise UserError(f"{path}: expected an SQLite database file, got one SQLite cannot read ({error})") from None
    return sqlite_utils.Database(connection, execute_plugins=False)


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch a new file to WAL, waiting out a second process doing the same.

    The switch needs the file to itself and SQLite answers "database is locked" at once
    instead of calling the busy handler, so two processes creating one database together
    would otherwise fail; the wait is bounded by the same busy timeout as every write.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            mode = str(error)
        if mode.lower() == "wal":
            return
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(f"could not switch to WAL journal mode: {mode}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
