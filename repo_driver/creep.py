"""Slow creep: many small slowdowns, none significant alone, that add up.

Each A/B estimate is a step from its control, so chaining them gives every commit's level
against one common base, the first benchmarked commit: level(commit) = level(control) +
ln(1 + estimate). Steps of confirmed regressions are left out, since those are already
reported. On each metric's history of levels, change-point detection finds where the
level moved (single outlying commits clipped first); a level more than the test's threshold
above its anchor raises an alert, once (see level_rises).

The detector stays ours rather than Apache Otava's (benchmarks/change_points_vs_otava.py): on
the same histories it has fewer false change points on white noise, steps, ramps and, with the
clipping, outliers, and a shorter delay on ramps; Otava has fewer on chained noise, where the
alert threshold removes both detectors' false points. Otava also pins numpy and scipy to exact
releases and brings cloud-database and chat clients with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from harness.stats.change_points import detect_change_points
from harness.stats.level_outliers import clip_outliers
from repo_driver.state.driver_state import DriverState
from repo_driver.state.regressions import CONFIRMED
from repo_driver.verdicts import MetricName, label

DEFAULT_THRESHOLD_PCT = 2.0


def levels(state: DriverState, platform: str) -> dict[MetricName, list[tuple[str, float]]]:
    """Per metric, (commit, log level against the base) in line order."""
    reported = {
        (r.culprit_hash or r.bad_hash, key)
        for r in state.regressions.find([CONFIRMED], platform)
        for key in r.estimates
    }
    known: dict[MetricName, dict[str, float]] = {}
    history: dict[MetricName, list[tuple[str, float]]] = {}
    for commit_hash, control_hash, run_id in state.runs.benchmark_history(platform):
        result = state.runs.load(run_id)
        identifier = result.meta.get("identifier", "")
        for key, metric in result.data.items():
            metric_name = (identifier, key)
            points = known.setdefault(metric_name, {})
            if control_hash is None:
                points[commit_hash] = 0.0
            elif control_hash in points and metric.comparison and metric.comparison.estimate_pct is not None:
                step = math.log1p(metric.comparison.estimate_pct / 100.0)
                if (commit_hash, label(metric_name)) in reported:
                    step = 0.0
                points[commit_hash] = points[control_hash] + step
            else:
                continue
            history.setdefault(metric_name, []).append((commit_hash, points[commit_hash]))
    return history


def detect_creep(state: DriverState, platform: str, threshold_pct: float = DEFAULT_THRESHOLD_PCT) -> list[str]:
    """New alerts (one line each) for level rises above the threshold."""
    alerts = []
    for metric_name, points in levels(state, platform).items():
        for start, shift_pct in level_rises([level for _, level in points], threshold_pct):
            change_hash = points[start][0]
            if state.creep_alerts.add(platform, metric_name[0], metric_name[1], change_hash, shift_pct):
                alerts.append(f"{metric_name[1]} ({metric_name[0]}) up {shift_pct:+.1f}% from {change_hash[:10]}")
    return alerts


def level_changes(series: Sequence[float]) -> list[int]:
    """Where new levels start, once single outlying commits are clipped (harness/stats/level_outliers.py).

    A disturbed commit is noise; two of them close together would otherwise make a level of their own.
    """
    return detect_change_points(clip_outliers(series))


def level_rises(
    series: Sequence[float], threshold_pct: float, detect: Callable[[Sequence[float]], list[int]] = level_changes
) -> list[tuple[int, float]]:
    """(index where a new level starts, its rise in percent) for each rise above the threshold.

    A rise is measured against an anchor, not the level just before: a creep of 0.2% per
    commit is cut into several levels each a little above the last, and no single one of
    those steps reaches 2% (on synthetic ramps of 4% in 20 commits the step-to-step rule
    alerted on about half; see benchmarks/change_points_vs_otava.py). The anchor starts
    at the first level, moves down to any lower level (creep after an improvement counts
    from the improved level) and up to each level that raised an alert, so one creep raises
    one alert per threshold's worth of rise. `detect` is replaceable so a benchmark can put
    other change-point detectors under the same rule.
    """
    bounds = [0, *detect(series), len(series)]
    anchor = _mean(series[bounds[0] : bounds[1]])
    rises = []
    for start, end in zip(bounds[1:], bounds[2:], strict=False):
        level = _mean(series[start:end])
        shift_pct = 100.0 * math.expm1(level - anchor)
        if shift_pct > threshold_pct:
            rises.append((start, shift_pct))
        if shift_pct > threshold_pct or level < anchor:
            anchor = level
    return rises


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
