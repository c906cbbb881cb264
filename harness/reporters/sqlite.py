"""Results into the embedded database, where the repo driver and the results server read them."""

from __future__ import annotations

from harness.reporters.base import Reporter
from harness.result import RunResult
from harness.store.result_store import ResultStore


class SqliteReporter(Reporter):
    def __init__(self, store: ResultStore) -> None:
        self.store = store

    def report(self, result: RunResult) -> None:
        self.store.save_run(result)

    def close(self) -> None:
        self.store.close()
