"""Builds running ahead of benchmarking, in a thread, handing commits over in line order.

Building the next commits while the current one is measured is what lets the service
keep up with a busy repository; `--same_host` turns it off where a build would disturb
the measurement. The thread has its own database connection (SQLite connections are not
shared across threads) and stops after the build in progress when asked.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from repo_driver.git_follower import CommitInfo

_END = object()


class BuildAhead:
    def __init__(
        self,
        commits: list[CommitInfo],
        build: Callable[[Any, CommitInfo], bool],
        open_worker: Callable[[], AbstractContextManager[Any]],
    ) -> None:
        """`open_worker()` runs in the thread; what it yields is passed to every `build(worker, commit)`."""
        self._commits = commits
        self._open_worker = open_worker
        self._build = build
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name="builder", daemon=True)

    def __iter__(self) -> Iterator[tuple[CommitInfo, bool]]:
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._cancel.set()
            self._thread.join()

    def _work(self) -> None:
        try:
            with self._open_worker() as worker:
                for commit in self._commits:
                    if self._cancel.is_set():
                        break
                    self._queue.put((commit, self._build(worker, commit)))
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._queue.put(error)
        finally:
            self._queue.put(_END)
