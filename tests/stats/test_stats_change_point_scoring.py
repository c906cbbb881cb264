import pytest

from harness.stats.change_point_scoring import KnownChange, Score, detection_delay, score
from harness.stats.errors import StatisticsInputError


def test_a_change_is_found_once_and_only_points_near_no_change_are_false():
    changes = [KnownChange(30, 30), KnownChange(60, 79)]
    # 31 and 33 both find the step, 65 and 70 the ramp (cut into steps); 5 is noise.
    assert score([5, 31, 33, 65, 70], changes, tolerance=3) == Score(found=2, missed=0, false_points=1)
    assert score([], changes, tolerance=3) == Score(found=0, missed=2, false_points=0)
    # Just outside the tolerance on either side is a miss and a false point.
    assert score([26, 34], [KnownChange(30, 30)], tolerance=3) == Score(found=0, missed=1, false_points=2)
    assert score([27], [KnownChange(30, 30)], tolerance=3) == Score(found=1, missed=0, false_points=0)


def test_a_change_must_be_a_forward_span():
    with pytest.raises(StatisticsInputError, match="change spans 5..4"):
        KnownChange(5, 4)


def test_the_delay_is_the_first_prefix_that_reports_the_change():
    series = [0.0] * 10 + [1.0] * 10

    def step_seen_after_three_points(prefix):
        return [10] if len(prefix) >= 13 else []

    # The prefix of 13 points ends at commit 12, two commits after the step at 10.
    assert detection_delay(step_seen_after_three_points, series, KnownChange(10, 10), tolerance=2) == 2
    assert detection_delay(lambda prefix: [], series, KnownChange(10, 10), tolerance=2) is None
    # A point far from the change does not count as finding it.
    assert detection_delay(lambda prefix: [2], series, KnownChange(10, 10), tolerance=2) is None
