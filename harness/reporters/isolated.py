"""One reporter's failure to write stays that reporter's.

A full or read-only disk, a --db that cannot be written, or a stream that is gone used
to end the run with a traceback: the other reporters never got the result and the tests
not yet run never ran. Each reporter now takes the result on its own; a failure is one
line naming the destination, the result counts as undelivered (exit status 4), and the
run goes on. Every reporter gets the same text, escaped where UTF-8 cannot hold it.
"""

from __future__ import annotations

import sqlite3
import sys

from aipep_core.result_record import RunResult
from harness.reporters.base import Reporter
from harness.reporters.encodable_text import encodable_result
from harness.reporters.undelivered import NotWritten, Undelivered
from harness.store.connection import StoreUnwritable

WRITE_FAILURES = (OSError, sqlite3.Error, UnicodeError, StoreUnwritable)


class IsolatedReporter(Reporter):
    def __init__(self, reporter: Reporter, destination: str, undelivered: Undelivered) -> None:
        self.reporter = reporter
        self.destination = destination
        self.undelivered = undelivered

    def report(self, result: RunResult) -> None:
        result = encodable_result(result)
        try:
            self.reporter.report(result)
        except WRITE_FAILURES as error:
            reason = failure_reason(error)
            self.undelivered.not_written.append(NotWritten(self.destination, result.id, reason))
            _say(f"{self.destination}: cannot write result {result.id} ({reason}); the run goes on")

    def close(self) -> None:
        try:
            self.reporter.close()
        except WRITE_FAILURES as error:
            _say(f"{self.destination}: cannot finish writing ({failure_reason(error)})")


def failure_reason(error: BaseException) -> str:
    """The system's words (`No space left on device`), without a path the line names already."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


def _say(line: str) -> None:
    print(f"harness: {line}", file=sys.stderr, flush=True)
