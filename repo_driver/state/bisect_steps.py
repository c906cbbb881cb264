"""The steps of each bisection, in order: a restart replays them to the same interval (see repo_driver.bisect)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from harness.store.transaction import write_transaction


@dataclass(frozen=True)
class BisectStep:
    hash: str
    outcome: str  # bisect.BAD, GOOD or SKIP
    run_id: str | None


@dataclass(frozen=True)
class BisectSteps:
    db: sqlite_utils.Database

    def add(self, regression_id: int, commit_hash: str, outcome: str, run_id: str | None) -> None:
        with write_transaction(self.db):
            step = self.db.execute(
                "SELECT count(*) FROM driver_bisect_steps WHERE regression_id = ?", [regression_id]
            ).fetchone()[0]
            self.db.execute(
                "INSERT INTO driver_bisect_steps (regression_id, step, hash, outcome, run_id) VALUES (?, ?, ?, ?, ?)",
                [regression_id, step, commit_hash, outcome, run_id],
            )

    def of(self, regression_id: int) -> list[BisectStep]:
        rows = self.db.execute(
            "SELECT hash, outcome, run_id FROM driver_bisect_steps WHERE regression_id = ? ORDER BY step",
            [regression_id],
        ).fetchall()
        return [BisectStep(*row) for row in rows]
