"""McNemar's exact test: did per-sample outcomes change between two arms beyond chance?

Two arms scored on the same samples differ only where they disagree; the samples both got
right or both got wrong say nothing about which arm is better. Under no change each
disagreement is equally likely to go either way, so the count of samples the treatment got
worse on is binomial(disagreements, 1/2), whose tail is a sum of binomial coefficients over
2**n: summed in whole numbers it is exact, and no harness process pays scipy.stats' second
of import for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class McNemar:
    worse: int
    better: int
    p_value: float


def mcnemar(treatment: list[float], control: list[float]) -> McNemar:
    """Exact two-sided McNemar test on paired per-sample scores (higher is better)."""
    if len(treatment) != len(control):
        raise ValueError(f"paired scores needed, got {len(treatment)} and {len(control)}")
    worse = sum(1 for new, old in zip(treatment, control, strict=True) if new < old)
    better = sum(1 for new, old in zip(treatment, control, strict=True) if new > old)
    disagreements = worse + better
    if disagreements == 0:
        return McNemar(worse, better, 1.0)
    p_value = min(1.0, 2.0 * fair_coin_cdf(min(worse, better), disagreements))
    return McNemar(worse, better, p_value)


def fair_coin_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ binomial(n, 1/2), exact until the final division."""
    coefficient, total = 1, 1
    for i in range(k):
        coefficient = coefficient * (n - i) // (i + 1)
        total += coefficient
    return total / 2**n
