"""The driver's own progress, in `driver_` tables next to the shared store's tables.

The shared `commits` and `builds` tables say what state each commit is in; these tables
add what only the driver needs: where each commit sits on the followed line, which runs
played which role (baseline, benchmark, verify, bisect), the regressions being verified
or bisected, and slow-creep alerts. A result and the state change it causes are written
in one transaction, so a `kill -9` leaves either both or neither, and a restart neither
loses a result nor runs a commit twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aipep_core.result_record import RunResult
from harness.store.result_store import ResultStore
from harness.store.transaction import write_transaction
from repo_driver.git_follower import CommitInfo

MAIN = "main"
BISECT = "bisect"

BASELINE = "baseline"
BENCHMARK = "benchmark"
VERIFY = "verify"
BISECT_RUN = "bisect"

VERIFYING = "verifying"
BISECTING = "bisecting"
CONFIRMED = "confirmed"
NOT_CONFIRMED = "not_confirmed"
ABANDONED = "abandoned"
OPEN_REGRESSION_STATES = (VERIFYING, BISECTING)

_TABLES = """
CREATE TABLE IF NOT EXISTS driver_commits (
    repo TEXT NOT NULL, framework TEXT NOT NULL, hash TEXT NOT NULL,
    position INTEGER NOT NULL, role TEXT NOT NULL, orphaned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, framework, hash)
);
CREATE TABLE IF NOT EXISTS driver_cursor (
    repo TEXT NOT NULL, framework TEXT NOT NULL, last_hash TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (repo, framework)
);
CREATE TABLE IF NOT EXISTS driver_runs (
    run_id TEXT PRIMARY KEY, repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL,
    hash TEXT NOT NULL, control_hash TEXT, role TEXT NOT NULL, ok INTEGER NOT NULL, saved_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS driver_runs_by_commit ON driver_runs (repo, framework, hash, platform, role);
CREATE TABLE IF NOT EXISTS driver_regressions (
    id INTEGER PRIMARY KEY, repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL,
    good_hash TEXT NOT NULL, bad_hash TEXT NOT NULL, state TEXT NOT NULL, keys TEXT NOT NULL,
    culprit_hash TEXT, estimates TEXT, opened_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS driver_bisect_steps (
    regression_id INTEGER NOT NULL REFERENCES driver_regressions (id), step INTEGER NOT NULL,
    hash TEXT NOT NULL, outcome TEXT NOT NULL, run_id TEXT,
    PRIMARY KEY (regression_id, step)
);
CREATE TABLE IF NOT EXISTS driver_creep (
    repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL, identifier TEXT NOT NULL,
    key TEXT NOT NULL, change_hash TEXT NOT NULL, shift_pct REAL NOT NULL, detected_at REAL NOT NULL,
    PRIMARY KEY (repo, framework, platform, identifier, key, change_hash)
);
"""


@dataclass(frozen=True)
class Regression:
    id: int
    platform: str
    good_hash: str
    bad_hash: str
    state: str
    keys: list[list[str]]  # [identifier, metric key] pairs that regressed
    culprit_hash: str | None
    estimates: dict[str, float]  # "identifier|key" -> percent


@dataclass(frozen=True)
class BisectStep:
    hash: str
    outcome: str  # bisect.BAD, GOOD or SKIP
    run_id: str | None


class DriverState:
    """One connection's view of the driver's progress for one (repository, framework)."""

    def __init__(self, store: ResultStore, repo: str, framework: str) -> None:
        self.store = store
        self.db = store.db
        self.repo = repo
        self.framework = framework
        with write_transaction(self.db):
            for statement in _TABLES.split(";"):
                if statement.strip():
                    self.db.execute(statement)

    # -- commits -----------------------------------------------------------------------

    def add_commit(self, commit: CommitInfo, position: int, role: str) -> str:
        """Record a commit on the line; a known one keeps its state and role. Returns its state."""
        with write_transaction(self.db):
            record = self.store.upsert_commit(
                self.repo, self.framework, commit.hash, commit.commit_time, commit.subject
            )
            self.db.execute(
                "INSERT INTO driver_commits (repo, framework, hash, position, role) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (repo, framework, hash) DO UPDATE SET position = excluded.position, orphaned = 0",
                [self.repo, self.framework, commit.hash, position, role],
            )
            return record.state

    def commit(self, commit_hash: str) -> CommitInfo | None:
        record = self.store.get_commit(self.repo, self.framework, commit_hash)
        if record is None:
            return None
        return CommitInfo(record.hash, int(record.commit_time or 0), record.subject or "")

    def state(self, commit_hash: str) -> str | None:
        record = self.store.get_commit(self.repo, self.framework, commit_hash)
        return None if record is None else record.state

    def set_state(self, commit_hash: str, state: str) -> None:
        self.store.set_commit_state(self.repo, self.framework, commit_hash, state)

    def pending(self) -> list[CommitInfo]:
        """Main-line commits not finished yet, in line order."""
        rows = self.db.execute(
            "SELECT c.hash, c.commit_time, c.subject FROM commits c JOIN driver_commits d"
            " ON d.repo = c.repo AND d.framework = c.framework AND d.hash = c.hash"
            " WHERE c.repo = ? AND c.framework = ? AND d.role = ? AND d.orphaned = 0"
            " AND c.state IN ('queued', 'building', 'built', 'benchmarking') ORDER BY d.position",
            [self.repo, self.framework, MAIN],
        ).fetchall()
        return [CommitInfo(h, int(t or 0), s or "") for h, t, s in rows]

    def known_on_line(self) -> list[tuple[str, int]]:
        """(hash, position) of every commit recorded and not orphaned, in line order."""
        return self.db.execute(
            "SELECT hash, position FROM driver_commits WHERE repo = ? AND framework = ? AND orphaned = 0"
            " ORDER BY position",
            [self.repo, self.framework],
        ).fetchall()

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
                self.db.execute(
                    "UPDATE driver_regressions SET state = ?, updated_at = ? WHERE repo = ? AND framework = ?"
                    " AND state IN (?, ?) AND (good_hash = ? OR bad_hash = ?)",
                    [ABANDONED, time.time(), self.repo, self.framework, *OPEN_REGRESSION_STATES]
                    + [commit_hash, commit_hash],
                )

    def reset_interrupted_builds(self) -> None:
        """A build a `kill -9` cut short starts again; its half-written output never reached the cache."""
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE commits SET state = 'queued', updated_at = ? WHERE repo = ? AND framework = ?"
                " AND state = 'building'",
                [time.time(), self.repo, self.framework],
            )

    def previous_benchmarked(self, position: int) -> str | None:
        """The newest main-line commit before `position` whose benchmark ran to the end."""
        row = self.db.execute(
            "SELECT d.hash FROM driver_commits d JOIN commits c"
            " ON c.repo = d.repo AND c.framework = d.framework AND c.hash = d.hash"
            " WHERE d.repo = ? AND d.framework = ? AND d.role = ? AND d.orphaned = 0 AND d.position < ?"
            " AND c.state IN ('done', 'regressed') AND EXISTS (SELECT 1 FROM driver_runs r"
            "   WHERE r.repo = d.repo AND r.framework = d.framework AND r.hash = d.hash AND r.ok = 1"
            "   AND r.role IN (?, ?))"
            " ORDER BY d.position DESC LIMIT 1",
            [self.repo, self.framework, MAIN, position, BASELINE, BENCHMARK],
        ).fetchone()
        return row[0] if row else None

    def position(self, commit_hash: str) -> int | None:
        row = self.db.execute(
            "SELECT position FROM driver_commits WHERE repo = ? AND framework = ? AND hash = ?",
            [self.repo, self.framework, commit_hash],
        ).fetchone()
        return row[0] if row else None

    # -- cursor ------------------------------------------------------------------------

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

    # -- runs --------------------------------------------------------------------------

    def has_run(self, commit_hash: str, platform: str, roles: Iterable[str]) -> bool:
        wanted = list(roles)
        marks = ", ".join("?" for _ in wanted)
        row = self.db.execute(
            f"SELECT 1 FROM driver_runs WHERE repo = ? AND framework = ? AND hash = ? AND platform = ?"
            f" AND role IN ({marks}) LIMIT 1",
            [self.repo, self.framework, commit_hash, platform, *wanted],
        ).fetchone()
        return row is not None

    def runs_of(self, commit_hash: str, platform: str, role: str) -> list[RunResult]:
        ids = self.db.execute(
            "SELECT run_id FROM driver_runs WHERE repo = ? AND framework = ? AND hash = ? AND platform = ?"
            " AND role = ? ORDER BY saved_at",
            [self.repo, self.framework, commit_hash, platform, role],
        ).fetchall()
        return [self.store.load_run(run_id, include_logs=False) for (run_id,) in ids]

    def save_results(
        self,
        results: list[RunResult],
        *,
        platform: str,
        commit_hash: str,
        control_hash: str | None,
        role: str,
        then: Callable[[], Any] | None = None,
    ) -> Any:
        """Store results, their roles and whatever `then` writes, all in one transaction."""
        with write_transaction(self.db):
            for result in results:
                result.meta["driver_role"] = role
                self.store.save_run(result)
                self.db.execute(
                    "INSERT INTO driver_runs (run_id, repo, framework, platform, hash, control_hash, role, ok,"
                    " saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        result.id,
                        self.repo,
                        self.framework,
                        platform,
                        commit_hash,
                        control_hash,
                        role,
                        int(result.ok),
                        time.time(),
                    ],
                )
            return then() if then is not None else None

    # -- regressions -------------------------------------------------------------------

    def open_regression(
        self, platform: str, good_hash: str, bad_hash: str, keys: list[list[str]], estimates: dict[str, float]
    ) -> int:
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO driver_regressions (repo, framework, platform, good_hash, bad_hash, state, keys,"
            " estimates, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.repo,
                self.framework,
                platform,
                good_hash,
                bad_hash,
                VERIFYING,
                json.dumps(keys),
                json.dumps(estimates),
                now,
                now,
            ],
        )
        return cursor.lastrowid

    def update_regression(
        self,
        regression_id: int,
        state: str,
        *,
        keys: list[list[str]] | None = None,
        culprit_hash: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> None:
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE driver_regressions SET state = ?, updated_at = ?, keys = coalesce(?, keys),"
                " culprit_hash = coalesce(?, culprit_hash), estimates = coalesce(?, estimates) WHERE id = ?",
                [
                    state,
                    time.time(),
                    None if keys is None else json.dumps(keys),
                    culprit_hash,
                    None if estimates is None else json.dumps(estimates),
                    regression_id,
                ],
            )

    def regressions(self, states: Iterable[str] | None = None, platform: str | None = None) -> list[Regression]:
        sql = "SELECT * FROM driver_regressions WHERE repo = ? AND framework = ?"
        params: list[Any] = [self.repo, self.framework]
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        if platform is not None:
            sql += " AND platform = ?"
            params.append(platform)
        return [_regression(row) for row in self.db.query(sql + " ORDER BY id", params)]

    def add_bisect_step(self, regression_id: int, commit_hash: str, outcome: str, run_id: str | None) -> None:
        step = self.db.execute(
            "SELECT count(*) FROM driver_bisect_steps WHERE regression_id = ?", [regression_id]
        ).fetchone()[0]
        self.db.execute(
            "INSERT INTO driver_bisect_steps (regression_id, step, hash, outcome, run_id) VALUES (?, ?, ?, ?, ?)",
            [regression_id, step, commit_hash, outcome, run_id],
        )

    def bisect_steps(self, regression_id: int) -> list[BisectStep]:
        rows = self.db.execute(
            "SELECT hash, outcome, run_id FROM driver_bisect_steps WHERE regression_id = ? ORDER BY step",
            [regression_id],
        ).fetchall()
        return [BisectStep(*row) for row in rows]

    # -- creep -------------------------------------------------------------------------

    def benchmark_history(self, platform: str) -> list[tuple[str, str | None, str]]:
        """(commit, control, run id) of successful main-line A/B benchmarks, in line order."""
        return self.db.execute(
            "SELECT r.hash, r.control_hash, r.run_id FROM driver_runs r JOIN driver_commits d"
            " ON d.repo = r.repo AND d.framework = r.framework AND d.hash = r.hash"
            " WHERE r.repo = ? AND r.framework = ? AND r.platform = ? AND r.role IN (?, ?) AND r.ok = 1"
            " AND d.orphaned = 0 AND d.role = ? ORDER BY d.position, r.saved_at",
            [self.repo, self.framework, platform, BASELINE, BENCHMARK, MAIN],
        ).fetchall()

    def add_creep(self, platform: str, identifier: str, key: str, change_hash: str, shift_pct: float) -> bool:
        """Record an alert once; False if it was already known."""
        with write_transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO driver_creep (repo, framework, platform, identifier, key, change_hash,"
                " shift_pct, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [self.repo, self.framework, platform, identifier, key, change_hash, shift_pct, time.time()],
            )
            return cursor.rowcount > 0

    def creep_alerts(self) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT * FROM driver_creep WHERE repo = ? AND framework = ? ORDER BY detected_at",
                [self.repo, self.framework],
            )
        )


def _regression(row: dict[str, Any]) -> Regression:
    return Regression(
        id=row["id"],
        platform=row["platform"],
        good_hash=row["good_hash"],
        bad_hash=row["bad_hash"],
        state=row["state"],
        keys=json.loads(row["keys"]),
        culprit_hash=row["culprit_hash"],
        estimates=json.loads(row["estimates"]) if row["estimates"] else {},
    )
