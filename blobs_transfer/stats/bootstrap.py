"""Intervals from bootstrap resamples of independent samples: scipy's exact path, and BCa from resampled statistics.

Small problems (runs x resamples <= EXACT_CELLS) go through ``scipy.stats.bootstrap`` so their numbers are
bit-for-bit what they always were; above that the resamples come from the resampling core (`resample`) and
`interval_from` turns them into scipy's BCa (or percentile) interval, the same up to Monte Carlo error.
`exact_path` is the one place that decides, so setting this module's EXACT_CELLS (tests set it to 0) sends
every bootstrap of the package down the scalable path.
Shapes: n runs, B resamples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from blobs_transfer.stats.common import opt_float, quiet, special, st

# Runs x resamples at or below which a bootstrap goes through scipy.stats.bootstrap exactly as before
# (at 9,999 resamples: up to 100 runs in all). scipy holds a (B, n) index matrix, a (B, n) copy of the data
# and an (n, n-1) jackknife matrix, so above this the resampling core takes over.
EXACT_CELLS = 1_000_000


def exact_path(n_runs: int, n_resamples: int) -> bool:
    """Whether a bootstrap over n_runs runs in all is small enough for scipy.stats.bootstrap as before."""
    return n_runs * n_resamples <= EXACT_CELLS


def mean_stat(x, axis=-1):
    return np.mean(x, axis=axis)


def diff_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def a12_stat(a, b, axis=-1):
    """Vargha-Delaney A12 of a over b along ``axis``, via rank sums (ties get mid-ranks).

    A12 = (R_a - n(n+1)/2) / (n m) = U_a / (n m) = P(a > b) + 0.5 P(a = b). Rank-based, so
    memory is O(n + m) per resample instead of O(n m) for the pairwise comparison.
    """
    a = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    b = np.moveaxis(np.asarray(b, dtype=float), axis, -1)
    n, m = a.shape[-1], b.shape[-1]
    ranks = st.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
    u_a = ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2.0
    return u_a / (n * m)


def _scipy_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """scipy.stats.bootstrap over independent 1-D samples (shapes (n,), (m,)), BCa falling back to the
    percentile interval of the same resamples when BCa is not finite or inverted. The caller has already
    handled samples of one run and all-constant samples (see :func:`bootstrap_ci`)."""
    common = dict(vectorized=True, paired=False, confidence_level=confidence)
    with quiet():
        res = st.bootstrap(samples, statistic, n_resamples=n_resamples, method=method, rng=rng, **common)
        low, high = res.confidence_interval
        if method != "percentile" and not (np.isfinite(low) and np.isfinite(high) and low <= high):
            res = st.bootstrap(
                samples, statistic, n_resamples=0, method="percentile", bootstrap_result=res, rng=rng, **common
            )
            low, high = res.confidence_interval
    return opt_float(low), opt_float(high)


def bootstrap_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    point: float,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """Bootstrap CI of ``statistic`` over independent 1-D samples by scipy.stats.bootstrap, robust to
    degenerate data.

    - some sample has fewer than 2 runs: no CI, (None, None);
    - every sample constant: the statistic cannot vary, so the CI is (point, point) exactly
      (scipy's BCa would return NaN, or a low a few ulps above high);
    - BCa not finite or inverted: fall back to the percentile interval of the same resamples.
    Only for small problems (see :func:`exact_path`); callers send larger ones to the resampling core.
    """
    if any(s.size < 2 for s in samples):
        return None, None
    if all(np.ptp(s) == 0 for s in samples):
        return point, point
    return _scipy_ci(samples, statistic, rng=rng, confidence=confidence, n_resamples=n_resamples, method=method)


def mean_jackknife(x: np.ndarray) -> tuple[float, float]:
    """BCa acceleration terms (num, den) of the mean of x (n,): scipy's num = sum U^3 / n^3 and
    den = sum U^2 / n^2 over the jackknife values U_i = (n - 1)(mean of leave-one-out means - mean without
    run i). For the mean, U_i = x_i - mean exactly, so no (n, n-1) jackknife matrix is needed."""
    n = x.size
    u = x - x.mean()
    return float(np.sum(u**3)) / n**3, float(np.sum(u**2)) / n**2


def interval_from(
    theta_b: np.ndarray, point: float, confidence: float, accel: float | None
) -> tuple[float | None, float | None]:
    """CI from bootstrap statistics theta_b (B,): BCa when ``accel`` is given (scipy's formulas: z0 from
    the share of resamples below the point, ties counting half), falling back to the percentile interval
    when BCa is not finite or inverted; the percentile interval when accel is None."""
    alpha = (1.0 - confidence) / 2.0
    if accel is not None:
        tol = 1e-12 * max(1.0, abs(point))  # a resample equal to the point up to rounding is a tie
        below = np.count_nonzero(theta_b < point - tol) + np.count_nonzero(theta_b <= point + tol)
        with quiet():
            z0 = special.ndtri(below / (2.0 * theta_b.size))
            z = special.ndtri(alpha)
            a1 = special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
            a2 = special.ndtr(z0 + (z0 - z) / (1 - accel * (z0 - z)))
        if np.isfinite(a1) and np.isfinite(a2):
            low, high = np.quantile(theta_b, [a1, a2])
            if low <= high:
                return opt_float(low), opt_float(high)
    low, high = np.quantile(theta_b, [alpha, 1.0 - alpha])
    return opt_float(low), opt_float(high)
