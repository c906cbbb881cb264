"""The harness's round-by-round lines of a lab job, passed on as the job's state for `submit --wait`.

The A/B runner says where it is in lines (`harness: round 3/40: ...`) on a stream; on a
worker that stream also lands here, which keeps the worker's log as it was and turns each
round line into the job's state, so the submitter can show "round 3 of 40" from afar.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from typing import Any

ROUND_LINE = re.compile(r"^harness: round (\d+)/(\d+)\b")


class RoundProgress(io.TextIOBase):
    """A text stream (what run_ab writes to) that echoes to stderr and reports each round."""

    def __init__(self, report: Callable[[int, int], Any]) -> None:
        super().__init__()
        self.report = report
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        sys.stderr.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            match = ROUND_LINE.match(line)
            if match:
                self.report(int(match.group(1)), int(match.group(2)))
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()
