import json

import pytest

from aipep_core.verdict import Verdict
from harness.stats.verdict import decide


def call(**overrides):
    arguments = {
        "estimate_pct": 0.0,
        "ci_low_pct": -5.0,
        "ci_high_pct": 5.0,
        "p_greater": 0.5,
        "p_less": 0.5,
        "threshold_pct": 2.0,
        "alpha": 0.05,
    }
    arguments.update(overrides)
    return decide(**arguments)


def test_verdict_values_are_the_stored_strings():
    assert [v.value for v in Verdict] == ["regression", "improvement", "no_change", "inconclusive", "below_floor"]
    assert Verdict("no_change") is Verdict.NO_CHANGE
    assert f"{Verdict.REGRESSION}" == "regression"
    assert json.dumps({"verdict": Verdict.REGRESSION}) == '{"verdict": "regression"}'
    assert Verdict.REGRESSION == "regression" and Verdict.NO_CHANGE != "regression"


def test_significant_and_large_slowdown_is_a_regression():
    assert call(estimate_pct=5.0, ci_low_pct=3.0, ci_high_pct=7.0, p_greater=0.001) is Verdict.REGRESSION


def test_significant_and_large_speedup_is_an_improvement():
    assert call(estimate_pct=-5.0, ci_low_pct=-7.0, ci_high_pct=-3.0, p_less=0.001) is Verdict.IMPROVEMENT


def test_significant_but_small_change_inside_the_band_is_no_change():
    verdict = call(estimate_pct=1.0, ci_low_pct=0.5, ci_high_pct=1.5, p_greater=0.0001)
    assert verdict is Verdict.NO_CHANGE


def test_significant_but_small_change_with_a_wide_interval_is_inconclusive():
    verdict = call(estimate_pct=1.0, ci_low_pct=0.1, ci_high_pct=2.5, p_greater=0.0001)
    assert verdict is Verdict.INCONCLUSIVE


def test_large_but_not_significant_change_is_inconclusive():
    assert call(estimate_pct=8.0, ci_low_pct=-1.0, ci_high_pct=20.0, p_greater=0.2) is Verdict.INCONCLUSIVE


def test_significance_in_the_wrong_direction_does_not_count():
    assert call(estimate_pct=5.0, ci_low_pct=-1.0, ci_high_pct=9.0, p_less=0.001) is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # The comparisons are strict: exactly alpha or exactly the threshold is not enough.
        ({"estimate_pct": 5.0, "p_greater": 0.05}, Verdict.INCONCLUSIVE),
        ({"estimate_pct": 2.0, "ci_low_pct": 1.0, "ci_high_pct": 3.0, "p_greater": 0.01}, Verdict.INCONCLUSIVE),
        ({"estimate_pct": -2.0, "ci_low_pct": -3.0, "ci_high_pct": -1.0, "p_less": 0.01}, Verdict.INCONCLUSIVE),
        ({"ci_low_pct": -2.0, "ci_high_pct": 1.0}, Verdict.INCONCLUSIVE),
        ({"ci_low_pct": -1.0, "ci_high_pct": 2.0}, Verdict.INCONCLUSIVE),
        ({"ci_low_pct": -1.999, "ci_high_pct": 1.999}, Verdict.NO_CHANGE),
    ],
)
def test_boundaries_are_strict(overrides, expected):
    assert call(**overrides) is expected


def test_an_open_interval_never_claims_no_change():
    assert call(ci_low_pct=-100.0, ci_high_pct=float("inf")) is Verdict.INCONCLUSIVE
