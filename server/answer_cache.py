"""One answer computed at most once per interval however many readers ask at once.

The open regressions rank every result's metrics, a query whose cost grows with the
history; two hundred dashboards asking together would each run it. Here the first reader
computes while the others wait for its answer, which then serves everyone for
`seconds`. A record stored by this process clears it at once (see `invalidate`), so what
this server was just sent is never hidden; records stored through another server
process on the same database show up within `seconds`. An answer computed while a record
was being stored is handed to its readers but not kept, since it may predate the record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Answer = TypeVar("Answer")


class AnswerCache(Generic[Answer]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._answer: Answer | None = None
        self._expires = 0.0
        self._generation = 0

    def get(self, compute: Callable[[], Answer]) -> Answer:
        if self.seconds <= 0:
            return compute()
        with self._lock:
            if self._answer is not None and time.monotonic() < self._expires:
                return self._answer
            generation = self._generation
            answer = compute()
            if generation == self._generation:
                self._answer, self._expires = answer, time.monotonic() + self.seconds
            return answer

    def invalidate(self) -> None:
        """Called after a record is stored; lock-free so that storing never waits for a slow computation."""
        self._generation += 1
        self._answer = None
