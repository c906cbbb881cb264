import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.special import ndtr, ndtri

from harness.stats.errors import StatisticsInputError
from harness.stats.paired import (
    hodges_lehmann,
    hodges_lehmann_interval,
    log_ratios,
    wilcoxon_signed_rank,
)

ALTERNATIVES = ("greater", "less", "two-sided")


def brute_walsh(d):
    return sorted((a + b) / 2 for a, b in itertools.combinations_with_replacement(d, 2))


# log_ratios


def test_log_ratios_are_per_round_logs_of_treatment_over_control():
    d = log_ratios([2.0, 1.0, 3.0], [1.0, 2.0, 3.0])
    assert d.tolist() == pytest.approx([math.log(2), -math.log(2), 0.0])


@pytest.mark.parametrize(
    ("treatment", "control", "message"),
    [
        ([1.0, 0.0], [1.0, 1.0], r"treatment\[1\] is 0.0, expected a positive"),
        ([1.0, 1.0], [1.0, -2.0], r"control\[1\] is -2.0, expected a positive"),
        ([math.nan, 1.0], [1.0, 1.0], r"treatment\[0\] is nan, expected a finite"),
        ([1.0, 1.0], [math.inf, 1.0], r"control\[0\] is inf, expected a finite"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "treatment has 3 rounds but control has 2"),
        ([], [], "treatment is empty"),
    ],
)
def test_log_ratios_refuse_values_no_ratio_can_be_formed_from(treatment, control, message):
    with pytest.raises(StatisticsInputError, match=message):
        log_ratios(treatment, control)


def test_statistics_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        log_ratios([1.0], [0.0])


# Hodges-Lehmann estimate


def test_hodges_lehmann_hand_worked():
    # Walsh averages of 0, 1, 5: 0, 0.5, 2.5, 1, 3, 5 -> sorted 0 .5 1 2.5 3 5 -> median 1.75
    assert hodges_lehmann([0.0, 1.0, 5.0]) == pytest.approx(1.75)
    # 1..8 gives 36 Walsh averages symmetric about 4.5.
    assert hodges_lehmann(range(1, 9)) == pytest.approx(4.5)


def test_hodges_lehmann_of_tiny_samples():
    assert hodges_lehmann([0.3]) == 0.3
    # Walsh averages of a, b: a, (a + b) / 2, b.
    assert hodges_lehmann([0.1, 0.5]) == pytest.approx(0.3)


def test_hodges_lehmann_matches_brute_force_and_resists_an_outlier():
    rng = np.random.default_rng(1)
    for n in (3, 4, 9, 30):
        d = rng.normal(size=n)
        assert hodges_lehmann(d) == pytest.approx(float(np.median(brute_walsh(d))))
    d = [0.01, 0.02, 0.015, 0.012, 0.018, 0.011, 5.0]
    assert hodges_lehmann(d) < 0.03


def test_hodges_lehmann_refuses_bad_input():
    with pytest.raises(StatisticsInputError):
        hodges_lehmann([])
    with pytest.raises(StatisticsInputError):
        hodges_lehmann([0.1, math.nan])


# Hodges-Lehmann interval


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_no_finite_interval_exists_for_five_or_fewer_rounds_at_95_percent(n):
    # Even the widest interval [min, max] misses with probability 2 * 2**-n >= 2 / 32 > 0.05.
    assert hodges_lehmann_interval(np.arange(1.0, n + 1)) == (-math.inf, math.inf)


def test_six_rounds_give_the_range_at_95_percent():
    # P(T+ <= 0) = 1/64 = 0.0156 <= 0.025 but P(T+ <= 1) = 2/64 = 0.031 > 0.025, so c = 0.
    assert hodges_lehmann_interval([3.0, 1.0, 4.0, 1.5, 9.0, 2.6]) == (1.0, 9.0)


def test_exact_interval_hand_worked_n8():
    # Subsets of {1..8} by sum: 0:1 1:1 2:1 3:2 4:2, so P(T+ <= 3) = 5/256 = 0.0195 <= 0.025
    # and P(T+ <= 4) = 7/256 = 0.027 > 0.025: c = 3. The 36 Walsh averages of 1..8 start
    # 1, 1.5, 2, 2 so W_(4) = 2, and by symmetry about 4.5, W_(33) = 7.
    assert hodges_lehmann_interval(range(1, 9)) == (2.0, 7.0)


def test_exact_interval_hand_worked_n10():
    # Subsets of {1..10} with sum 0..8: 1 1 1 2 2 3 4 5 6 -> 25/1024 = 0.0244 <= 0.025;
    # sum 9 adds 8 more -> 33/1024 = 0.032: c = 8. Walsh sums i + j <= 2k number k**2,
    # so the 9th smallest has i + j = 6 -> 3.0; symmetric about 5.5 -> 8.0.
    assert hodges_lehmann_interval(range(1, 11)) == (3.0, 8.0)


def test_normal_interval_hand_worked_n60():
    # n = 60 > 50: mean = 60*61/4 = 915, sd = sqrt(60*61*121/24) = 135.840,
    # c = floor(915 - 0.5 - 1.959964 * 135.840) = floor(648.26) = 648.
    # Walsh sums of 1..60 up to 2k+1 number k(k+1): 650 for i + j <= 51, 625 for <= 50,
    # so the 649th smallest is 51/2 = 25.5; symmetric about 30.5 -> 35.5.
    assert hodges_lehmann_interval(range(1, 61)) == (25.5, 35.5)


def test_ties_use_the_normal_approximation():
    d = [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    # n = 10: mean 27.5, sd = sqrt(10*11*21/24) = 9.8107,
    # c = floor(27.5 - 0.5 - 1.959964 * 9.8107) = floor(7.77) = 7 (exact would give 8).
    walsh = brute_walsh(d)
    assert hodges_lehmann_interval(d) == (walsh[7], walsh[len(walsh) - 1 - 7])


def test_normal_intervals_cut_where_scipys_normal_quantile_does():
    rng = np.random.default_rng(26)
    for n in (51, 90, 400):
        d = rng.normal(0.01, 0.05, size=n)
        walsh = np.sort(brute_walsh(d))
        for confidence in (0.8, 0.95, 0.999):
            mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
            c = math.floor(mean - 0.5 + ndtri((1 - confidence) / 2) * sd)
            assert hodges_lehmann_interval(d, confidence) == (walsh[c], walsh[walsh.size - 1 - c])


def test_exact_interval_is_the_set_of_shifts_the_signed_rank_test_does_not_reject():
    rng = np.random.default_rng(8)
    for n in (6, 7, 12, 25, 50):
        d = rng.normal(0.02, 0.05, size=n)
        low, high = hodges_lehmann_interval(d, 0.95)
        gap = 1e-9
        for theta, rejected in ((low - gap, True), (low + gap, False), (high - gap, False), (high + gap, True)):
            p = scipy_stats.wilcoxon(d - theta, method="exact").pvalue
            assert bool(p <= 0.05) == rejected, (n, theta, p)


def test_interval_widens_with_confidence_and_contains_the_estimate():
    rng = np.random.default_rng(9)
    d = rng.standard_t(3, size=40)
    narrow = hodges_lehmann_interval(d, 0.8)
    wide = hodges_lehmann_interval(d, 0.99)
    assert wide[0] <= narrow[0] <= hodges_lehmann(d) <= narrow[1] <= wide[1]


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 95])
def test_interval_refuses_a_confidence_outside_zero_one(confidence):
    with pytest.raises(StatisticsInputError, match="confidence"):
        hodges_lehmann_interval([1.0, 2.0, 3.0], confidence)


# Wilcoxon signed-rank test


def test_wilcoxon_hand_worked_small_samples():
    # n = 3, all positive: T+ = 6, the maximum; 1 of 8 sign patterns reaches it.
    assert wilcoxon_signed_rank([1.0, 2.0, 3.0], "greater") == 0.125
    assert wilcoxon_signed_rank([1.0, 2.0, 3.0], "less") == 1.0
    assert wilcoxon_signed_rank([1.0, 2.0, 3.0], "two-sided") == 0.25
    # -1, 2, 3: T+ = 2 + 3 = 5; sums >= 5 of subsets of {1,2,3}: {2,3}, {1,2,3} -> 2/8.
    assert wilcoxon_signed_rank([-1.0, 2.0, 3.0], "greater") == 0.25
    assert wilcoxon_signed_rank([-1.0, 2.0, 3.0], "less") == 0.875  # 7 of 8 sums are <= 5
    assert wilcoxon_signed_rank([-1.0, 2.0, 3.0], "two-sided") == 0.5


def test_wilcoxon_of_one_and_two_rounds():
    assert wilcoxon_signed_rank([0.3], "greater") == 0.5
    assert wilcoxon_signed_rank([0.3], "less") == 1.0
    assert wilcoxon_signed_rank([0.3], "two-sided") == 1.0
    # -0.1, 0.3: T+ = 2; subsets of {1,2} with sum >= 2: {2}, {1,2} -> 2/4.
    assert wilcoxon_signed_rank([-0.1, 0.3], "greater") == 0.5


def test_zeros_keep_their_ranks_but_no_sign():
    # Pratt: |d| = 0 0 1 2 3 -> ranks 1.5 1.5 3 4 5; the signed ranks are 3, 4, 5 and
    # T+ = 3 + 4 = 7. Subset sums of {3, 4, 5}: 0 3 4 5 7 8 9 12, four of them >= 7 -> 4/8.
    # Dropping the zeros (Wilcoxon's method) would rank 1 2 3 and give T+ = 3 -> 5/8.
    assert wilcoxon_signed_rank([0.0, 0.0, 1.0, 2.0, -3.0], "greater") == 0.5
    assert wilcoxon_signed_rank([0.0, 0.0, 1.0, 2.0, -3.0], "less") == 0.625  # 0 3 4 5 7 are <= 7
    # Only 0.5 carries a sign: n = 1, and the zeros cannot push p below 1/2.
    assert wilcoxon_signed_rank([0.0, 0.5, 0.0], "greater") == 0.5
    assert wilcoxon_signed_rank([0.0, 1.0, 2.0, 3.0], "greater") == 0.125


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_all_zero_differences_are_no_evidence(alternative):
    assert wilcoxon_signed_rank([0.0, 0.0, 0.0], alternative) == 1.0


def test_ties_hand_worked_exact():
    # |d| = 1 1 1 2 -> ranks 2 2 2 4, doubled 4 4 4 8; 2 T+ = 4 + 4 + 8 = 16 of 20.
    # Subsets of {4, 4, 4, 8} with sum >= 16: the three {4, 4, 8} and {4, 4, 4, 8} -> 4/16.
    # The normal approximation would say 0.171 for "greater".
    d = [1.0, 1.0, -1.0, 2.0]
    assert wilcoxon_signed_rank(d, "greater") == 0.25
    assert wilcoxon_signed_rank(d, "less") == 15 / 16  # every subset sum but 20 is <= 16
    assert wilcoxon_signed_rank(d, "two-sided") == 0.5


def test_ties_at_small_n_are_not_held_to_the_anticonservative_normal_approximation():
    # Seven rounds one microsecond up, one down: every |d| is tied, so this is a sign test.
    # P(at least 7 of 8 signs positive) = 9/256, 0.035; the normal approximation gave 0.021,
    # which a look at alpha 0.025 would have called a regression.
    d = [1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert wilcoxon_signed_rank(d, "greater") == 9 / 256


def test_ties_hand_worked_normal_approximation():
    # 60 rounds, all |d| tied: ranks all 30.5, T+ = 40 * 30.5 = 1220; mean = 60 * 30.5 / 2 = 915,
    # var = 60 * 30.5**2 / 4, sd = 118.13; greater: z = (1220 - 915 - 0.5) / 118.13.
    d = [1.0] * 40 + [-1.0] * 20
    sd = math.sqrt(60 * 30.5**2 / 4)
    assert wilcoxon_signed_rank(d, "greater") == pytest.approx(ndtr(-(305 - 0.5) / sd))
    assert wilcoxon_signed_rank(d, "less") == pytest.approx(ndtr((305 + 0.5) / sd))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_exact_p_values_match_scipy(alternative):
    rng = np.random.default_rng(21)
    for n in (1, 2, 3, 4, 5, 8, 13, 20, 33, 50):
        for shift in (-0.5, 0.0, 0.4):
            d = rng.normal(shift, 1.0, size=n)
            expected = scipy_stats.wilcoxon(d, alternative=alternative, method="exact").pvalue
            assert wilcoxon_signed_rank(d, alternative) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_exact_p_values_with_zeros_and_ties_match_scipy_pratt_permutation(alternative):
    # scipy enumerates all 2**n sign patterns when n_resamples is infinite: the exact
    # conditional null, computed independently of ours.
    rng = np.random.default_rng(22)
    for n in (3, 6, 10):
        for shift in (-1.0, 0.0, 1.0):
            d = rng.integers(-2, 3, size=n).astype(float) + shift * (rng.random(n) < 0.5)
            d[0] = 0.0
            exact = scipy_stats.PermutationMethod(n_resamples=np.inf)
            expected = scipy_stats.wilcoxon(d, alternative=alternative, method=exact, zero_method="pratt").pvalue
            assert wilcoxon_signed_rank(d, alternative) == pytest.approx(expected, rel=1e-12), d


def test_whole_microsecond_operator_times_match_scipy_pratt_permutation():
    # A 3-microsecond operator timed in whole microseconds: most rounds tie at 0, the rest
    # are the same few ratios.
    rng = np.random.default_rng(25)
    for _ in range(5):
        control = rng.choice([3.0, 3.0, 3.0, 4.0], size=10)
        treatment = rng.choice([3.0, 3.0, 4.0, 4.0], size=10)
        d = log_ratios(treatment, control)
        exact = scipy_stats.PermutationMethod(n_resamples=np.inf)
        expected = scipy_stats.wilcoxon(d, alternative="greater", method=exact, zero_method="pratt").pvalue
        assert wilcoxon_signed_rank(d, "greater") == pytest.approx(expected, rel=1e-12), d


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_large_samples_match_scipy_normal_approximation(alternative):
    rng = np.random.default_rng(23)
    for n in (51, 80, 300):
        for shift in (-0.2, 0.0, 0.15):
            d = rng.normal(shift, 1.0, size=n)
            expected = scipy_stats.wilcoxon(d, alternative=alternative, method="asymptotic", correction=True).pvalue
            assert wilcoxon_signed_rank(d, alternative) == pytest.approx(expected, rel=1e-10)


def test_far_tail_p_values_keep_their_precision():
    # 300 rounds all slower: z is about 15, and a p-value of 1e-50 must not round to 0 or to
    # the cancellation noise of 1 + erf(z).
    d = np.linspace(0.01, 0.02, 300)
    n = d.size
    t_plus = n * (n + 1) / 2
    mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    expected = ndtr(-(t_plus - mean - 0.5) / sd)
    assert 0 < expected < 1e-40
    assert wilcoxon_signed_rank(d, "greater") == pytest.approx(expected, rel=1e-10)
    assert wilcoxon_signed_rank(-d, "less") == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_ties_and_zeros_beyond_the_exact_range_match_scipy_pratt_normal_approximation(alternative):
    rng = np.random.default_rng(24)
    for n in (60, 120, 300):
        for shift in (-0.3, 0.0, 0.3):
            d = np.round(rng.normal(shift, 1.0, size=n), 1)  # rounding makes ties and zeros
            d[:3] = [0.0, 0.5, -0.5]  # at least one zero and one tie
            expected = scipy_stats.wilcoxon(
                d, alternative=alternative, method="asymptotic", correction=True, zero_method="pratt"
            ).pvalue
            assert wilcoxon_signed_rank(d, alternative) == pytest.approx(expected, rel=1e-10)


def test_the_exact_one_sided_p_value_cannot_go_below_two_to_the_minus_n():
    for n in (5, 7, 12):
        assert wilcoxon_signed_rank(np.arange(1.0, n + 1), "greater") == 2.0**-n


def test_wilcoxon_refuses_bad_input():
    with pytest.raises(StatisticsInputError, match="alternative"):
        wilcoxon_signed_rank([1.0], "bigger")
    with pytest.raises(StatisticsInputError, match="empty"):
        wilcoxon_signed_rank([], "greater")
    with pytest.raises(StatisticsInputError, match=r"d\[2\] is inf"):
        wilcoxon_signed_rank([1.0, 2.0, math.inf], "greater")
