"""Build attempts: one row per platform and try, kept rather than replaced, so a flaky build leaves its trail."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from harness.store.transaction import write_transaction
from repo_driver.builder import BuildOutcome
from repo_driver.state.queue import CommitNotFound


@dataclass(frozen=True)
class BuildRecords:
    db: sqlite_utils.Database
    repo: str
    framework: str

    def record(self, commit_hash: str, outcome: BuildOutcome) -> None:
        with write_transaction(self.db):
            row = self.db.execute(
                "SELECT id FROM commits WHERE repo = ? AND framework = ? AND hash = ?",
                [self.repo, self.framework, commit_hash],
            ).fetchone()
            if row is None:
                raise CommitNotFound(f"commit {commit_hash} of {self.repo} ({self.framework}) is not in the database")
            self.db.execute(
                "INSERT INTO builds (commit_id, platform, status, program, log, started, ended)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    row[0],
                    outcome.platform,
                    outcome.status,
                    str(outcome.program) if outcome.program else None,
                    outcome.log,
                    outcome.started,
                    outcome.ended,
                ],
            )
