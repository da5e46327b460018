"""Effect sizes and classical tests that both comparisons report: Hedges' g, Welch's t, Mann-Whitney U, A12.

The two tests are scipy.stats' (`ttest_ind(equal_var=False)`, `mannwhitneyu(method="asymptotic")`) written out
in numpy and scipy.special, operation for operation, so their p-values are scipy's to the last bit (tested)
without importing scipy.stats. Shapes: n runs of the arm, m of the baseline, D grid points.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.common import exact_mean, grid_of, normal_sf, opt_float, quiet, sum_sq, t_sf


def _scipy_var(x: np.ndarray) -> float:
    """Sample variance (ddof=1) as scipy.stats computes it (mean of squared deviations times n/(n-1)), which
    rounds differently from np.var(ddof=1)."""
    n = float(x.size)
    return float(np.mean((x - np.mean(x)) ** 2) * (n / (n - 1.0)))


def welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sided Welch t-test p-value of a (n,) against b (m,), scipy.stats.ttest_ind(a, b, equal_var=False)'s;
    None if a sample has one run or both have zero variance."""
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    vn1, vn2 = _scipy_var(a) / a.size, _scipy_var(b) / b.size
    with quiet():
        df = (vn1 + vn2) ** 2 / (vn1**2 / (a.size - 1) + vn2**2 / (b.size - 1))
        t = (np.mean(a) - np.mean(b)) / np.sqrt(vn1 + vn2)
        return opt_float(2 * t_sf(abs(t), df))


def mwu_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided asymptotic Mann-Whitney p with tie and continuity correction on correct counts (n,), (m,):
    scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)'s.
    1.0 if all tied."""
    if np.ptp(np.concatenate([a_correct, b_correct])) == 0:
        return 1.0
    n1, n2 = a_correct.size, b_correct.size
    grid, (ia, ib) = grid_of(np.asarray(a_correct, dtype=float), np.asarray(b_correct, dtype=float))
    ties = np.bincount(np.concatenate([ia, ib]), minlength=grid.size).astype(float)
    ranks = np.cumsum(ties) - (ties - 1.0) / 2.0  # each value's mid-rank among all n1 + n2
    u1 = float(np.sum(ranks[ia])) - n1 * (n1 + 1) / 2  # sums of half-integers: exact, in any order
    u = max(u1, n1 * n2 - u1)
    n = n1 + n2
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - float(np.sum(ties**3 - ties)) / (n * (n - 1))))
    z = (u - n1 * n2 / 2 - 0.5) / s
    return float(np.clip(2 * normal_sf(z), 0.0, 1.0))


def a12_of_samples(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Vargha-Delaney A12 = U_a / (n m) = P(a > b) + P(a = b) / 2 of samples a (n,) over b (m,), from their
    histograms on one grid (exact: sums of half-integers)."""
    grid, (ia, ib) = grid_of(np.asarray(a_correct, dtype=float), np.asarray(b_correct, dtype=float))
    ha = np.bincount(ia, minlength=grid.size).astype(float)
    hb = np.bincount(ib, minlength=grid.size).astype(float)
    return float(a12_of_histograms(ha, hb))


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
