import itertools
import math

import numpy as np
import pytest

from harness.stats.change_points import detect_change_points
from harness.stats.errors import StatisticsInputError


def test_clean_step():
    assert detect_change_points([1.0] * 10 + [1.2] * 10) == [10]


def test_noisy_step():
    rng = np.random.default_rng(1)
    series = np.r_[rng.normal(0.0, 1.0, 30), rng.normal(4.0, 1.0, 30)]
    assert detect_change_points(series) == [30]


def test_two_steps():
    rng = np.random.default_rng(2)
    series = np.r_[rng.normal(0.0, 0.5, 25), rng.normal(3.0, 0.5, 20), rng.normal(1.0, 0.5, 25)]
    assert detect_change_points(series) == [25, 45]


def test_slow_creep_of_many_small_steps_is_found():
    rng = np.random.default_rng(3)
    # 40 commits, each 0.1 sigma slower than the last: no single step stands out.
    series = 0.1 * np.arange(40) + rng.normal(0.0, 1.0, 40)
    assert np.max(np.abs(np.diff(0.1 * np.arange(40)))) < 0.2
    assert len(detect_change_points(series)) >= 1


def test_flat_noise_has_no_change():
    rng = np.random.default_rng(4)
    assert detect_change_points(rng.normal(10.0, 0.3, 80)) == []


def test_flat_noise_rarely_has_a_change():
    rng = np.random.default_rng(5)
    found = sum(bool(detect_change_points(rng.normal(size=50))) for _ in range(300))
    # About 2% of 50-point white-noise histories show a change with the default penalty.
    assert found <= 15


def test_constant_short_and_empty_histories_have_no_change():
    assert detect_change_points([3.0] * 30) == []
    assert detect_change_points([1.0, 1.0, 1.0, 9.0, 9.0]) == []  # shorter than 2 * min_size
    assert detect_change_points([]) == []


def test_segments_respect_min_size():
    rng = np.random.default_rng(6)
    series = rng.normal(size=40)
    for min_size in (1, 2, 3, 5):
        changes = detect_change_points(series, min_size=min_size, penalty=0.0)
        bounds = [0, *changes, 40]
        assert changes
        assert all(b - a >= min_size for a, b in itertools.pairwise(bounds))


def test_a_huge_penalty_finds_nothing():
    assert detect_change_points([0.0] * 10 + [1.0] * 10, penalty=1e9) == []


def segmentation_cost(series, changes, penalty):
    bounds = [0, *changes, len(series)]
    return sum(
        float(np.sum((series[a:b] - np.mean(series[a:b])) ** 2)) + penalty for a, b in itertools.pairwise(bounds)
    )


def test_segmentation_is_optimal_against_exhaustive_search():
    rng = np.random.default_rng(7)
    for trial in range(12):
        n = 11
        series = rng.normal(size=n) + np.repeat(rng.normal(0, 2, size=3), [4, 3, 4])
        penalty = 1.5
        min_size = 1 + trial % 3
        best = math.inf
        for k in range(n):
            for changes in itertools.combinations(range(1, n), k):
                bounds = [0, *changes, n]
                if all(b - a >= min_size for a, b in itertools.pairwise(bounds)):
                    best = min(best, segmentation_cost(series, list(changes), penalty))
        found = detect_change_points(series, min_size=min_size, penalty=penalty)
        assert segmentation_cost(series, found, penalty) == pytest.approx(best)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"series": [1.0, math.nan, 2.0]}, r"series\[1\]"),
        ({"series": [1.0] * 8, "min_size": 0}, "min_size"),
        ({"series": [1.0] * 8, "penalty": -1.0}, "penalty"),
        ({"series": [1.0] * 8, "penalty": math.inf}, "penalty"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    series = kwargs.pop("series")
    with pytest.raises(StatisticsInputError, match=message):
        detect_change_points(series, **kwargs)
