"""Results the results server will not get as things stand, so the exit status can say so.

A queued result is not in this list: it waits in the outbox and a later run sends it.
These are the ones no retry can fix (a refused token, a record the server rejects),
which a CI job should notice rather than pass quietly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Undelivered:
    token_refused: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.token_refused or self.rejected)
