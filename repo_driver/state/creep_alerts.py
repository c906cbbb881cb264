"""Slow-creep alerts already raised, so each level change is announced once, also across restarts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from harness.store.transaction import write_transaction


@dataclass(frozen=True)
class CreepAlerts:
    db: sqlite_utils.Database
    repo: str
    framework: str

    def add(self, platform: str, identifier: str, key: str, change_hash: str, shift_pct: float) -> bool:
        """Record an alert once; False if it was already known."""
        with write_transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO driver_creep (repo, framework, platform, identifier, key, change_hash,"
                " shift_pct, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [self.repo, self.framework, platform, identifier, key, change_hash, shift_pct, time.time()],
            )
            return cursor.rowcount > 0
