"""Specification of analysis/measure_stats.py with synthetic repetitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import measure_stats as ms


# ---------------------------------------------------------------- bootstrap

def test_bootstrap_interval_brackets_the_median_and_is_reproducible():
    rng = np.random.default_rng(10)
    values = rng.normal(100.0, 5.0, 15)
    a = ms.bootstrap_median_ci(values, seed=7)
    b = ms.bootstrap_median_ci(values, seed=7)
    assert a == b  # same data, same seed: same interval
    assert a.low <= a.median <= a.high
    assert a.median == pytest.approx(float(np.median(values)))
    assert a.n == 15 and a.seed == 7 and a.confidence == 0.95
    # Bounds are medians of resamples, so they lie within the data's range.
    assert values.min() <= a.low and a.high <= values.max()


def test_bootstrap_interval_narrows_with_more_repetitions():
    rng = np.random.default_rng(11)
    small = ms.bootstrap_median_ci(rng.normal(0.0, 1.0, 10), seed=1)
    large = ms.bootstrap_median_ci(rng.normal(0.0, 1.0, 400), seed=1)
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_bootstrap_interval_covers_the_true_median_at_about_the_nominal_rate():
    rng = np.random.default_rng(12)
    trials = 300
    covered = 0
    for t in range(trials):
        sample = rng.normal(50.0, 3.0, 25)  # true median 50
        ci = ms.bootstrap_median_ci(sample, resamples=1000, seed=t)
        covered += ci.low <= 50.0 <= ci.high
    assert 0.88 <= covered / trials <= 0.995


def test_bootstrap_of_constant_one_value_and_empty_samples_is_undefined_with_a_reason():
    constant = ms.bootstrap_median_ci([3.0] * 8)
    assert constant.median == 3.0 and constant.low is None and constant.high is None
    assert "same value" in constant.reason
    one = ms.bootstrap_median_ci([5.0])
    assert one.median == 5.0 and one.low is None and "1 repetition" in one.reason
    empty = ms.bootstrap_median_ci([])
    assert empty.n == 0 and empty.median is None and empty.low is None and "0 repetitions" in empty.reason


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ms.bootstrap_median_ci([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError):
        ms.bootstrap_median_ci([1.0, float("nan")])


# -------------------------------------------------------------- bimodality

def test_coefficient_known_values():
    # Two equal point masses: skewness 0, kurtosis 1 -> b = 1.
    assert ms.bimodality_coefficient([0, 0, 0, 1, 1, 1]) == pytest.approx(1.0)
    # The finite-sample form of the same data (hand computed): G1 = 0,
    # G2 = -10/3, 3 * 25 / 12 = 6.25 -> b = 1 / 2.91667.
    assert ms.bimodality_coefficient([0, 0, 0, 1, 1, 1], corrected=True) == pytest.approx(0.342857, rel=1e-5)
    # Large samples: normal -> 1/3, uniform -> 5/9.
    rng = np.random.default_rng(13)
    assert ms.bimodality_coefficient(rng.normal(0, 1, 200000)) == pytest.approx(1 / 3, abs=0.01)
    assert ms.bimodality_coefficient(rng.uniform(0, 1, 200000)) == pytest.approx(5 / 9, abs=0.01)
    assert ms.bimodality_coefficient([1, 2, 3]) is None
    assert ms.bimodality_coefficient([4, 4, 4, 4, 4]) is None


def test_two_separated_groups_of_repetitions_are_flagged():
    rng = np.random.default_rng(14)
    values = np.concatenate([rng.normal(100, 1, 6), rng.normal(140, 1, 6)])
    rng.shuffle(values)
    result = ms.bimodality(values)
    assert result.flag
    assert result.coefficient > ms.BIMODALITY_THRESHOLD
    assert result.minority == 6
    assert result.gap_sd >= ms.BIMODALITY_MIN_GAP_SD


def test_unimodal_repetitions_are_rarely_flagged():
    rng = np.random.default_rng(15)
    normal = sum(ms.bimodality(rng.normal(100, 5, 10)).flag for _ in range(500))
    skewed = sum(ms.bimodality(np.exp(rng.normal(0, 0.3, 10))).flag for _ in range(500))
    assert normal / 500 < 0.03
    assert skewed / 500 < 0.04


def test_well_separated_modes_are_usually_flagged_from_ten_repetitions():
    rng = np.random.default_rng(16)
    hits = 0
    for _ in range(300):
        pick = rng.random(10) < 0.5
        hits += ms.bimodality(np.where(pick, rng.normal(100, 2, 10), rng.normal(130, 2, 10))).flag
    assert hits / 300 > 0.9


def test_a_single_outlier_is_not_a_second_mode():
    result = ms.bimodality([10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 25.0])
    assert not result.flag
    assert result.coefficient > ms.BIMODALITY_THRESHOLD  # the coefficient alone would flag it
    assert "outlier" in result.reason


def test_too_few_repetitions_are_never_flagged():
    result = ms.bimodality([1, 1, 9, 9, 1])
    assert not result.flag and "too few" in result.reason
    assert not ms.bimodality([5.0] * 10).flag


def test_groups_without_a_clear_gap_fail_the_gap_test():
    # Flat (uniform-like) spread: the coefficient is above 5/9 and the largest
    # gap splits 6 / 6, but the gap is only about one within-group sd.
    result = ms.bimodality([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12])
    assert result.coefficient > ms.BIMODALITY_THRESHOLD
    assert result.minority == 6
    assert result.gap_sd == pytest.approx(2 / np.sqrt(70 / 20))
    assert not result.flag and "within-group sd" in result.reason
    # The same groups pushed apart are flagged.
    assert ms.bimodality([0, 1, 2, 3, 4, 5, 30, 31, 32, 33, 34, 35]).flag


# -------------------------------------------------------------------- gate

@pytest.mark.parametrize("p,effect,expected", [
    (0.001, 0.10, True),    # significant and large
    (0.001, -0.10, True),   # size is |effect|
    (0.001, 0.01, False),   # significant but too small to matter
    (0.20, 0.50, False),    # large but explained by noise
    (0.05, 0.10, False),    # p must be strictly below alpha
    (0.049, 0.03, True),    # effect at the minimum counts
    (math.nan, 0.5, False),
    (0.001, math.nan, False),
    (None, 0.5, False),     # an undefined p-value is never significant
    (0.001, None, False),
])
def test_gate_needs_significance_and_a_minimum_effect(p, effect, expected):
    assert ms.significant_and_large(p, effect, alpha=0.05, min_effect=0.03) is expected


def test_gate_rejects_bad_thresholds():
    with pytest.raises(ValueError):
        ms.significant_and_large(0.01, 0.1, alpha=0.0)
    with pytest.raises(ValueError):
        ms.significant_and_large(0.01, 0.1, min_effect=-0.1)


def test_relative_effect():
    assert ms.relative_effect(100.0, 110.0) == pytest.approx(0.10)
    assert ms.relative_effect(100.0, 90.0) == pytest.approx(-0.10)
    assert ms.relative_effect(0.0, 1.0) is None
    assert ms.relative_effect(None, 1.0) is None
