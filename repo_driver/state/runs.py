"""Which stored run played which role for the driver: baseline, benchmark, verify or bisect.

The harness's store keeps the run itself; a row here ties it to the commit, its control and
its role. A result and the state change it causes are written in one transaction (see
`save`), so a `kill -9` leaves either both or neither, and a restart neither loses a result
nor runs a commit twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from aipep_core.result_record import RunResult
from harness.store.result_store import ResultStore
from harness.store.transaction import write_transaction
from repo_driver.state.queue import MAIN

BASELINE = "baseline"
BENCHMARK = "benchmark"
VERIFY = "verify"
BISECT_RUN = "bisect"
MAIN_LINE_ROLES = (BASELINE, BENCHMARK)

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class DriverRuns:
    store: ResultStore
    repo: str
    framework: str

    def save(
        self,
        results: list[RunResult],
        *,
        platform: str,
        commit_hash: str,
        control_hash: str | None,
        role: str,
        then: Callable[[], Outcome] | None = None,
    ) -> Outcome | None:
        """Store results, their roles and whatever `then` writes, all in one transaction."""
        with write_transaction(self.store.db):
            for result in results:
                self.store.save_run(result)
                self.store.db.execute(
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

    def load(self, run_id: str) -> RunResult:
        return self.store.load_run(run_id, include_logs=False)

    def has_run(self, commit_hash: str, platform: str, roles: Iterable[str]) -> bool:
        wanted = list(roles)
        row = self.store.db.execute(
            "SELECT 1 FROM driver_runs WHERE repo = ? AND framework = ? AND hash = ? AND platform = ?"
            f" AND role IN ({', '.join('?' for _ in wanted)}) LIMIT 1",
            [self.repo, self.framework, commit_hash, platform, *wanted],
        ).fetchone()
        return row is not None

    def runs_of(self, commit_hash: str, platform: str, role: str) -> list[RunResult]:
        ids = self.store.db.execute(
            "SELECT run_id FROM driver_runs WHERE repo = ? AND framework = ? AND hash = ? AND platform = ?"
            " AND role = ? ORDER BY saved_at",
            [self.repo, self.framework, commit_hash, platform, role],
        ).fetchall()
        return [self.load(run_id) for (run_id,) in ids]

    def previous_benchmarked(self, position: int) -> str | None:
        """The newest main-line commit before `position` whose benchmark ran to the end."""
        row = self.store.db.execute(
            "SELECT d.hash FROM driver_commits d JOIN commits c"
            " ON c.repo = d.repo AND c.framework = d.framework AND c.hash = d.hash"
            " WHERE d.repo = ? AND d.framework = ? AND d.role = ? AND d.orphaned = 0 AND d.position < ?"
            " AND c.state IN ('done', 'regressed') AND EXISTS (SELECT 1 FROM driver_runs r"
            "   WHERE r.repo = d.repo AND r.framework = d.framework AND r.hash = d.hash AND r.ok = 1"
            "   AND r.role IN (?, ?))"
            " ORDER BY d.position DESC LIMIT 1",
            [self.repo, self.framework, MAIN, position, *MAIN_LINE_ROLES],
        ).fetchone()
        return row[0] if row else None

    def benchmark_history(self, platform: str) -> list[tuple[str, str | None, str]]:
        """(commit, control, run id) of successful main-line A/B benchmarks, in line order."""
        return self.store.db.execute(
            "SELECT r.hash, r.control_hash, r.run_id FROM driver_runs r JOIN driver_commits d"
            " ON d.repo = r.repo AND d.framework = r.framework AND d.hash = r.hash"
            " WHERE r.repo = ? AND r.framework = ? AND r.platform = ? AND r.role IN (?, ?) AND r.ok = 1"
            " AND d.orphaned = 0 AND d.role = ? ORDER BY d.position, r.saved_at",
            [self.repo, self.framework, platform, *MAIN_LINE_ROLES, MAIN],
        ).fetchall()
