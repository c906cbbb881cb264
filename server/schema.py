"""The server's tables, one definition for SQLite and PostgreSQL.

A result is kept three ways, each for a different reader: the document exactly as it
arrived (what the API hands back), one `metrics` row per (type, metric) with the
figures a chart or a comparison table needs, and one `samples` row per measured
value so history questions can be asked in SQL. Queries never parse the document.

Samples are by far the most rows, so their table carries only its primary key: on
SQLite it is the table itself (WITHOUT ROWID), and no foreign key to `metrics` is
checked row by row, since ingest writes a record's metrics and samples in one
transaction anyway.

`results_for_series` serves the chart query: it finds one test's results on one device in
commit order without touching other tests; each result's metric row is then one
primary-key probe, so the chart costs the same however many samples are stored.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 1

metadata = MetaData()

schema_info = Table(
    "schema_info",
    metadata,
    Column("version", Integer, nullable=False),
)

results = Table(
    "results",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("model", Text, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("platform", Text, nullable=False),
    Column("device", Text),
    Column("framework", Text),
    Column("commit_hash", Text),
    Column("commit_time", Float),
    Column("control_commit_hash", Text),
    Column("run_type", Text),
    Column("status", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("document", Text, nullable=False),
    Index("results_for_series", "model", "identifier", "platform", "device", "commit_time", "received_at"),
    Index("results_newest_first", "commit_time", "received_at"),
    Index("results_by_commit", "commit_hash"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("result_id", String(128), nullable=False),
    Column("key", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("p10", Float),
    Column("p50", Float),
    Column("p90", Float),
    Column("control_p50", Float),
    Column("estimate_pct", Float),
    Column("ci_low_pct", Float),
    Column("ci_high_pct", Float),
    Column("p_value", Float),
    Column("q_value", Float),
    Column("verdict", Text),
    Column("rounds", Integer),
    PrimaryKeyConstraint("result_id", "key"),
    ForeignKeyConstraint(["result_id"], ["results.id"], ondelete="CASCADE"),
    Index("metrics_by_key", "key"),
)

samples = Table(
    "samples",
    metadata,
    Column("result_id", String(128), nullable=False),
    Column("key", Text, nullable=False),
    Column("arm", String(16), nullable=False),
    Column("series", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("result_id", "key", "arm", "series", "position"),
    sqlite_with_rowid=False,
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Index(
        "one_active_token_per_name",
        "name",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

# Files a lab job needs, by the md5 of their bytes (artifacts.py). Added after version 1 without
# changing any other table, so a database made before it gets it when the server opens it.
artifacts = Table(
    "artifacts",
    metadata,
    Column("md5", String(32), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", Float, nullable=False),
)
