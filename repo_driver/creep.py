"""Slow creep: many small slowdowns, none significant alone, that add up.

Each A/B estimate is a step from its control, so chaining them gives every commit's level
against one common base, the first benchmarked commit: level(commit) = level(control) +
ln(1 + estimate). Steps of confirmed regressions are left out, since those are already
reported. On each metric's history of levels, change-point detection finds where the
level moved; a move upwards larger than the test's threshold raises an alert, once.
"""

from __future__ import annotations

import math

from harness.stats.change_points import detect_change_points
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
        series = [level for _, level in points]
        changes = detect_change_points(series)
        bounds = [0, *changes, len(series)]
        for before, start, end in zip(bounds, bounds[1:], bounds[2:], strict=False):
            shift_pct = 100.0 * math.expm1(_mean(series[start:end]) - _mean(series[before:start]))
            if shift_pct > threshold_pct:
                change_hash = points[start][0]
                if state.creep_alerts.add(platform, metric_name[0], metric_name[1], change_hash, shift_pct):
                    alerts.append(f"{metric_name[1]} ({metric_name[0]}) up {shift_pct:+.1f}% from {change_hash[:10]}")
    return alerts


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
