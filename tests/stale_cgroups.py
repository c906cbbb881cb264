"""An empty run cgroup left behind an hour ago beside one a run is starting in: what the sweep of
leftovers must tell apart (remove the first, never the second), set up one way for every board."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LEFT_AGO_S = 3600


@contextmanager
def a_stale_and_a_young_cgroup(parent: Path) -> Iterator[tuple[Path, Path]]:
    """(stale, young) under `parent`; whichever still exists afterwards is removed."""
    stale, young = parent / "aipep-left-by-a-killed-run", parent / "aipep-a-run-starting-now"
    stale.mkdir()
    young.mkdir()
    long_ago = time.time() - LEFT_AGO_S
    os.utime(stale, (long_ago, long_ago))
    try:
        yield stale, young
    finally:
        for directory in (stale, young):
            if directory.exists():
                directory.rmdir()
