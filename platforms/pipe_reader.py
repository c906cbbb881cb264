"""Reading a program's stdout and stderr pipes while it runs, without ever waiting on an orphan.

Output is read as it comes into bounded captures, so the pipes never fill (a program
blocked on a full pipe would stall its own timing) and memory stays bounded. End-of-file
is not the end of the run: a process left behind may hold the pipes open for as long as
it lives. So the caller says when the run is over (the program exited and what it left
was killed), and reading stops at end-of-file or at most a short grace period later.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from typing import IO

from platforms.bounded_output import BoundedCapture

READ_BYTES = 1 << 20
# After the run is ended, how long data still in flight may take to arrive.
DRAIN_GRACE_S = 2.0
_POLL_S = 0.1


class PipeReader:
    """A thread copying pipes into captures; `finish()` returns once they are read or given up on."""

    def __init__(self, streams: list[tuple[IO[bytes], BoundedCapture]]) -> None:
        self._streams = {stream.fileno(): (stream, capture) for stream, capture in streams}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="aipep-pipe-reader", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with selectors.DefaultSelector() as selector:
            for descriptor in self._streams:
                selector.register(descriptor, selectors.EVENT_READ)
            while selector.get_map() and not self._stop.is_set():
                for key, _ in selector.select(_POLL_S):
                    data = os.read(key.fd, READ_BYTES)
                    if data:
                        self._streams[key.fd][1].extend(data)
                    else:
                        selector.unregister(key.fd)

    def finish(self, grace_s: float = DRAIN_GRACE_S) -> bool:
        """Wait for end-of-file on every pipe for `grace_s` at most, then stop reading and close them.

        True when every pipe reached its end; False when something still held one open.
        """
        self._thread.join(grace_s)
        read_to_the_end = not self._thread.is_alive()
        self._stop.set()
        self._thread.join()
        for stream, _ in self._streams.values():
            with contextlib.suppress(OSError):
                stream.close()
        return read_to_the_end
