"""Verdicts on resource metrics, where a 0 is a real count rather than a clock too coarse to see.

A program that reads nothing from storage reads 0 bytes in every round of both arms:
nothing changed, so that is "no_change", not the "inconclusive" an operator timed at 0
gets. A 0 in only some rounds still forms no ratio, and is inconclusive with a note
that says so in the metric's own terms.
"""

from __future__ import annotations

from collections.abc import Sequence

from aipep_core.verdict import Verdict
from harness.stats.comparison import Comparison, compare_metric, unmeasured


def compare_resource(
    treatment: Sequence[float], control: Sequence[float], *, threshold_pct: float, alpha: float
) -> Comparison:
    rounds = min(len(treatment), len(control))
    zero_treatment = sum(1 for value in treatment[:rounds] if value == 0)
    zero_control = sum(1 for value in control[:rounds] if value == 0)
    if zero_treatment == zero_control == rounds:
        return Comparison(0.0, 0.0, 0.0, None, None, rounds, Verdict.NO_CHANGE, "0 in every round of both arms")
    if zero_treatment or zero_control:
        return unmeasured(
            rounds,
            f"no ratio can be formed: 0 in {zero_treatment} treatment and {zero_control} control round(s) of {rounds}",
        )
    return compare_metric(treatment, control, threshold_pct=threshold_pct, alpha=alpha)
