"""A build's output kept as its first and last bytes only.

A build that prints gigabytes (a loop gone wrong, a verbose flag) must cost the driver
neither memory nor a giant log in the database; the head shows how the build started and
the tail how it failed, which is what a person reading a failed build needs.
"""

from __future__ import annotations

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024


class HeadAndTail:
    def __init__(self, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES) -> None:
        self.head_bytes = head_bytes
        self.tail_bytes = tail_bytes
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_bytes - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        # Trimmed only once it is twice the limit, so each byte is moved a bounded number of times.
        if len(self.tail) > 2 * self.tail_bytes:
            del self.tail[: len(self.tail) - self.tail_bytes]

    def text(self) -> str:
        """Head and tail decoded; bytes that are not UTF-8 become U+FFFD, never an error."""
        tail = bytes(self.tail[-self.tail_bytes :]) if self.tail_bytes else b""
        left_out = self.total - len(self.head) - len(tail)
        if not left_out:
            return (bytes(self.head) + tail).decode(errors="replace")
        middle = f"\n[... {left_out} bytes of output left out ...]\n"
        return bytes(self.head).decode(errors="replace") + middle + tail.decode(errors="replace")
