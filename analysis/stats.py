"""Small-sample statistics for benchmark repetitions, implemented with numpy.

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
  bootstrap confidence interval** (each side resampled independently with a
  seeded `numpy.random.Generator`, so reports are reproducible).  The
  bootstrap makes no distributional assumption; with very few repetitions
  the interval is coarse (the median of n values can take only n values).
* Significance: the **Mann-Whitney U rank test** (Wilcoxon rank-sum).  It only
  uses the ordering of the samples, so it is valid for any continuous
  distribution and insensitive to outliers.  It is computed exactly (the
  null distribution of U by counting) when there are no ties and the samples
  are small, otherwise with the normal approximation with tie correction
  and continuity correction.  `compare.py` reports the two-sided p-value;
  `gate.py` uses the one-sided alternative "candidate is worse".
* Spread: the coefficient of variation (sample standard deviation with
  ddof=1 divided by the mean), reported so a reader can judge noise.

`gate.py` flags a point only when the median ratio is worse than the allowed
regression *and* the rank test is significant: the first condition ignores
real but irrelevant changes, the second ignores large-looking differences
that the noise explains.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

DEFAULT_SEED = 20261124
DEFAULT_RESAMPLES = 4000
# Exact U distribution is used without ties up to this many values in total.
EXACT_MAX_TOTAL = 60


def _array(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float).ravel()
    if data.size and not np.all(np.isfinite(data)):
        raise ValueError("sample contains non-finite values")
    return data


def median(values: Sequence[float]) -> float:
    data = _array(values)
    if data.size == 0:
        return math.nan
    return float(np.median(data))


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation: sample std (ddof=1) / mean; nan if n < 2."""
    data = _array(values)
    if data.size < 2:
        return math.nan
    mean = float(np.mean(data))
    if mean == 0.0:
        return math.nan
    return float(np.std(data, ddof=1) / abs(mean))


# --------------------------------------------------------------------------
# bootstrap


def bootstrap_ratio_ci(base: Sequence[float], cand: Sequence[float],
                       confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """Percentile bootstrap CI of median(cand) / median(base).

    Each sample is resampled with replacement independently.  Returns
    (low, high); (nan, nan) if either sample is empty or a base median of a
    resample is zero.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence!r} is not in (0, 1)")
    b = _array(base)
    c = _array(cand)
    if b.size == 0 or c.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    b_medians = np.median(b[rng.integers(0, b.size, size=(resamples, b.size))], axis=1)
    c_medians = np.median(c[rng.integers(0, c.size, size=(resamples, c.size))], axis=1)
    if np.any(b_medians == 0.0):
        return (math.nan, math.nan)
    ratios = c_medians / b_medians
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return (float(low), float(high))


def median_ratio(base: Sequence[float], cand: Sequence[float]) -> float:
    b = median(base)
    c = median(cand)
    if math.isnan(b) or math.isnan(c) or b == 0.0:
        return math.nan
    return c / b


# --------------------------------------------------------------------------
# Mann-Whitney U


def rank_average(values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties given their average rank, and the tie-group sizes."""
    data = _array(values)
    order = np.argsort(data, kind="mergesort")
    ordered = data[order]
    starts_group = np.empty(data.size, dtype=bool)
    if data.size:
        starts_group[0] = True
        starts_group[1:] = ordered[1:] != ordered[:-1]
    group_of_sorted = np.cumsum(starts_group) - 1
    boundaries = np.append(np.flatnonzero(starts_group), data.size)
    group_sizes = np.diff(boundaries)
    # positions boundaries[k] .. boundaries[k+1]-1 (0-based) share rank
    # mean(position) + 1.
    group_rank = (boundaries[:-1] + boundaries[1:] - 1) / 2.0 + 1.0
    ranks = np.empty(data.size, dtype=float)
    ranks[order] = group_rank[group_of_sorted]
    return ranks, group_sizes


def _u_null_counts(m: int, n: int) -> list[int]:
    """Number of arrangements giving U = 0..m*n when samples have sizes m, n.

    These are the coefficients of the Gaussian binomial coefficient
    [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i); each partial
    product is itself a polynomial, so the divisions are exact.
    """
    size = m * n + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, m + 1):
        shift = n + i
        for k in range(size - 1, shift - 1, -1):   # multiply by (1 - q^shift)
            poly[k] -= poly[k - shift]
        for k in range(i, size):                     # divide by (1 - q^i)
            poly[k] += poly[k - i]
    return poly


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _tail_p(p_low: float, p_high: float, alternative: str) -> float:
    """The p-value of `alternative` from the two one-sided tail probabilities."""
    if alternative == "less":
        p = p_low
    elif alternative == "greater":
        p = p_high
    else:
        p = 2.0 * min(p_low, p_high)
    return float(min(1.0, max(0.0, p)))


def mann_whitney_u(x: Sequence[float], y: Sequence[float],
                   alternative: str = "two-sided", method: str = "auto") -> tuple[float, float]:
    """Mann-Whitney U test of samples x and y.

    `alternative`: "two-sided", "less" (x tends to be smaller than y) or
    "greater" (x tends to be larger).  `method`: "exact" (requires no ties),
    "normal" (tie- and continuity-corrected normal approximation) or "auto"
    (exact when there are no ties and at most EXACT_MAX_TOTAL values).

    Returns (U of x, p-value).  p is 1.0 when a sample is empty or every value
    is tied (there is no evidence of a difference).
    """
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative {alternative!r} is not two-sided, less or greater")
    if method not in ("auto", "exact", "normal"):
        raise ValueError(f"method {method!r} is not auto, exact or normal")
    a = _array(x)
    b = _array(y)
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        return (math.nan, 1.0)
    ranks, tie_sizes = rank_average(np.concatenate([a, b]))
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    has_ties = bool(np.any(tie_sizes > 1))
    if method == "exact" and has_ties:
        raise ValueError("exact Mann-Whitney test requires samples without ties")
    use_exact = method == "exact" or (method == "auto" and not has_ties and n1 + n2 <= EXACT_MAX_TOTAL)

    if use_exact:
        counts = _u_null_counts(n1, n2)
        total = float(sum(counts))
        k = int(round(u))
        p_low = sum(counts[: k + 1]) / total       # P(U <= u)
        p_high = sum(counts[k:]) / total           # P(U >= u)
    else:
        n = n1 + n2
        tie_term = float(np.sum(tie_sizes.astype(float) ** 3 - tie_sizes)) / (n * (n - 1))
        variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
        if variance <= 0.0:
            return (u, 1.0)
        sigma = math.sqrt(variance)
        mean = n1 * n2 / 2.0
        p_high = _normal_sf((u - mean - 0.5) / sigma)
        p_low = _normal_sf((mean - u - 0.5) / sigma)

    return (u, _tail_p(p_low, p_high, alternative))


def min_attainable_p(n1: int, n2: int, alternative: str = "less") -> float:
    """Smallest p-value the exact test can give for these sample sizes."""
    if n1 == 0 or n2 == 0:
        return 1.0
    p = 1.0 / math.comb(n1 + n2, n1)
    return min(1.0, 2.0 * p) if alternative == "two-sided" else p


# --------------------------------------------------------------------------
# paired samples: interleaved base/candidate processes (ab_run.py)
#
# On a shared machine most of the wall-clock noise is slow: what the other
# tenants of the host do changes over seconds, and it moves every process
# that runs meanwhile by the same factor (here: medians of one point from
# 300 to 900 M items/s between processes a second apart, each process itself
# within a few percent). Two independent samples then differ by that
# factor, whatever the code did. Pairing cancels it: a base and a candidate
# process run back to back (in a random order), and the statistic is the
# within-pair ratio. Location: the median of the pair ratios. Significance:
# the Wilcoxon signed-rank test on the log ratios (each pair one signed
# observation; exact null distribution by counting, ties between |log
# ratios| given their average rank, zero differences dropped).


def _signed_rank_null_counts(doubled_ranks: list[int]) -> list[int]:
    """Number of sign assignments giving each doubled rank sum 0..sum."""
    total = sum(doubled_ranks)
    counts = [0] * (total + 1)
    counts[0] = 1
    for r in doubled_ranks:
        for s in range(total, r - 1, -1):
            counts[s] += counts[s - r]
    return counts


def wilcoxon_signed_rank(diffs: Sequence[float], alternative: str = "two-sided") -> tuple[float, float]:
    """Wilcoxon signed-rank test that the paired differences are centred on 0.

    `alternative`: "less" (the differences tend to be negative), "greater"
    or "two-sided". Exact (the null distribution of W+ counted over the
    2^n sign assignments of the observed ranks, so ties are exact too).
    Returns (W+, p); p is 1.0 when every difference is zero.
    """
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative {alternative!r} is not two-sided, less or greater")
    d = _array(diffs)
    d = d[d != 0.0]
    if d.size == 0:
        return (math.nan, 1.0)
    ranks, _ = rank_average(np.abs(d))
    doubled = [int(round(2.0 * r)) for r in ranks]  # average ranks are multiples of 1/2
    w_plus_doubled = sum(r for r, x in zip(doubled, d) if x > 0)
    counts = _signed_rank_null_counts(doubled)
    total = float(sum(counts))
    p_low = sum(counts[: w_plus_doubled + 1]) / total   # P(W+ <= observed)
    p_high = sum(counts[w_plus_doubled:]) / total       # P(W+ >= observed)
    return (w_plus_doubled / 2.0, _tail_p(p_low, p_high, alternative))


def min_attainable_signed_rank_p(n: int, alternative: str = "less") -> float:
    """Smallest p-value the exact signed-rank test can give with n pairs."""
    if n == 0:
        return 1.0
    p = 1.0 / 2.0 ** n
    return min(1.0, 2.0 * p) if alternative == "two-sided" else p
