"""The driver's own tables: progress that survives a restart, checked states, and databases of older aipep."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.store.result_store import ResultStore
from harness.store.schema import SCHEMA_VERSION
from repo_driver.builder import BuildOutcome
from repo_driver.git_follower import CommitInfo
from repo_driver.state.bisect_steps import BisectStep
from repo_driver.state.driver_state import DriverState
from repo_driver.state.queue import MAIN, CommitNotFound
from repo_driver.state.regressions import BISECTING
from repo_driver.state.runs import MAIN_LINE_ROLES

OLD_DATABASE = Path(__file__).resolve().parent / "data" / "driver_db_schema_v2.sql"
A, B, C, D, E = (letter * 40 for letter in "abcde")


def _build(status: str = "built", program: str | None = "/exec/program") -> BuildOutcome:
    return BuildOutcome("host", status, Path(program) if program else None, "log", 1.0, 2.0)


def _builds(db) -> list[tuple]:
    return db.execute(
        "SELECT c.hash, b.status, b.program FROM builds b JOIN commits c ON c.id = b.commit_id ORDER BY b.id"
    ).fetchall()


def test_the_harness_store_alone_makes_no_driver_tables_and_the_driver_adds_them(tmp_path):
    with ResultStore(tmp_path / "aipep.db") as store:
        assert not {"commits", "builds"} & set(store.db.table_names())
        DriverState(store, "repo", "microkernel")
        assert {"commits", "builds", "driver_commits", "driver_runs"} <= set(store.db.table_names())


def test_commit_progress_survives_a_restart(tmp_path):
    path = tmp_path / "aipep.db"
    with ResultStore(path) as store:
        state = DriverState(store, "repo", "microkernel")
        state.queue.add(CommitInfo(A, 10, "first"), 0, MAIN)
        state.queue.add(CommitInfo(B, 20, "second"), 1, MAIN)
        state.queue.set_state(A, "built")
        state.builds.record(A, _build())
    with ResultStore(path) as store:
        state = DriverState(store, "repo", "microkernel")
        assert state.queue.add(CommitInfo(A, 10, "first"), 0, MAIN) == "built"
        assert [commit.subject for commit in state.queue.pending()] == ["first", "second"]
        assert _builds(store.db) == [(A, "built", "/exec/program")]
        assert DriverState(store, "other-repo", "microkernel").queue.pending() == []


def test_commit_states_and_unknown_commits_are_checked(tmp_path):
    with ResultStore(tmp_path / "aipep.db") as store:
        state = DriverState(store, "repo", "fw")
        state.queue.add(CommitInfo(A, 10, "first"), 0, MAIN)
        with pytest.raises(ValueError, match="commit state"):
            state.queue.set_state(A, "finished")
        with pytest.raises(CommitNotFound):
            state.queue.set_state(B, "done")
        with pytest.raises(CommitNotFound):
            state.builds.record(B, _build())
        assert state.queue.state(A) == "queued"


def test_a_database_written_before_the_tables_moved_is_read_and_written_on(tmp_path):
    path = tmp_path / "aipep.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(OLD_DATABASE.read_text())
    with ResultStore(path) as store:
        state = DriverState(store, "repo", "microkernel")
        assert [commit.hash for commit in state.queue.pending()] == [C, D]
        assert state.queue.commit(B) == CommitInfo(B, 1001, "commit 1")
        assert state.queue.cursor() == D
        assert state.runs.has_run(A, "host", MAIN_LINE_ROLES)
        assert state.runs.previous_benchmarked(3) == B
        [regression] = state.regressions.find([BISECTING])
        assert (regression.good_hash, regression.bad_hash, regression.keys) == (A, B, [["t", "Conv latency"]])
        assert regression.estimates == {"t|Conv latency": 30.0}
        assert state.bisect_steps.of(regression.id) == [BisectStep(E, "skip", None)]
        assert _builds(store.db) == [(C, "built", "/exec/c/program")]

        state.queue.set_state(C, "benchmarking")
        state.builds.record(D, _build("failed", None))
        state.queue.add(CommitInfo("f" * 40, 1005, "new"), 5, MAIN)
        state.bisect_steps.add(regression.id, C, "good", None)
    with ResultStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        state = DriverState(store, "repo", "microkernel")
        assert [(commit.hash, state.queue.state(commit.hash)) for commit in state.queue.pending()] == [
            (C, "benchmarking"),
            (D, "queued"),
            ("f" * 40, "queued"),
        ]
        assert _builds(store.db)[-1] == (D, "failed", None)
        assert [step.hash for step in state.bisect_steps.of(1)] == [E, C]
        with pytest.raises(sqlite3.IntegrityError):  # the old CHECK on states still holds
            store.db.execute("UPDATE commits SET state = 'finished' WHERE hash = ?", [A])
