import math

import numpy as np
import pytest

from aipep_core.verdict import Verdict
from harness.stats.comparison import compare_metric, compare_test
from harness.stats.errors import StatisticsInputError
from harness.stats.unmeasurable import unmeasurable_note


def test_positive_rounds_have_no_note():
    assert unmeasurable_note([1.0, 2.0], [3.0, 4.0]) is None


def test_a_zero_round_in_either_arm_is_named_as_below_timer_resolution():
    note = unmeasurable_note([1.0, 0.0, 2.0], [0.0, 1.0, 0.0])
    assert note is not None
    assert "below the timer's resolution" in note
    assert "1 treatment and 2 control round(s) of 3" in note


def test_a_negative_round_is_named_as_a_broken_clock():
    note = unmeasurable_note([1.0, -2.0], [1.0, 0.0])
    assert note is not None and "broken clock" in note


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_rounds_are_still_refused(bad):
    assert unmeasurable_note([0.0, bad], [1.0, 1.0]) is None
    with pytest.raises(StatisticsInputError, match="finite"):
        compare_metric([0.0, bad], [1.0, 1.0])


def test_compare_metric_answers_inconclusive_without_numbers():
    result = compare_metric([0.0] * 8, [1.0] * 8)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert not result.measured
    assert result.rounds == 8
    assert result.as_dict() == {
        "estimate_pct": None,
        "ci_low_pct": None,
        "ci_high_pct": None,
        "p_value": None,
        "q_value": None,
        "rounds": 8,
        "verdict": "inconclusive",
        "note": result.note,
    }


def test_unequal_arms_are_still_refused_when_a_round_is_zero():
    with pytest.raises(StatisticsInputError, match="paired by index"):
        compare_metric([0.0, 1.0], [1.0])


def test_a_zero_operator_leaves_the_net_and_the_other_operators_family_as_without_it():
    rng = np.random.default_rng(7)
    control = 100.0 * np.exp(rng.normal(0.0, 0.01, size=12))
    slower = control * 1.10 * np.exp(rng.normal(0.0, 0.01, size=12))
    same = control * np.exp(rng.normal(0.0, 0.01, size=12))
    metrics = {"NET latency": (slower, control), "Conv latency": (slower, control), "Relu latency": (same, control)}
    without = compare_test(metrics, net_keys={"NET latency"})
    zero = [0.0 if i % 3 == 0 else 1.0 for i in range(12)]
    with_zero = compare_test({**metrics, "Reshape latency": (zero, [1.0] * 12)}, net_keys={"NET latency"})
    assert list(with_zero) == ["NET latency", "Conv latency", "Relu latency", "Reshape latency"]
    for key, comparison in without.items():
        assert with_zero[key] == comparison, key
    assert with_zero["NET latency"].verdict is Verdict.REGRESSION
    reshape = with_zero["Reshape latency"]
    assert reshape.verdict is Verdict.INCONCLUSIVE and reshape.q_value is None and reshape.rounds == 12
