import math
import statistics

import numpy as np
import pytest
from scipy import stats as scipy_stats

from harness.stats.errors import StatisticsInputError
from harness.stats.summary import (
    DEFAULT_ROUND_STATISTIC,
    ROUND_STATISTICS,
    diff_summary,
    round_statistic,
    summarize,
)


def test_summary_of_a_hand_worked_sample():
    result = summarize([1, 2, 3, 4, 10])
    assert list(result) == ["mean", "p0", "p10", "p50", "p90", "p100", "stdev", "MAD", "cv"]
    # mean = 20 / 5
    assert result["mean"] == pytest.approx(4.0)
    # Linear interpolation at position p * (n - 1) = 4p of the sorted values:
    # p10 -> 0.4: 1 + 0.4 * (2 - 1); p50 -> 2: 3; p90 -> 3.6: 4 + 0.6 * (10 - 4).
    assert result["p0"] == 1.0
    assert result["p10"] == pytest.approx(1.4)
    assert result["p50"] == pytest.approx(3.0)
    assert result["p90"] == pytest.approx(7.6)
    assert result["p100"] == 10.0
    # Deviations from 4: -3 -2 -1 0 6, squares sum to 50, / (n - 1) = 12.5.
    assert result["stdev"] == pytest.approx(math.sqrt(12.5))
    # |x - median 3| = 2 1 0 1 7 -> sorted 0 1 1 2 7 -> median 1.
    assert result["MAD"] == pytest.approx(1.0)
    assert result["cv"] == pytest.approx(math.sqrt(12.5) / 4.0)


def test_summary_matches_numpy_and_statistics_on_random_samples():
    rng = np.random.default_rng(11)
    for size in (2, 3, 7, 50, 333):
        values = rng.lognormal(mean=3.0, sigma=0.4, size=size)
        result = summarize(values)
        expected = np.percentile(values, [0, 10, 50, 90, 100])
        got = [result[key] for key in ("p0", "p10", "p50", "p90", "p100")]
        assert got == pytest.approx(expected, rel=1e-12)
        assert result["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
        assert result["stdev"] == pytest.approx(statistics.stdev(values), rel=1e-12)
        assert result["MAD"] == pytest.approx(scipy_stats.median_abs_deviation(values, scale=1.0), rel=1e-12)
        assert result["cv"] == pytest.approx(statistics.stdev(values) / statistics.fmean(values))


def test_summary_of_one_value_has_no_spread():
    result = summarize([7.5])
    assert result["stdev"] == 0.0
    assert result["MAD"] == 0.0
    assert result["cv"] == 0.0
    assert {result[k] for k in ("mean", "p0", "p10", "p50", "p90", "p100")} == {7.5}


def test_cv_is_zero_for_equal_values_and_undefined_around_a_zero_mean():
    assert summarize([0.0, 0.0, 0.0])["cv"] == 0.0
    assert math.isnan(summarize([-1.0, 1.0])["cv"])


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf], [1.0, -math.inf]])
def test_summary_refuses_missing_or_non_finite_values(bad):
    with pytest.raises(StatisticsInputError):
        summarize(bad)


def test_diff_summary_is_treatment_minus_control_per_key():
    treatment = {"mean": 12.0, "p50": 11.0, "cv": 0.1}
    control = {"mean": 10.0, "p50": 11.5, "cv": 0.25}
    # 12 - 10, 11 - 11.5, 0.1 - 0.25
    assert diff_summary(treatment, control) == pytest.approx({"mean": 2.0, "p50": -0.5, "cv": -0.15})


def test_diff_summary_of_full_summaries_has_every_key():
    diff = diff_summary(summarize([2, 4, 6]), summarize([1, 2, 3]))
    assert set(diff) == set(summarize([1.0]))
    assert diff["mean"] == pytest.approx(2.0)  # 4 - 2
    assert diff["p100"] == pytest.approx(3.0)  # 6 - 3


def test_round_statistics_on_a_hand_worked_round():
    values = [5, 1, 3, 2, 100]  # sorted: 1 2 3 5 100
    assert DEFAULT_ROUND_STATISTIC == "min" and round_statistic(values) == 1.0
    assert round_statistic(values, "median") == 3.0
    # position 0.1 * 4 = 0.4 -> 1 + 0.4 * (2 - 1)
    assert round_statistic(values, "p10") == pytest.approx(1.4)
    # int(0.2 * 5) = 1 cut from each end -> (2 + 3 + 5) / 3
    assert round_statistic(values, "trimmed_mean") == pytest.approx(10 / 3)
    assert round_statistic(values, "min") == 1.0


def test_trimmed_mean_matches_scipy():
    rng = np.random.default_rng(5)
    for size in (1, 2, 4, 5, 9, 10, 23, 100):
        values = rng.exponential(size=size)
        assert round_statistic(values, "trimmed_mean") == pytest.approx(scipy_stats.trim_mean(values, 0.2), rel=1e-12)


def test_round_statistic_names():
    assert DEFAULT_ROUND_STATISTIC == "min"
    assert set(ROUND_STATISTICS) == {"median", "p10", "trimmed_mean", "min"}


def test_round_statistic_refuses_unknown_method_and_bad_values():
    with pytest.raises(StatisticsInputError, match="mean"):
        round_statistic([1.0], "mean")
    with pytest.raises(StatisticsInputError, match="empty"):
        round_statistic([])
    with pytest.raises(StatisticsInputError, match=r"\[1\]"):
        round_statistic([1.0, math.nan])
