"""The tables, created idempotently; `PRAGMA user_version` records which schema a file has.

A run is stored normalised so SQL can answer history questions without parsing JSON:
one `runs` row, one `metrics` row per (type, metric) with its summaries, one `samples`
row per measured value, one `comparisons` row per compared metric. Summaries and the
comparison itself are also kept as JSON because their key sets are open (an error
comparison carries a tolerance, a latency one an interval) and the stored result must
read back exactly as it was reported.

`verdicts` is a view: a metric's verdict is a field of its comparison, so a second
table could only drift from it. The repo driver adds its own tables (commits, builds and
its progress) to the same file and creates them itself.
"""

from __future__ import annotations

import sqlite_utils

from aipep_core.errors import UserError
from harness.store.transaction import write_transaction

SCHEMA_VERSION = 2

# What turns a file of version N - 1 into version N; a file is brought up step by step.
MIGRATIONS = {
    2: ("ALTER TABLE metrics ADD COLUMN op_type TEXT",),
}

TABLES = """
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    identifier TEXT NOT NULL,
    description TEXT NOT NULL,
    UNIQUE (platform, identifier)
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    failure TEXT,
    model TEXT,
    identifier TEXT,
    platform TEXT,
    device_id INTEGER REFERENCES devices (id),
    framework TEXT,
    commit_hash TEXT,
    control_commit_hash TEXT,
    run_type TEXT,
    started REAL,
    ended REAL,
    saved_at REAL NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_test ON runs (model, identifier, platform, commit_hash);
CREATE TABLE IF NOT EXISTS metrics (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    type TEXT NOT NULL,
    metric TEXT NOT NULL,
    unit TEXT NOT NULL,
    num_runs INTEGER NOT NULL,
    from_tool_summary INTEGER NOT NULL,
    op_type TEXT,
    summary TEXT NOT NULL,
    control_summary TEXT,
    diff_summary TEXT,
    values_count INTEGER NOT NULL,
    control_values_count INTEGER,
    round_values_count INTEGER,
    control_round_values_count INTEGER,
    PRIMARY KEY (run, key)
);
CREATE TABLE IF NOT EXISTS samples (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    arm TEXT NOT NULL CHECK (arm IN ('treatment', 'control')),
    series TEXT NOT NULL CHECK (series IN ('iteration', 'round')),
    position INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run, key, arm, series, position),
    FOREIGN KEY (run, key) REFERENCES metrics (run, key) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS comparisons (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    estimate_pct REAL,
    ci_low_pct REAL,
    ci_high_pct REAL,
    p_value REAL,
    q_value REAL,
    rounds INTEGER,
    verdict TEXT,
    document TEXT NOT NULL,
    PRIMARY KEY (run, key),
    FOREIGN KEY (run, key) REFERENCES metrics (run, key) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS logs (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (run, name)
);
CREATE VIEW IF NOT EXISTS verdicts AS
    SELECT runs.id AS run, runs.model, runs.identifier, runs.platform, runs.framework,
           runs.commit_hash, runs.control_commit_hash, runs.run_type, runs.started,
           comparisons.key, comparisons.estimate_pct, comparisons.ci_low_pct, comparisons.ci_high_pct,
           comparisons.p_value, comparisons.q_value, comparisons.rounds, comparisons.verdict
    FROM comparisons JOIN runs ON runs.id = comparisons.run;
"""


def ensure_schema(db: sqlite_utils.Database, path: object) -> None:
    """Create what is missing, migrate older aipep files; refuse files of something else or of a newer aipep.

    The common case, an up-to-date file, is settled by one read without taking the write lock.
    """
    if _version(db) == SCHEMA_VERSION:
        return
    with write_transaction(db):
        version = _version(db)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise UserError(
                f"{path}: expected an aipep database of schema version {SCHEMA_VERSION} or older, got {version}"
            )
        if version > 0:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
        elif db.table_names():
            raise UserError(f"{path}: expected an empty or aipep SQLite database, got one with other tables")
        else:
            for statement in TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]
