import numpy as np

from harness.stats.change_points import detect_change_points
from harness.stats.level_outliers import clip_outliers
from repo_driver.creep import level_rises


def test_two_disturbed_commits_close_together_no_longer_make_a_level_of_their_own():
    rng = np.random.default_rng(3)
    history = rng.normal(0.0, 0.005, 40)
    history[[20, 22]] += 0.03  # two commits benchmarked on a busy machine, 6 sigma slow
    assert detect_change_points(history) == [20, 23]
    assert detect_change_points(clip_outliers(history)) == []


def test_a_step_survives_clipping_where_it_is():
    rng = np.random.default_rng(3)
    history = np.r_[np.zeros(20), np.full(20, 0.02)] + rng.normal(0.0, 0.005, 40)
    clipped = clip_outliers(history)
    assert detect_change_points(clipped) == [20]
    # The step is not clipped away: no point moves by a quarter of it.
    assert float(np.max(np.abs(np.asarray(clipped) - history))) < 0.25 * 0.02


def test_a_ramp_is_left_to_be_found():
    rng = np.random.default_rng(3)
    ramp = np.r_[np.zeros(10), np.arange(1, 21) * 0.002, np.full(10, 0.04)]
    changes = detect_change_points(clip_outliers(ramp + rng.normal(0.0, 0.005, 40)))
    assert changes and all(10 - 3 <= index <= 29 + 3 for index in changes)


def test_short_and_flat_histories_are_returned_as_they_are():
    assert clip_outliers([1.0, 5.0, 1.0]) == [1.0, 5.0, 1.0]
    assert clip_outliers([2.0] * 12) == [2.0] * 12
    assert clip_outliers([]) == []


def test_the_driver_raises_no_creep_alert_for_two_disturbed_commits_but_does_for_a_rise():
    rng = np.random.default_rng(3)
    disturbed = rng.normal(0.0, 0.005, 40)
    disturbed[[20, 22]] += 0.03
    assert level_rises(disturbed.tolist(), 2.0, detect_change_points)  # unclipped: a false alert
    assert level_rises(disturbed.tolist(), 2.0) == []
    risen = np.r_[np.zeros(20), np.full(20, 0.04)] + rng.normal(0.0, 0.005, 40)
    ((start, shift_pct),) = level_rises(risen.tolist(), 2.0)
    assert start == 20 and 3.0 < shift_pct < 5.0


def test_a_ramp_cut_into_small_levels_raises_an_alert_against_the_anchor():
    # 0.2% per commit over 20 commits: the detector cuts it into levels about 1.3% apart, none of
    # which is 2% above the one before; the third is 2.7% above the first.
    levels = [0.0] * 15 + [0.0133] * 7 + [0.0266] * 7 + [0.04] * 15
    assert detect_change_points(levels) == [15, 22, 29]
    ((start, shift_pct),) = level_rises(levels, 2.0)
    assert start == 22 and 2.6 < shift_pct < 2.8  # the 2.66% level, against the first


def test_creep_after_an_improvement_counts_from_the_improved_level():
    levels = [0.0] * 10 + [-0.05] * 10 + [-0.025] * 10
    ((start, shift_pct),) = level_rises(levels, 2.0)
    assert start == 20 and 2.5 < shift_pct < 2.6
