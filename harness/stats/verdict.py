"""The decision rule turning an estimate, its interval and two p-values into a verdict.

A regression must be both statistically significant and larger than the spec's threshold:
with enough rounds a 0.1% slowdown becomes significant, and nobody wants to be paged for
it. "No change" is claimed only when the whole interval lies inside the threshold band, so
a noisy test that merely failed to find anything stays inconclusive instead of passing.
"""

from aipep_core.verdict import Verdict

DEFAULT_THRESHOLD_PCT = 2.0
DEFAULT_ALPHA = 0.05
DEFAULT_CONFIDENCE = 0.95


def decide(
    *,
    estimate_pct: float,
    ci_low_pct: float,
    ci_high_pct: float,
    p_greater: float,
    p_less: float,
    threshold_pct: float,
    alpha: float,
) -> Verdict:
    """Apply the rule; p_greater/p_less may be BH q-values when many operators are tested.

    The significance checks come first, so an effect that is both significant and large
    is reported as such even when a narrow threshold would also have held it inside.
    """
    if p_greater < alpha and estimate_pct > threshold_pct:
        return Verdict.REGRESSION
    if p_less < alpha and estimate_pct < -threshold_pct:
        return Verdict.IMPROVEMENT
    if -threshold_pct < ci_low_pct and ci_high_pct < threshold_pct:
        return Verdict.NO_CHANGE
    return Verdict.INCONCLUSIVE
