"""Opening the database file: one place decides the pragmas every connection needs.

The harness, the repo driver and the results server may hold the same file open at
once, so every connection uses WAL (readers never block the writer) and waits for a
busy writer instead of failing at once.

Two kinds of trouble are told apart here. A path that cannot be a database (a device,
a FIFO, a directory, a file where a folder is expected, a file that is not SQLite) is
the user's mistake. A database on a disk that is full or read-only is not: callers that
can go on without the store (the harness's reporter) catch StoreUnwritable.
"""

from __future__ import annotations

import errno
import sqlite3
import stat
import time
from pathlib import Path

import sqlite_utils

from aipep_core.errors import UserError

BUSY_TIMEOUT_SECONDS = 60.0

# SQLite's primary result codes that say the disk, not the file, is the trouble.
_DISK_CODES = frozenset({sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
                         sqlite3.SQLITE_CANTOPEN})  # fmt: skip
_NOT_A_FOLDER = frozenset({errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})


class StoreUnwritable(UserError):
    """The database is fine but its disk will not take writes (full, read-only, failing)."""


def open_database(path: Path) -> sqlite_utils.Database:
    """Connect and check that the file is an SQLite database at all.

    sqlite3 opens any file lazily, so a text file or a truncated database only fails on
    the first statement; that statement runs here, where the error can name the file.
    Nothing but a regular file or a new path is opened: SQLite would put its journal
    beside anything else (a `/dev/null-journal`).
    """
    _check_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if error.errno in _NOT_A_FOLDER:
            expected = "a new path in a folder for the SQLite store"
            raise UserError(f"{path}: expected {expected} ({error.strerror})") from None
        raise StoreUnwritable(f"{path}: cannot create its folder ({error.strerror})") from None
    try:
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise _open_error(path, error, "could not open it") from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _use_wal(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise _open_error(path, error, "got one SQLite cannot read") from None
    return sqlite_utils.Database(connection, execute_plugins=False)


def is_disk_trouble(error: sqlite3.Error) -> bool:
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _DISK_CODES


def _check_path(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        if error.errno in _NOT_A_FOLDER:
            expected = "an SQLite database file or a new path in a folder"
            raise UserError(f"{path}: expected {expected} ({error.strerror})") from None
        raise StoreUnwritable(f"{path}: cannot reach it ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: expected an SQLite database file, got a directory")
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: expected an SQLite database file or a new path, got {_file_kind(mode)}")


def _open_error(path: Path, error: sqlite3.Error, what: str) -> UserError:
    if is_disk_trouble(error):
        return StoreUnwritable(f"{path}: cannot write the SQLite store ({error})")
    return UserError(f"{path}: expected an SQLite database file, {what} ({error})")


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


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
