"""Verdicts at the looks of an adaptive A/B run, and whether the run may stop, as pure functions.

The live runner asks `compare_at_look` and `may_stop` after each scheduled look; the
detection benchmark replays recorded rounds through `decide_sequentially`, so both apply
exactly the same rule.

Which verdicts a run waits for is the test's `stop_when`. Waiting for every operator
(`every_metric`) costs most where operators are many and noisy: on MobileNetV1 the classifier's
Gemm and the first convolution move by about 10% from one process to the next, so pinning them
inside a 2% band takes hundreds of rounds and the run goes to max_rounds nearly always. With
`net` the run waits for NET's verdict, but never stops before an operator could be a
regression: Benjamini-Hochberg holds a lone operator to alpha over the family size, which the
exact signed-rank p-value (at best 2**-n) reaches only after a dozen rounds for a network of
thirty operators, so the run's looks start there (`run_looks`). Stopping earlier never raises
the false-alarm rate (alpha is spent per look, see stats/sequential.py); the operators just keep
the verdicts their rounds support, which may be inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from aipep_core.metric_direction import lower_is_worse
from aipep_core.names import NET
from aipep_core.spec import EVERY_METRIC, NET_DECIDED, TestSpec
from aipep_core.verdict import Verdict
from harness.resource_comparison import compare_resources
from harness.resource_samples import is_resource_key
from harness.stats.absolute_floor import apply_floor, control_level
from harness.stats.comparison import Comparison, compare_test
from harness.stats.sequential import alpha_for_look, look_schedule, min_rounds_for_family, should_stop

PerRound = Mapping[str, tuple[Sequence[float], Sequence[float]]]
# Every framework module reports times in this unit (frameworks/observer_lines.py converts).
MICROSECONDS = "us"


def is_net(key: str) -> bool:
    return key.split(" ", 1)[0] == NET


def is_operator(key: str) -> bool:
    """A per-operator latency metric: neither NET nor a resource of the process."""
    return not is_net(key) and not is_resource_key(key)


def compare_at_look(
    metrics: PerRound,
    test: TestSpec,
    look_index: int,
    n_looks: int,
    units: Mapping[str, str] | None = None,
) -> dict[str, Comparison]:
    """Latency metrics as one test (NET alone, operators BH-adjusted); the resource metrics as a family of
    their own, BH-adjusted together, each at its own threshold.

    Operators whose `units` are microseconds then meet the test's absolute floor; a metric of
    unknown unit never does, since a floor in the wrong unit would hide a real regression."""
    alpha = alpha_for_look(test.alpha, look_index, n_looks)
    timed = {key: rounds for key, rounds in metrics.items() if not is_resource_key(key)}
    comparisons = compare_test(
        timed,
        net_keys={key for key in timed if is_net(key)},
        threshold_pct=test.regression_threshold,
        alpha=alpha,
    )
    for key in timed:
        if not is_net(key) and (units or {}).get(key) == MICROSECONDS:
            level = control_level(timed[key][1])
            comparisons[key] = apply_floor(comparisons[key], level, test.min_abs_change_us)
    resources = {key: rounds for key, rounds in metrics.items() if is_resource_key(key)}
    thresholds = {key: test.resource_thresholds[key.split(" ", 1)[1]] for key in resources}
    comparisons.update(compare_resources(resources, thresholds_pct=thresholds, alpha=alpha))
    return {key: _facing_worse(key, comparison) for key, comparison in comparisons.items()}


_TURNED = {Verdict.REGRESSION: Verdict.IMPROVEMENT, Verdict.IMPROVEMENT: Verdict.REGRESSION}


def _facing_worse(key: str, comparison: Comparison) -> Comparison:
    """A drop in a rate is the regression: the test is symmetric, so its verdict is only turned round."""
    if not lower_is_worse(key) or comparison.verdict not in _TURNED:
        return comparison
    return replace(comparison, verdict=_TURNED[comparison.verdict])


def open_verdicts(comparisons: Mapping[str, Comparison], stop_when: str) -> list[Verdict]:
    """The verdicts more rounds may change and the run waits for; an unmeasurable metric's inconclusive
    is final and waits for nothing. With `net`, NET's alone where the test measures NET.

    Resource metrics never hold a run open: context switches and CPU utilisation swing
    too much from run to run to settle within a latency run's rounds, and waiting for
    them would stretch every run to its maximum.
    """
    timed = {key: c for key, c in comparisons.items() if c.measured and not is_resource_key(key)}
    if stop_when == NET_DECIDED and any(is_net(key) for key in timed):
        timed = {key: c for key, c in timed.items() if is_net(key)}
    return [c.verdict for c in timed.values()]


def operators_could_regress(comparisons: Mapping[str, Comparison], alpha_look: float, rounds: int) -> bool:
    """Whether `rounds` are enough for one operator to be significant in its BH family (both
    directions of every measured operator, as compare_test pools them); true without operators."""
    family = 2 * sum(1 for key, c in comparisons.items() if c.measured and is_operator(key))
    return family == 0 or rounds >= min_rounds_for_family(alpha_look, family)


def may_stop(comparisons: Mapping[str, Comparison], test: TestSpec, look_index: int, n_looks: int, rounds: int) -> bool:
    """Whether the run may end after this look: at max_rounds, once every verdict is in, or with
    `stop_when` net once NET's is, if the operators could already have shown a regression."""
    if should_stop(open_verdicts(comparisons, EVERY_METRIC), rounds, test.max_rounds):
        return True
    if test.stop_when != NET_DECIDED:
        return False
    alpha_look = alpha_for_look(test.alpha, look_index, n_looks)
    return operators_could_regress(comparisons, alpha_look, rounds) and should_stop(
        open_verdicts(comparisons, NET_DECIDED), rounds, test.max_rounds
    )


def run_looks(test: TestSpec, keys: Iterable[str]) -> list[int]:
    """The looks of a run measuring `keys`: with `stop_when` net and operators, the schedule starts
    where an operator could be a regression, since no earlier look could end the run."""
    keys = list(keys)
    operators = sum(1 for key in keys if is_operator(key))
    if test.stop_when != NET_DECIDED or not any(is_net(key) for key in keys):
        operators = 0
    return look_schedule(test.min_rounds, test.max_rounds, alpha=test.alpha, operators=operators)


def decide_sequentially(
    metrics: PerRound, test: TestSpec, units: Mapping[str, str] | None = None
) -> tuple[dict[str, Comparison], int]:
    """Replay the looks over recorded rounds: the verdicts and the rounds it took."""
    looks = run_looks(test, metrics)
    available = min(len(treatment) for treatment, _ in metrics.values())
    comparisons: dict[str, Comparison] = {}
    used = 0
    for index, look in enumerate(looks):
        if look > available:
            break
        window = {key: (treatment[:look], control[:look]) for key, (treatment, control) in metrics.items()}
        comparisons, used = compare_at_look(window, test, index, len(looks), units), look
        if may_stop(comparisons, test, index, len(looks), look):
            break
    return comparisons, used
