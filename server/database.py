"""Turning a --db URL into a ready engine: one place decides drivers, pragmas and the schema check.

Users write the URLs they know (`sqlite:///results.db`, `postgresql://user@host/db`);
SQLAlchemy would pick psycopg2 for the latter, so the psycopg 3 driver is named here.
SQLite connections get WAL (the dashboard reads while results arrive) and wait for a
busy writer instead of failing, since waitress serves requests from several threads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from aipep_core.errors import UserError
from server.schema import SCHEMA_VERSION, artifacts, metadata, schema_info

BUSY_TIMEOUT_MS = 60_000

_EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
_POSTGRES_NAMES = {"postgresql", "postgres", "postgresql+psycopg"}


def open_database(url: str) -> Engine:
    """An engine on a database that holds the current schema, created when the database is empty."""
    engine = _engine(_parse(url))
    try:
        ensure_schema(engine)
    except DBAPIError as error:
        engine.dispose()
        raise UserError(f"--db {_shown(engine.url)}: {_reason(error)}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the tables in an empty database; refuse one that belongs to something else or a newer server."""
    with engine.begin() as connection:
        names = set(inspect(connection).get_table_names())
        if not names:
            metadata.create_all(connection)
            connection.execute(schema_info.insert().values(version=SCHEMA_VERSION))
            return
        where = f"--db {_shown(engine.url)}"
        if schema_info.name not in names:
            raise UserError(f"{where}: expected an empty or aipep-server database, got one with other tables")
        version = connection.execute(select(schema_info.c.version)).scalar()
        if version != SCHEMA_VERSION:
            raise UserError(f"{where}: expected schema version {SCHEMA_VERSION}, got {version}")
        artifacts.create(connection, checkfirst=True)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(f"--db: {_EXPECTED}, got {url!r}") from None
    if parsed.drivername in _POSTGRES_NAMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise UserError(f"--db: {_EXPECTED}; an in-memory SQLite database would vanish, got {url!r}")
        if Path(parsed.database).is_dir():
            raise UserError(f"--db {url}: expected an SQLite database file, got a directory")
        return parsed
    raise UserError(f"--db: {_EXPECTED}, got the {parsed.drivername!r} scheme")


def _engine(url: URL) -> Engine:
    if url.drivername == "sqlite":
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection: sqlite3.Connection, _record: object) -> None:
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")


def _shown(url: URL) -> str:
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _reason(error: DBAPIError) -> str:
    """The driver's first line: 'connection refused', 'unable to open database file' and the like."""
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
