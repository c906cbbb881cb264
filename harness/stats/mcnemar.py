"""McNemar's exact test: did per-sample outcomes change between two arms beyond chance?

Two arms scored on the same samples differ only where they disagree; the samples both got
right or both got wrong say nothing about which arm is better. Under no change each
disagreement is equally likely to go either way, so the count of samples the treatment got
worse on is binomial(disagreements, 1/2).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binom


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
    p_value = min(1.0, 2.0 * float(binom.cdf(min(worse, better), disagreements, 0.5)))
    return McNemar(worse, better, p_value)
