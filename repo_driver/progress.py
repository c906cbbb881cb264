"""The driver's log lines: one line per event, prefixed so they stand out among the harness's."""

from __future__ import annotations

import sys
import time

from repo_driver.git_follower import CommitInfo


def say(line: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"repo_driver {stamp} {line}", file=sys.stderr, flush=True)


def name(commit: CommitInfo) -> str:
    return f"{commit.short} {commit.subject!r}"
