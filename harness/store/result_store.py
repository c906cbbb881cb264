"""ResultStore: the one object the harness, reporters and repo driver use to reach the database.

Run ids are hex and stored in lower case, so an upper-case copy of a stored result replaces
it instead of becoming a second record; text UTF-8 cannot hold is stored escaped
(see harness.reporters.encodable_text) instead of losing the record.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from aipep_core.result_record import RunResult
from harness.reporters.encodable_text import encodable_result
from harness.store import run_rows
from harness.store.connection import StoreUnwritable, is_disk_trouble, open_database
from harness.store.schema import ensure_schema
from harness.store.transaction import write_transaction


def normal_run_id(run_id: str) -> str:
    return run_id.lower()


class RunNotFound(LookupError):
    """load_run was asked for an id the database does not hold."""


class ResultStore:
    """Results with every sample; the repo driver keeps its own tables in the same file (repo_driver.state).

    Several processes may open the same file at once; each save is one transaction,
    so a reader or a crash never sees half a run.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.db = open_database(self.path)
        try:
            ensure_schema(self.db, self.path)
        except sqlite3.Error as error:
            self.db.close()
            if is_disk_trouble(error):
                raise StoreUnwritable(f"{self.path}: cannot write the SQLite store ({error})") from None
            raise
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def save_run(self, result: RunResult) -> None:
        """Store the run, replacing an earlier save of the same id (in any case), all or nothing."""
        result = encodable_result(result)
        if result.id != normal_run_id(result.id):
            result = dataclasses.replace(result, id=normal_run_id(result.id))
        with write_transaction(self.db):
            device_id = self._device_id(result.meta.get("device"))
            self.db.execute("DELETE FROM runs WHERE id = ?", [result.id])
            self.db["runs"].insert(run_rows.run_row(result, device_id, time.time()))
            self.db["metrics"].insert_all(run_rows.metric_rows(result))
            self._insert_samples(result)
            self._insert_comparisons(result)
            self.db["logs"].insert_all(run_rows.log_rows(result))

    def load_run(self, run_id: str, *, include_logs: bool = True) -> RunResult:
        rows = list(self.db.query("SELECT * FROM runs WHERE id = ?", [normal_run_id(run_id)]))
        if not rows:
            raise RunNotFound(f"{self.path}: no run with id {run_id}")
        return self._result(rows[0], include_logs)

    def find_runs(
        self,
        model: str | None = None,
        identifier: str | None = None,
        platform: str | None = None,
        commit: str | None = None,
        limit: int | None = None,
        *,
        include_logs: bool = False,
    ) -> list[RunResult]:
        """Matching runs, newest first (by start time, or by save time for runs without one)."""
        filters = {"model": model, "identifier": identifier, "platform": platform, "commit_hash": commit}
        wanted = {column: value for column, value in filters.items() if value is not None}
        where = " AND ".join(f"{column} = :{column}" for column in wanted) or "1"
        sql = f"SELECT * FROM runs WHERE {where} ORDER BY coalesce(started, saved_at) DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            wanted["limit"] = limit
        return [self._result(row, include_logs) for row in self.db.query(sql, wanted)]

    def _device_id(self, device: Any) -> int | None:
        """The device row for a result's meta["device"]; its description is refreshed to the latest seen."""
        if not isinstance(device, dict) or device.get("platform") is None or device.get("identifier") is None:
            return None
        cursor = self.db.execute(
            "INSERT INTO devices (platform, identifier, description) VALUES (?, ?, ?)"
            " ON CONFLICT (platform, identifier) DO UPDATE SET description = excluded.description"
            " RETURNING id",
            [str(device["platform"]), str(device["identifier"]), json.dumps(device)],
        )
        return cursor.fetchone()[0]

    def _insert_samples(self, result: RunResult) -> None:
        self.db.conn.executemany(
            "INSERT INTO samples (run, key, arm, series, position, value) VALUES (?, ?, ?, ?, ?, ?)",
            run_rows.sample_rows(result),
        )

    def _insert_comparisons(self, result: RunResult) -> None:
        self.db["comparisons"].insert_all(run_rows.comparison_rows(result))

    def _result(self, run: dict[str, Any], include_logs: bool) -> RunResult:
        run_id = run["id"]
        metrics = list(self.db.query("SELECT * FROM metrics WHERE run = ?", [run_id]))
        samples = self.db.execute(
            "SELECT key, arm, series, value FROM samples WHERE run = ? ORDER BY key, arm, series, position", [run_id]
        ).fetchall()
        comparisons = dict(self.db.execute("SELECT key, document FROM comparisons WHERE run = ?", [run_id]).fetchall())
        logs = (
            dict(self.db.execute("SELECT name, text FROM logs WHERE run = ? ORDER BY rowid", [run_id]).fetchall())
            if include_logs
            else {}
        )
        return run_rows.result_from_rows(run, metrics, samples, comparisons, logs)
