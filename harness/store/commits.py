"""The repo driver's progress: which commits it has seen, built and benchmarked.

Kept in the same database as the results so a restarted driver resumes from the
states it wrote and a commit is never benchmarked twice by accident.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlite_utils

from harness.store.schema import COMMIT_STATES
from harness.store.transaction import write_transaction


@dataclass(frozen=True)
class CommitRecord:
    id: int
    repo: str
    framework: str
    hash: str
    commit_time: float | None
    subject: str | None
    state: str
    updated_at: float


@dataclass(frozen=True)
class BuildRecord:
    id: int
    commit_id: int
    platform: str
    status: str
    program: str | None
    log: str | None
    started: float | None
    ended: float | None


_COMMIT_COLUMNS = ", ".join(f"commits.{field.name}" for field in fields(CommitRecord))
_BUILD_COLUMNS = ", ".join(f"builds.{field.name}" for field in fields(BuildRecord))


class CommitNotFound(LookupError):
    """A state change or build for a commit that upsert_commit never recorded: a driver bug."""


def _check_state(state: str) -> None:
    if state not in COMMIT_STATES:
        raise ValueError(f"commit state: expected one of {', '.join(COMMIT_STATES)}, got {state!r}")


def upsert_commit(
    db: sqlite_utils.Database,
    repo: str,
    framework: str,
    commit_hash: str,
    commit_time: float | None = None,
    subject: str | None = None,
    state: str = "queued",
) -> CommitRecord:
    """Record a commit the driver has seen; a known commit keeps its state, so polling never resets progress."""
    _check_state(state)
    with write_transaction(db):
        db.execute(
            "INSERT INTO commits (repo, framework, hash, commit_time, subject, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (repo, framework, hash) DO UPDATE SET"
            " commit_time = coalesce(excluded.commit_time, commit_time),"
            " subject = coalesce(excluded.subject, subject)",
            [repo, framework, commit_hash, commit_time, subject, state, time.time()],
        )
        return _get(db, repo, framework, commit_hash)


def set_commit_state(
    db: sqlite_utils.Database, repo: str, framework: str, commit_hash: str, state: str
) -> CommitRecord:
    _check_state(state)
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE commits SET state = ?, updated_at = ? WHERE repo = ? AND framework = ? AND hash = ?",
            [state, time.time(), repo, framework, commit_hash],
        )
        if cursor.rowcount == 0:
            raise CommitNotFound(f"commit {commit_hash} of {repo} ({framework}) is not in the database")
        return _get(db, repo, framework, commit_hash)


def get_commit(db: sqlite_utils.Database, repo: str, framework: str, commit_hash: str) -> CommitRecord | None:
    rows = db.execute(
        f"SELECT {_COMMIT_COLUMNS} FROM commits WHERE repo = ? AND framework = ? AND hash = ?",
        [repo, framework, commit_hash],
    ).fetchall()
    return CommitRecord(*rows[0]) if rows else None


def commits_in_state(
    db: sqlite_utils.Database,
    repo: str,
    framework: str,
    states: str | Iterable[str],
    *,
    newest_first: bool = False,
) -> list[CommitRecord]:
    """Ordered by commit time, oldest first by default so history is processed in the order it was written."""
    wanted = [states] if isinstance(states, str) else list(states)
    for state in wanted:
        _check_state(state)
    order = "DESC" if newest_first else "ASC"
    marks = ", ".join("?" for _ in wanted)
    rows = db.execute(
        f"SELECT {_COMMIT_COLUMNS} FROM commits WHERE repo = ? AND framework = ? AND state IN ({marks})"
        f" ORDER BY commit_time {order}, id {order}",
        [repo, framework, *wanted],
    ).fetchall()
    return [CommitRecord(*row) for row in rows]


def record_build(
    db: sqlite_utils.Database,
    repo: str,
    framework: str,
    commit_hash: str,
    platform: str,
    status: str,
    program: str | None = None,
    log: str | None = None,
    started: float | None = None,
    ended: float | None = None,
) -> BuildRecord:
    """Append one build attempt; attempts are kept, not replaced, so a flaky build leaves its trail."""
    with write_transaction(db):
        commit = _get(db, repo, framework, commit_hash)
        cursor = db.execute(
            "INSERT INTO builds (commit_id, platform, status, program, log, started, ended)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [commit.id, platform, status, program, log, started, ended],
        )
        return BuildRecord(cursor.lastrowid, commit.id, platform, status, program, log, started, ended)


def latest_build(
    db: sqlite_utils.Database, repo: str, framework: str, commit_hash: str, platform: str
) -> BuildRecord | None:
    rows = db.execute(
        f"SELECT {_BUILD_COLUMNS} FROM builds JOIN commits ON commits.id = builds.commit_id"
        " WHERE commits.repo = ? AND commits.framework = ? AND commits.hash = ? AND builds.platform = ?"
        " ORDER BY builds.id DESC LIMIT 1",
        [repo, framework, commit_hash, platform],
    ).fetchall()
    return BuildRecord(*rows[0]) if rows else None


def _get(db: sqlite_utils.Database, repo: str, framework: str, commit_hash: str) -> CommitRecord:
    commit = get_commit(db, repo, framework, commit_hash)
    if commit is None:
        raise CommitNotFound(f"commit {commit_hash} of {repo} ({framework}) is not in the database")
    return commit
