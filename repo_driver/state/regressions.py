"""Regressions the driver found: opened by a benchmark, then verified, bisected, confirmed or dropped.

Which (test, metric) pairs regressed and by how much are kept as JSON: a verify run may
confirm only some of the pairs, and the sizes are refined as runs are added.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from harness.store.transaction import write_transaction

VERIFYING = "verifying"
BISECTING = "bisecting"
CONFIRMED = "confirmed"
NOT_CONFIRMED = "not_confirmed"
ABANDONED = "abandoned"
OPEN_REGRESSION_STATES = (VERIFYING, BISECTING)


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
class Regressions:
    db: sqlite_utils.Database
    repo: str
    framework: str

    def open(
        self, platform: str, good_hash: str, bad_hash: str, keys: list[list[str]], estimates: dict[str, float]
    ) -> int:
        now = time.time()
        with write_transaction(self.db):
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

    def update(
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

    def abandon_touching(self, hashes: Iterable[str]) -> None:
        """Open regressions whose good or bad end left the branch can be neither verified nor bisected."""
        with write_transaction(self.db):
            for commit_hash in hashes:
                self.db.execute(
                    "UPDATE driver_regressions SET state = ?, updated_at = ? WHERE repo = ? AND framework = ?"
                    " AND state IN (?, ?) AND (good_hash = ? OR bad_hash = ?)",
                    [ABANDONED, time.time(), self.repo, self.framework, *OPEN_REGRESSION_STATES]
                    + [commit_hash, commit_hash],
                )

    def get(self, regression_id: int) -> Regression:
        [row] = self.db.query("SELECT * FROM driver_regressions WHERE id = ?", [regression_id])
        return _regression(row)

    def find(self, states: Iterable[str] | None = None, platform: str | None = None) -> list[Regression]:
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
