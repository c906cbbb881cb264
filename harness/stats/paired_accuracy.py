"""Did accuracy change between two arms that classified the same samples in the same order?

Both arms see every sample, so the evidence is paired: only the samples one arm got right
and the other wrong say anything, and McNemar's exact test asks whether they lean one way
beyond chance. The change is in points of accuracy with a Wald interval for a paired
difference of proportions; the verdict follows the same rule as latency (significant and
beyond the threshold, or the whole interval inside it), with the direction turned round,
because for accuracy lower is worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from aipep_core.verdict import Verdict
from harness.stats.mcnemar import mcnemar
from harness.stats.verdict import decide


@dataclass(frozen=True)
class AccuracyChange:
    """Treatment minus control, in points of accuracy (percent of samples)."""

    change_points: float
    ci_low_points: float
    ci_high_points: float
    p_value: float
    worse: int
    better: int
    samples: int
    verdict: Verdict


def compare_accuracy(
    treatment_correct: Sequence[bool], control_correct: Sequence[bool], threshold_points: float, alpha: float
) -> AccuracyChange:
    """Paired comparison of per-sample correctness; `alpha` is two-sided."""
    if len(treatment_correct) != len(control_correct) or len(control_correct) == 0:
        raise ValueError(f"paired samples needed, got {len(treatment_correct)} and {len(control_correct)}")
    test = mcnemar([float(t) for t in treatment_correct], [float(c) for c in control_correct])
    samples = len(control_correct)
    change = (test.better - test.worse) / samples
    discordant = test.better + test.worse
    spread = math.sqrt(max(discordant - (test.better - test.worse) ** 2 / samples, 0.0)) / samples
    half_width = NormalDist().inv_cdf(1 - alpha / 2) * spread
    low, high = 100.0 * (change - half_width), 100.0 * (change + half_width)
    # decide() reads a positive estimate as worse; an accuracy drop is the worse direction.
    verdict = decide(
        estimate_pct=-100.0 * change,
        ci_low_pct=-high,
        ci_high_pct=-low,
        p_greater=test.p_value,
        p_less=test.p_value,
        threshold_pct=threshold_points,
        alpha=alpha,
    )
    return AccuracyChange(100.0 * change, low, high, test.p_value, test.worse, test.better, samples, verdict)
