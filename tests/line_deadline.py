"""Reading a child's first line with a deadline: a child that hangs before printing must fail a test, not hang it."""

from __future__ import annotations

import select
from typing import IO


def readline_within(stream: IO[str], seconds: float) -> str:
    """The next line of a pipe; AssertionError when none has begun within `seconds`.

    Waits for the pipe to be readable first, so a child that never writes cannot block the
    test; a child that began a line finishes it at once in practice (lines are written whole).
    Meant for a child's first lines: select() does not see what the stream already buffered.
    """
    ready, _, _ = select.select([stream], [], [], seconds)
    if not ready:
        raise AssertionError(f"no line within {seconds:g} s")
    return stream.readline()
