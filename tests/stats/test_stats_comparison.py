import json
import math

import numpy as np
import pytest

from aipep_core.verdict import Verdict
from harness.stats.comparison import compare_metric, compare_test
from harness.stats.errors import StatisticsInputError
from harness.stats.multiple_testing import benjamini_hochberg
from harness.stats.paired import log_ratios, wilcoxon_signed_rank


def rounds(rng, n, effect, noise=0.01, level=100.0):
    """Per-round statistics of both arms with a multiplicative effect on treatment."""
    control = level * np.exp(rng.normal(0.0, noise, size=n))
    treatment = control * np.exp(effect + rng.normal(0.0, noise, size=n))
    return treatment, control


def test_hand_worked_comparison():
    control = [100.0] * 8
    treatment = [100.0 * math.exp(0.01 * k) for k in range(1, 9)]  # d = 0.01 .. 0.08
    result = compare_metric(treatment, control, threshold_pct=2.0, alpha=0.05)
    # Walsh averages of 0.01..0.08 are symmetric about 0.045; the n = 8 exact interval
    # uses c = 3 (P(T+ <= 3) = 5/256): [W_(4), W_(33)] = [0.02, 0.07].
    assert result.estimate_pct == pytest.approx(100 * (math.exp(0.045) - 1))  # 4.603%
    assert result.ci_low_pct == pytest.approx(100 * (math.exp(0.02) - 1))  # 2.020%
    assert result.ci_high_pct == pytest.approx(100 * (math.exp(0.07) - 1))  # 7.251%
    # All 8 rounds slower: one sign pattern of 2**8.
    assert result.p_value == pytest.approx(1 / 256)
    assert result.q_value is None
    assert result.rounds == 8
    assert result.verdict is Verdict.REGRESSION
    assert result.as_dict() == {
        "estimate_pct": result.estimate_pct,
        "ci_low_pct": result.ci_low_pct,
        "ci_high_pct": result.ci_high_pct,
        "p_value": result.p_value,
        "q_value": None,
        "rounds": 8,
        "verdict": "regression",
    }


def test_clear_regression_improvement_and_no_change():
    rng = np.random.default_rng(2)
    slower = compare_metric(*rounds(rng, 20, math.log(1.10)))
    assert slower.verdict is Verdict.REGRESSION
    assert slower.ci_low_pct < 10.0 < slower.ci_high_pct
    faster = compare_metric(*rounds(rng, 20, math.log(0.90)))
    assert faster.verdict is Verdict.IMPROVEMENT
    same = compare_metric(*rounds(rng, 20, 0.0, noise=0.002))
    assert same.verdict is Verdict.NO_CHANGE
    assert -2.0 < same.ci_low_pct <= same.estimate_pct <= same.ci_high_pct < 2.0


def test_noisy_short_test_is_inconclusive():
    rng = np.random.default_rng(3)
    assert compare_metric(*rounds(rng, 8, 0.0, noise=0.2)).verdict is Verdict.INCONCLUSIVE


def test_p_value_is_one_sided_in_the_direction_of_the_estimate():
    rng = np.random.default_rng(4)
    treatment, control = rounds(rng, 15, math.log(0.97), noise=0.03)
    result = compare_metric(treatment, control)
    assert result.estimate_pct < 0
    assert result.p_value == wilcoxon_signed_rank(log_ratios(treatment, control), "less")


def test_too_few_rounds_give_an_open_interval_and_no_verdict():
    result = compare_metric([101.0, 102.0, 103.0], [100.0, 100.0, 100.0])
    assert result.ci_low_pct == -100.0
    assert result.ci_high_pct == math.inf
    assert result.verdict is Verdict.INCONCLUSIVE


def test_bad_rounds_are_refused():
    with pytest.raises(StatisticsInputError, match="treatment"):
        compare_metric([1.0, math.inf], [1.0, 1.0])
    with pytest.raises(StatisticsInputError, match="rounds"):
        compare_metric([1.0, 2.0], [1.0])


def six_rounds_all_slower():
    # 6 slower rounds: p_greater = 1/64 = 0.0156, significant alone at 0.05.
    control = [100.0] * 6
    treatment = [110.0, 108.0, 112.0, 109.0, 111.0, 107.0]
    return treatment, control


def test_operators_are_adjusted_together_and_the_net_stands_alone():
    rng = np.random.default_rng(6)
    metrics = {
        "NET latency": six_rounds_all_slower(),
        "Conv latency": six_rounds_all_slower(),
        "Relu latency": rounds(rng, 6, 0.0, noise=0.05),
        "Add latency": rounds(rng, 6, 0.0, noise=0.05),
    }
    results = compare_test(metrics, net_keys={"NET latency"})
    assert set(results) == set(metrics)

    net = results["NET latency"]
    assert net.q_value is None
    assert net.p_value == pytest.approx(1 / 64)
    assert net.verdict is Verdict.REGRESSION

    operators = ["Conv latency", "Relu latency", "Add latency"]
    d = {key: log_ratios(*metrics[key]) for key in operators}
    pooled = [wilcoxon_signed_rank(d[key], "greater") for key in operators]
    pooled += [wilcoxon_signed_rank(d[key], "less") for key in operators]
    q = benjamini_hochberg(pooled)
    for i, key in enumerate(operators):
        slower = results[key].estimate_pct >= 0
        assert results[key].p_value == pytest.approx(pooled[i] if slower else pooled[i + 3])
        assert results[key].q_value == pytest.approx(q[i] if slower else q[i + 3])

    conv = results["Conv latency"]
    # Same data as the net, but the smallest of six p-values in the family:
    # q = min over k >= 1 of p_(k) * 6 / k: 6/64 = 0.094 at k = 1, and the null
    # operators' p-values are far too large to bring a later rank below 0.05.
    assert conv.p_value == pytest.approx(1 / 64)
    assert conv.q_value > 0.05
    assert conv.verdict is Verdict.INCONCLUSIVE


def test_as_dict_of_an_operator_carries_its_q_value():
    rng = np.random.default_rng(7)
    results = compare_test(
        {"NET": rounds(rng, 12, 0.0), "op": rounds(rng, 12, math.log(1.2))},
        net_keys=["NET"],
    )
    as_dict = results["op"].as_dict()
    assert as_dict["q_value"] == results["op"].q_value is not None
    assert as_dict["verdict"] in {v.value for v in Verdict}
    assert Verdict(as_dict["verdict"]) is results["op"].verdict
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict  # plain values: it goes to JSON and the store


def test_only_net_metrics_need_no_adjustment():
    rng = np.random.default_rng(8)
    treatment, control = rounds(rng, 10, 0.0)
    alone = compare_metric(treatment, control)
    results = compare_test({"NET": (treatment, control)}, net_keys={"NET"})
    assert results["NET"] == alone


def test_a_bad_metric_is_named():
    with pytest.raises(StatisticsInputError, match="'Conv latency'"):
        compare_test(
            {"NET": ([1.0, 2.0], [1.0, 2.0]), "Conv latency": ([1.0, math.nan], [1.0, 2.0])},
            net_keys={"NET"},
        )
