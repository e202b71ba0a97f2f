"""Specification of the statistics in analysis/stats.py."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import stats
import synth


def brute_force_u_pvalues(x, y):
    """P(U <= u) and P(U >= u) by enumerating every assignment of ranks."""
    n1, n2 = len(x), len(y)
    ranks = stats.rank_average(list(x) + list(y))[0]
    u_obs = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    us = [sum(c) + n1 - n1 * (n1 + 1) / 2 for c in itertools.combinations(range(n1 + n2), n1)]
    total = len(us)
    return (sum(u <= u_obs for u in us) / total, sum(u >= u_obs for u in us) / total)


def test_median_of_even_count_is_mean_of_middle_two():
    assert stats.median([4, 1, 3, 2]) == 2.5


def test_cv_is_sample_std_over_mean():
    values = [9.0, 10.0, 11.0]
    assert stats.cv(values) == pytest.approx(1.0 / 10.0)


def test_cv_of_single_value_is_undefined():
    assert math.isnan(stats.cv([5.0]))


def test_ranks_give_ties_their_average_rank():
    ranks, ties = stats.rank_average([30, 10, 30, 20])
    assert ranks.tolist() == [3.5, 1.0, 3.5, 2.0]
    assert sorted(ties.tolist()) == [1, 1, 2]


def test_mann_whitney_completely_separated_samples_have_known_exact_p():
    # 5 vs 5, every x below every y: P = 1 / C(10, 5) = 1/252 one-sided.
    u, p = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], alternative="less")
    assert u == 0
    assert p == pytest.approx(1 / 252)
    assert stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])[1] == pytest.approx(2 / 252)


@pytest.mark.parametrize("n1,n2,seed", [(3, 4, 1), (5, 5, 2), (6, 4, 3), (7, 7, 4)])
def test_mann_whitney_exact_p_equals_enumeration(n1, n2, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n1)
    y = rng.normal(0.5, 1, n2)
    p_low, p_high = brute_force_u_pvalues(x, y)
    assert stats.mann_whitney_u(x, y, "less", method="exact")[1] == pytest.approx(p_low)
    assert stats.mann_whitney_u(x, y, "greater", method="exact")[1] == pytest.approx(p_high)
    assert stats.mann_whitney_u(x, y, "two-sided", method="exact")[1] == pytest.approx(min(1, 2 * min(p_low, p_high)))


def test_mann_whitney_normal_approximation_is_close_to_exact_for_twenty_each():
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, 20)
    y = rng.normal(0.6, 1, 20)
    exact = stats.mann_whitney_u(x, y, "less", method="exact")[1]
    normal = stats.mann_whitney_u(x, y, "less", method="normal")[1]
    assert normal == pytest.approx(exact, rel=0.15)


def test_mann_whitney_is_symmetric_in_its_alternatives():
    x, y = [3.1, 2.2, 5.3, 4.4], [6.5, 1.6, 7.7, 8.8, 9.9]
    assert stats.mann_whitney_u(x, y, "less")[1] == pytest.approx(stats.mann_whitney_u(y, x, "greater")[1])


def test_mann_whitney_tie_correction_matches_hand_computation():
    x, y = [1, 2, 2, 3], [2, 3, 3, 4, 5]
    # ranks of all 9 values: 1 ->1, 2 (x3) ->3, 3 (x3) ->6, 4 ->8, 5 ->9
    u_expected = (1 + 3 + 3 + 6) - 4 * 5 / 2
    n, n1, n2 = 9, 4, 5
    tie_term = (2 * (27 - 3)) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    z = (u_expected - n1 * n2 / 2 + 0.5) / sigma
    p_expected = 0.5 * math.erfc(-z / math.sqrt(2))
    u, p = stats.mann_whitney_u(x, y, "less")
    assert u == u_expected
    assert p == pytest.approx(p_expected)


def test_mann_whitney_all_values_tied_gives_no_evidence():
    assert stats.mann_whitney_u([5, 5, 5], [5, 5, 5, 5])[1] == 1.0


def test_exact_test_refuses_ties():
    with pytest.raises(ValueError):
        stats.mann_whitney_u([1, 2], [2, 3], method="exact")


def test_minimum_attainable_p_explains_why_three_repetitions_cannot_be_significant():
    assert stats.min_attainable_p(3, 3) == pytest.approx(1 / 20)
    assert stats.min_attainable_p(4, 4) < 0.05


def test_bootstrap_ci_is_reproducible_for_a_seed():
    rng = np.random.default_rng(3)
    b, c = synth.lognormal(rng, 100, 0.05, 10), synth.lognormal(rng, 95, 0.05, 10)
    assert stats.bootstrap_ratio_ci(b, c, seed=1) == stats.bootstrap_ratio_ci(b, c, seed=1)
    assert stats.bootstrap_ratio_ci(b, c, seed=1) != stats.bootstrap_ratio_ci(b, c, seed=2)


def test_bootstrap_ci_covers_the_true_ratio_about_95_percent_of_the_time():
    trials, covered = 200, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        b, c = synth.lognormal(rng, 1e7, 0.05, 20), synth.lognormal(rng, 0.9e7, 0.05, 20)
        low, high = stats.bootstrap_ratio_ci(b, c, seed=seed, resamples=2000)
        covered += low <= 0.9 <= high
    print(f"bootstrap 95% CI coverage of the true ratio 0.9: {covered}/{trials}")
    assert covered >= 0.9 * trials


def test_median_ratio_of_identical_samples_is_exactly_one():
    values = [1.5e7, 1.4e7, 1.6e7]
    assert stats.median_ratio(values, list(values)) == 1.0
