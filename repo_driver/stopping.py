"""Ways to stop the service cleanly: SIGTERM/SIGINT, or the status file holding `0`.

All only set an event. The A/B runner checks it between rounds, a build in progress is
ended, and the driver checks it between commits, so a stop never leaves half a result:
the interrupted run or build is dropped and the commit runs again on the next start.

SIGINT is a person at a terminal (Ctrl-C), so it ends the process as interrupted (exit
130, as a shell reports it); SIGTERM and the status file are a service manager's normal
stop (exit 0). A second Ctrl-C does not wait for the round to end.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

STATUS_POLL_SECONDS = 0.2
EXIT_INTERRUPTED = 130


class Stopped(Exception):
    """A stop was asked for during a run or a build; what it was doing was dropped."""


class StopControl:
    def __init__(self, status_file: Path | None) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.interrupted = False
        self.status_file = status_file
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._previous_handlers: dict[int, object] = {}

    def start(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        if self.status_file is not None:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            self.status_file.write_text("1\n")
            self._watcher = threading.Thread(target=self._watch, name="status-file", daemon=True)
            self._watcher.start()

    def close(self) -> None:
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def stop(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def check(self) -> None:
        """Raise Stopped if a stop was asked for: called between commits and steps, never inside a result."""
        if self.event.is_set():
            raise Stopped()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if a stop was asked for meanwhile."""
        return self.event.wait(seconds)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGINT:
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True
        self.stop(f"got {signal.Signals(signum).name}")

    def _watch(self) -> None:
        while not self._closed.wait(STATUS_POLL_SECONDS):
            try:
                text = self.status_file.read_text().strip()
            except OSError:
                continue
            if text == "0":
                self.stop(f"{self.status_file} holds 0")
                return
