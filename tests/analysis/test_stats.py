"""Specification of the statistics in analysis/stats.py.

The tests are checked against published values of textbook examples, not
against this code's own output:

* Hollander & Wolfe (1973), p. 69, permeability constants of the human
  chorioamnion (the example of R's `wilcox.test`): x at term, y at 12-26
  weeks, "x greater": W = 35, exact one-sided p = 0.1272.
* Hollander & Wolfe (1973), p. 29, Hamilton depression scale before (x) and
  after (y) a tranquilizer (R's paired `wilcox.test` example): V = 40,
  exact one-sided p = 0.01953 (= 10/512: 10 of the 2^9 sign assignments give
  a rank sum of 40 or more).
* The Mann-Whitney example of scipy's documentation (ages of male and female
  authors, after Mann & Whitney 1947's table): U = 17, exact two-sided
  p = 0.1111, normal approximation with continuity correction p = 0.1113.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import stats
import synth

# Hollander & Wolfe p. 69
PERMEABILITY_TERM = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
PERMEABILITY_EARLY = [1.15, 0.88, 0.90, 0.74, 1.21]
# Hollander & Wolfe p. 29
DEPRESSION_BEFORE = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_AFTER = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
# scipy.stats.mannwhitneyu documentation
AGES_MALE = [19, 22, 16, 29, 24]
AGES_FEMALE = [20, 11, 17, 12]


# ---------------------------------------------------------------- location, spread

def test_median_of_even_count_is_mean_of_middle_two():
    assert stats.median([4, 1, 3, 2]) == 2.5


def test_median_of_nothing_is_undefined():
    assert stats.median([]) is None


def test_cv_is_sample_std_over_mean():
    assert stats.cv([9.0, 10.0, 11.0]) == pytest.approx(1.0 / 10.0)


def test_cv_of_one_repetition_is_undefined_with_a_reason_not_zero():
    outcome = stats.cv_outcome([5.0])
    assert outcome.value is None and "1 repetition" in outcome.reason
    assert stats.cv([5.0]) is None
    assert stats.cv_outcome([]).value is None


def test_cv_of_a_constant_sample_is_a_real_zero():
    # Zero spread around a non-zero mean is a measured CV of 0, not an undefined one.
    assert stats.cv([4.0, 4.0, 4.0]) == 0.0


def test_median_ratio_is_undefined_for_an_empty_side_or_a_zero_base():
    assert stats.median_ratio([2.0, 4.0], [6.0]).value == pytest.approx(2.0)
    assert stats.median_ratio([], [1.0]).value is None
    assert "base" in stats.median_ratio([], [1.0]).reason
    assert "zero" in stats.median_ratio([0.0, 0.0], [1.0]).reason


def test_median_ratio_of_identical_samples_is_exactly_one():
    values = [1.5e7, 1.4e7, 1.6e7]
    assert stats.median_ratio(values, list(values)).value == 1.0


# ------------------------------------------------------------------ Mann-Whitney

def test_mann_whitney_reproduces_hollander_wolfe_permeability_example():
    result = stats.mann_whitney_u(PERMEABILITY_TERM, PERMEABILITY_EARLY, "greater")
    assert result.method == "exact"
    assert result.statistic == 35
    assert result.p_value == pytest.approx(0.1272, abs=5e-5)


def test_mann_whitney_reproduces_the_ages_example_exact_and_normal():
    exact = stats.mann_whitney_u(AGES_MALE, AGES_FEMALE, "two-sided")
    assert (exact.statistic, exact.method) == (17, "exact")
    assert exact.p_value == pytest.approx(0.1111, abs=5e-5)
    normal = stats.mann_whitney_u(AGES_MALE, AGES_FEMALE, "two-sided", method="normal")
    assert normal.p_value == pytest.approx(0.1113, abs=5e-5)


def test_mann_whitney_completely_separated_samples_have_the_one_arrangement_p():
    # 5 vs 5, every x below every y: one arrangement of C(10, 5) = 252.
    result = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], alternative="less")
    assert result.statistic == 0 and result.p_value == pytest.approx(1 / 252)
    assert stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p_value == pytest.approx(2 / 252)


def test_mann_whitney_is_symmetric_in_its_alternatives():
    x, y = [3.1, 2.2, 5.3, 4.4], [6.5, 1.6, 7.7, 8.8, 9.9]
    assert stats.mann_whitney_u(x, y, "less").p_value == pytest.approx(stats.mann_whitney_u(y, x, "greater").p_value)


def test_mann_whitney_uses_the_normal_approximation_when_values_tie():
    result = stats.mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4, 5], "less")
    assert result.method == "normal"
    # U of x = rank sum of x (1 + 3 + 3 + 6, ties at their average rank) - 4 * 5 / 2 = 3.
    assert result.statistic == 3.0
    assert 0.0 < result.p_value < 0.2


def test_mann_whitney_with_every_value_tied_is_undefined_not_one():
    result = stats.mann_whitney_u([5, 5, 5], [5, 5, 5, 5])
    assert result.p_value is None and "same" in result.reason


def test_mann_whitney_with_an_empty_sample_is_undefined():
    result = stats.mann_whitney_u([], [1.0, 2.0])
    assert result.p_value is None and "empty" in result.reason


def test_exact_test_refuses_ties():
    with pytest.raises(ValueError):
        stats.mann_whitney_u([1, 2], [2, 3], method="exact")


def test_minimum_attainable_p_explains_why_three_repetitions_cannot_be_significant():
    assert stats.min_attainable_p(3, 3) == pytest.approx(1 / 20)
    assert stats.min_attainable_p(4, 4) < 0.05


# ------------------------------------------------------------------ signed rank

def test_signed_rank_reproduces_hollander_wolfe_depression_example():
    diffs = np.subtract(DEPRESSION_BEFORE, DEPRESSION_AFTER)
    result = stats.wilcoxon_signed_rank(diffs, "greater")
    assert result.statistic == 40
    assert result.p_value == pytest.approx(10 / 512)
    assert result.p_value == pytest.approx(0.01953, abs=5e-6)
    # W+ is reported for every alternative (not min(W+, W-)).
    assert stats.wilcoxon_signed_rank(diffs, "two-sided").statistic == 40
    assert stats.wilcoxon_signed_rank(diffs, "two-sided").p_value == pytest.approx(20 / 512)


def test_signed_rank_all_negative_differences_give_one_sign_assignment():
    result = stats.wilcoxon_signed_rank([-1, -2, -3, -4, -5], "less")
    assert (result.statistic, result.p_value) == (0.0, pytest.approx(1 / 32))


def test_signed_rank_handles_tied_magnitudes_exactly():
    # |d| = 1, 1, 2: ranks 1.5, 1.5, 3. W+ = 4.5; sign assignments with W+ >= 4.5:
    # {1.5 (first), 3}, {1.5 (second), 3}, {1.5, 1.5, 3}: 3 of 8.
    result = stats.wilcoxon_signed_rank([1, -1, 2], "greater")
    assert result.statistic == 4.5 and result.p_value == pytest.approx(3 / 8)


def test_signed_rank_of_only_zero_differences_is_undefined():
    result = stats.wilcoxon_signed_rank([0.0, 0.0], "less")
    assert result.p_value is None and "zero" in result.reason


# -------------------------------------------------------------------- bootstrap

def test_bootstrap_ci_is_reproducible_for_a_seed():
    rng = np.random.default_rng(3)
    b, c = synth.lognormal(rng, 100, 0.05, 10), synth.lognormal(rng, 95, 0.05, 10)
    assert stats.bootstrap_ratio_ci(b, c, seed=1) == stats.bootstrap_ratio_ci(b, c, seed=1)
    assert stats.bootstrap_ratio_ci(b, c, seed=1) != stats.bootstrap_ratio_ci(b, c, seed=2)


def test_bootstrap_ci_brackets_the_observed_ratio():
    b, c = [10.0, 11.0, 9.0, 10.5, 9.5], [20.0, 21.0, 19.0, 22.0, 18.0]
    low, high, reason = stats.bootstrap_ratio_ci(b, c)
    assert reason is None and low <= 2.0 <= high


def test_bootstrap_ci_covers_the_true_ratio_about_95_percent_of_the_time():
    trials, covered = 200, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        b, c = synth.lognormal(rng, 1e7, 0.05, 20), synth.lognormal(rng, 0.9e7, 0.05, 20)
        low, high, _ = stats.bootstrap_ratio_ci(b, c, seed=seed, resamples=2000)
        covered += low <= 0.9 <= high
    print(f"bootstrap 95% CI coverage of the true ratio 0.9: {covered}/{trials}")
    assert covered >= 0.9 * trials


@pytest.mark.parametrize("base,cand,why", [
    ([10.0], [9.0, 11.0], "base has 1 repetition"),
    ([10.0, 11.0], [], "candidate has 0 repetitions"),
    ([10.0, 10.0], [9.0, 9.0], "same value"),
    ([0.0, 0.0, 1.0], [1.0, 2.0], "zero"),
])
def test_bootstrap_ci_is_undefined_with_a_reason_when_it_cannot_be_computed(base, cand, why):
    low, high, reason = stats.bootstrap_ratio_ci(base, cand)
    assert low is None and high is None and why in reason


def test_statistics_refuse_non_finite_input():
    with pytest.raises(ValueError):
        stats.median([1.0, math.inf])
