"""Results that did not reach every destination as things stand, so the exit status can say so.

A queued result is not in this list: it waits in the outbox and a later run sends it.
These are the ones no retry of this run can fix (a refused token, a record the server
rejects or keeps failing on, a result neither queued nor delivered, a reporter that
could not write), which a CI job should notice rather than pass quietly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NotWritten:
    """One result one reporter could not write, and why."""

    destination: str
    result_id: str
    reason: str


@dataclass
class Undelivered:
    token_refused: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    not_queued: list[str] = field(default_factory=list)
    not_written: list[NotWritten] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.token_refused or self.rejected or self.quarantined or self.not_queued or self.not_written)
