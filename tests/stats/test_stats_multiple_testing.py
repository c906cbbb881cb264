import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from harness.stats.errors import StatisticsInputError
from harness.stats.multiple_testing import benjamini_hochberg


def test_hand_worked_adjustment():
    # Sorted p: 0.01 0.03 0.04 0.20 (m = 4); p * m / rank: 0.04 0.06 0.0533 0.20;
    # running minimum from the top: 0.04 0.0533 0.0533 0.20; back in input order:
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_q_values_are_capped_at_one():
    # 0.9 * 2 / 1 = 1.8, 0.95 * 2 / 2 = 0.95 -> minimum from the top 0.95 for both.
    assert benjamini_hochberg([0.9, 0.95]) == pytest.approx([0.95, 0.95])
    assert benjamini_hochberg([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]


def test_matches_scipy_false_discovery_control():
    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 17, 200):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 0.01, size=size // 3)])
        p[::7] = p[0]  # ties
        expected = scipy_stats.false_discovery_control(p, method="bh")
        assert benjamini_hochberg(p.tolist()) == pytest.approx(expected.tolist(), rel=1e-12)


def test_adjustment_keeps_the_order_of_the_p_values():
    p = [0.3, 0.001, 0.02, 0.02, 0.5, 0.04]
    q = benjamini_hochberg(p)
    assert all(qi >= pi for qi, pi in zip(q, p, strict=True))
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(np.asarray(q)[order]) >= 0)


def test_empty_family_has_nothing_to_adjust():
    assert benjamini_hochberg([]) == []


@pytest.mark.parametrize("bad", [[0.1, math.nan], [-0.01], [1.5], [[0.1, 0.2]]])
def test_refuses_values_that_are_not_p_values(bad):
    with pytest.raises(StatisticsInputError):
        benjamini_hochberg(bad)
