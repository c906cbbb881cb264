"""The driver's tables, created idempotently next to the harness's.

`commits` and `builds` keep the definitions they had when the harness's store created
them, so a database written by an older aipep is used as it is, without a migration.
"""

from __future__ import annotations

import sqlite_utils

from harness.store.transaction import write_transaction

COMMIT_STATES = ("queued", "building", "built", "build_failed", "benchmarking", "done", "regressed")

_STATE_CHECK = ", ".join(f"'{state}'" for state in COMMIT_STATES)

TABLES = f"""
CREATE TABLE IF NOT EXISTS commits (
    id INTEGER PRIMARY KEY,
    repo TEXT NOT NULL,
    framework TEXT NOT NULL,
    hash TEXT NOT NULL,
    commit_time REAL,
    subject TEXT,
    state TEXT NOT NULL CHECK (state IN ({_STATE_CHECK})),
    updated_at REAL NOT NULL,
    UNIQUE (repo, framework, hash)
);
CREATE INDEX IF NOT EXISTS commits_by_state ON commits (repo, framework, state, commit_time);
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY,
    commit_id INTEGER NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    status TEXT NOT NULL,
    program TEXT,
    log TEXT,
    started REAL,
    ended REAL
);
CREATE INDEX IF NOT EXISTS builds_by_commit ON builds (commit_id, platform);
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


def create_tables(db: sqlite_utils.Database) -> None:
    with write_transaction(db):
        for statement in TABLES.split(";"):
            if statement.strip():
                db.execute(statement)
