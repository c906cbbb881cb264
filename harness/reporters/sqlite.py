"""Results into the embedded database, where the repo driver and the results server read them.

A database whose disk is full or read-only when the run starts does not stop the run:
each result tries to open it again (the disk may have room by then), and a failure is
the isolating wrapper's one line per result.
"""

from __future__ import annotations

from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.result_record import RunResult
from harness.reporters.base import Reporter
from harness.store.connection import StoreUnwritable
from harness.store.result_store import ResultStore


class SqliteReporter(Reporter):
    def __init__(self, store: ResultStore | None, path: Path | None = None) -> None:
        self.store = store
        self.path = store.path if store is not None else path

    @classmethod
    def at(cls, path: Path) -> SqliteReporter:
        """Open the store now, so a path that cannot be a database is a mistake before anything runs."""
        try:
            return cls(ResultStore(path))
        except StoreUnwritable:
            return cls(None, path)
        except UserError as error:
            raise UserError(f"--db: {error}") from None

    def report(self, result: RunResult) -> None:
        if self.store is None:
            self.store = ResultStore(self.path)
        self.store.save_run(result)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
