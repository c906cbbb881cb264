import math

import pytest

from aipep_core import spec
from aipep_core.verdict import Verdict
from harness.sequential_decision import compare_at_look, decide_sequentially
from harness.stats.absolute_floor import absolute_change, apply_floor, control_level
from harness.stats.comparison import Comparison
from harness.stats.errors import StatisticsInputError


def comparison(verdict, estimate_pct=85.0, ci=(60.0, 110.0)):
    return Comparison(estimate_pct, ci[0], ci[1], 0.001, 0.002, 20, verdict)


def test_the_absolute_change_is_the_estimate_applied_to_the_control_level():
    assert absolute_change(85.0, 3.0) == pytest.approx(2.55)
    assert absolute_change(-10.0, 400.0) == pytest.approx(-40.0)
    # The median: one disturbed round of 90 us does not lift a 3 us operator's level.
    assert control_level([3.0, 3.0, 4.0, 90.0, 3.0]) == 3.0


def test_a_tiny_operator_85_percent_slower_is_below_the_floor_not_a_regression():
    floored = apply_floor(comparison(Verdict.REGRESSION), 3.0, 5.0)
    assert floored.verdict is Verdict.BELOW_FLOOR
    assert floored.abs_change_us == pytest.approx(2.55)
    assert floored.as_dict()["verdict"] == "below_floor"
    assert floored.as_dict()["abs_change_us"] == pytest.approx(2.55)


def test_a_large_operator_with_the_same_percent_stays_a_regression():
    floored = apply_floor(comparison(Verdict.REGRESSION), 3000.0, 5.0)
    assert floored.verdict is Verdict.REGRESSION
    assert floored.abs_change_us == pytest.approx(2550.0)


def test_improvements_are_floored_too():
    assert apply_floor(comparison(Verdict.IMPROVEMENT, -50.0), 4.0, 5.0).verdict is Verdict.BELOW_FLOOR
    assert apply_floor(comparison(Verdict.IMPROVEMENT, -50.0), 40.0, 5.0).verdict is Verdict.IMPROVEMENT


def test_an_inconclusive_operator_is_settled_below_the_floor_only_when_its_whole_interval_is():
    inside = comparison(Verdict.INCONCLUSIVE, 20.0, (-30.0, 60.0))
    assert apply_floor(inside, 5.0, 5.0).verdict is Verdict.BELOW_FLOOR  # -1.5 us .. +3 us
    assert apply_floor(inside, 10.0, 5.0).verdict is Verdict.INCONCLUSIVE  # +6 us is possible
    open_ended = comparison(Verdict.INCONCLUSIVE, 20.0, (-100.0, math.inf))
    assert apply_floor(open_ended, 1.0, 5.0).verdict is Verdict.INCONCLUSIVE


def test_no_change_stays_no_change_and_a_zero_floor_changes_nothing():
    assert apply_floor(comparison(Verdict.NO_CHANGE, 0.1, (-1.0, 1.0)), 3.0, 5.0).verdict is Verdict.NO_CHANGE
    for verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT, Verdict.INCONCLUSIVE):
        assert apply_floor(comparison(verdict), 3.0, 0.0).verdict is verdict


def test_an_unmeasured_metric_is_left_as_it_is():
    unmeasured = Comparison(None, None, None, None, None, 8, Verdict.INCONCLUSIVE, "0 in 3 rounds")
    assert apply_floor(unmeasured, 3.0, 5.0) is unmeasured


@pytest.mark.parametrize("floor", [-1.0, math.nan, math.inf])
def test_a_floor_that_is_not_a_finite_number_of_microseconds_is_refused(floor):
    with pytest.raises(StatisticsInputError, match="floor"):
        apply_floor(comparison(Verdict.REGRESSION), 3.0, floor)


def rounds_with_a_tiny_slow_operator():
    """Twelve rounds: NET unchanged, Conv unchanged, Softmax (whole microseconds) 3 -> 5 us."""
    net = [1000.0 + i for i in range(12)]
    conv = [600.0 + (i % 3) for i in range(12)]
    return {
        "NET latency": ([value + 0.5 for value in net], net),
        "Conv latency": (conv, conv[::-1]),
        "Softmax latency": ([5.0] * 12, [3.0] * 12),
    }


def test_the_decision_floors_microsecond_operators_but_never_net_or_unknown_units():
    test = spec.TestSpec(index=0, identifier="t", metric="delay", iter=5, min_rounds=8, max_rounds=12)
    units = dict.fromkeys(rounds_with_a_tiny_slow_operator(), "us")
    found = compare_at_look(rounds_with_a_tiny_slow_operator(), test, 0, 1, units)
    assert found["Softmax latency"].verdict is Verdict.BELOW_FLOOR
    assert found["Softmax latency"].abs_change_us == pytest.approx(2.0)
    assert found["NET latency"].abs_change_us is None
    # Without a known unit, or with the floor at 0, the 67% slowdown is the regression it is.
    unknown_unit = compare_at_look(rounds_with_a_tiny_slow_operator(), test, 0, 1)
    assert unknown_unit["Softmax latency"].verdict is Verdict.REGRESSION
    unfloored = spec.TestSpec(index=0, identifier="t", metric="delay", iter=5, min_abs_change_us=0.0)
    found = compare_at_look(rounds_with_a_tiny_slow_operator(), unfloored, 0, 1, units)
    assert found["Softmax latency"].verdict is Verdict.REGRESSION


def test_a_tiny_noisy_operator_no_longer_holds_the_run_to_its_last_round():
    # An A/A on a 3-4 us operator: the interval (tens of percent) never fits inside a 2%
    # threshold, so unfloored it stays inconclusive to max_rounds; in microseconds the
    # whole interval is inside the 5 us floor at the first look.
    control = [3.0, 4.0, 3.0, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.0, 4.0, 3.0]
    treatment = [4.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 3.0, 4.0, 3.0, 4.0, 4.0]
    metrics = {"Softmax latency": (treatment, control)}
    floored = spec.TestSpec(index=0, identifier="t", metric="delay", iter=5, min_rounds=8, max_rounds=12)
    unfloored = spec.TestSpec(
        index=0, identifier="t", metric="delay", iter=5, min_rounds=8, max_rounds=12, min_abs_change_us=0.0
    )
    found, used = decide_sequentially(metrics, unfloored, {"Softmax latency": "us"})
    assert (found["Softmax latency"].verdict, used) == (Verdict.INCONCLUSIVE, 12)
    found, used = decide_sequentially(metrics, floored, {"Softmax latency": "us"})
    assert (found["Softmax latency"].verdict, used) == (Verdict.BELOW_FLOOR, 8)
