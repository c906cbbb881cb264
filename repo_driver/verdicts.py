"""Reading verdicts out of results: which (test, metric) pairs regressed, and by how much.

A pair is named by the test identifier and the metric key ("Conv latency"), since one
spec may hold several tests and each compares every operator.
"""

from __future__ import annotations

from harness.result import RunResult
from harness.stats.verdict import Verdict

REGRESSION = Verdict.REGRESSION.value

MetricName = tuple[str, str]  # (test identifier, metric key)


def label(name: MetricName) -> str:
    return f"{name[0]}|{name[1]}"


def regressed(results: list[RunResult]) -> dict[MetricName, float]:
    """Pairs with a regression verdict, with their estimates in percent."""
    found = {}
    for result in results:
        if not result.ok:
            continue
        for key, metric in result.data.items():
            comparison = metric.comparison or {}
            if comparison.get("verdict") == REGRESSION:
                found[(result.meta.get("identifier", ""), key)] = float(comparison.get("estimate_pct", 0.0))
    return found


def estimates(results: list[RunResult]) -> dict[MetricName, float]:
    return {
        (result.meta.get("identifier", ""), key): float(metric.comparison["estimate_pct"])
        for result in results
        if result.ok
        for key, metric in result.data.items()
        if metric.comparison and metric.comparison.get("estimate_pct") is not None
    }


def shows_regression(results: list[RunResult], names: list[MetricName], confirmed: dict[MetricName, float]) -> bool:
    """Whether a bisection step's commit already has the regression.

    A regression verdict on any confirmed pair says yes. Without one, the step is judged
    by distance: an estimate nearer the confirmed size than zero says yes. A bisection
    must decide every step, and an inconclusive step is better decided by where its
    estimate lies than always one way.
    """
    if any(name in regressed(results) for name in names):
        return True
    found = estimates(results)
    return any(name in found and found[name] > confirmed[name] / 2 for name in names)
