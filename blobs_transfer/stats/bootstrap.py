"""The bootstraps: scipy.stats.bootstrap for small problems, histogram / chunked resamples for large ones.

Small problems (runs x resamples <= ``_EXACT_CELLS``) go through ``scipy.stats.bootstrap`` so their numbers are
bit-for-bit what they always were; above that, a resample of n runs with D distinct values is one multinomial draw
on the histogram, and samples with many distinct values are resampled by index in chunks of bounded size.
Shapes: n runs, D distinct values, B resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from scipy import special
from scipy import stats as st

from ._common import _exact_mean, _opt_float, _quiet

# Runs x resamples at or below which a bootstrap goes through scipy.stats.bootstrap exactly as before
# (at 9,999 resamples: up to 100 runs in all). scipy holds a (B, n) index matrix, a (B, n) copy of the data
# and an (n, n-1) jackknife matrix, so above this the histogram / chunked path takes over.
_EXACT_CELLS = 1_000_000
# Cells (resamples x categories or resamples x runs) per chunk of the scalable path: 16 MiB of float64.
_CHUNK_CELLS = 1 << 21
# A multinomial draw costs about this many index draws per category: with D distinct values among n runs,
# the histogram path is used when D * _MULTINOMIAL_COST < n, else runs are resampled by index in chunks.
_MULTINOMIAL_COST = 6

# ----------------------------------------------------------------------------- the exact (scipy) bootstrap


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
    handled samples of one run and all-constant samples (see :func:`_bootstrap_ci`)."""
    common = dict(vectorized=True, paired=False, confidence_level=confidence)
    with _quiet():
        res = st.bootstrap(
            samples, statistic, n_resamples=n_resamples, method=method, rng=rng, **common
        )
        low, high = res.confidence_interval
        if method != "percentile" and not (np.isfinite(low) and np.isfinite(high) and low <= high):
            res = st.bootstrap(
                samples, statistic, n_resamples=0, method="percentile", bootstrap_result=res, rng=rng, **common
            )
            low, high = res.confidence_interval
    return _opt_float(low), _opt_float(high)


def _mean_stat(x, axis=-1):
    return np.mean(x, axis=axis)


def _diff_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _a12_stat(a, b, axis=-1):
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


def _exact_path(n_runs: int, n_resamples: int) -> bool:
    """Whether a bootstrap over n_runs runs in all is small enough for scipy.stats.bootstrap as before."""
    # read through the package, so that one setting of blobs_transfer.stats._EXACT_CELLS (tests set it to 0 to
    # send every bootstrap down the scalable path) governs every module
    from blobs_transfer import stats

    return n_runs * n_resamples <= stats._EXACT_CELLS


# ----------------------------------------------------------------------------- the scalable bootstrap
#
# A bootstrap resample of a sample of n runs with distinct values v (D,) and counts c (D,) is a histogram
# h ~ Multinomial(n, c / n): the statistics used here (mean, A12) depend on a resample only through its
# histogram, so the (B, n) index matrix is never needed. Chunks of at most _CHUNK_CELLS cells bound memory.


def _support(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (D,) of x (n,), sorted, and how many runs hold each (D,) int64."""
    values, counts = np.unique(x, return_counts=True)
    return values, counts.astype(np.int64)


def _chunks(n_resamples: int, width: int) -> Iterator[tuple[int, int]]:
    """(start, size) of consecutive chunks of resamples, each at most _CHUNK_CELLS / width resamples."""
    step = max(1, _CHUNK_CELLS // max(1, width))
    for start in range(0, n_resamples, step):
        yield start, min(step, n_resamples - start)


def _multinomial(counts: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """size bootstrap resamples of the histogram counts (D,) -> (size, D) int64: each row sums to n."""
    n = int(counts.sum())
    return rng.multinomial(n, counts / n, size=size)


def _resampled_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means (B,) of B bootstrap resamples of x (n,), without a (B, n) matrix.

    Few distinct values (accuracies, epoch counts): multinomial draws on the histogram, O(B x D).
    Many (e.g. areas under curves): index draws in chunks of (b, n) with b x n <= _CHUNK_CELLS, O(B x n)
    time but bounded memory.
    """
    values, counts = _support(x)
    n = x.size
    out = np.empty(n_resamples)
    if values.size * _MULTINOMIAL_COST < n:
        for start, size in _chunks(n_resamples, values.size):
            out[start : start + size] = _multinomial(counts, size, rng) @ values / n
    else:
        for start, size in _chunks(n_resamples, n):
            out[start : start + size] = x[rng.integers(0, n, (size, n))].mean(axis=1)
    return out


def _mean_jackknife(x: np.ndarray) -> tuple[float, float]:
    """BCa acceleration terms (num, den) of the mean of x (n,): scipy's num = sum U^3 / n^3 and
    den = sum U^2 / n^2 over the jackknife values U_i = (n - 1)(mean of leave-one-out means - mean without
    run i). For the mean, U_i = x_i - mean exactly, so no (n, n-1) jackknife matrix is needed."""
    n = x.size
    u = x - x.mean()
    return float(np.sum(u**3)) / n**3, float(np.sum(u**2)) / n**2


def _interval_from(
    theta_b: np.ndarray, point: float, confidence: float, accel: float | None
) -> tuple[float | None, float | None]:
    """CI from bootstrap statistics theta_b (B,): BCa when ``accel`` is given (scipy's formulas: z0 from
    the share of resamples below the point, ties counting half), falling back to the percentile interval
    when BCa is not finite or inverted; the percentile interval when accel is None."""
    alpha = (1.0 - confidence) / 2.0
    if accel is not None:
        tol = 1e-12 * max(1.0, abs(point))  # a resample equal to the point up to rounding is a tie
        below = np.count_nonzero(theta_b < point - tol) + np.count_nonzero(theta_b <= point + tol)
        with _quiet():
            z0 = special.ndtri(below / (2.0 * theta_b.size))
            z = special.ndtri(alpha)
            a1 = special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
            a2 = special.ndtr(z0 + (z0 - z) / (1 - accel * (z0 - z)))
        if np.isfinite(a1) and np.isfinite(a2):
            low, high = np.quantile(theta_b, [a1, a2])
            if low <= high:
                return _opt_float(low), _opt_float(high)
    low, high = np.quantile(theta_b, [alpha, 1.0 - alpha])
    return _opt_float(low), _opt_float(high)


def _mean_ci_scalable(x: np.ndarray, *, rng: np.random.Generator, confidence: float, n_resamples: int):
    """BCa CI of the mean of x (n,) from histogram / chunked resamples (see :func:`_resampled_means`)."""
    num, den = _mean_jackknife(x)
    accel = num / (6.0 * den**1.5)
    return _interval_from(_resampled_means(x, n_resamples, rng), float(x.mean()), confidence, accel)


def _bootstrap_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    point: float,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """Bootstrap CI of ``statistic`` over independent 1-D samples, robust to degenerate data.

    - some sample has fewer than 2 runs: no CI, (None, None);
    - every sample constant: the statistic cannot vary, so the CI is (point, point) exactly
      (scipy's BCa would return NaN, or a low a few ulps above high);
    - BCa not finite or inverted: fall back to the percentile interval of the same resamples.
    Only for small problems (see ``_EXACT_CELLS``); callers send larger ones to the scalable path.
    """
    if any(s.size < 2 for s in samples):
        return None, None
    if all(np.ptp(s) == 0 for s in samples):
        return point, point
    return _scipy_ci(samples, statistic, rng=rng, confidence=confidence, n_resamples=n_resamples, method=method)


def _mean_ci(values: np.ndarray, *, seed: int, confidence: float, n_resamples: int) -> dict:
    """{mean, ci_low, ci_high} of one sample of shape (n,): BCa bootstrap CI of the mean.

    n x n_resamples <= _EXACT_CELLS: scipy.stats.bootstrap, bit-for-bit as before; otherwise the
    histogram / chunked path (the same interval up to Monte Carlo error, memory O(chunk))."""
    mean = _exact_mean(values)
    if values.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    if np.ptp(values) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    rng = np.random.default_rng(seed)
    if _exact_path(values.size, n_resamples):
        low, high = _bootstrap_ci(
            (values,), _mean_stat, mean, rng=rng, confidence=confidence, n_resamples=n_resamples
        )
    else:
        low, high = _mean_ci_scalable(values, rng=rng, confidence=confidence, n_resamples=n_resamples)
    return {"mean": mean, "ci_low": low, "ci_high": high}
