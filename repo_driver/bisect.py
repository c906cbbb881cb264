"""Bisection over the first-parent line, as a pure function of the steps taken so far.

A confirmed regression between a good and a bad commit that are several commits apart
(because of `--step`) is narrowed by A/B runs of a middle commit against the current good
end. The interval is recomputed from the recorded steps every time, so a restart after
`kill -9` continues exactly where the bisection was. A commit that does not build is
skipped, like `git bisect skip`: the next nearest untested commit of the interval is tried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BAD = "bad"
GOOD = "good"
SKIP = "skip"


@dataclass(frozen=True)
class Interval:
    """line[good] is known good, line[bad] known bad; the culprit is in line[good+1 .. bad]."""

    line: list[str]
    good: int
    bad: int
    skipped: frozenset[str]

    @property
    def culprit(self) -> str | None:
        """The first bad commit, once every commit between the ends was skipped or the ends touch."""
        return self.line[self.bad] if self.bad - self.good == 1 else None

    @property
    def suspects(self) -> list[str]:
        return self.line[self.good + 1 : self.bad + 1]

    def next_commit(self) -> str | None:
        """The untested, buildable commit nearest the middle, or None when nothing is left to test."""
        middle = (self.good + self.bad) // 2
        candidates = [i for i in range(self.good + 1, self.bad) if self.line[i] not in self.skipped]
        if not candidates:
            return None
        return self.line[min(candidates, key=lambda i: (abs(i - middle), i))]


def interval(line: list[str], good: str, bad: str, steps: Iterable[tuple[str, str]]) -> Interval:
    """Replay (commit, outcome) steps over the range (good, bad]."""
    low, high = line.index(good), line.index(bad)
    skipped = set()
    for commit, outcome in steps:
        index = line.index(commit)
        if outcome == SKIP:
            skipped.add(commit)
        elif outcome == BAD:
            high = min(high, index)
        else:
            low = max(low, index)
    return Interval(line, low, high, frozenset(skipped))
