"""The absolute floor: an operator's change too small in microseconds to matter is not a regression.

Relative thresholds treat every operator alike, so a Softmax of 3 us that became 85% slower
is as significant, and as far above a 2% threshold, as a Conv of 3 ms that did: with enough
rounds it is a "regression" that costs the network 2.5 us of its milliseconds. The floor
turns the question around for operators: what did the change cost, in time? The estimate is
applied to the control's level (the median of its per-round statistics, robust to the odd
slow round), and a regression or improvement worth less than the floor is `below_floor`.

An inconclusive operator whose whole interval, in microseconds, lies inside the floor is
`below_floor` too: whatever its change is, it cannot matter, so no more rounds are spent on
it. A "no change" stays "no change", the more precise statement.
"""

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from aipep_core.verdict import Verdict
from harness.stats.comparison import Comparison
from harness.stats.errors import StatisticsInputError

_SIGNIFICANT = (Verdict.REGRESSION, Verdict.IMPROVEMENT)


def control_level(control_rounds: Sequence[float]) -> float:
    """The control's typical per-round value: the median, so one disturbed round does not move it."""
    if len(control_rounds) == 0:
        raise StatisticsInputError("control has no rounds; a level needs at least one")
    return float(np.median(np.asarray(control_rounds, dtype=float)))


def absolute_change(change_pct: float, level: float) -> float:
    """A percent change applied to a level, in the level's unit."""
    return level * change_pct / 100.0


def apply_floor(comparison: Comparison, level_us: float, floor_us: float) -> Comparison:
    """The comparison with its change in microseconds, and `below_floor` where that change cannot matter.

    `level_us` is the control's level in microseconds; a floor of 0 changes no verdict.
    """
    if not (math.isfinite(floor_us) and floor_us >= 0):
        raise StatisticsInputError(f"floor is {floor_us}, expected microseconds >= 0")
    if comparison.estimate_pct is None:
        return comparison
    change_us = absolute_change(comparison.estimate_pct, level_us)
    return replace(comparison, verdict=_floored(comparison, change_us, level_us, floor_us), abs_change_us=change_us)


def _floored(comparison: Comparison, change_us: float, level_us: float, floor_us: float) -> Verdict:
    if comparison.verdict in _SIGNIFICANT:
        return Verdict.BELOW_FLOOR if abs(change_us) < floor_us else comparison.verdict
    if comparison.verdict is Verdict.INCONCLUSIVE and _interval_inside(comparison, level_us, floor_us):
        return Verdict.BELOW_FLOOR
    return comparison.verdict


def _interval_inside(comparison: Comparison, level_us: float, floor_us: float) -> bool:
    ends = (comparison.ci_low_pct, comparison.ci_high_pct)
    if any(end is None for end in ends):
        return False
    return all(abs(absolute_change(end, level_us)) < floor_us for end in ends)
