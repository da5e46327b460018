"""Effect sizes and classical tests that both comparisons report: Hedges' g, Welch's t, Mann-Whitney U, A12.

Shapes: n runs of the arm, m of the baseline, D grid points.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.common import exact_mean, opt_float, quiet, st, sum_sq


def welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Welch t-test p-value of a (n,) against b (m,); None if a sample has one run or both have zero variance."""
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    with quiet():
        return opt_float(st.ttest_ind(a, b, equal_var=False).pvalue)


def mwu_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided tie-corrected asymptotic Mann-Whitney p on correct counts (n,), (m,); 1.0 if all tied."""
    if np.ptp(np.concatenate([a_correct, b_correct])) == 0:
        return 1.0
    with quiet():
        res = st.mannwhitneyu(a_correct, b_correct, alternative="two-sided", method="asymptotic", use_continuity=True)
    return float(res.pvalue)


def hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Hedges' g = J (mean_a - mean_b) / pooled SD, J = 1 - 3/(4(n+m)-9); None if undefined."""
    n, m = a.size, b.size
    if n + m < 4:
        return None
    ss = sum_sq(a) + sum_sq(b)
    pooled_sd = math.sqrt(ss / (n + m - 2))
    if pooled_sd == 0.0:
        return None
    j = 1.0 - 3.0 / (4.0 * (n + m) - 9.0)
    return float(j * (exact_mean(a) - exact_mean(b)) / pooled_sd)


def a12_of_histograms(ha: np.ndarray, hb: np.ndarray) -> np.ndarray:
    """A12 of samples given as histograms on one sorted grid, ha (..., D) and hb (..., D) -> (...):
    P(a > b) + P(a = b) / 2 = sum_d ha_d (#b below d + #b at d / 2) / (n m), a cumulative sum, no pairs."""
    n, m = ha.sum(axis=-1), hb.sum(axis=-1)
    return np.sum(ha * (np.cumsum(hb, axis=-1) - 0.5 * hb), axis=-1) / (n * m)


def same_partition(*pairs: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether accuracies and correct counts (pairs of shape (n,)) determine each other (acc = count / n_test):
    then one resampled histogram on the counts serves both the difference of means and A12."""
    acc = np.concatenate([p[0] for p in pairs])
    cnt = np.concatenate([p[1] for p in pairs])
    counts, inverse = np.unique(cnt, return_inverse=True)
    acc_of = np.empty(counts.size)
    acc_of[inverse] = acc  # one accuracy per count (any of them): the others must equal it
    return bool(np.all(acc == acc_of[inverse])) and np.unique(acc).size == counts.size
