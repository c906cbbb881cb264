"""Recognising a round in which another process stole the CPU.

A benchmark process that is preempted waits without running: its wall time
grows while its CPU time does not. So the ratio CPU/wall of each process,
compared with what the same arm achieved in earlier rounds, shows a burst of
background load that the timings alone could not tell from a real slowdown.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

# A process that got less than this share of its arm's usual CPU/wall ratio was
# preempted for a large part of its run. Chosen so scheduler jitter on an idle
# machine (a few percent) never triggers it, while a competing busy process on
# the same core (which halves the ratio) always does.
DISTURBED_SHARE = 0.85
# The usual ratio is only trusted after this many clean processes of the arm.
MIN_HISTORY = 2


def cpu_share(cpu_seconds: float | None, wall_seconds: float) -> float | None:
    if cpu_seconds is None or wall_seconds <= 0:
        return None
    return cpu_seconds / wall_seconds


def is_disturbed(share: float | None, history: Sequence[float]) -> bool:
    """Whether a process with this CPU share ran disturbed, judged by its arm's history."""
    if share is None or len(history) < MIN_HISTORY:
        return False
    return share < DISTURBED_SHARE * statistics.median(history)
