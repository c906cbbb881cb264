"""Keeping what a program prints bounded while it streams, without losing its measurements.

A program may print gigabytes (a debug build logging every tensor). Holding all of it
costs the harness that much memory twice over (bytes, then text), and a log row beyond
SQLite's limit loses the whole result. So each stream keeps its first HEAD_BYTES and its
last TAIL_BYTES; the bytes between them are counted and dropped as they arrive, except
the lines that carry an observer prefix, which are kept (up to KEPT_LINE_BYTES) so the
parser still sees every measurement. The log shows a line saying how much was left out.

Cuts fall on line ends where one is near, so a measurement line is never split between
the head, the dropped part and the tail; only a single line longer than the tail bound
can be cut, and its parse then fails as a named problem rather than silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from aipep_core.program_output import PREFIXES

HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 20
KEPT_LINE_BYTES = 64 << 20
MEASUREMENT_PREFIXES = tuple(f"{prefix} ".encode() for prefix in PREFIXES)


@dataclass(frozen=True)
class CapturedOutput:
    """`text` is for the log; `parse_text` is for the parser, None when nothing was left out."""

    text: str
    parse_text: str | None
    total_bytes: int
    dropped_bytes: int


def left_out_line(dropped: int, kept_lines: int, lost_lines: int, unit: str = "bytes") -> str:
    """The line that stands in the log for the part that was not kept."""
    kept = f"; {kept_lines} measurement line(s) from it kept for parsing" if kept_lines else ""
    lost = f"; {lost_lines} more measurement line(s) dropped beyond {KEPT_LINE_BYTES} bytes" if lost_lines else ""
    return f"\n[aipep: {dropped} {unit} of output left out here{kept}{lost}]\n"


class BoundedCapture:
    """Collects one output stream chunk by chunk; memory stays near head + 2 * tail + kept lines.

    `extend` has bytearray's name and meaning so the capture can stand where a bytearray
    collected output before.
    """

    def __init__(
        self,
        keep_prefixes: tuple[bytes, ...] = (),
        *,
        head_bytes: int = HEAD_BYTES,
        tail_bytes: int = TAIL_BYTES,
        kept_line_bytes: int = KEPT_LINE_BYTES,
    ) -> None:
        self._keep_prefixes = keep_prefixes
        self._head_limit = head_bytes
        self._tail_limit = tail_bytes
        self._kept_limit = kept_line_bytes
        self._head = bytearray()
        self._head_closed = False
        self._tail = bytearray()
        self._kept: list[bytes] = []
        self._kept_bytes = 0
        self._lost_lines = 0
        self.total_bytes = 0
        self.dropped_bytes = 0

    def extend(self, data: bytes) -> None:
        self.total_bytes += len(data)
        if not self._head_closed:
            room = self._head_limit - len(self._head)
            if len(data) <= room:
                self._head += data
                return
            self._head += data[:room]
            data = self._close_head() + data[room:]
        self._tail += data
        if len(self._tail) > 2 * self._tail_limit:
            self._drop_middle()

    def _close_head(self) -> bytes:
        """End the head after its last complete line; what follows goes on towards the tail."""
        self._head_closed = True
        cut = self._head.rfind(b"\n") + 1
        if cut == 0:
            return b""
        rest = bytes(self._head[cut:])
        del self._head[cut:]
        return rest

    def _drop_middle(self) -> None:
        excess = len(self._tail) - self._tail_limit
        newline = self._tail.find(b"\n", excess - 1)
        cut = excess if newline < 0 else newline + 1
        self._keep_measurements(cut)
        self.dropped_bytes += cut
        del self._tail[:cut]

    def _keep_measurements(self, end: int) -> None:
        """Copy out the measurement lines in tail[:end] before it is dropped."""
        spans = set()
        for prefix in self._keep_prefixes:
            position = self._tail.find(prefix, 0, end)
            while position >= 0:
                start = self._tail.rfind(b"\n", 0, position) + 1
                stop = self._tail.find(b"\n", position, end)
                stop = end if stop < 0 else stop + 1
                spans.add((start, stop))
                position = self._tail.find(prefix, stop, end)
        for start, stop in sorted(spans):
            if self._kept_bytes + stop - start > self._kept_limit:
                self._lost_lines += 1
                continue
            line = bytes(self._tail[start:stop])
            self._kept.append(line if line.endswith(b"\n") else line + b"\n")
            self._kept_bytes += len(line)

    def text(self) -> str:
        """What the log keeps: everything, or the head and tail around a left-out line."""
        if not self.dropped_bytes:
            return (self._head + self._tail).decode(errors="replace")
        marker = left_out_line(self.dropped_bytes, len(self._kept), self._lost_lines)
        return self._head.decode(errors="replace") + marker + self._tail.decode(errors="replace")

    def result(self) -> CapturedOutput:
        parse_text = None
        if self.dropped_bytes:
            parse_text = b"".join([self._head, *self._kept, self._tail]).decode(errors="replace")
        return CapturedOutput(self.text(), parse_text, self.total_bytes, self.dropped_bytes)


def bound_text(text: str, *, head_chars: int = HEAD_BYTES, tail_chars: int = TAIL_BYTES) -> str:
    """The same bound for text already in memory (a log from elsewhere about to be stored), cut at line ends."""
    if len(text) <= head_chars + tail_chars:
        return text
    head_end = text.rfind("\n", 0, head_chars) + 1 or head_chars
    tail_start = text.find("\n", len(text) - tail_chars - 1) + 1 or len(text) - tail_chars
    if tail_start <= head_end:
        return text
    return text[:head_end] + left_out_line(tail_start - head_end, 0, 0, "characters") + text[tail_start:]
