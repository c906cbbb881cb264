import pytest
from scipy.stats import binom

from harness.stats.mcnemar import fair_coin_cdf, mcnemar


def test_only_disagreements_count_and_the_p_value_is_the_exact_two_sided_binomial():
    result = mcnemar([1, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 0])
    assert (result.worse, result.better) == (3, 1)
    assert result.p_value == pytest.approx(2 * (1 + 4) / 16)


def test_agreement_everywhere_is_no_evidence():
    assert mcnemar([1.0, 0.0], [1.0, 0.0]).p_value == 1.0


def test_eight_of_eight_the_same_way_is_beyond_chance():
    assert mcnemar([0.0] * 8, [1.0] * 8).p_value == pytest.approx(2 / 256)


def test_unpaired_scores_are_refused():
    with pytest.raises(ValueError, match="paired"):
        mcnemar([1.0], [1.0, 0.0])


def test_the_fair_coin_tail_matches_scipys_binomial_including_thousands_of_disagreements():
    for n in (1, 2, 7, 40, 301, 3000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            assert fair_coin_cdf(k, n) == pytest.approx(float(binom.cdf(k, n, 0.5)), rel=1e-12, abs=1e-300), (k, n)
