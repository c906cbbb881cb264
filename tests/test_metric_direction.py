"""A rate that drops is the regression: the verdict faces the way that is worse for the metric."""

from aipep_core import spec
from aipep_core.load_scenario import LoadScenario
from aipep_core.verdict import Verdict
from harness.sequential_decision import compare_at_look

CONTROL = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1002.0, 998.0, 1001.0]


def judged(key: str, factor: float) -> Verdict:
    test = spec.TestSpec(index=0, identifier="t", metric="delay", iter=1, scenario=LoadScenario(name="offline"))
    treatment = [value * factor for value in CONTROL]
    return compare_at_look({key: (treatment, CONTROL)}, test, 0, 1)[key].verdict


def test_throughput_down_is_a_regression_and_up_an_improvement():
    assert judged("NET throughput", 0.7) is Verdict.REGRESSION
    assert judged("NET throughput", 1.3) is Verdict.IMPROVEMENT


def test_latency_keeps_its_direction():
    assert judged("NET latency", 1.3) is Verdict.REGRESSION
    assert judged("NET latency", 0.7) is Verdict.IMPROVEMENT
