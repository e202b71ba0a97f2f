"""Small-sample statistics for benchmark repetitions, computed by scipy.stats.

Which methods `compare.py` and `gate.py` use, and why
------------------------------------------------------
A benchmark point is measured a handful of times (typically 5-20
repetitions).  Wall-clock throughput samples are not normal: they are
bounded above by the machine's best case and have a long tail towards slow
runs (preemption, frequency changes, cache and page-fault noise), and a
single outlier is common.  Methods that assume normality (t-test, mean +-
standard deviation) are therefore neither robust nor well calibrated here.

* Location: the **median** of the repetitions, not the mean; it ignores a
  single slow outlier.
* Effect size: the **ratio of medians** candidate/base, with a **percentile
  bootstrap confidence interval** (`scipy.stats.bootstrap`, each side
  resampled independently, seeded so reports are reproducible).  With very
  few repetitions the interval is coarse (the median of n values can take
  only n values).
* Significance: the **Mann-Whitney U rank test** (`scipy.stats.mannwhitneyu`).
  It uses only the ordering of the samples, so it is valid for any continuous
  distribution and insensitive to outliers.  Exact null distribution when
  there are no ties and at most EXACT_MAX_TOTAL values, otherwise the normal
  approximation with tie and continuity correction.  `compare.py` reports the
  two-sided p-value; `gate.py` uses the one-sided alternative "candidate is
  worse".
* Paired runs (ab_run.py): the **Wilcoxon signed-rank test** on the log pair
  ratios (`scipy.stats.wilcoxon`, exact); when magnitudes tie, the exact
  sign-flip permutation distribution of the same statistic
  (`scipy.stats.permutation_test` over all 2^n sign assignments), because the
  exact tables assume no ties.
* Spread: the coefficient of variation (sample standard deviation with
  ddof=1 divided by the mean), reported so a reader can judge noise.

Nothing here is invented for an undefined case: a statistic that cannot be
computed (an empty sample, one repetition, no spread, a zero denominator) is
None together with a one-line reason, never 0 and never a silent nan.

Why a shared machine needs pairing
----------------------------------
On a shared machine most of the wall-clock noise is slow: what the other
tenants of the host do changes over seconds, and it moves every process that
runs meanwhile by the same factor.  Two independent samples then differ by
that factor, whatever the code did.  Pairing cancels it: a base and a
candidate process run back to back (in a random order), and the statistic is
the within-pair ratio.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Sequence

import numpy as np
from scipy import stats as sps

DEFAULT_SEED = 20261124
DEFAULT_RESAMPLES = 4000
# The exact U distribution is used without ties up to this many values in total.
EXACT_MAX_TOTAL = 60
ALTERNATIVES = ("two-sided", "less", "greater")


class Outcome(NamedTuple):
    """A statistic, or None and the reason it cannot be computed."""
    value: float | None
    reason: str | None = None


class Interval(NamedTuple):
    """A confidence interval, or None bounds and the reason."""
    low: float | None
    high: float | None
    reason: str | None = None


class TestResult(NamedTuple):
    """A hypothesis test: statistic and p-value, or None and the reason."""
    statistic: float | None
    p_value: float | None
    method: str
    reason: str | None = None


def _array(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float).ravel()
    if data.size and not np.all(np.isfinite(data)):
        raise ValueError("sample contains non-finite values")
    return data


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative {alternative!r} is not two-sided, less or greater")


# --------------------------------------------------------------------------
# location and spread


def median(values: Sequence[float]) -> float | None:
    """Median of the sample; None when it is empty."""
    data = _array(values)
    return float(np.median(data)) if data.size else None


def cv_outcome(values: Sequence[float]) -> Outcome:
    """Coefficient of variation, sample std (ddof=1) / |mean|."""
    data = _array(values)
    if data.size < 2:
        return Outcome(None, f"{data.size} repetition{'s' if data.size != 1 else ''}: a spread needs 2 or more")
    mean = float(np.mean(data))
    if mean == 0.0:
        return Outcome(None, "the mean is zero")
    return Outcome(float(sps.variation(data, ddof=1)) * math.copysign(1.0, mean))


def cv(values: Sequence[float]) -> float | None:
    """Coefficient of variation, or None (fewer than 2 values, zero mean)."""
    return cv_outcome(values).value


def median_ratio(base: Sequence[float], cand: Sequence[float]) -> Outcome:
    """median(cand) / median(base)."""
    b, c = median(base), median(cand)
    if b is None or c is None:
        side = "base and candidate" if b is None and c is None else ("base" if b is None else "candidate")
        return Outcome(None, f"no value in the {side}")
    if b == 0.0:
        return Outcome(None, "the base median is zero")
    return Outcome(c / b)


# --------------------------------------------------------------------------
# bootstrap


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def bootstrap_ratio_ci(base: Sequence[float], cand: Sequence[float],
                       confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = DEFAULT_SEED) -> Interval:
    """Percentile bootstrap CI of median(cand) / median(base).

    The two samples are resampled independently (scipy.stats.bootstrap,
    paired=False).  Undefined (None bounds with the reason) when a side has
    fewer than 2 values, when neither side has any spread (the bootstrap would
    claim a certainty the data cannot give), or when a resampled base median
    is zero.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence!r} is not in (0, 1)")
    b, c = _array(base), _array(cand)
    for label, data in (("base", b), ("candidate", c)):
        if data.size < 2:
            return Interval(None, None, f"the {label} has {data.size} repetition{'s' if data.size != 1 else ''}: "
                                        "the bootstrap needs 2 or more per side")
    if np.ptp(b) == 0.0 and np.ptp(c) == 0.0:
        return Interval(None, None, "every repetition on each side has the same value: no spread to resample")
    if np.any(b == 0.0) and np.median(b) == 0.0:
        return Interval(None, None, "the base median is zero")

    def ratio(x, y, axis):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.median(y, axis=axis) / np.median(x, axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        result = sps.bootstrap((b, c), ratio, vectorized=True, paired=False, confidence_level=confidence,
                               n_resamples=resamples, method="percentile", random_state=_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return Interval(None, None, "a resampled base median is zero: the ratio is undefined")
    return Interval(low, high)


def bootstrap_median_interval(values: Sequence[float], confidence: float = 0.95,
                              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval:
    """Percentile bootstrap CI of the median of one sample (scipy.stats.bootstrap).

    Undefined with fewer than 2 values or no spread (see bootstrap_ratio_ci).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence!r} is not in (0, 1)")
    if resamples < 1:
        raise ValueError("resamples must be positive")
    data = _array(values)
    if data.size < 2:
        return Interval(None, None, f"{data.size} repetition{'s' if data.size != 1 else ''}: "
                                    "the bootstrap needs 2 or more")
    if np.ptp(data) == 0.0:
        return Interval(None, None, "every repetition has the same value: no spread to resample")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        result = sps.bootstrap((data,), np.median, vectorized=True, confidence_level=confidence,
                               n_resamples=resamples, method="percentile", random_state=_rng(seed))
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high))


# --------------------------------------------------------------------------
# Mann-Whitney U


def _has_ties(data: np.ndarray) -> bool:
    return np.unique(data).size < data.size


def mann_whitney_u(x: Sequence[float], y: Sequence[float],
                   alternative: str = "two-sided", method: str = "auto") -> TestResult:
    """Mann-Whitney U test of samples x and y (scipy.stats.mannwhitneyu).

    `alternative`: "two-sided", "less" (x tends to be smaller than y) or
    "greater" (x tends to be larger).  `method`: "exact" (refuses ties: the
    exact distribution assumes none), "normal" (tie- and continuity-corrected
    normal approximation) or "auto" (exact when there are no ties and at most
    EXACT_MAX_TOTAL values).  The statistic is U of x.

    Undefined when a sample is empty or every value is tied (no ranking).
    """
    _check_alternative(alternative)
    if method not in ("auto", "exact", "normal"):
        raise ValueError(f"method {method!r} is not auto, exact or normal")
    a, b = _array(x), _array(y)
    if a.size == 0 or b.size == 0:
        return TestResult(None, None, method, "a sample is empty")
    pooled = np.concatenate([a, b])
    if np.ptp(pooled) == 0.0:
        return TestResult(None, None, method, "every value in both samples is the same: nothing to rank")
    ties = _has_ties(pooled)
    if method == "exact" and ties:
        raise ValueError("the exact Mann-Whitney test requires samples without ties")
    exact = method == "exact" or (method == "auto" and not ties and pooled.size <= EXACT_MAX_TOTAL)
    result = sps.mannwhitneyu(a, b, alternative=alternative, use_continuity=True,
                              method="exact" if exact else "asymptotic")
    return TestResult(float(result.statistic), float(result.pvalue), "exact" if exact else "normal")


def min_attainable_p(n1: int, n2: int, alternative: str = "less") -> float:
    """Smallest p-value the exact rank test can give for these sample sizes:
    one arrangement out of C(n1 + n2, n1)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    p = 1.0 / math.comb(n1 + n2, n1)
    return min(1.0, 2.0 * p) if alternative == "two-sided" else p


# --------------------------------------------------------------------------
# paired samples: interleaved base/candidate processes (ab_run.py)


def _signed_rank_sum(d, axis):
    ranks = sps.rankdata(np.abs(d), axis=axis)
    return np.sum(ranks * (d > 0), axis=axis)


def wilcoxon_signed_rank(diffs: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Wilcoxon signed-rank test that the paired differences are centred on 0.

    `alternative`: "less" (the differences tend to be negative), "greater" or
    "two-sided".  Zero differences are dropped (Wilcoxon's convention).  The
    statistic is W+, the rank sum of the positive differences.  Exact:
    scipy.stats.wilcoxon's exact distribution without ties; with tied
    magnitudes (average ranks) the exact sign-flip distribution of W+
    (scipy.stats.permutation_test over all 2^n sign assignments).

    Undefined when every difference is zero.
    """
    _check_alternative(alternative)
    d = _array(diffs)
    d = d[d != 0.0]
    if d.size == 0:
        return TestResult(None, None, "exact", "every difference is zero")
    if not _has_ties(np.abs(d)):
        result = sps.wilcoxon(d, alternative=alternative, method="exact")
        # scipy reports min(W+, W-) for the two-sided test: report W+ always.
        return TestResult(float(_signed_rank_sum(d, 0)), float(result.pvalue), "exact")
    result = sps.permutation_test((d,), _signed_rank_sum, permutation_type="samples", vectorized=True,
                                  alternative=alternative, n_resamples=np.inf)
    return TestResult(float(result.statistic), float(min(1.0, result.pvalue)), "exact (sign flips, tied ranks)")


def min_attainable_signed_rank_p(n: int, alternative: str = "less") -> float:
    """Smallest p-value the exact signed-rank test can give with n pairs:
    one sign assignment out of 2^n."""
    if n == 0:
        return 1.0
    p = 1.0 / 2.0 ** n
    return min(1.0, 2.0 * p) if alternative == "two-sided" else p
