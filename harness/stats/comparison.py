"""One look at an A/B test: per-metric estimate, interval, p- or q-value and verdict.

The whole network is the question the user asked, so its test stands alone at alpha.
Operators are many simultaneous questions, so their p-values are adjusted together with
Benjamini-Hochberg; both directions of every operator go into the one family because a
reported improvement is a discovery too, and splitting the family per direction would
let an operator be tested twice at full strength.

A metric whose rounds cannot form a ratio (an operator timed at 0, see unmeasurable.py)
is answered "inconclusive" with a note instead of stopping the analysis of every other
metric, and it stays out of the operators' family.
"""

import math
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aipep_core.verdict import Verdict
from harness.stats.errors import StatisticsInputError
from harness.stats.multiple_testing import benjamini_hochberg
from harness.stats.paired import (
    hodges_lehmann,
    hodges_lehmann_interval,
    log_ratios,
    wilcoxon_signed_rank,
)
from harness.stats.unmeasurable import unmeasurable_note
from harness.stats.verdict import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_THRESHOLD_PCT,
    decide,
)


@dataclass(frozen=True)
class Comparison:
    """The result for one metric, in percent so reports need no further arithmetic.

    The numbers are None only for a metric that could not be measured as ratios; `note`
    then says why, and the verdict (inconclusive) is final. `abs_change_us` is the estimate
    in microseconds, set where an absolute floor was applied (absolute_floor.py).
    """

    estimate_pct: float | None
    ci_low_pct: float | None
    ci_high_pct: float | None
    p_value: float | None
    q_value: float | None
    rounds: int
    verdict: Verdict
    note: str | None = None
    abs_change_us: float | None = None

    @property
    def measured(self) -> bool:
        """False when no estimate could be formed; more rounds would not change that."""
        return self.estimate_pct is not None

    def as_dict(self) -> dict:
        """Plain values for JSON and the store (the verdict as its string); `note` and `abs_change_us` only when set."""
        document = {
            "estimate_pct": self.estimate_pct,
            "ci_low_pct": self.ci_low_pct,
            "ci_high_pct": self.ci_high_pct,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "rounds": self.rounds,
            "verdict": self.verdict.value,
        }
        if self.note is not None:
            document["note"] = self.note
        if self.abs_change_us is not None:
            document["abs_change_us"] = self.abs_change_us
        return document


def unmeasured(rounds: int, note: str) -> Comparison:
    """The answer for a metric whose rounds form no ratio: no numbers, inconclusive, and why."""
    return Comparison(None, None, None, None, None, rounds, Verdict.INCONCLUSIVE, note)


# Ratios beyond e**709 overflow a float; they can only come from absurd measurements,
# but an open-ended interval (+inf) must still map cleanly.
_LARGEST_LOG = math.log(sys.float_info.max)


def _percent(log_ratio: float) -> float:
    """100 * (e**x - 1); the open ends of an interval with too few rounds become -100% / inf."""
    if log_ratio > _LARGEST_LOG:
        return math.inf
    return 100.0 * math.expm1(log_ratio)


@dataclass(frozen=True)
class _Paired:
    """What one metric's rounds say before any multiple-testing adjustment."""

    estimate: float
    ci_low: float
    ci_high: float
    p_greater: float
    p_less: float
    rounds: int


def _analyse(treatment: Sequence[float], control: Sequence[float], confidence: float) -> _Paired:
    d = log_ratios(treatment, control)
    low, high = hodges_lehmann_interval(d, confidence)
    return _Paired(
        estimate=hodges_lehmann(d),
        ci_low=low,
        ci_high=high,
        p_greater=wilcoxon_signed_rank(d, "greater"),
        p_less=wilcoxon_signed_rank(d, "less"),
        rounds=int(d.size),
    )


def _conclude(
    paired: _Paired,
    p_greater: float,
    p_less: float,
    *,
    adjusted: bool,
    threshold_pct: float,
    alpha: float,
) -> Comparison:
    estimate_pct = _percent(paired.estimate)
    ci_low_pct = _percent(paired.ci_low)
    ci_high_pct = _percent(paired.ci_high)
    verdict = decide(
        estimate_pct=estimate_pct,
        ci_low_pct=ci_low_pct,
        ci_high_pct=ci_high_pct,
        p_greater=p_greater,
        p_less=p_less,
        threshold_pct=threshold_pct,
        alpha=alpha,
    )
    slower = paired.estimate >= 0
    return Comparison(
        estimate_pct=estimate_pct,
        ci_low_pct=ci_low_pct,
        ci_high_pct=ci_high_pct,
        p_value=paired.p_greater if slower else paired.p_less,
        q_value=(p_greater if slower else p_less) if adjusted else None,
        rounds=paired.rounds,
        verdict=verdict,
    )


def compare_metric(
    treatment: Sequence[float],
    control: Sequence[float],
    *,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison:
    """Compare one metric's per-round statistics, paired by round index, on its own."""
    note = unmeasurable_note(treatment, control)
    if note is not None:
        return unmeasured(_paired_rounds(treatment, control), note)
    paired = _analyse(treatment, control, confidence)
    return _conclude(
        paired,
        paired.p_greater,
        paired.p_less,
        adjusted=False,
        threshold_pct=threshold_pct,
        alpha=alpha,
    )


def compare_test(
    metrics: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    net_keys: Collection[str],
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    thresholds_pct: Mapping[str, float] | None = None,
) -> dict[str, Comparison]:
    """Compare every metric of a test: net metrics alone, operators BH-adjusted together.

    `metrics` maps a metric key to (treatment, control) per-round statistics. In a
    sequential run, pass the per-look alpha from sequential.alpha_for_look.
    `thresholds_pct` gives a metric a threshold of its own instead of `threshold_pct`.
    """
    analysed = {}
    unmeasurable = {}
    for key, (treatment, control) in metrics.items():
        try:
            note = unmeasurable_note(treatment, control)
            if note is None:
                analysed[key] = _analyse(treatment, control, confidence)
            else:
                unmeasurable[key] = unmeasured(_paired_rounds(treatment, control), note)
        except StatisticsInputError as error:
            raise StatisticsInputError(f"metric {key!r}: {error}") from error
    operators = [key for key in analysed if key not in net_keys]
    pooled = [analysed[key].p_greater for key in operators]
    pooled += [analysed[key].p_less for key in operators]
    q = np.asarray(benjamini_hochberg(pooled)).reshape(2, len(operators))
    q_by_key = {key: (float(q[0, i]), float(q[1, i])) for i, key in enumerate(operators)}
    concluded = {
        key: _conclude(
            paired,
            *q_by_key.get(key, (paired.p_greater, paired.p_less)),
            adjusted=key in q_by_key,
            threshold_pct=(thresholds_pct or {}).get(key, threshold_pct),
            alpha=alpha,
        )
        for key, paired in analysed.items()
    }
    return {key: concluded[key] if key in concluded else unmeasurable[key] for key in metrics}


def _paired_rounds(treatment: Sequence[float], control: Sequence[float]) -> int:
    """The round count of two arms, refusing arms of unequal length as log_ratios does."""
    if len(treatment) != len(control):
        raise StatisticsInputError(
            f"treatment has {len(treatment)} rounds but control has {len(control)}; rounds are paired by index"
        )
    return len(treatment)
