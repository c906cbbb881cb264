import numpy as np
import pytest
from scipy import stats as scipy_stats

from aipep_core.verdict import Verdict
from harness.stats.comparison import compare_metric
from harness.stats.errors import StatisticsInputError
from harness.stats.multiple_testing import benjamini_hochberg
from harness.stats.sequential import (
    MAX_LOOKS,
    alpha_for_look,
    look_schedule,
    min_rounds_for,
    min_rounds_for_family,
    should_stop,
)


@pytest.mark.parametrize(
    ("alpha_look", "expected"),
    [
        (0.05, 5),  # 2**-4 = 0.0625 >= 0.05 > 2**-5 = 0.03125
        (0.0625, 5),  # 2**-4 is not strictly below 0.0625
        (0.025, 6),  # 2**-5 = 0.03125 >= 0.025 > 2**-6 = 0.0156
        (0.01, 7),  # 2**-6 = 0.0156 >= 0.01 > 2**-7 = 0.0078
        (0.05 / 6, 7),  # 0.00833 > 2**-7 = 0.0078
        (0.5, 2),  # 2**-1 = 0.5 is not strictly below 0.5
    ],
)
def test_min_rounds_for(alpha_look, expected):
    assert min_rounds_for(alpha_look) == expected


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_min_rounds_for_refuses_a_level_outside_zero_one(bad):
    with pytest.raises(StatisticsInputError):
        min_rounds_for(bad)


@pytest.mark.parametrize(("alpha_look", "family", "expected"), [(0.0125, 66, 13), (0.0125, 2, 8), (0.05, 1, 5)])
def test_min_rounds_for_family_is_where_a_lone_member_can_pass_bh(alpha_look, family, expected):
    assert min_rounds_for_family(alpha_look, family) == expected
    # The best one-sided exact signed-rank p-value of n rounds (all one way) is scipy's too, and BH
    # scales the smallest of `family` p-values by family: significant at `expected` rounds, not before.
    for n, significant in ((expected, True), (expected - 1, False)):
        best = scipy_stats.wilcoxon(np.arange(1.0, n + 1), alternative="greater", method="exact").pvalue
        assert best == pytest.approx(2.0**-n)
        q = benjamini_hochberg([best] + [1.0] * (family - 1))[0]
        assert (q < alpha_look) is significant


def test_min_rounds_for_family_refuses_an_empty_family():
    with pytest.raises(StatisticsInputError):
        min_rounds_for_family(0.05, 0)


def test_alpha_is_split_evenly_over_the_looks():
    assert [alpha_for_look(0.05, k, 5) for k in range(5)] == pytest.approx([0.01] * 5)
    assert sum(alpha_for_look(0.05, k, 3) for k in range(3)) == pytest.approx(0.05)
    assert alpha_for_look(0.05, 0, 1) == 0.05


@pytest.mark.parametrize(("look_index", "n_looks"), [(5, 5), (-1, 5), (0, 0)])
def test_alpha_for_look_refuses_a_look_outside_the_schedule(look_index, n_looks):
    with pytest.raises(StatisticsInputError):
        alpha_for_look(0.05, look_index, n_looks)


def test_known_schedules():
    # (5, 30): 4 looks at alpha 0.0125 need 2**-n < 0.0125 -> n >= 7, so the first look
    # moves from 5 to 7; then 7 * (30/7)**(k/3) rounds to 7, 11, 18, 30.
    assert look_schedule(5, 30) == [7, 11, 18, 30]
    assert look_schedule(10, 60) == [10, 16, 24, 38, 60]
    assert look_schedule(8, 40) == [8, 14, 23, 40]
    # 10 / 8 < 1.5: an early look would cost half of alpha for two rounds saved.
    assert look_schedule(8, 10) == [10]
    assert look_schedule(20, 20) == [20]


def test_schedules_are_consistent_over_a_grid():
    for alpha in (0.01, 0.05, 0.1):
        for min_rounds in range(1, 16):
            for max_rounds in range(max(min_rounds, min_rounds_for(alpha) + 8), 121, 7):
                looks = look_schedule(min_rounds, max_rounds, alpha=alpha)
                assert looks[-1] == max_rounds
                assert looks[0] >= min_rounds
                assert len(looks) <= MAX_LOOKS
                assert all(a < b for a, b in zip(looks, looks[1:], strict=False))
                # Every look can reach its share of alpha.
                assert 2.0 ** -looks[0] < alpha_for_look(alpha, 0, len(looks))


def test_with_operators_the_schedule_starts_where_a_lone_operator_can_pass_bh():
    # MobileNetV1's 33 operators, both directions: 66 p-values. From 8 the looks would be 8, 14, 23, 40
    # at 0.0125 each, and a lone operator needs 2**-n < 0.0125 / 66, n >= 13: the look at 8 is wasted.
    # Starting at 12 leaves 12, 22, 40 at 0.05 / 3 each, where 12 rounds suffice (2**-12 < 0.0167 / 66);
    # starting at 11 would leave 4 looks at 0.0125, where 11 rounds do not.
    assert look_schedule(8, 40, operators=33) == [12, 22, 40]
    assert look_schedule(8, 40, operators=0) == look_schedule(8, 40)
    assert look_schedule(6, 20, operators=1) == [7, 12, 20]
    for operators in (1, 3, 10, 33, 100):
        looks = look_schedule(8, 40, operators=operators)
        alpha_look = alpha_for_look(0.05, 0, len(looks))
        best = scipy_stats.wilcoxon(np.arange(1.0, looks[0] + 1), alternative="greater", method="exact").pvalue
        assert benjamini_hochberg([best] + [1.0] * (2 * operators - 1))[0] < alpha_look
        assert looks[0] >= 8 and looks[-1] == 40 and len(looks) <= MAX_LOOKS
        # No earlier start works: from one round sooner, the looks it gives cannot be reached.
        if looks[0] > 8:
            sooner = look_schedule(looks[0] - 1, 40)
            assert 2.0 ** -sooner[0] >= alpha_for_look(0.05, 0, len(sooner)) / (2 * operators)


def test_operators_that_need_more_rounds_than_the_budget_leave_one_look_at_the_end():
    # 1000 operators: 2**-n < (0.05 / 2) / 2000 needs 17 rounds; 10 rounds give one look, at 10.
    assert look_schedule(5, 10, operators=1000) == [10]
    with pytest.raises(StatisticsInputError, match="operators"):
        look_schedule(5, 10, operators=-1)


def test_schedule_refuses_impossible_budgets():
    with pytest.raises(StatisticsInputError, match="max_rounds"):
        look_schedule(10, 5)
    with pytest.raises(StatisticsInputError, match="min_rounds"):
        look_schedule(0, 5)
    # One look at 0.05 needs 5 rounds (2**-5 = 0.031 < 0.05).
    with pytest.raises(StatisticsInputError, match="before 5 rounds"):
        look_schedule(2, 4)


def test_should_stop():
    decided = [Verdict.REGRESSION, Verdict.NO_CHANGE, Verdict.IMPROVEMENT]
    assert should_stop(decided, rounds=7, max_rounds=40)
    assert not should_stop([*decided, Verdict.INCONCLUSIVE], rounds=7, max_rounds=40)
    assert should_stop([Verdict.INCONCLUSIVE], rounds=40, max_rounds=40)
    assert should_stop(iter([Verdict.NO_CHANGE]), rounds=1, max_rounds=40)


def false_regressions(treatment, control, schedule, alpha_at_look):
    """Run the sequential procedure on fixed data; report whether it ever said regression."""
    for index, rounds in enumerate(schedule):
        # Threshold 0 is the worst case: significance alone makes a regression, and no
        # interval ever fits inside the band, so nothing stops a null run early.
        result = compare_metric(treatment[:rounds], control[:rounds], threshold_pct=0.0, alpha=alpha_at_look(index))
        if result.verdict is Verdict.REGRESSION:
            return True
        if should_stop([result.verdict], rounds, schedule[-1]):
            return False
    return False


def test_sequential_procedure_keeps_false_regressions_at_alpha_under_the_null():
    alpha = 0.05
    schedule = look_schedule(5, 40, alpha=alpha)
    trials = 2000
    rng = np.random.default_rng(20240601)
    # Symmetric noise, half Gaussian, half heavy-tailed, around a common level per round.
    gaussian = np.exp(rng.normal(0.0, 0.03, size=(trials // 2, 2, schedule[-1])))
    heavy = np.exp(0.01 * rng.standard_t(2, size=(trials // 2, 2, schedule[-1])))
    data = 100.0 * np.concatenate([gaussian, heavy])

    spent = sum(false_regressions(t, c, schedule, lambda k: alpha_for_look(alpha, k, len(schedule))) for t, c in data)
    naive = sum(false_regressions(t, c, schedule, lambda k: alpha) for t, c in data)

    # If the true rate were alpha, more than this many false regressions would happen
    # with probability < 0.001.
    bound = scipy_stats.binom.ppf(0.999, trials, alpha)
    assert spent <= bound, f"{spent}/{trials} false regressions with alpha spending"
    # The check has teeth: testing every look at the full alpha overshoots it.
    assert naive > bound, f"only {naive}/{trials} false regressions without alpha spending"
