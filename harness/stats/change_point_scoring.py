"""Scoring a change-point detector against histories whose changes are known.

Creep detection is judged the way a user meets it: was the change found at all, how many
commits after it began was it found (the detector runs again after every commit, so the
delay is the first prefix of the history on which it reports the change), and how many
change points it reports where nothing changed, per 100 commits.

A change is a span of commits: a step is one commit (start == end), a ramp the commits over
which the level moves. A reported change point matches it when it lies inside the span or
up to `tolerance` commits after it (a detector with a minimum segment length places a
change a little late), or `tolerance` before its start (noise can pull it early). A change is
found once however many points match it (a piecewise-constant detector cuts a ramp into
several steps, all of them real); a point that matches no change is a false one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.stats.errors import StatisticsInputError

Detector = Callable[[Sequence[float]], list[int]]


@dataclass(frozen=True)
class KnownChange:
    """Commits start..end (inclusive) over which the level moves."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise StatisticsInputError(f"change spans {self.start}..{self.end}, expected 0 <= start <= end")

    def matches(self, index: int, tolerance: int) -> bool:
        return self.start - tolerance <= index <= self.end + tolerance


@dataclass(frozen=True)
class Score:
    """One detector on one history: changes found, changes missed, points reported where nothing changed."""

    found: int
    missed: int
    false_points: int


def score(reported: Sequence[int], changes: Sequence[KnownChange], tolerance: int) -> Score:
    """Which known changes some reported point matches, and how many points match none."""
    found = sum(1 for change in changes if any(change.matches(index, tolerance) for index in reported))
    false_points = sum(1 for index in reported if not any(change.matches(index, tolerance) for change in changes))
    return Score(found=found, missed=len(changes) - found, false_points=false_points)


def detection_delay(detect: Detector, series: Sequence[float], change: KnownChange, tolerance: int) -> int | None:
    """Commits from the change's start to the first prefix on which `detect` reports it; None if never."""
    for length in range(change.start + 1, len(series) + 1):
        if any(change.matches(index, tolerance) for index in detect(series[:length])):
            return length - 1 - change.start
    return None
