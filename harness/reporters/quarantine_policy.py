"""When a result the server keeps failing on stops being sent.

A server that answers 500 to one record every time (a character its database refuses,
a bug in its ingest) would otherwise keep that record at the head of the queue forever.
Such a record goes behind the others and is tried once per run; it is moved to
quarantine only after failures in several runs spread over a while, and only in a run
in which the server took other results, which is what shows that the record, not the
server, is the trouble.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.reporters.outbox import Failures


@dataclass(frozen=True)
class QuarantinePolicy:
    attempts: int = 5
    span_seconds: float = 30 * 60.0

    def gives_up(self, failures: Failures) -> bool:
        return failures.count >= self.attempts and failures.last - failures.first >= self.span_seconds
