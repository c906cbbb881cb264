"""When to look at an A/B test and how much alpha each look may spend.

Stopping as soon as a test looks significant inflates false alarms: with five looks at
alpha = 0.05 each, about 11% of null comparisons end as a regression, against about 2%
with the spending below (see the simulation in tests/stats/test_stats_sequential.py). So
the runner looks only at the rounds look_schedule gives and tests look k at
alpha_for_look(alpha, k, n_looks).

Alpha spending: Bonferroni, alpha / n_looks at every look. The chance of ever declaring a
regression under the null is at most the sum of the per-look chances (a union bound), so
the family-wise rate stays <= alpha whatever the dependence between looks and whatever the
test's discreteness. Pocock and O'Brien-Fleming boundaries are less conservative because
they use the joint normal distribution of the looks' statistics, but the signed-rank
statistic at 7-40 rounds is discrete and far from that limit, and a boundary computed from
the normal approximation could then exceed alpha. Looks are few (at most MAX_LOOKS) and
spaced geometrically, so the price is small: at 5 looks each look tests at alpha / 5, where
a Pocock boundary would allow about alpha / 3.

The exact one-sided signed-rank p-value cannot fall below 2**-n (all n rounds in one
direction), so a look earlier than min_rounds_for(alpha / n_looks) could never declare a
regression; look_schedule moves the first look up to that point. A run that may stop on
NET's verdict once its operators could have shown a regression (stop_when net) cannot stop
before a lone operator clears Benjamini-Hochberg's bar either; looks before that spend alpha
and can neither end the run nor change what it reports, so with `operators` the schedule
starts at the earliest round where one can (12 rounds for MobileNetV1's 33 operators, against
14 after a look at 8 that could not end the run), and each of the fewer looks tests at a larger
share of alpha.

The bound covers significance claims (regression, and improvement likewise). A "no change"
claim rests on the confidence interval instead; a runner that wants it held to the same
per-look error passes confidence = 1 - 2 * alpha_look, which makes the interval check an
equivalence test at that look's alpha.
"""

import math
from collections.abc import Iterable

from aipep_core.verdict import Verdict
from harness.stats._checks import probability
from harness.stats.errors import StatisticsInputError
from harness.stats.verdict import DEFAULT_ALPHA

MAX_LOOKS = 6
# Each look should add about half the rounds seen so far or more; closer looks cost a share of
# alpha while adding little new evidence.
_GROWTH = 1.5


def min_rounds_for(alpha_look: float) -> int:
    """Smallest n with 2**-n < alpha_look: the fewest rounds that can reach significance."""
    level = probability(alpha_look, "alpha_look", open_interval=True)
    n = 1
    while 2.0**-n >= level:
        n += 1
    return n


def min_rounds_for_family(alpha_look: float, family: int) -> int:
    """The fewest rounds at which one test of a Benjamini-Hochberg family of `family` p-values can be
    significant: BH holds the smallest p-value to alpha_look / family, the bar a lone mover must pass."""
    if family < 1:
        raise StatisticsInputError(f"family is {family}, expected at least 1 p-value")
    return min_rounds_for(probability(alpha_look, "alpha_look", open_interval=True) / family)


def alpha_for_look(alpha: float, look_index: int, n_looks: int) -> float:
    """The significance level for look `look_index` (0-based) of `n_looks` looks."""
    level = probability(alpha, "alpha", open_interval=True)
    if n_looks < 1:
        raise StatisticsInputError(f"n_looks is {n_looks}, expected at least 1")
    if not 0 <= look_index < n_looks:
        raise StatisticsInputError(f"look_index is {look_index}, expected 0..{n_looks - 1}")
    return level / n_looks


def _geometric_looks(first: int, max_rounds: int) -> list[int]:
    steps = math.floor(math.log(max_rounds / first) / math.log(_GROWTH)) if first < max_rounds else 0
    if steps == 0:
        return [max_rounds]
    n_looks = min(MAX_LOOKS, steps + 1)
    ratio = (max_rounds / first) ** (1.0 / (n_looks - 1))
    looks = {round(first * ratio**k) for k in range(n_looks - 1)}
    return sorted(looks | {max_rounds})


def look_schedule(min_rounds: int, max_rounds: int, *, alpha: float = DEFAULT_ALPHA, operators: int = 0) -> list[int]:
    """Rounds after which the runner analyses the data, ending at max_rounds.

    Looks grow geometrically from min_rounds (each about 1.5x the previous or more, at most
    MAX_LOOKS of them), so a large effect stops the run early while the last look keeps
    nearly the power of a fixed-length run. If min_rounds is too few for the per-look
    alpha to be reachable, the schedule starts at the first round count where it is; with
    `operators`, where one of that many operators, tested in both directions, is reachable too.
    """
    if min_rounds < 1:
        raise StatisticsInputError(f"min_rounds is {min_rounds}, expected at least 1")
    if operators < 0:
        raise StatisticsInputError(f"operators is {operators}, expected 0 or more")
    if max_rounds < min_rounds:
        raise StatisticsInputError(f"max_rounds is {max_rounds}, expected at least min_rounds ({min_rounds})")
    fewest = min_rounds_for(alpha_for_look(alpha, 0, 1))
    if max_rounds < fewest:
        raise StatisticsInputError(
            f"max_rounds is {max_rounds}, but at alpha {alpha} no regression can be significant before {fewest} rounds"
        )
    family = max(1, 2 * operators)
    # Starting later means fewer looks and a larger share of alpha each, so the first start that
    # works is found by trying each in turn; at worst the single look at max_rounds, which `fewest`
    # guarantees is reachable for NET (operators may need more rounds than max_rounds allows; the
    # run then simply ends there).
    for first in range(min_rounds, max_rounds):
        looks = _geometric_looks(first, max_rounds)
        if looks[0] >= min_rounds_for_family(alpha_for_look(alpha, 0, len(looks)), family):
            return looks
    return [max_rounds]


def should_stop(verdicts: Iterable[Verdict], rounds: int, max_rounds: int) -> bool:
    """Stop once every verdict the run waits for is in, or when the round budget is spent."""
    return rounds >= max_rounds or all(v is not Verdict.INCONCLUSIVE for v in verdicts)
