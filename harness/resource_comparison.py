"""Verdicts on resource metrics, where a 0 is a real count rather than a clock too coarse to see.

A program that reads nothing from storage reads 0 bytes in every round of both arms:
nothing changed, so that is "no_change", not the "inconclusive" an operator timed at 0
gets. A 0 in only some rounds still forms no ratio, and is inconclusive with a note
that says so in the metric's own terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aipep_core.verdict import Verdict
from harness.stats.comparison import Comparison, compare_test, unmeasured


def compare_resources(
    metrics: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    thresholds_pct: Mapping[str, float],
    alpha: float,
) -> dict[str, Comparison]:
    """Every resource metric of a test, each at its own threshold, BH-adjusted together like operators.

    Seven resource questions asked of every A/B would, each at alpha, raise a false alarm in
    a good share of identical pairs; and several of them (CPU time, utilisation, context
    switches) move together with run time, so they are one family of evidence, not seven.
    """
    decided = {}
    tested = {}
    for key, (treatment, control) in metrics.items():
        by_zeros = _decided_by_zeros(treatment, control)
        if by_zeros is None:
            tested[key] = (treatment, control)
        else:
            decided[key] = by_zeros
    decided.update(compare_test(tested, net_keys=(), thresholds_pct=thresholds_pct, alpha=alpha))
    return {key: decided[key] for key in metrics}


def _decided_by_zeros(treatment: Sequence[float], control: Sequence[float]) -> Comparison | None:
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
    return None
