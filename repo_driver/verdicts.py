"""Reading verdicts out of results: which (test, metric) pairs regressed, and by how much.

A pair is named by the test identifier and the metric key ("Conv latency"), since one
spec may hold several tests and each compares every operator.
"""

from __future__ import annotations

from aipep_core.result_record import RunResult
from aipep_core.verdict import Verdict
from harness.resource_samples import is_resource_key

MetricName = tuple[str, str]  # (test identifier, metric key)

# A bisection step with one of these verdicts does not have the regression: a change below
# the floor is one nobody would have been told about.
SETTLED_WITHOUT_REGRESSION = (Verdict.NO_CHANGE, Verdict.IMPROVEMENT, Verdict.BELOW_FLOOR)


def label(name: MetricName) -> str:
    return f"{name[0]}|{name[1]}"


def regressed(results: list[RunResult]) -> dict[MetricName, float]:
    """Pairs with a regression verdict, with their estimates in percent."""
    found = {}
    for result in results:
        if not result.ok:
            continue
        for key, metric in result.data.items():
            comparison = metric.comparison
            if comparison is not None and comparison.verdict is Verdict.REGRESSION:
                found[(result.meta.get("identifier", ""), key)] = float(comparison.estimate_pct or 0.0)
    return found


def estimates(results: list[RunResult]) -> dict[MetricName, float]:
    return {
        (result.meta.get("identifier", ""), key): float(metric.comparison.estimate_pct)
        for result in results
        if result.ok
        for key, metric in result.data.items()
        if metric.comparison and metric.comparison.estimate_pct is not None
    }


def has_regression(results: list[RunResult], names: list[MetricName]) -> bool | None:
    """Whether a bisection step's commit already has the regression, when its verdicts say so.

    Yes on a regression verdict for any confirmed pair; no when every confirmed pair has
    a no-change, improvement or below-floor verdict; None when they leave it open.
    """
    if any(name in regressed(results) for name in names):
        return True
    settled = {
        (result.meta.get("identifier", ""), key)
        for result in results
        if result.ok
        for key, metric in result.data.items()
        if metric.comparison is not None and metric.comparison.verdict in SETTLED_WITHOUT_REGRESSION
    }
    return False if all(name in settled for name in names) else None


def nearer_regression(runs: list[list[RunResult]], names: list[MetricName], sizes: dict[MetricName, float]) -> bool:
    """Decide an open step by distance: is the mean estimate nearer the confirmed size than zero?

    A bisection must decide every step; an estimate's side of the midpoint is a better
    guess than always one way, and averaging runs made in both arm orders halves the
    drift each of them carries.
    """
    found = [estimates(results) for results in runs]
    for name in names:
        values = [estimates_[name] for estimates_ in found if name in estimates_]
        if values and sum(values) / len(values) > sizes[name] / 2:
            return True
    return False


def labelled(found: dict[MetricName, float]) -> dict[str, float]:
    """Estimates keyed as the database keeps them ("identifier|key")."""
    return {label(key): value for key, value in found.items()}


def deciding_names(names: list[MetricName]) -> list[MetricName]:
    """The confirmed metrics a bisection step is judged on: the timed ones, when the regression has any.

    CPU time, utilisation and context switches grow with run time, so they come along with
    a latency regression; judging each step on them as well adds their noise to the search
    and no information about where the time went.
    """
    timed = [name for name in names if not is_resource_key(name[1])]
    return timed or names
