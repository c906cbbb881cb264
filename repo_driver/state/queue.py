"""The queue of commits: which commits of the followed line are known, and how far each has come.

A commit's state (`commits`) says what happened to it; its place on the line and its role
(`driver_commits`) say why it is there: the main line, or a commit bisection needed. The
cursor is the newest main-line commit taken, so a restart queues only what came after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from harness.store.transaction import write_transaction
from repo_driver.git_follower import CommitInfo
from repo_driver.state.tables import COMMIT_STATES

MAIN = "main"
BISECT = "bisect"
UNFINISHED = ("queued", "building", "built", "benchmarking")


class CommitNotFound(LookupError):
    """A state change or build for a commit the queue never recorded: a driver bug."""


@dataclass(frozen=True)
class CommitQueue:
    db: sqlite_utils.Database
    repo: str
    framework: str

    def add(self, commit: CommitInfo, position: int, role: str) -> str:
        """Record a commit on the line; a known one keeps its state and role, so polling never resets progress.

        Returns its state."""
        with write_transaction(self.db):
            self.db.execute(
                "INSERT INTO commits (repo, framework, hash, commit_time, subject, state, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?) ON CONFLICT (repo, framework, hash) DO UPDATE SET"
                " commit_time = coalesce(excluded.commit_time, commit_time),"
                " subject = coalesce(excluded.subject, subject)",
                [self.repo, self.framework, commit.hash, commit.commit_time, commit.subject, time.time()],
            )
            self.db.execute(
                "INSERT INTO driver_commits (repo, framework, hash, position, role) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (repo, framework, hash) DO UPDATE SET position = excluded.position, orphaned = 0",
                [self.repo, self.framework, commit.hash, position, role],
            )
            return self.state(commit.hash)

    def commit(self, commit_hash: str) -> CommitInfo | None:
        row = self.db.execute(
            "SELECT hash, commit_time, subject FROM commits WHERE repo = ? AND framework = ? AND hash = ?",
            [self.repo, self.framework, commit_hash],
        ).fetchone()
        return None if row is None else CommitInfo(row[0], int(row[1] or 0), row[2] or "")

    def state(self, commit_hash: str) -> str | None:
        row = self.db.execute(
            "SELECT state FROM commits WHERE repo = ? AND framework = ? AND hash = ?",
            [self.repo, self.framework, commit_hash],
        ).fetchone()
        return None if row is None else row[0]

    def set_state(self, commit_hash: str, state: str) -> None:
        if state not in COMMIT_STATES:
            raise ValueError(f"commit state: expected one of {', '.join(COMMIT_STATES)}, got {state!r}")
        with write_transaction(self.db):
            cursor = self.db.execute(
                "UPDATE commits SET state = ?, updated_at = ? WHERE repo = ? AND framework = ? AND hash = ?",
                [state, time.time(), self.repo, self.framework, commit_hash],
            )
        if cursor.rowcount == 0:
            raise CommitNotFound(f"commit {commit_hash} of {self.repo} ({self.framework}) is not in the database")

    def pending(self) -> list[CommitInfo]:
        """Main-line commits not finished yet, in line order."""
        rows = self.db.execute(
            "SELECT c.hash, c.commit_time, c.subject FROM commits c JOIN driver_commits d"
            " ON d.repo = c.repo AND d.framework = c.framework AND d.hash = c.hash"
            " WHERE c.repo = ? AND c.framework = ? AND d.role = ? AND d.orphaned = 0"
            f" AND c.state IN ({', '.join('?' for _ in UNFINISHED)}) ORDER BY d.position",
            [self.repo, self.framework, MAIN, *UNFINISHED],
        ).fetchall()
        return [CommitInfo(h, int(t or 0), s or "") for h, t, s in rows]

    def known_on_line(self) -> list[str]:
        """Every commit recorded and not orphaned, in line order."""
        rows = self.db.execute(
            "SELECT hash FROM driver_commits WHERE repo = ? AND framework = ? AND orphaned = 0 ORDER BY position",
            [self.repo, self.framework],
        ).fetchall()
        return [commit_hash for (commit_hash,) in rows]

    def position(self, commit_hash: str) -> int | None:
        row = self.db.execute(
            "SELECT position FROM driver_commits WHERE repo = ? AND framework = ? AND hash = ?",
            [self.repo, self.framework, commit_hash],
        ).fetchone()
        return row[0] if row else None

    def orphan(self, hashes: Iterable[str]) -> None:
        """Commits a force-push removed: unbenchmarked ones leave the queue, benchmarked ones keep their results."""
        with write_transaction(self.db):
            for commit_hash in hashes:
                self.db.execute(
                    "UPDATE driver_commits SET orphaned = 1 WHERE repo = ? AND framework = ? AND hash = ?",
                    [self.repo, self.framework, commit_hash],
                )
                self.db.execute(
                    "DELETE FROM commits WHERE repo = ? AND framework = ? AND hash = ?"
                    " AND state IN ('queued', 'building', 'built')",
                    [self.repo, self.framework, commit_hash],
                )

    def requeue_interrupted_builds(self) -> None:
        """A build a `kill -9` cut short starts again; its half-written output never reached the cache."""
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE commits SET state = 'queued', updated_at = ? WHERE repo = ? AND framework = ?"
                " AND state = 'building'",
                [time.time(), self.repo, self.framework],
            )

    def cursor(self) -> str | None:
        row = self.db.execute(
            "SELECT last_hash FROM driver_cursor WHERE repo = ? AND framework = ?", [self.repo, self.framework]
        ).fetchone()
        return row[0] if row else None

    def set_cursor(self, commit_hash: str) -> None:
        with write_transaction(self.db):
            self.db.execute(
                "INSERT INTO driver_cursor (repo, framework, last_hash, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (repo, framework) DO UPDATE SET last_hash = excluded.last_hash,"
                " updated_at = excluded.updated_at",
                [self.repo, self.framework, commit_hash, time.time()],
            )
